import { Duration, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { deploymentIdProblem } from './releases/record';

/**
 * A zone's releases: each build of the zone is a release, routed at the
 * edge by the deployment id Next.js sends (skew protection), with a
 * canary, previews and rollback, without a CloudFormation deploy (the
 * `multizone release`, `promote`, `rollback` and `releases` commands).
 */
export interface ZoneReleases {
  /**
   * The deployment id of the build behind the zone's `origin` (Next.js
   * `deploymentId`, or `NEXT_DEPLOYMENT_ID` at build): the zone's first
   * release. A deploy that changes it makes that build current again.
   */
  readonly deploymentId: string;
  /**
   * Rolls the zone back when this alarm goes into ALARM: the canary is
   * dropped, or else the current release returns to the previous one.
   *
   * @default - no automatic rollback
   */
  readonly rollbackAlarm?: cloudwatch.IAlarm;
  /**
   * How long a replaced release keeps answering the viewers whose pages it
   * built (their tabs send its deployment id), so open tabs keep working
   * across a release.
   *
   * @default Duration.hours(24)
   */
  readonly skewProtectionMaxAge?: Duration;
}

/** `skewProtectionMaxAge` when not given. */
export const DEFAULT_SKEW_PROTECTION_MAX_AGE = Duration.hours(24);

/** The bounds of `skewProtectionMaxAge`: at least a minute, at most the 30 days a preview cookie may live. */
const MAX_AGE_BOUNDS_SECONDS = { min: 60, max: 30 * 24 * 3600 };

/** `skewProtectionMaxAge` in seconds. */
export function skewProtectionSeconds(releases: ZoneReleases): number {
  return (releases.skewProtectionMaxAge ?? DEFAULT_SKEW_PROTECTION_MAX_AGE).toSeconds();
}

/** A zone with releases, as the template has them. */
export interface ZoneWithReleases {
  readonly name: string;
  readonly releases?: ZoneReleases;
}

/** The template's release of each zone with releases, by zone name; undefined when no zone has releases. */
export function templateReleases(zones: ZoneWithReleases[]): Record<string, { deploymentId: string; maxAgeSeconds: number }> | undefined {
  const withReleases = zones.filter((z) => z.releases !== undefined);
  if (withReleases.length === 0) return undefined;
  return Object.fromEntries(withReleases.map((z) => [z.name, { deploymentId: z.releases!.deploymentId, maxAgeSeconds: skewProtectionSeconds(z.releases!) }]));
}

/** The problems of one zone's `releases`, each naming the zone and the field. */
export function zoneReleasesProblems(zone: string, releases: ZoneReleases | undefined): string[] {
  if (releases === undefined) return [];
  const problems: string[] = [];
  if (typeof releases.deploymentId !== 'string' || Token.isUnresolved(releases.deploymentId)) {
    problems.push(`Zone "${zone}": releases.deploymentId must be a literal string (the build's Next.js deploymentId)`);
  } else {
    const problem = deploymentIdProblem(releases.deploymentId);
    if (problem) problems.push(`Zone "${zone}": releases.deploymentId: ${problem}`);
  }
  const age = releases.skewProtectionMaxAge;
  if (age !== undefined && (Token.isUnresolved(age.toSeconds({ integral: false })) || age.toSeconds({ integral: false }) < MAX_AGE_BOUNDS_SECONDS.min || age.toSeconds({ integral: false }) > MAX_AGE_BOUNDS_SECONDS.max)) {
    problems.push(`Zone "${zone}": releases.skewProtectionMaxAge must be from 1 minute to 30 days, not ${age.toHumanString()}`);
  }
  return problems;
}
