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
import { INTERNAL_KEY_PREFIX } from '../flags';
import { PREVIEW_SECRET_KEY } from '../preview';

/**
 * Keys (puts and deletes together) per UpdateKeys call: the service takes
 * at most 50, or 3 MB, which 50 keys of at most 1 KB each never reach.
 */
export const MAX_KEYS_PER_UPDATE = 50;

/** Attempts at a sync whose ETag went stale because someone else (an operator flipping a flag) wrote meanwhile. */
export const MAX_SYNC_ATTEMPTS = 4;

/** Pause before attempt n + 1 is n times this: conflicts come from a few human writers, not from throttling. */
const RETRY_DELAY_MS = 200;

/** ListKeys page size: the service's maximum. */
const LIST_PAGE_SIZE = 50;

const client = new CloudFrontKeyValueStoreClient({});

/** The custom resource's properties, as `KvsTableSync` sets them. */
export interface KvsSyncProperties {
  readonly KeyValueStoreArn: string;
  readonly Version: string;
  readonly Entries?: Record<string, string>;
  readonly InitialFlags?: Record<string, string>;
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
    changes = await reconcile(kvsArn, planSync(props, event.OldResourceProperties?.Version));
  }

  console.log(JSON.stringify({
    requestType: event.RequestType,
    kvsArn,
    version: props.Version,
    puts: changes?.puts.length ?? 0,
    deletes: changes?.deletes.length ?? 0,
  }));
  return { PhysicalResourceId: kvsArn };
}

/**
 * Create and Update: write every entry whose value differs, create missing
 * flags, and drop internal keys of any version other than this one and the
 * previous one (edge functions still running the previous table read it
 * until the new function has propagated).
 */
function planSync(props: KvsSyncProperties, previousVersion: string | undefined): Plan {
  const keptVersions = new Set([props.Version, previousVersion]);
  return (current) => {
    const puts: PutKeyRequestListItem[] = [];
    for (const [key, value] of Object.entries(props.Entries ?? {})) {
      if (current.get(key) !== value) puts.push({ Key: key, Value: value });
    }
    // Operators flip flags at run time: an existing flag keeps its value.
    for (const [key, value] of Object.entries(props.InitialFlags ?? {})) {
      if (!current.has(key)) puts.push({ Key: key, Value: value });
    }
    // The preview secret signs cookies already handed out: it is created once, never replaced or deleted.
    if (props.PreviewSecret === 'create-if-missing' && !current.has(PREVIEW_SECRET_KEY)) {
      puts.push({ Key: PREVIEW_SECRET_KEY, Value: randomBytes(32).toString('hex') });
    }
    const deletes = [...current.keys()]
      .filter((key) => key.startsWith(INTERNAL_KEY_PREFIX) && !keptVersions.has(versionOf(key)))
      .map((key) => ({ Key: key }));
    return { puts, deletes };
  };
}

/** Delete: drop this version's internal keys; flags belong to the operators. */
function planDelete(version: string): Plan {
  const prefix = `${INTERNAL_KEY_PREFIX}${version}:`;
  return (current) => ({
    puts: [],
    deletes: [...current.keys()].filter((key) => key.startsWith(prefix)).map((key) => ({ Key: key })),
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

/** Splits the changes into UpdateKeys bodies of at most MAX_KEYS_PER_UPDATE keys, puts first. */
function* batches(changes: Changes): Generator<Pick<UpdateKeysRequest, 'Puts' | 'Deletes'>> {
  const { puts, deletes } = changes;
  for (let start = 0; start < puts.length + deletes.length; start += MAX_KEYS_PER_UPDATE) {
    const end = start + MAX_KEYS_PER_UPDATE;
    const batchPuts = puts.slice(start, end);
    const batchDeletes = deletes.slice(Math.max(0, start - puts.length), Math.max(0, end - puts.length));
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
