/**
 * Invalidating a deployed site's cache: by explicit paths, by the paths a
 * flag's overrides cover, by one zone's pages, or everything, then waiting
 * for CloudFront to finish.
 */
import { randomBytes } from 'crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { CreateInvalidationCommand, GetInvalidationCommand } from '@aws-sdk/client-cloudfront';
import { MultiZoneValidationError, flagNameProblem, limitValue, normalizePathPattern, pathPatternsIntersect, RoutingTable } from 'multizone-distribution/internal';
import { AwsClients, OperateError, awsCall } from './aws';

/** CloudFront's limit on one invalidation path, in characters. */
const MAX_PATH_LENGTH = limitValue('invalidation-path-length');

/** CloudFront's quota of file paths in progress at once per distribution ("Concurrent invalidation request maximum"). */
const MAX_PATHS = limitValue('invalidation-file-paths-in-progress');

/** CloudFront's quota of wildcard paths in progress at once per distribution, independent of the file paths ("Concurrent invalidation request maximum"). */
export const MAX_WILDCARD_PATHS = limitValue('invalidation-wildcard-paths-in-progress');

/**
 * The invalidation path that covers a path pattern. CloudFront takes a `*`
 * only at the end of a path and no `?` wildcard ("What you need to know
 * when invalidating files", "Invalidation paths"), so a pattern with a
 * wildcard earlier (`/blog/*.xml`) is widened to the path up to it
 * (`/blog/*`).
 */
export function invalidationPath(pattern: string): string {
  const path = normalizePathPattern(pattern);
  const wildcard = path.search(/[*?]/);
  if (wildcard < 0) return path;
  const prefix = path.slice(0, wildcard);
  return `${prefix.startsWith('/') ? prefix : '/'}*`;
}

/** The paths without those another one's trailing wildcard already covers. */
function withoutCovered(paths: string[]): string[] {
  const unique = [...new Set(paths)];
  return unique.filter((p) => !unique.some((q) => q !== p && q.endsWith('*') && p.startsWith(q.slice(0, -1))));
}

/**
 * The invalidation paths that cover a flag's override patterns, widened as
 * invalidationPath says.
 */
export function pathsForFlag(table: RoutingTable, flag: string): string[] {
  const problem = flagNameProblem(flag);
  if (problem) throw new MultiZoneValidationError(`Flag "${flag}": ${problem}`);
  const patterns = table.overrides.filter((o) => o.flag === flag).map((o) => o.pattern);
  if (patterns.length === 0) {
    const flags = [...new Set(table.overrides.map((o) => o.flag))];
    throw new OperateError(`Flag "${flag}": no override names it; the site's flags are ${flags.length ? flags.join(', ') : '(none)'}`);
  }
  return withoutCovered(patterns.map(invalidationPath));
}

/** The invalidation of one zone's pages, and where it had to differ from the zone's patterns. */
export interface ZoneInvalidation {
  /** The invalidation paths, none of which touches an asset route. */
  readonly paths: string[];
  /** One line per pattern whose path is wider or narrower than the pattern, saying why. */
  readonly notes: string[];
}

/**
 * The invalidation paths of one zone's pages: its path patterns (with
 * their Pages Router data patterns) and the override patterns that move
 * paths to it, and never an immutable asset route (asset prefixes and
 * `/_next/static/*`: those files are immutable and old pages still need
 * them). An exact page also gets its query-string variants (App Router
 * `?_rsc=` payloads, cached under the query) as `<page>*` when that
 * touches no asset route; CloudFront only drops query variants an
 * invalidation path names or reaches with `*` ("Forwarding query
 * strings").
 */
export function pathsForZone(table: RoutingTable, zone: string): ZoneInvalidation {
  if (!table.zones.includes(zone)) throw new OperateError(`Zone "${zone}": not a zone of this site; its zones are ${table.zones.join(', ')}`);
  const fixed = table.routes.filter((r) => r.kind === 'asset');
  const touches = (path: string) => fixed.filter((r) => pathPatternsIntersect(path, r.pattern)).map((r) => `"${r.pattern}"`).join(', ');
  if (zone === table.defaultZone) {
    throw new OperateError(
      `Zone "${zone}" is the default zone: it serves every path no other route claims, and the only invalidation path covering those, "/*", ` +
        `would also drop the immutable assets (${fixed.map((r) => r.pattern).join(', ')}); name its pages instead (multizone invalidate /about "/pricing/*"), or everything with multizone invalidate "/*"`,
    );
  }
  const patterns = [...table.routes.filter((r) => r.zone === zone && r.kind === 'page').map((r) => r.pattern), ...table.overrides.filter((o) => o.zone === zone).map((o) => o.pattern)];
  const notes: string[] = [];
  const paths = [...new Set(patterns)].map((pattern) => {
    const path = invalidationPath(pattern);
    if (!/[*?]/.test(pattern)) {
      const withQueries = `${path}*`;
      const asset = touches(withQueries);
      if (!asset) return withQueries;
      notes.push(`"${pattern}": invalidated as "${path}" only; its query-string variants stay cached until they expire, since "${withQueries}" would reach the assets under ${asset}`);
      return path;
    }
    if (path !== pattern) {
      const asset = touches(path);
      if (asset) {
        throw new OperateError(
          `Zone "${zone}": path pattern "${pattern}" cannot be an invalidation path ("*" only at the end, no "?"), and the nearest one, "${path}", would drop the immutable assets under ${asset}; invalidate its pages by path instead`,
        );
      }
      notes.push(`"${pattern}": widened to "${path}" ("*" only at the end, no "?"); other paths under it are invalidated too`);
    }
    return path;
  });
  if (paths.length === 0) throw new OperateError(`Zone "${zone}": no path pattern or override routes pages to it`);
  return { paths: withoutCovered(paths), notes };
}

/**
 * Splits paths into invalidations CloudFront accepts one after another:
 * each with at most 15 wildcard paths and 3,000 file paths, the most a
 * distribution may have in progress at once.
 */
export function invalidationBatches(paths: string[]): string[][] {
  const wildcards = paths.filter((p) => p.endsWith('*'));
  const files = paths.filter((p) => !p.endsWith('*'));
  const count = Math.max(Math.ceil(wildcards.length / MAX_WILDCARD_PATHS), Math.ceil(files.length / MAX_PATHS), 1);
  return Array.from({ length: count }, (_, i) => [
    ...wildcards.slice(i * MAX_WILDCARD_PATHS, (i + 1) * MAX_WILDCARD_PATHS),
    ...files.slice(i * MAX_PATHS, (i + 1) * MAX_PATHS),
  ]).filter((batch) => batch.length > 0);
}

/** Checks operator-given paths the way CloudFront will, so a typo fails before anything is sent. */
export function checkInvalidationPaths(paths: string[]): void {
  if (paths.length > MAX_PATHS) throw new MultiZoneValidationError(`Invalidation: ${paths.length} paths, CloudFront allows at most ${MAX_PATHS} in progress`);
  for (const path of paths) {
    if (!path.startsWith('/')) throw new MultiZoneValidationError(`Invalidation path "${path}": must start with "/"`);
    if (path.length > MAX_PATH_LENGTH) {
      throw new MultiZoneValidationError(`Invalidation path "${path.slice(0, 40)}...": ${path.length} characters, CloudFront allows at most ${MAX_PATH_LENGTH}`);
    }
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
  const action = `CreateInvalidation on ${distributionId}`;
  const created = await awsCall(action, async () => {
    try {
      return await clients.cloudFront.send(
        new CreateInvalidationCommand({
          DistributionId: distributionId,
          InvalidationBatch: { Paths: { Quantity: paths.length, Items: paths }, CallerReference: callerReference() },
        }),
      );
    } catch (error) {
      if ((error as Error)?.name !== 'TooManyInvalidationsInProgress') throw error;
      const wildcards = paths.filter((p) => p.endsWith('*')).length;
      throw new OperateError(
        `${action}: CloudFront has too many invalidations in progress (at most ${MAX_WILDCARD_PATHS} wildcard paths and ${MAX_PATHS} file paths at once, other invalidations included); ` +
          `this one has ${wildcards} wildcard and ${paths.length - wildcards} file paths: wait for the others to complete and run again`,
      );
    }
  });
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

/**
 * Invalidates paths in as many invalidations as CloudFront's limits of
 * paths in progress need (invalidationBatches), each waited for before the
 * next is created. Refuses `wait: false` when that takes more than one,
 * before anything is sent: the later ones could not start.
 */
export async function invalidateInBatches(clients: AwsClients, distributionId: string, paths: string[], options: InvalidateOptions = {}): Promise<InvalidationResult[]> {
  const batches = invalidationBatches(paths);
  for (const batch of batches) checkInvalidationPaths(batch);
  if (batches.length > 1 && options.wait === false) {
    const wildcards = paths.filter((p) => p.endsWith('*')).length;
    throw new OperateError(
      `Invalidation: ${wildcards} wildcard and ${paths.length - wildcards} file paths need ${batches.length} invalidations, one after another ` +
        `(CloudFront allows ${MAX_WILDCARD_PATHS} wildcard and ${MAX_PATHS} file paths in progress at once); run without --no-wait`,
    );
  }
  const results: InvalidationResult[] = [];
  for (const [i, batch] of batches.entries()) {
    // The progress line says which invalidation it waits for, when there are several.
    const onProgress = options.onProgress && batches.length > 1 ? (status: string, waited: number) => options.onProgress!(`${status}, ${i + 1} of ${batches.length}`, waited) : options.onProgress;
    results.push(await invalidate(clients, distributionId, batch, { ...options, onProgress }));
  }
  return results;
}
