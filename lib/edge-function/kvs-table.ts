import { createHash } from 'crypto';
import { INTERNAL_KEY_PREFIX } from '../flags';
import { normalizePathPattern } from '../path-patterns';
import { RoutingTable } from '../routing-plan';

/** CloudFront KeyValueStore limit on one value, in bytes. */
export const MAX_KVS_VALUE_BYTES = 1024;

/** The routing table as KeyValueStore entries, under a versioned key prefix. */
export interface KvsRoutingTable {
  /** Content hash of the table: a new table gets new keys, so a function still at the edge keeps reading its own. */
  readonly version: string;
  /** The key prefix every entry starts with: `mz:<version>:`. */
  readonly keyPrefix: string;
  /** Key to value (a JSON string), each value within the store's limit. */
  readonly entries: Record<string, string>;
}

/**
 * One table row: `[order, pattern, zoneIndex, kind]`, where kind is 0 for
 * a page route, 1 for an asset route, or the flag name for an override.
 * Order is the row's rank within its list, so rows from two buckets merge
 * back into first-match order.
 */
export type TableRow = [number, string, number, number | string];

/**
 * The first path segment a pattern's matches must have, or undefined when
 * a wildcard can reach into it (`/blog*`, `*.png`): the function reads the
 * bucket of the request's first segment plus the wildcard bucket, so the
 * work per request does not grow with the number of routes.
 */
export function literalFirstSegment(pattern: string): string | undefined {
  const p = normalizePathPattern(pattern);
  if (!p.startsWith('/')) return undefined;
  const rest = p.slice(1);
  const slash = rest.indexOf('/');
  const segment = slash < 0 ? rest : rest.slice(0, slash);
  return /[*?]/.test(segment) ? undefined : segment;
}

/** The bucket key (after the prefix) of a first segment, or of the wildcard bucket. */
export function bucketKey(segment: string | undefined): string {
  return segment === undefined ? 'w' : `s:${segment}`;
}

/** Encodes the table as versioned, bucketed, size-limited KeyValueStore entries. */
export function encodeRoutingTable(table: RoutingTable): KvsRoutingTable {
  // The wildcard bucket is always written: the function takes its absence as an unreachable store.
  const buckets = new Map<string, TableRow[]>([['w', []]]);
  const add = (pattern: string, row: TableRow) => {
    const key = bucketKey(literalFirstSegment(pattern));
    buckets.set(key, [...(buckets.get(key) ?? []), row]);
  };
  const zoneIndex = (zone: string) => table.zones.indexOf(zone);
  table.routes.forEach((r, i) => add(r.pattern, [i, r.pattern, zoneIndex(r.zone), r.kind === 'asset' ? 1 : 0]));
  table.overrides.forEach((o, i) => add(o.pattern, [i, o.pattern, zoneIndex(o.zone), o.flag]));

  const sortedKeys = [...buckets.keys()].sort();
  const body = JSON.stringify(sortedKeys.map((k) => [k, buckets.get(k)]));
  const version = createHash('sha256').update(JSON.stringify(table.zones)).update(body).digest('hex').slice(0, 8);
  const keyPrefix = `${INTERNAL_KEY_PREFIX}${version}:`;
  const entries: Record<string, string> = {};
  for (const key of sortedKeys) {
    chunkRows(buckets.get(key)!).forEach((chunk, n) => {
      entries[`${keyPrefix}${key}${n ? `#${n}` : ''}`] = chunk;
    });
  }
  return { version, keyPrefix, entries };
}

/**
 * Splits a bucket into values within the KVS size limit. Each value is
 * `[more, row, row, ...]`; `more` is 1 when the next chunk (`key#n`) follows.
 */
function chunkRows(rows: TableRow[]): string[] {
  const chunks: TableRow[][] = [[]];
  const size = (chunk: TableRow[]) => Buffer.byteLength(JSON.stringify([1, ...chunk]));
  for (const row of rows) {
    const current = chunks[chunks.length - 1];
    if (current.length > 0 && size([...current, row]) > MAX_KVS_VALUE_BYTES) chunks.push([row]);
    else current.push(row);
  }
  return chunks.map((chunk, i) => JSON.stringify([i < chunks.length - 1 ? 1 : 0, ...chunk]));
}
