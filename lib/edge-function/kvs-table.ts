import { createHash } from 'crypto';
import { INTERNAL_KEY_PREFIX } from '../flags';
import { limitValue } from '../limits';
import { normalizePathPattern } from '../path-patterns';
import { RoutingTable, routeKindMoves } from '../routing-plan';

/** CloudFront KeyValueStore limit on one value, in bytes (lib/limits.ts). */
export const MAX_KVS_VALUE_BYTES = limitValue('store-value-size');

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
 * a page route, 1 for a route no flag moves (asset or image), or the flag
 * name for an override.
 * Order is the row's rank within its list, so rows from two buckets merge
 * back into first-match order.
 */
export type TableRow = [number, string, number, number | string];

/**
 * The leading path segments a pattern's matches must have, each wholly
 * literal (`/blog/admin/*` gives blog, admin); none when a wildcard can
 * reach into the first one (`/blog*`, `*.png`).
 */
export function literalSegments(pattern: string): string[] {
  const p = normalizePathPattern(pattern);
  if (!p.startsWith('/')) return [];
  const parts = p.slice(1).split('/');
  const literal: string[] = [];
  for (const part of parts) {
    if (/[*?]/.test(part)) break;
    literal.push(part);
  }
  return literal;
}

/** Flag of a stored value: the bucket continues in the next chunk (`key#n`). */
const MORE_CHUNKS = 1;
/** Flag of a stored value: rows with a longer literal path sit in deeper buckets (`key/segment`). */
const DEEPER_BUCKETS = 2;

/**
 * Encodes the table as versioned, bucketed, size-limited KeyValueStore
 * entries. Rows go into the bucket of their first literal path segment
 * (`s:blog`), or the wildcard bucket `w` when a wildcard reaches into the
 * first segment; a bucket too big for one value hands its rows with a
 * longer literal path down to deeper buckets (`s:blog/admin`). The
 * function reads `w` and the buckets along the request's own path, so its
 * work per request does not grow with the size of the table.
 */
export function encodeRoutingTable(table: RoutingTable): KvsRoutingTable {
  const zoneIndex = (zone: string) => table.zones.indexOf(zone);
  const rows: TableRow[] = [
    ...table.routes.map((r, i): TableRow => [i, r.pattern, zoneIndex(r.zone), routeKindMoves(r.kind) ? 0 : 1]),
    ...table.overrides.map((o, i): TableRow => [i, o.pattern, zoneIndex(o.zone), o.flag]),
  ];
  const values: Record<string, string> = {};
  // The wildcard bucket is always written: the function takes its absence as an unreachable store.
  writeChunks(values, 'w', rows.filter((r) => literalSegments(r[1]).length === 0), 0);
  for (const [segment, group] of groupBySegment(rows, 0)) placeBucket(values, `s:${segment}`, group, 1);

  const keys = Object.keys(values).sort();
  const version = createHash('sha256')
    .update(JSON.stringify([table.zones, keys.map((k) => [k, values[k]])]))
    .digest('hex')
    .slice(0, 8);
  const keyPrefix = `${INTERNAL_KEY_PREFIX}${version}:`;
  const entries: Record<string, string> = {};
  for (const key of keys) entries[`${keyPrefix}${key}`] = values[key];
  return { version, keyPrefix, entries };
}

/** Rows with a literal segment at `depth`, grouped by it. */
function groupBySegment(rows: TableRow[], depth: number): Map<string, TableRow[]> {
  const groups = new Map<string, TableRow[]>();
  for (const row of rows) {
    const segments = literalSegments(row[1]);
    if (segments.length > depth) groups.set(segments[depth], [...(groups.get(segments[depth]) ?? []), row]);
  }
  return groups;
}

/** Writes one bucket at `depth` literal segments, splitting it deeper while it does not fit in one value. */
function placeBucket(values: Record<string, string>, key: string, rows: TableRow[], depth: number): void {
  const deeper = groupBySegment(rows, depth);
  if (fits(rows) || deeper.size === 0) {
    writeChunks(values, key, rows, 0);
    return;
  }
  writeChunks(values, key, rows.filter((r) => literalSegments(r[1]).length <= depth), DEEPER_BUCKETS);
  for (const [segment, group] of deeper) placeBucket(values, `${key}/${segment}`, group, depth + 1);
}

const encodeValue = (flags: number, rows: TableRow[]) => JSON.stringify([flags, ...rows]);
const fits = (rows: TableRow[]) => Buffer.byteLength(encodeValue(MORE_CHUNKS | DEEPER_BUCKETS, rows)) <= MAX_KVS_VALUE_BYTES;

/**
 * Writes a bucket's rows as values within the KVS size limit: `[flags,
 * row, row, ...]` at `key`, `key#1`, ... with MORE_CHUNKS on all but the last.
 */
function writeChunks(values: Record<string, string>, key: string, rows: TableRow[], flags: number): void {
  const chunks: TableRow[][] = [[]];
  for (const row of rows) {
    const current = chunks[chunks.length - 1];
    if (current.length > 0 && !fits([...current, row])) chunks.push([row]);
    else current.push(row);
  }
  chunks.forEach((chunk, n) => {
    values[`${key}${n ? `#${n}` : ''}`] = encodeValue(flags | (n < chunks.length - 1 ? MORE_CHUNKS : 0), chunk);
  });
}
