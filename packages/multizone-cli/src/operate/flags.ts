/**
 * Reading and writing the flags of a deployed site's KeyValueStore.
 *
 * Every write names the store's current ETag (IfMatch): when someone else
 * wrote in between (an operator, or a deploy syncing the routing table),
 * the write is refused and is tried again from a fresh ETag.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { DescribeKeyValueStoreCommand, GetKeyCommand, PutKeyCommand, paginateListKeys } from '@aws-sdk/client-cloudfront-keyvaluestore';
import { MultiZoneValidationError, isInternalKey, flagNameProblem, flagValueProblem, PREVIEW_SECRET_KEY } from 'multizone-distribution/internal';
import { AwsClients, OperateError, awsCall, explainAwsError, isEtagConflict } from './aws';

/** Writes tried when the ETag keeps going stale: conflicts come from a few writers, not a stampede. */
export const MAX_FLAG_WRITE_ATTEMPTS = 4;

/** Pause before retry n is n times this. */
const RETRY_DELAY_MS = 250;

/** One flag and its value in the store. */
export interface FlagValue {
  readonly name: string;
  readonly value: string;
}

/**
 * The preview signing secret (`preview:secret`), which deploys of a site
 * with previewable flags create; a one-line error when the store has none.
 */
export async function getPreviewSecret(clients: AwsClients, kvsArn: string): Promise<string> {
  try {
    const response = await clients.keyValueStore.send(new GetKeyCommand({ KvsARN: kvsArn, Key: PREVIEW_SECRET_KEY }));
    if (response.Value) return response.Value;
  } catch (error) {
    if ((error as Error).name !== 'ResourceNotFoundException') throw explainAwsError(`GetKey "${PREVIEW_SECRET_KEY}"`, error);
  }
  throw new OperateError(`Preview: the store has no "${PREVIEW_SECRET_KEY}"; deploy the site with preview: true on an override of the flag (the deploy creates the secret)`);
}

/** Every flag in the store (the construct's own keys, every site's, and the preview secret left out: they have a ":"), sorted by name. */
export async function listFlags(clients: AwsClients, kvsArn: string): Promise<FlagValue[]> {
  return awsCall('ListKeys on the KeyValueStore', async () => {
    const flags: FlagValue[] = [];
    for await (const page of paginateListKeys({ client: clients.keyValueStore, pageSize: 50 }, { KvsARN: kvsArn })) {
      for (const item of page.Items ?? []) {
        if (item.Key && !isInternalKey(item.Key)) flags.push({ name: item.Key, value: item.Value ?? '' });
      }
    }
    return flags.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  });
}

/** A flag's value; a one-line error naming the store's flags when it has no such flag. */
export async function getFlag(clients: AwsClients, kvsArn: string, name: string): Promise<string> {
  checkName(name);
  try {
    const response = await clients.keyValueStore.send(new GetKeyCommand({ KvsARN: kvsArn, Key: name }));
    return response.Value ?? '';
  } catch (error) {
    if ((error as Error).name !== 'ResourceNotFoundException') throw explainAwsError(`GetKey "${name}"`, error);
  }
  // The key is missing, or the whole store is: listing tells which, and what the flags are.
  const flags = await listFlags(clients, kvsArn);
  throw new OperateError(`Flag "${name}": unknown; the store's flags are ${flags.length ? flags.map((f) => f.name).join(', ') : '(none)'}`);
}

/** What a write did. */
export interface FlagWrite {
  readonly name: string;
  readonly previous: string;
  readonly value: string;
  /** False when the flag already had the value (nothing was written). */
  readonly changed: boolean;
  /** The store's ETag after the write. */
  readonly etag?: string;
  /** PutKey calls made, 1 unless an ETag race was lost. */
  readonly attempts: number;
}

/** Options of a flag write. */
export interface SetFlagOptions {
  /** Waits between attempts; replaced in tests. */
  readonly sleep?: (ms: number) => Promise<unknown>;
}

/**
 * Sets an existing flag. The name and value are validated before anything
 * is sent; the flag must already be in the store (deploys create every
 * flag an override names), so a typo cannot create a flag nothing reads.
 */
export async function setFlag(clients: AwsClients, kvsArn: string, name: string, value: string, options: SetFlagOptions = {}): Promise<FlagWrite> {
  checkName(name);
  const valueProblem = flagValueProblem(value);
  if (valueProblem) throw new MultiZoneValidationError(`Flag "${name}": ${valueProblem}`);
  const previous = await getFlag(clients, kvsArn, name);
  if (previous === value) return { name, previous, value, changed: false, attempts: 0 };

  const sleep = options.sleep ?? delay;
  for (let attempt = 1; ; attempt++) {
    const { ETag: etag } = await awsCall('DescribeKeyValueStore', () => clients.keyValueStore.send(new DescribeKeyValueStoreCommand({ KvsARN: kvsArn })));
    if (!etag) throw new OperateError('DescribeKeyValueStore: the store returned no ETag, so it cannot be written safely');
    try {
      const put = await clients.keyValueStore.send(new PutKeyCommand({ KvsARN: kvsArn, Key: name, Value: value, IfMatch: etag }));
      return { name, previous, value, changed: true, etag: put.ETag, attempts: attempt };
    } catch (error) {
      if (!isEtagConflict(error)) throw explainAwsError(`PutKey "${name}"`, error);
      if (attempt >= MAX_FLAG_WRITE_ATTEMPTS) {
        throw new OperateError(`PutKey "${name}": the store changed under every one of ${attempt} attempts (another writer or a deploy is busy); run the command again`);
      }
      await sleep(RETRY_DELAY_MS * attempt);
    }
  }
}

function checkName(name: string): void {
  const problem = flagNameProblem(name);
  if (problem) throw new MultiZoneValidationError(`Flag "${name}": ${problem}`);
}
