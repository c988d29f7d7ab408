import { createHash } from 'crypto';
import { MultiZoneValidationError } from '../errors';
import { tableKeyPrefix } from '../kvs-sync/table-file';
import { limitValue } from '../limits';
import { normalizePathPattern } from '../path-patterns';
import { RoutingTable, routeKindMoves } from '../routing-plan';

/** CloudFront KeyValueStore limit on one value, in bytes (lib/limits.ts). */
export const MAX_KVS_VALUE_BYTES = limitValue('store-value-size');

/** CloudFront KeyValueStore limit on the whole store, keys and values, in bytes ("Quotas", key value stores). */
export const MAX_KVS_STORE_BYTES = limitValue('store-size');

/**
 * The most bytes one table version may take in the store: half of it, so
 * the version a function still at the edge reads can stay while the new
 * one propagates, with flags and the preview secret beside them.
 */
export const MAX_TABLE_STORE_BYTES = MAX_KVS_STORE_BYTES / 2;

/**
 * The most table values one request may read. A CloudFront Function must
 * finish within its compute budget (sub-millisecond; "Restrictions on edge
 * functions": exceeding it is a 503), and each KeyValueStore read and the
 * matching of its rows costs a share of it; eight values (8 KB of rows)
 * leave room for the flag reads and the rest of the request. Tables that
 * would need more are refused at synth.
 */
export const MAX_TABLE_READS = limitValue('table-reads-per-request');

/** The most buckets one level of the index splits into: enough to give every first segment of a large table its own. */
const MAX_BUCKETS = 4096;

/**
 * Rows of several segments sharing a bucket past this many bytes get more
 * buckets: the function parses and scans every row of the value it reads,
 * so a small table kept in one full value would cost each request more
 * than a large table spread thin (a store key costs nothing per request).
 */
const SHARED_BUCKET_BYTES = 256;

/** The routing table as KeyValueStore entries, under a site's versioned key prefix. */
export interface KvsRoutingTable {
  /** Content hash of the table: a new table gets new keys, so a function still at the edge keeps reading its own. */
  readonly version: string;
  /** The key prefix every entry starts with: `mz-site:<site>:<version>:`. */
  readonly keyPrefix: string;
  /** Key to value (a JSON string), each value within the store's limit. */
  readonly entries: Record<string, string>;
  /** Buckets of the first path segment: the function hashes a request's first segment to pick the one it reads (`b<n>`). */
  readonly bucketCount: number;
  /** The most table values any request reads (at most MAX_TABLE_READS). */
  readonly maxReads: number;
}

/** A zone as the table values name it: its name (the zone header) and the origin id the function selects. */
export interface TableZone {
  readonly name: string;
  readonly originId: string;
}

/**
 * One table row: `[order, pattern, zoneIndex, kind]`, where kind is 0 for
 * a page route (a flag may move it), 1 for any other route (assets,
 * images: they never move), or the flag name for an override. Order is
 * the row's rank within its list, so rows from several values merge back
 * into first-match order.
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

/**
 * The bucket, among `count`, of a path segment. The function computes the
 * same (router-source.ts), so it knows which value to read without a
 * lookup: a polynomial hash kept below 2^53, plain ES 5.1 arithmetic.
 */
export function segmentBucket(segment: string, count: number): number {
  let h = 0;
  for (let i = 0; i < segment.length; i++) h = (h * 31 + segment.charCodeAt(i)) % 1000003;
  return h % count;
}

/** Flag of a stored value: the bucket continues in the next chunk (`key|n`). */
const MORE_CHUNKS = 1;

interface Entry {
  readonly row: TableRow;
  readonly segments: string[];
  readonly bytes: number;
  /** Who declared the pattern, for error messages. */
  readonly owner: string;
}

/** A group of rows sharing their literal path up to one segment, as placed in its bucket. */
interface Part {
  readonly segment: string;
  /** Rows read with the bucket. */
  readonly top: Entry[];
  /** Rows with a longer literal path, moved to buckets of their own (empty: not split). */
  readonly deeper: Entry[];
}

/** The most reads below a bucket, and what costs the most there: rows that cannot be spread further. */
interface Cost {
  readonly reads: number;
  /** The rows that crowd the heaviest value chain on the worst path. */
  readonly heaviest: Entry[];
  readonly heaviestReads: number;
  /** The literal path those rows share, or undefined for wildcard-first rows. */
  readonly shared?: string;
}

/**
 * Encodes the table as versioned, bucketed, size-limited KeyValueStore
 * entries, laid out so that a request reads one value in the common case
 * whatever the table's size:
 *
 * - `b<h>`: the rows a request whose first path segment hashes to `h` (of
 *   `bucketCount`) may match, wildcard-first rows (`*.png`, `/blog*`)
 *   copied into every bucket. Every bucket is written, so a missing one
 *   means an unreachable store.
 * - `s:<literal path>#<h>`: when a segment's rows do not fit in its bucket,
 *   those with a longer literal path move to buckets of their own, hashed
 *   by the next segment; the parent value lists the segment and how many.
 * - `<key>|<n>`: the next chunk of a bucket too big for one value.
 *
 * Every key starts with the site's prefix for this version
 * (`mz-site:<site>:<version>:`, 29 bytes), so sites sharing a store never
 * read or write each other's tables. Keys stay far below the store's 512
 * bytes: a literal path is part of a pattern, at most 255 characters.
 *
 * Each value is `[more, splits, zones, ...rows]`: `more` 1 when a chunk
 * follows, `splits` `{segment: bucket count}`, `zones` `{zone index:
 * [name, origin id]}` for the zones its rows name (the default zone, index
 * 0, is in the function's code), so the code does not grow with zones.
 * Refuses a table that would make some request read more than
 * MAX_TABLE_READS values, or take more than MAX_TABLE_STORE_BYTES.
 */
export function encodeRoutingTable(table: RoutingTable, zones: readonly TableZone[], site: string): KvsRoutingTable {
  const zoneIndex = new Map(table.zones.map((z, i) => [z, i]));
  const zoneEntry = new Map(zones.map((z) => [zoneIndex.get(z.name)!, JSON.stringify([z.name, z.originId])]));
  const entry = (row: TableRow, owner: string): Entry => ({ row, segments: literalSegments(row[1]), bytes: Buffer.byteLength(JSON.stringify(row)), owner });
  const rows: Entry[] = [
    ...table.routes.map((r, i) => entry([i, r.pattern, zoneIndex.get(r.zone)!, routeKindMoves(r.kind) ? 0 : 1], `Zone "${r.zone}"`)),
    ...table.overrides.map((o, i) => entry([i, o.pattern, zoneIndex.get(o.zone)!, o.flag], `Override "${o.flag}"`)),
  ];
  const values: Record<string, string> = {};
  const layout = new Layout(values, zoneEntry);
  const wildcardFirst = rows.filter((r) => r.segments.length === 0);
  const root = layout.level([], groupBySegment(rows, 0), wildcardFirst);

  const keys = Object.keys(values).sort();
  const version = createHash('sha256')
    .update(JSON.stringify([root.count, keys.map((k) => [k, values[k]])]))
    .digest('hex')
    .slice(0, 8);
  const keyPrefix = tableKeyPrefix(site, version);
  const entries: Record<string, string> = {};
  let bytes = 0;
  for (const key of keys) {
    entries[`${keyPrefix}${key}`] = values[key];
    bytes += Buffer.byteLength(keyPrefix + key) + Buffer.byteLength(values[key]);
  }
  if (bytes <= MAX_TABLE_STORE_BYTES && root.cost.reads > MAX_TABLE_READS) throw tooManyReads(root.cost);
  if (bytes > MAX_TABLE_STORE_BYTES) {
    throw new MultiZoneValidationError(
      `overrides: the routing table takes ${bytes} bytes in the KeyValueStore, at most ${MAX_TABLE_STORE_BYTES} allowed (half the store's 5 MB, so the previous version fits beside it); ` +
        'use fewer path patterns, or patterns with a literal first segment (wildcard-first patterns are copied into every bucket)',
    );
  }
  return { version, keyPrefix, entries, bucketCount: root.count, maxReads: root.cost.reads };
}

function tooManyReads(cost: Cost): MultiZoneValidationError {
  const shown = cost.heaviest.slice(0, 5).map((e) => `${e.owner} "${e.row[1]}"`);
  const more = cost.heaviest.length > shown.length ? `, and ${cost.heaviest.length - shown.length} more` : '';
  const why =
    cost.shared === undefined
      ? 'have a wildcard in their first path segment, so every routed request checks them all'
      : `share their literal path "/${cost.shared}/" and nothing more, so a request under it checks them all`;
  return new MultiZoneValidationError(
    `overrides: ${cost.heaviest.length} path patterns ${why} (${shown.join(', ')}${more}): ` +
      `${cost.reads} KeyValueStore reads a request, at most ${MAX_TABLE_READS} allowed (the CloudFront Functions compute budget); ` +
      'give them distinct literal leading segments ("/x1/*" rather than "*.x1"), or cover them with fewer patterns',
  );
}

/** Rows with a literal segment at `depth`, grouped by it. */
function groupBySegment(rows: Entry[], depth: number): Map<string, Entry[]> {
  const groups = new Map<string, Entry[]>();
  for (const row of rows) {
    if (row.segments.length <= depth) continue;
    const group = groups.get(row.segments[depth]);
    if (group) group.push(row);
    else groups.set(row.segments[depth], [row]);
  }
  return groups;
}

/** Writes the index's values, level by level. */
class Layout {
  constructor(
    private readonly values: Record<string, string>,
    private readonly zoneEntry: Map<number, string>,
  ) {}

  /**
   * Places groups of rows sharing the literal path `path` (keyed by their
   * next segment) into hashed buckets, with `carried` rows copied into
   * each: as few buckets as keep every group out of another's way.
   */
  public level(path: string[], groups: Map<string, Entry[]>, carried: Entry[]): { count: number; cost: Cost } {
    const depth = path.length;
    const parts = [...groups].map(([segment, rows]) => this.part(segment, rows, depth, carried));
    const carriedBytes = bytesOf(carried);
    let count = 1;
    let buckets = assign(parts, count);
    // More buckets while a request under some group reads more values (or more bytes of rows) than that group would take alone,
    // and the copies of `carried` stay small.
    const crowded = (b: Part[]) => {
      if (b.length < 2) return false;
      const shared = [...carried, ...b.flatMap((p) => p.top)];
      return this.chunks(shared) > Math.min(...b.map((p) => this.chunks([...carried, ...p.top]))) || bytesOf(shared) > SHARED_BUCKET_BYTES;
    };
    while (count < MAX_BUCKETS && 2 * count * carriedBytes <= MAX_TABLE_STORE_BYTES / 4 && buckets.some(crowded)) {
      count *= 2;
      buckets = assign(parts, count);
    }
    let cost: Cost = { reads: 0, heaviest: [], heaviestReads: 0 };
    buckets.forEach((members, h) => {
      const splits: Array<[string, number]> = [];
      let below: Cost = { reads: 0, heaviest: [], heaviestReads: 0 };
      for (const p of members.filter((m) => m.deeper.length > 0)) {
        const sub = this.level([...path, p.segment], groupBySegment(p.deeper, depth + 1), []);
        splits.push([p.segment, sub.count]);
        if (sub.cost.reads > below.reads) below = sub.cost;
      }
      const own = [...carried, ...members.flatMap((m) => m.top)];
      const key = depth === 0 ? `b${h}` : `s:${path.join('/')}#${h}`;
      const chunks = this.write(key, own, splits);
      const largest = members.reduce<Part | undefined>((a, m) => (a && bytesOf(a.top) >= bytesOf(m.top) ? a : m), undefined);
      const crowd: Pick<Cost, 'heaviest' | 'shared'> =
        largest && bytesOf(largest.top) > bytesOf(carried) ? { heaviest: largest.top, shared: [...path, largest.segment].join('/') } : { heaviest: carried };
      const here: Cost = chunks >= below.heaviestReads ? { reads: chunks + below.reads, ...crowd, heaviestReads: chunks } : { ...below, reads: chunks + below.reads };
      if (here.reads > cost.reads) cost = here;
    });
    return { count, cost };
  }

  /** A group kept whole in its bucket when it fits in one value with `carried`, else split by its next segment. */
  private part(segment: string, rows: Entry[], depth: number, carried: Entry[]): Part {
    const deeper = rows.filter((r) => r.segments.length > depth + 1);
    if (deeper.length === 0 || this.chunks([...carried, ...rows]) <= 1) return { segment, top: rows, deeper: [] };
    return { segment, top: rows.filter((r) => r.segments.length <= depth + 1), deeper };
  }

  /** How many values `rows` take. */
  private chunks(rows: Entry[]): number {
    return chunkRows(rows, [], (row) => this.zoneBytes(row)).length;
  }

  private zoneBytes(row: TableRow): number {
    const zone = this.zoneEntry.get(row[2]);
    return row[2] === 0 || zone === undefined ? 0 : Buffer.byteLength(`"${row[2]}":${zone}`) + 1;
  }

  /** Writes one bucket at `key`, chunked; returns the number of values. */
  private write(key: string, rows: Entry[], splits: Array<[string, number]>): number {
    const sorted = [...rows].sort((a, b) => a.row[0] - b.row[0]);
    const chunks = chunkRows(sorted, splits, (row) => this.zoneBytes(row));
    chunks.forEach((chunk, n) => {
      const zones = [...new Set(chunk.rows.map((e) => e.row[2]).filter((z) => z !== 0 && this.zoneEntry.has(z)))];
      const value =
        `[${n < chunks.length - 1 ? MORE_CHUNKS : 0},${JSON.stringify(Object.fromEntries(chunk.splits))},` +
        `{${zones.map((z) => `"${z}":${this.zoneEntry.get(z)}`).join(',')}}${chunk.rows.map((e) => `,${JSON.stringify(e.row)}`).join('')}]`;
      this.values[`${key}${n ? `|${n}` : ''}`] = value;
    });
    return chunks.length;
  }
}

const bytesOf = (rows: Entry[]) => rows.reduce((n, e) => n + e.bytes, 0);

/** Groups by bucket among `count`, by segment hash. */
function assign(parts: Part[], count: number): Part[][] {
  const buckets: Part[][] = Array.from({ length: count }, () => []);
  for (const p of parts) buckets[segmentBucket(p.segment, count)].push(p);
  return buckets;
}

/**
 * Cuts rows and split entries into values within the KVS limit, greedily
 * in order: the size of `[1,{splits},{zones},row,...]` is counted as it grows.
 */
function chunkRows(rows: Entry[], splits: Array<[string, number]>, zoneBytes: (row: TableRow) => number): Array<{ rows: Entry[]; splits: Array<[string, number]> }> {
  const empty = 10; // `[1,{},{}]` and a margin for the brackets
  const chunks: Array<{ rows: Entry[]; splits: Array<[string, number]>; bytes: number; zones: Set<number> }> = [{ rows: [], splits: [], bytes: empty, zones: new Set() }];
  const room = (bytes: number) => {
    const current = chunks[chunks.length - 1];
    if (current.bytes + bytes > MAX_KVS_VALUE_BYTES && (current.rows.length > 0 || current.splits.length > 0)) {
      chunks.push({ rows: [], splits: [], bytes: empty, zones: new Set() });
    }
    return chunks[chunks.length - 1];
  };
  for (const split of splits) {
    const chunk = room(Buffer.byteLength(JSON.stringify(split[0])) + String(split[1]).length + 2);
    chunk.splits.push(split);
    chunk.bytes += Buffer.byteLength(JSON.stringify(split[0])) + String(split[1]).length + 2;
  }
  for (const e of rows) {
    const zone = (c: { zones: Set<number> }) => (c.zones.has(e.row[2]) ? 0 : zoneBytes(e.row));
    let chunk = chunks[chunks.length - 1];
    chunk = room(e.bytes + 1 + zone(chunk));
    chunk.bytes += e.bytes + 1 + zone(chunk);
    chunk.rows.push(e);
    chunk.zones.add(e.row[2]);
  }
  return chunks;
}
