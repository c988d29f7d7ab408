/** Marks this library's validation errors, whichever copy of the library threw them. */
const VALIDATION_ERROR = Symbol.for('multizone-distribution.MultiZoneValidationError');

/**
 * The one error type for bad MultiZoneDistribution input.
 *
 * Thrown at synth (or by the CLI) before any resource is built, so a bad
 * configuration never reaches CloudFront half-rendered. The message always
 * names the zone, override, flag or prop at fault, e.g.
 * `Zone "blog": assetPrefix must start with "/"`.
 *
 * In TypeScript, test for it with `instanceof`; from any language, with
 * `MultiZoneErrors.isValidationError`. Kept out of the jsii API, as
 * aws-cdk-lib keeps its ValidationError: jsii classes cannot extend Error.
 *
 * @jsii ignore
 */
export class MultiZoneValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MultiZoneValidationError';
    Object.defineProperty(this, VALIDATION_ERROR, { value: true });
  }
}

/** Tells this library's errors apart, in every jsii language. */
export class MultiZoneErrors {
  /**
   * Whether the given error is a MultiZoneValidationError: input the
   * construct refused at synth, its message naming the zone, override, flag
   * or prop at fault and the remedy.
   */
  public static isValidationError(x: any): x is MultiZoneValidationError {
    return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[VALIDATION_ERROR] === true;
  }

  private constructor() {}
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
