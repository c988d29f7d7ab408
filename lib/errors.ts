/**
 * The one error type for bad MultiZoneDistribution input.
 *
 * Thrown at synth (or by the CLI) before any resource is built, so a bad
 * configuration never reaches CloudFront half-rendered. The message always
 * names the zone, override, flag or prop at fault, e.g.
 * `Zone "blog": assetPrefix must start with "/"`.
 */
export class MultiZoneValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MultiZoneValidationError';
  }
}

/** Throws one error listing every problem found, or nothing when there are none. */
export function throwIfProblems(problems: string[]): void {
  if (problems.length === 1) {
    throw new MultiZoneValidationError(problems[0]);
  }
  if (problems.length > 1) {
    throw new MultiZoneValidationError(`${problems.length} problems:\n- ${problems.join('\n- ')}`);
  }
}
