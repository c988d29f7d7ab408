/**
 * Invalidating a deployed site's cache: by explicit paths, by the paths a
 * flag's overrides cover, or everything, then waiting for CloudFront to
 * finish.
 */
import { randomBytes } from 'crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { CreateInvalidationCommand, GetInvalidationCommand } from '@aws-sdk/client-cloudfront';
import { MultiZoneValidationError } from '../errors';
import { flagNameProblem } from '../flags';
import { normalizePathPattern } from '../path-patterns';
import { RoutingTable } from '../routing-plan';
import { AwsClients, OperateError, awsCall } from './aws';

/** CloudFront's limit on one invalidation path, in characters. */
const MAX_PATH_LENGTH = 4096;

/** CloudFront's quota of file paths in progress at once (paths with a wildcard: 15). */
const MAX_PATHS = 3000;

/**
 * The invalidation paths that cover a flag's override patterns. CloudFront
 * takes a `*` only at the end of a path, so a pattern with a wildcard
 * earlier (`/blog/*.xml`) is widened to the path up to it (`/blog/*`).
 */
export function pathsForFlag(table: RoutingTable, flag: string): string[] {
  const problem = flagNameProblem(flag);
  if (problem) throw new MultiZoneValidationError(`Flag "${flag}": ${problem}`);
  const patterns = table.overrides.filter((o) => o.flag === flag).map((o) => o.pattern);
  if (patterns.length === 0) {
    const flags = [...new Set(table.overrides.map((o) => o.flag))];
    throw new OperateError(`Flag "${flag}": no override names it; the site's flags are ${flags.length ? flags.join(', ') : '(none)'}`);
  }
  const paths = patterns.map((p) => {
    const path = normalizePathPattern(p);
    const wildcard = path.search(/[*?]/);
    return wildcard < 0 ? path : `${path.slice(0, wildcard)}*`;
  });
  // A path that another one's trailing wildcard already covers is left out.
  const unique = [...new Set(paths)];
  return unique.filter((p) => !unique.some((q) => q !== p && q.endsWith('*') && p.startsWith(q.slice(0, -1))));
}

/** Checks operator-given paths the way CloudFront will, so a typo fails before anything is sent. */
export function checkInvalidationPaths(paths: string[]): void {
  if (paths.length > MAX_PATHS) throw new MultiZoneValidationError(`Invalidation: ${paths.length} paths, CloudFront allows at most ${MAX_PATHS} in progress`);
  for (const path of paths) {
    if (!path.startsWith('/')) throw new MultiZoneValidationError(`Invalidation path "${path}": must start with "/"`);
    if (path.length > MAX_PATH_LENGTH) throw new MultiZoneValidationError(`Invalidation path "${path.slice(0, 40)}...": longer than ${MAX_PATH_LENGTH} characters`);
    if (path.slice(0, -1).includes('*')) throw new MultiZoneValidationError(`Invalidation path "${path}": "*" is only allowed at the end`);
  }
}

/** A unique CallerReference: CloudFront refuses to repeat one, and treats a retry with the same one as the same request. */
export function callerReference(now: Date = new Date()): string {
  return `multizone-${now.getTime()}-${randomBytes(4).toString('hex')}`;
}

/** Options of an invalidation. */
export interface InvalidateOptions {
  /** Wait until CloudFront reports it Completed. @default true */
  readonly wait?: boolean;
  /** Time between status checks. @default 10 s */
  readonly pollIntervalMs?: number;
  /** Give up waiting after this long (the invalidation carries on). @default 20 min */
  readonly timeoutMs?: number;
  /** Waits between polls; replaced in tests. */
  readonly sleep?: (ms: number) => Promise<unknown>;
  /** Called after each status check with the status and the time waited so far. */
  readonly onProgress?: (status: string, waitedMs: number) => void;
}

/** What an invalidation did. */
export interface InvalidationResult {
  readonly id: string;
  readonly paths: string[];
  readonly status: string;
  readonly waitedMs: number;
}

/** Creates an invalidation and, unless told not to, waits for it to complete. */
export async function invalidate(clients: AwsClients, distributionId: string, paths: string[], options: InvalidateOptions = {}): Promise<InvalidationResult> {
  checkInvalidationPaths(paths);
  const created = await awsCall(`CreateInvalidation on ${distributionId}`, () =>
    clients.cloudFront.send(
      new CreateInvalidationCommand({
        DistributionId: distributionId,
        InvalidationBatch: { Paths: { Quantity: paths.length, Items: paths }, CallerReference: callerReference() },
      }),
    ),
  );
  const id = created.Invalidation?.Id;
  if (!id) throw new OperateError(`CreateInvalidation on ${distributionId}: no invalidation id in the answer`);
  let status = created.Invalidation?.Status ?? 'InProgress';
  let waitedMs = 0;
  if (options.wait === false) return { id, paths, status, waitedMs };

  const interval = Math.max(1, options.pollIntervalMs ?? 10_000);
  const timeout = options.timeoutMs ?? 20 * 60_000;
  const sleep = options.sleep ?? delay;
  while (status !== 'Completed') {
    if (waitedMs >= timeout) {
      throw new OperateError(`Invalidation ${id} is still ${status} after ${Math.round(waitedMs / 1000)} s; it carries on: check it with "aws cloudfront get-invalidation --distribution-id ${distributionId} --id ${id}"`);
    }
    await sleep(interval);
    waitedMs += interval;
    const current = await awsCall(`GetInvalidation ${id}`, () => clients.cloudFront.send(new GetInvalidationCommand({ DistributionId: distributionId, Id: id })));
    status = current.Invalidation?.Status ?? status;
    options.onProgress?.(status, waitedMs);
  }
  return { id, paths, status, waitedMs };
}
