/**
 * Custom resource handler behind `KvsTableSync`: makes the keys a site
 * owns in a CloudFront KeyValueStore match the routing table of the stack
 * being deployed. Several sites may share the store: each writes and
 * deletes only the keys under its own `mz-site:<site>:` (table-file.ts),
 * creates missing flags and the preview secret, and never rewrites or
 * deletes a key it did not write.
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
import { SITE_KEY_PREFIX } from '../flags';
import { PREVIEW_SECRET_KEY } from '../preview';
import { encodeRecord, parseReleaseRecord, reconcileTemplate } from '../releases/record';
import {
  SITE_ID,
  SiteRecord,
  TABLE_VERSION,
  TableFile,
  adoptedKey,
  legacyKeyPrefix,
  legacySinceKey,
  releaseKey,
  releaseKeyPrefix,
  siteKeyPrefix,
  siteRecordKey,
  sinceKey,
} from './table-file';

/**
 * Keys (puts and deletes together) per UpdateKeys call: the service takes
 * at most 50, or 3 MB, which 50 keys of at most 1 KB each never reach.
 */
export const MAX_KEYS_PER_UPDATE = 50;

/** Attempts at a sync whose ETag went stale because someone else (an operator flipping a flag, another site's sync) wrote meanwhile. */
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

/** Functions associated with one KeyValueStore: 10 ("Quotas", the row functions-per-key-value-store of lib/limits.ts). */
export const MAX_FUNCTIONS_PER_STORE = 10;

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
  /**
   * The site's id: its keys are `mz-site:<site>:...`. Absent from the
   * properties of earlier releases, whose tables were `mz:<version>:...`
   * (a rollback to such a template, or its deletion).
   */
  readonly Site?: string;
  /** The site's construct path, which other sites' syncs name it by. */
  readonly SiteName?: string;
  /** The site's functions associated with the store (CloudFormation passes numbers as strings). */
  readonly Functions?: string;
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
  /** The stack's ARN, recorded to tell two sites apart that came to the same site id. */
  readonly StackId?: string;
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
  try {
    changes = await reconcile(kvsArn, await planFor(event, Date.now()));
  } catch (error) {
    // The store went first (deleted out of band): its keys went with it.
    if (event.RequestType !== 'Delete' || errorName(error) !== 'ResourceNotFoundException') throw error;
  }

  console.log(JSON.stringify({
    requestType: event.RequestType,
    kvsArn,
    site: props.Site ?? null,
    version: props.Version,
    puts: changes?.puts.length ?? 0,
    deletes: changes?.deletes.length ?? 0,
    ...(changes && changes.evicted.length > 0 && { evictedBeforeRetention: changes.evicted }),
  }));
  return { PhysicalResourceId: kvsArn };
}

/** The plan for the event: properties with a site work in its keys; those of earlier releases in their one version's. */
async function planFor(event: KvsSyncEvent, now: number): Promise<Plan> {
  const props = event.ResourceProperties;
  if (event.RequestType === 'Delete') return props.Site ? planSiteDelete(props.Site) : planLegacyDelete(props.Version);
  const read = await readTable(props.TableBucket, props.TableKey);
  if (!props.Site) return planLegacySync(props, read, now);
  // An update from an earlier release's properties: the table `mz:<version>:` they name is this site's to drop once replaced.
  const old = event.RequestType === 'Update' ? event.OldResourceProperties : undefined;
  const adopt = old && !old.Site ? old.Version : undefined;
  const site: SiteContext = {
    site: props.Site,
    record: { name: props.SiteName ?? props.Site, stack: stackOf(event.StackId), functions: Number(props.Functions ?? 0) },
    adopt,
  };
  return planSync(props, site, read, now);
}

/** Who is syncing. */
interface SiteContext {
  readonly site: string;
  readonly record: SiteRecord;
  /** An earlier-layout table version this site wrote, named by the previous properties. */
  readonly adopt?: string;
}

/** A stack ARN without its unique suffix: a stack deleted and created again under its name is the same site. */
function stackOf(stackId: string | undefined): string {
  return (stackId ?? '').replace(/\/[^/]*$/, '');
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
      return { table: { entries: table.entries ?? {}, initialFlags: table.initialFlags ?? {}, releases: table.releases } };
    } catch (error) {
      if (!['AccessDenied', 'NoSuchKey'].includes(errorName(error) ?? '')) throw error;
      if (attempt >= MAX_TABLE_READ_ATTEMPTS) return { error };
      // IAM applies a changed policy within seconds.
      await sleep(TABLE_READ_RETRY_DELAY_MS * attempt);
    }
  }
}

/** A table version of the site in the store: its keys and when it became current (-Infinity when it never said). */
interface StoredVersion {
  readonly version: string;
  readonly keys: string[];
  readonly since: number;
}

/**
 * Create and Update: refuse a site id another stack holds and a store past
 * its functions quota, write every entry whose value differs, create
 * missing flags, record the site, mark this version current, and drop the
 * site's versions whose successor has been current for longer than
 * VERSION_RETENTION_MS (functions still at the edge read them until the
 * new function has propagated). When keeping them would overflow the
 * store, the site's oldest go early. Other sites' keys are only counted.
 */
function planSync(props: KvsSyncProperties, ctx: SiteContext, read: TableRead, now: number): Plan {
  return (current) => {
    refuseSharing(props.KeyValueStoreArn, ctx, current);
    const ownSince = sinceKey(ctx.site, props.Version);
    // A version that was current before (a rollback to it) is complete in the store while its replacement is retained.
    if ('error' in read && !current.has(ownSince)) throw read.error;
    const puts = tablePuts(props, read, current);
    const record = JSON.stringify(ctx.record);
    if (current.get(siteRecordKey(ctx.site)) !== record) puts.push({ Key: siteRecordKey(ctx.site), Value: record });
    const adopting = ctx.adopt !== undefined && !current.has(adoptedKey(ctx.site, ctx.adopt))
      && [...current.keys()].some((key) => key.startsWith(legacyKeyPrefix(ctx.adopt!)));
    if (adopting) puts.push({ Key: adoptedKey(ctx.site, ctx.adopt!), Value: new Date(now).toISOString() });

    const others = siteVersions(current, ctx.site, adopting ? [ctx.adopt!] : []).filter((v) => v.version !== props.Version);
    const recorded = storedSince(current.get(ownSince));
    // A version becomes current now unless it already is, the newest (a retried or repeated sync).
    const alreadyCurrent = recorded > -Infinity && others.every((v) => v.since < recorded);
    // Written last: a version with its @since key has all its entries.
    if (!alreadyCurrent) puts.push({ Key: ownSince, Value: new Date(now).toISOString() });
    const since = alreadyCurrent ? recorded : now;

    const expired = others.filter((v) => now - replacedAt(v, others, since) >= VERSION_RETENTION_MS);
    const kept = others.filter((v) => !expired.includes(v)).sort((a, b) => a.since - b.since);
    const gone = new Set(expired.flatMap((v) => v.keys));
    if ('table' in read) releaseChanges(ctx.site, read.table, current, now, puts, gone);
    let size = storeBytes(current, puts, gone);
    const evicted: string[] = [];
    for (const v of kept) {
      if (size <= MAX_STORE_BYTES) break;
      for (const key of v.keys) gone.add(key);
      evicted.push(v.version);
      size = storeBytes(current, puts, gone);
    }
    if (size > MAX_STORE_BYTES) throw storeFull(props, ctx.site, current, size);
    return { puts, deletes: [...gone].map((key) => ({ Key: key })), evicted };
  };
}

/**
 * The zones' release records: made when missing, told of a template
 * deployment id that changed; records of zones that no longer have
 * releases are deleted. A table file without `releases` (an earlier
 * release's) leaves them alone. Each record is rewritten from the value
 * read in the same attempt, so a release the CLI wrote meanwhile makes
 * the batch's ETag stale and the attempt is made again.
 */
function releaseChanges(site: string, table: TableFile, current: ReadonlyMap<string, string>, now: number, puts: PutKeyRequestListItem[], gone: Set<string>): void {
  if (!table.releases) return;
  for (const [zone, release] of Object.entries(table.releases)) {
    const key = releaseKey(site, zone);
    const value = encodeRecord(reconcileTemplate(parseReleaseRecord(current.get(key)), release.deploymentId, Math.floor(now / 1000), release.maxAgeSeconds));
    if (current.get(key) !== value) puts.push({ Key: key, Value: value });
  }
  for (const key of current.keys()) {
    if (key.startsWith(releaseKeyPrefix(site)) && !(key.slice(releaseKeyPrefix(site).length) in table.releases)) gone.add(key);
  }
}

/** The entries that differ, the flags and the preview secret that are missing. */
function tablePuts(props: KvsSyncProperties, read: TableRead, current: ReadonlyMap<string, string>): PutKeyRequestListItem[] {
  const table = 'table' in read ? read.table : { entries: {}, initialFlags: {} };
  const puts: PutKeyRequestListItem[] = [];
  for (const [key, value] of Object.entries(table.entries)) {
    if (current.get(key) !== value) puts.push({ Key: key, Value: value });
  }
  // Operators flip flags at run time, and flags are shared by name with the other sites: an existing flag keeps its value.
  for (const [key, value] of Object.entries(table.initialFlags)) {
    if (!current.has(key)) puts.push({ Key: key, Value: value });
  }
  // The preview secret signs cookies already handed out, by any site of the store: it is created once, never replaced or deleted.
  if (props.PreviewSecret === 'create-if-missing' && !current.has(PREVIEW_SECRET_KEY)) {
    puts.push({ Key: PREVIEW_SECRET_KEY, Value: randomBytes(32).toString('hex') });
  }
  return puts;
}

/**
 * Throws, before anything is written, when another stack's site holds this
 * site's id, or when the sites' functions would pass the store's quota
 * (CloudFront would then refuse a function's association, mid-deploy).
 */
function refuseSharing(kvsArn: string, ctx: SiteContext, current: ReadonlyMap<string, string>): void {
  const records = siteRecords(current);
  const holder = records.get(ctx.site);
  if (holder && holder.stack && ctx.record.stack && holder.stack !== ctx.record.stack) {
    throw new Error(
      `KeyValueStore ${kvsArn}: site "${ctx.record.name}" of ${ctx.record.stack} has the keys mz-site:${ctx.site}: of site "${holder.name}" of ${holder.stack} `
      + '(a site id comes from the stack name and construct path: the same stack deployed in another region); give one of them a store of its own',
    );
  }
  records.set(ctx.site, ctx.record);
  const total = [...records.values()].reduce((n, r) => n + r.functions, 0);
  if (total <= MAX_FUNCTIONS_PER_STORE) return;
  const sites = [...records.values()].map((r) => `"${r.name}" ${r.functions}`).join(', ');
  throw new Error(
    `KeyValueStore ${kvsArn}: the sites sharing it would associate ${total} CloudFront Functions with it (${sites}), `
    + `at most ${MAX_FUNCTIONS_PER_STORE} allowed ("Quotas": functions per key value store); give site "${ctx.record.name}" a store of its own`,
  );
}

/** The records of the sites in the store, by site id; a record that does not parse counts as a site without functions. */
function siteRecords(current: ReadonlyMap<string, string>): Map<string, SiteRecord> {
  const records = new Map<string, SiteRecord>();
  for (const [key, value] of current) {
    const site = key.slice(SITE_KEY_PREFIX.length, -':@site'.length);
    if (!SITE_ID.test(site) || key !== siteRecordKey(site)) continue;
    records.set(site, parseRecord(value) ?? { name: site, stack: '', functions: 0 });
  }
  return records;
}

function parseRecord(value: string): SiteRecord | undefined {
  try {
    const r = JSON.parse(value) as Partial<SiteRecord>;
    if (typeof r.name !== 'string' || typeof r.stack !== 'string' || !Number.isInteger(r.functions)) return undefined;
    return { name: r.name, stack: r.stack, functions: r.functions! };
  } catch {
    return undefined;
  }
}

/** The error of a table that does not fit even with every other version of the site dropped. */
function storeFull(props: KvsSyncProperties, site: string, current: ReadonlyMap<string, string>, size: number): Error {
  let notOurs = 0;
  for (const [key, value] of current) {
    if (!key.startsWith(siteKeyPrefix(site))) notOurs += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  return new Error(
    `KeyValueStore ${props.KeyValueStoreArn}: version ${props.Version} needs ${size} bytes of keys and values with every older `
    + `table version of the site dropped, over the store's ${MAX_STORE_BYTES} (${notOurs} bytes are flags and other sites' keys); `
    + 'make the routing table smaller (fewer overrides or routes), or give the site a store of its own',
  );
}

/** When the version that followed `v` became current: the next newer one, else the current one (current since `currentSince`). */
function replacedAt(v: StoredVersion, others: StoredVersion[], currentSince: number): number {
  const later = others.map((o) => o.since).filter((s) => s > v.since);
  return Math.min(currentSince, ...later);
}

/**
 * The site's table versions in the store, each with its @since time: its
 * own (`mz-site:<site>:<version>:`) and the earlier-layout ones it adopted
 * (`mz:<version>:`, with their adoption record), `adopting` among them.
 */
function siteVersions(current: ReadonlyMap<string, string>, site: string, adopting: string[]): StoredVersion[] {
  const prefix = siteKeyPrefix(site);
  const keys = new Map<string, string[]>();
  const add = (version: string, key: string) => keys.set(version, [...(keys.get(version) ?? []), key]);
  const adopted = new Set(adopting);
  for (const key of current.keys()) {
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    const version = rest.split(':', 1)[0];
    if (TABLE_VERSION.test(version)) add(version, key);
    else if (rest.startsWith('@adopted:')) adopted.add(rest.slice('@adopted:'.length));
  }
  const versions = [...keys].map(([version, versionKeys]) => ({ version, keys: versionKeys, since: storedSince(current.get(sinceKey(site, version))) }));
  for (const version of adopted) {
    const legacyKeys = [...current.keys()].filter((key) => key.startsWith(legacyKeyPrefix(version)));
    const record = current.has(adoptedKey(site, version)) ? [adoptedKey(site, version)] : [];
    versions.push({ version: `mz:${version}`, keys: [...legacyKeys, ...record], since: storedSince(current.get(legacySinceKey(version))) });
  }
  return versions;
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

/**
 * Create and Update with an earlier release's properties (a rollback to
 * its template): its router reads `mz:<version>:`. Writes that table (or
 * finds it still there), missing flags and the secret, and marks the
 * version current, so a later sync of the site keeps it for the window;
 * deletes nothing, since the store cannot tell whose `mz:` keys are.
 */
function planLegacySync(props: KvsSyncProperties, read: TableRead, now: number): Plan {
  return (current) => {
    if ('error' in read && !current.has(legacySinceKey(props.Version))) throw read.error;
    const puts = tablePuts(props, read, current);
    puts.push({ Key: legacySinceKey(props.Version), Value: new Date(now).toISOString() });
    return { puts, deletes: [], evicted: [] };
  };
}

/** Delete: drop every key of the site, its adopted earlier-layout tables with them; flags and the secret are shared. */
function planSiteDelete(site: string): Plan {
  return (current) => {
    const keys = new Set(siteVersions(current, site, []).flatMap((v) => v.keys));
    for (const key of current.keys()) if (key.startsWith(siteKeyPrefix(site))) keys.add(key);
    return { puts: [], deletes: [...keys].map((key) => ({ Key: key })), evicted: [] };
  };
}

/**
 * Delete with an earlier release's properties (a site removed before any
 * deploy of this release): drop the one table version they name, which
 * that site wrote (the version hashes the site's own origin ids).
 */
function planLegacyDelete(version: string): Plan {
  const prefix = legacyKeyPrefix(version);
  return (current) => ({
    puts: [],
    deletes: [...current.keys()].filter((key) => key.startsWith(prefix)).map((key) => ({ Key: key })),
    evicted: [],
  });
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
