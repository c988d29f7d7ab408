/**
 * Reading and writing a zone's release record in the deployed site's
 * KeyValueStore: one key per zone, changed by read-modify-write.
 *
 * The store's ETag covers every key, so the write names the ETag read
 * before the value (IfMatch): when anyone wrote anything in between (another
 * pipeline releasing this zone or another, a flag, a deploy's sync), the
 * write is refused, and the change is applied again to a fresh read.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { DescribeKeyValueStoreCommand, GetKeyCommand, PutKeyCommand } from '@aws-sdk/client-cloudfront-keyvaluestore';
import { ReleaseRecord, encodeRecord, parseReleaseRecord } from 'multizone-distribution/internal';
import { AwsClients, OperateError, awsCall, explainAwsError, isEtagConflict } from './aws';
import { MAX_FLAG_WRITE_ATTEMPTS } from './flags';

/** Writes tried when the ETag keeps going stale: as for flags, a few writers race, not a stampede. */
export const MAX_RELEASE_WRITE_ATTEMPTS = MAX_FLAG_WRITE_ATTEMPTS;

/** Pause before retry n is about n times this; randomized, so two writers that lost to each other do not meet again in step. */
const RETRY_DELAY_MS = 250;

/** The record under `key`, or undefined when the store has none (or a damaged one, which the edge ignores too). */
export async function readReleaseRecord(clients: AwsClients, kvsArn: string, key: string): Promise<ReleaseRecord | undefined> {
  try {
    const response = await clients.keyValueStore.send(new GetKeyCommand({ KvsARN: kvsArn, Key: key }));
    return parseReleaseRecord(response.Value);
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return undefined;
    throw explainAwsError(`GetKey "${key}"`, error);
  }
}

/** What a release record write did. */
export interface ReleaseWrite {
  /** The record as written. */
  readonly record: ReleaseRecord;
  /** The store's ETag after the write. */
  readonly etag?: string;
  /** PutKey calls made, 1 unless an ETag race was lost. */
  readonly attempts: number;
}

/** Options of a release record write. */
export interface ReleaseWriteOptions {
  /** Waits between attempts; replaced in tests. */
  readonly sleep?: (ms: number) => Promise<unknown>;
}

/**
 * Applies `change` to the record under `key` (undefined: none yet) and
 * writes the result with the store's ETag; on a lost race, reads again and
 * applies `change` again. A `change` that throws (a refusal) writes nothing.
 */
export async function updateReleaseRecord(
  clients: AwsClients,
  kvsArn: string,
  key: string,
  change: (rec: ReleaseRecord | undefined) => ReleaseRecord,
  options: ReleaseWriteOptions = {},
): Promise<ReleaseWrite> {
  const sleep = options.sleep ?? delay;
  for (let attempt = 1; ; attempt++) {
    // The ETag first: a write landing between the two reads then fails our PutKey instead of being lost.
    const { ETag: etag } = await awsCall('DescribeKeyValueStore', () => clients.keyValueStore.send(new DescribeKeyValueStoreCommand({ KvsARN: kvsArn })));
    if (!etag) throw new OperateError('DescribeKeyValueStore: the store returned no ETag, so it cannot be written safely');
    const record = change(await readReleaseRecord(clients, kvsArn, key));
    try {
      const put = await clients.keyValueStore.send(new PutKeyCommand({ KvsARN: kvsArn, Key: key, Value: encodeRecord(record), IfMatch: etag }));
      return { record, etag: put.ETag, attempts: attempt };
    } catch (error) {
      if (!isEtagConflict(error)) throw explainAwsError(`PutKey "${key}"`, error);
      if (attempt >= MAX_RELEASE_WRITE_ATTEMPTS) {
        throw new OperateError(`PutKey "${key}": the store changed under every one of ${attempt} attempts (another writer or a deploy is busy); run the command again`);
      }
      await sleep(RETRY_DELAY_MS * attempt * (0.5 + Math.random()));
    }
  }
}
