/**
 * Custom resource handler behind `KvsTableSync`: makes the construct-owned
 * keys of a CloudFront KeyValueStore match the routing table of the stack
 * being deployed.
 *
 * It runs under the `custom-resources` Provider framework, so it only
 * returns the physical id or throws; the framework talks to CloudFormation.
 * Bundled by `scripts/bundle-handlers.js` into `dist/handlers/kvs-sync`.
 */

// The KeyValueStore data-plane API only accepts SigV4A signatures: this registers the signer.
import '@aws-sdk/signature-v4a';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CloudFrontKeyValueStoreClient,
  DeleteKeyRequestListItem,
  DescribeKeyValueStoreCommand,
  PutKeyRequestListItem,
  UpdateKeysCommand,
  UpdateKeysRequest,
  paginateListKeys,
} from '@aws-sdk/client-cloudfront-keyvaluestore';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { INTERNAL_KEY_PREFIX } from '../flags';
import { PREVIEW_SECRET_KEY } from '../preview';
import { TableFile, sinceKey } from './table-file';

/**
 * Keys (puts and deletes together) per UpdateKeys call: the service takes
 * at most 50, or 3 MB, which 50 keys of at most 1 KB each never reach.
 */
export const MAX_KEYS_PER_UPDATE = 50;

/** Attempts at a sync whose ETag went stale because someone else (an operator flipping a flag) wrote meanwhile. */
export const MAX_SYNC_ATTEMPTS = 4;

/**
 * How long a table version stays in the store after the version that
 * replaced it became current. Functions still at the edge read the old
 * version until the new function is live everywhere: CloudFront switches
 * cache behaviors to a published function "as soon as the distributions
 * finish deploying" (CloudFront guide, "Publish functions"), which takes
 * minutes; an hour leaves a wide margin and a deploy's own duration.
 */
export const VERSION_RETENTION_MS = 60 * 60 * 1000;

/**
 * Total size of a KeyValueStore's keys and values: 5 MB (CloudFront
 * guide, "Quotas", quotas on key value stores), counted in decimal
 * megabytes to stay on the safe side of however the service rounds (the
 * row store-size of lib/limits.ts; this bundle imports nothing of the CDK).
 */
export const MAX_STORE_BYTES = 5_000_000;

/** Pause before attempt n + 1 is n times this: conflicts come from a few human writers, not from throttling. */
const RETRY_DELAY_MS = 200;

/** Attempts at reading the table asset while the handler's new grant on it may not have reached IAM yet. */
export const MAX_TABLE_READ_ATTEMPTS = 5;

/** Pause before table read attempt n + 1 is n times this: about 10 s in all. */
const TABLE_READ_RETRY_DELAY_MS = 1000;

/** ListKeys page size: the service's maximum. */
const LIST_PAGE_SIZE = 50;

const client = new CloudFrontKeyValueStoreClient({});
const s3 = new S3Client({});

/** The custom resource's properties, as `KvsTableSync` sets them: a few short strings whatever the table's size. */
export interface KvsSyncProperties {
  readonly KeyValueStoreArn: string;
  readonly Version: string;
  /** Bucket of the table asset (a `TableFile`). */
  readonly TableBucket: string;
  /** Object key of the table asset. */
  readonly TableKey: string;
  /** `create-if-missing`: write a random preview signing secret when the store has none. */
  readonly PreviewSecret?: 'create-if-missing';
}

/** The part of the Provider framework's event this handler reads. */
export interface KvsSyncEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResourceProperties: KvsSyncProperties;
  readonly OldResourceProperties?: KvsSyncProperties;
}

/** What the Provider framework reports to CloudFormation: the store is the physical resource. */
export interface KvsSyncResponse {
  readonly PhysicalResourceId: string;
}

/** The writes that bring the store to the wanted state. */
interface Changes {
  readonly puts: PutKeyRequestListItem[];
  readonly deletes: DeleteKeyRequestListItem[];
  /** Versions dropped before their retention ended, to keep the store within its size limit. */
  readonly evicted: string[];
}

/** Computes the changes from the store's current keys and values. */
type Plan = (current: ReadonlyMap<string, string>) => Changes;

export async function handler(event: KvsSyncEvent): Promise<KvsSyncResponse> {
  const props = event.ResourceProperties;
  const kvsArn = props.KeyValueStoreArn;

  let changes: Changes | undefined;
  if (event.RequestType === 'Delete') {
    try {
      changes = await reconcile(kvsArn, planDelete(props.Version));
    } catch (error) {
      // The store went first (deleted out of band): its keys went with it.
      if (errorName(error) !== 'ResourceNotFoundException') throw error;
    }
  } else {
    changes = await reconcile(kvsArn, planSync(props, await readTable(props.TableBucket, props.TableKey), Date.now()));
  }

  console.log(JSON.stringify({
    requestType: event.RequestType,
    kvsArn,
    version: props.Version,
    puts: changes?.puts.length ?? 0,
    deletes: changes?.deletes.length ?? 0,
    ...(changes && changes.evicted.length > 0 && { evictedBeforeRetention: changes.evicted }),
  }));
  return { PhysicalResourceId: kvsArn };
}

/** The table asset, or why it could not be read. */
type TableRead = { readonly table: TableFile } | { readonly error: unknown };

/**
 * Reads the table asset. The handler may read only the asset of the
 * template being deployed; a rollback's Update names the previous one,
 * which its role no longer grants, so a read that stays denied is
 * returned for the plan to judge rather than thrown.
 */
async function readTable(bucket: string, key: string): Promise<TableRead> {
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const table = JSON.parse((await response.Body?.transformToString('utf-8')) ?? '') as Partial<TableFile>;
      return { table: { entries: table.entries ?? {}, initialFlags: table.initialFlags ?? {} } };
    } catch (error) {
      if (!['AccessDenied', 'NoSuchKey'].includes(errorName(error) ?? '')) throw error;
      if (attempt >= MAX_TABLE_READ_ATTEMPTS) return { error };
      // IAM applies a changed policy within seconds.
      await sleep(TABLE_READ_RETRY_DELAY_MS * attempt);
    }
  }
}

/** A table version in the store: its keys and when it became current (-Infinity when it never said). */
interface StoredVersion {
  readonly version: string;
  readonly keys: string[];
  readonly since: number;
}

/**
 * Create and Update: write every entry whose value differs, create missing
 * flags, mark this version current, and drop the versions whose successor
 * has been current for longer than VERSION_RETENTION_MS (functions still at
 * the edge read them until the new function has propagated). When keeping
 * them would overflow the store, the oldest go early.
 */
function planSync(props: KvsSyncProperties, read: TableRead, now: number): Plan {
  return (current) => {
    // A version that was current before (a rollback to it) is complete in the store while its replacement is retained.
    if ('error' in read && !current.has(sinceKey(props.Version))) throw read.error;
    const table = 'table' in read ? read.table : { entries: {}, initialFlags: {} };
    const puts: PutKeyRequestListItem[] = [];
    for (const [key, value] of Object.entries(table.entries)) {
      if (current.get(key) !== value) puts.push({ Key: key, Value: value });
    }
    // Operators flip flags at run time: an existing flag keeps its value.
    for (const [key, value] of Object.entries(table.initialFlags)) {
      if (!current.has(key)) puts.push({ Key: key, Value: value });
    }
    // The preview secret signs cookies already handed out: it is created once, never replaced or deleted.
    if (props.PreviewSecret === 'create-if-missing' && !current.has(PREVIEW_SECRET_KEY)) {
      puts.push({ Key: PREVIEW_SECRET_KEY, Value: randomBytes(32).toString('hex') });
    }

    const others = storedVersions(current).filter((v) => v.version !== props.Version);
    const recorded = storedSince(current.get(sinceKey(props.Version)));
    // A version becomes current now unless it already is, the newest (a retried or repeated sync).
    const alreadyCurrent = recorded > -Infinity && others.every((v) => v.since < recorded);
    if (!alreadyCurrent) {
      // Written last: a version with its @since key has all its entries.
      puts.push({ Key: sinceKey(props.Version), Value: new Date(now).toISOString() });
    }
    const since = alreadyCurrent ? recorded : now;

    const expired = others.filter((v) => now - replacedAt(v, others, since) >= VERSION_RETENTION_MS);
    const kept = others.filter((v) => !expired.includes(v)).sort((a, b) => a.since - b.since);
    const gone = new Set(expired.flatMap((v) => v.keys));
    let size = storeBytes(current, puts, gone);
    const evicted: string[] = [];
    for (const v of kept) {
      if (size <= MAX_STORE_BYTES) break;
      for (const key of v.keys) gone.add(key);
      evicted.push(v.version);
      size = storeBytes(current, puts, gone);
    }
    if (size > MAX_STORE_BYTES) {
      throw new Error(
        `KeyValueStore ${props.KeyValueStoreArn}: version ${props.Version} needs ${size} bytes of keys and values with every older `
        + `table version dropped, over the store's ${MAX_STORE_BYTES}; make the routing table smaller (fewer overrides or routes)`,
      );
    }
    return { puts, deletes: [...gone].map((key) => ({ Key: key })), evicted };
  };
}

/** When the version that followed `v` became current: the next newer one, else the current one (current since `currentSince`). */
function replacedAt(v: StoredVersion, others: StoredVersion[], currentSince: number): number {
  const later = others.map((o) => o.since).filter((s) => s > v.since);
  return Math.min(currentSince, ...later);
}

/** The internal keys of the store grouped by version, each with its @since time. */
function storedVersions(current: ReadonlyMap<string, string>): StoredVersion[] {
  const keys = new Map<string, string[]>();
  for (const key of current.keys()) {
    if (!key.startsWith(INTERNAL_KEY_PREFIX)) continue;
    const version = versionOf(key);
    keys.set(version, [...(keys.get(version) ?? []), key]);
  }
  return [...keys].map(([version, versionKeys]) => ({ version, keys: versionKeys, since: storedSince(current.get(sinceKey(version))) }));
}

/** A stored @since time in milliseconds; versions written before @since existed count as the oldest. */
function storedSince(value: string | undefined): number {
  const time = value === undefined ? NaN : Date.parse(value);
  return Number.isNaN(time) ? -Infinity : time;
}

/** Bytes of keys and values once `puts` are written and `gone` deleted. */
function storeBytes(current: ReadonlyMap<string, string>, puts: PutKeyRequestListItem[], gone: ReadonlySet<string>): number {
  const after = new Map(current);
  for (const key of gone) after.delete(key);
  for (const put of puts) after.set(put.Key!, put.Value!);
  let bytes = 0;
  for (const [key, value] of after) bytes += Buffer.byteLength(key) + Buffer.byteLength(value);
  return bytes;
}

/** Delete: drop this version's internal keys; flags belong to the operators. */
function planDelete(version: string): Plan {
  const prefix = `${INTERNAL_KEY_PREFIX}${version}:`;
  return (current) => ({
    puts: [],
    deletes: [...current.keys()].filter((key) => key.startsWith(prefix)).map((key) => ({ Key: key })),
    evicted: [],
  });
}

/** The version segment of an internal key `mz:<version>:...`. */
function versionOf(key: string): string {
  return key.slice(INTERNAL_KEY_PREFIX.length).split(':', 1)[0];
}

/**
 * Applies `plan` to the store, starting over from a fresh ETag and listing
 * when another writer got in between; batches already applied then show up
 * as current and are not written twice.
 */
async function reconcile(kvsArn: string, plan: Plan): Promise<Changes> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await reconcileOnce(kvsArn, plan);
    } catch (error) {
      if (!isConflict(error) || attempt >= MAX_SYNC_ATTEMPTS) throw error;
      await sleep(RETRY_DELAY_MS * attempt);
    }
  }
}

async function reconcileOnce(kvsArn: string, plan: Plan): Promise<Changes> {
  let etag = (await client.send(new DescribeKeyValueStoreCommand({ KvsARN: kvsArn }))).ETag;
  const changes = plan(await listKeys(kvsArn));
  for (const batch of batches(changes)) {
    // Each update moves the store to a new ETag, which the next batch must match.
    etag = (await client.send(new UpdateKeysCommand({ KvsARN: kvsArn, IfMatch: etag, ...batch }))).ETag;
  }
  return changes;
}

async function listKeys(kvsArn: string): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  for await (const page of paginateListKeys({ client, pageSize: LIST_PAGE_SIZE }, { KvsARN: kvsArn })) {
    for (const item of page.Items ?? []) keys.set(item.Key!, item.Value!);
  }
  return keys;
}

/**
 * Splits the changes into UpdateKeys bodies of at most MAX_KEYS_PER_UPDATE
 * keys, deletes first: they make room before the puts fill it, so no batch
 * takes the store past its size limit.
 */
function* batches(changes: Changes): Generator<Pick<UpdateKeysRequest, 'Puts' | 'Deletes'>> {
  const { puts, deletes } = changes;
  for (let start = 0; start < puts.length + deletes.length; start += MAX_KEYS_PER_UPDATE) {
    const end = start + MAX_KEYS_PER_UPDATE;
    const batchDeletes = deletes.slice(start, end);
    const batchPuts = puts.slice(Math.max(0, start - deletes.length), Math.max(0, end - deletes.length));
    yield {
      ...(batchPuts.length > 0 && { Puts: batchPuts }),
      ...(batchDeletes.length > 0 && { Deletes: batchDeletes }),
    };
  }
}

/** The store changed since its ETag was read. */
function isConflict(error: unknown): boolean {
  return errorName(error) === 'ConflictException'
    || (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode === 412;
}

function errorName(error: unknown): string | undefined {
  return (error as { name?: string } | undefined)?.name;
}
