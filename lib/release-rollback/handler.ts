/**
 * The function behind `ReleaseRollback`: rolls a zone's releases back when
 * the zone's rollback alarm goes into ALARM. It reads the zone's release
 * record, applies the same `rollback` step as `multizone rollback` (the
 * canary is dropped, else the current release returns to the previous
 * one, `alarm:<name>` and the time recorded), and writes the one key with
 * the store's ETag, reading again and re-applying on a conflict.
 *
 * What it throws, Lambda's asynchronous retries try again: only what a
 * retry can mend (the store unreachable or throttled, conflicts past
 * MAX_ROLLBACK_ATTEMPTS). What the event or the record decides (another
 * alarm, another state, a stale event, no record or a damaged one, nothing
 * to roll back, a rollback already made since the alarm went off) is
 * logged and answered without a write: retrying would decide the same.
 *
 * Bundled by `scripts/bundle-handlers.js` into `dist/handlers/release-rollback`.
 */

// The KeyValueStore data-plane API only accepts SigV4A signatures: this registers the signer.
import '@aws-sdk/signature-v4a';
import { setTimeout as sleep } from 'node:timers/promises';
import { CloudFrontKeyValueStoreClient, DescribeKeyValueStoreCommand, GetKeyCommand, PutKeyCommand } from '@aws-sdk/client-cloudfront-keyvaluestore';
import { MultiZoneErrors } from '../errors';
import { ReleaseRecord, encodeRecord, parseReleaseRecord, rollback } from '../releases/record';
import { MAX_EVENT_AGE_SECONDS, RollbackInput, STORE_ARN_ENV } from './input';

/** Writes tried before giving up on a store that keeps changing under the rollback (others writing flags, releases, syncs). */
export const MAX_ROLLBACK_ATTEMPTS = 5;

/** Pause before attempt n + 1 is n times this: conflicts come from a few writers, not from throttling. */
const RETRY_DELAY_MS = 200;

const client = new CloudFrontKeyValueStoreClient({});

/** What the handler did, as it logs it (one JSON line per event). */
export interface RollbackResult {
  readonly zone: string;
  readonly alarm: string;
  /** `rolled-back`; `ignored`: the event is not this alarm going into ALARM; `skipped`: the record decided against a write. */
  readonly outcome: 'rolled-back' | 'ignored' | 'skipped';
  readonly reason?: string;
  /** The release taken out. */
  readonly rolledBack?: string;
  /** The current release after the rollback. */
  readonly current?: string;
  /** Reads of the record (more than one after conflicts). */
  readonly attempts?: number;
}

type Outcome = Omit<RollbackResult, 'zone' | 'alarm'>;

export async function handler(input: RollbackInput): Promise<RollbackResult> {
  const storeArn = process.env[STORE_ARN_ENV];
  if (!storeArn) throw new Error(`The rollback function has no ${STORE_ARN_ENV} in its environment`);
  const now = Math.floor(Date.now() / 1000);
  const ignored = eventProblem(input, now);
  const outcome: Outcome = ignored ? { outcome: 'ignored', reason: ignored } : await rollBackZone(storeArn, input, now);
  const result: RollbackResult = { zone: input.zone, alarm: input.event.detail?.alarmName ?? input.alarmArn, ...outcome };
  console.log(JSON.stringify(result));
  return result;
}

/** Why the event is not the zone's alarm going into ALARM recently, or undefined when it is. */
function eventProblem({ alarmArn, event }: RollbackInput, now: number): string | undefined {
  if (event.source !== 'aws.cloudwatch' || event['detail-type'] !== 'CloudWatch Alarm State Change') {
    return `not an alarm state change (source ${event.source}, detail-type ${event['detail-type']})`;
  }
  if (!event.resources?.includes(alarmArn)) return `an event of ${event.resources?.join(', ')}, not of the zone's alarm ${alarmArn}`;
  if (event.detail?.state?.value !== 'ALARM') return `the alarm went into ${event.detail?.state?.value}, not ALARM`;
  if (!event.detail.alarmName) return 'the event names no alarm';
  const at = Date.parse(event.time ?? '') / 1000;
  if (Number.isNaN(at)) return `the event's time "${event.time}" is no time`;
  if (now - at > MAX_EVENT_AGE_SECONDS) {
    return `the alarm went into ALARM at ${event.time}, over ${MAX_EVENT_AGE_SECONDS / 60} minutes ago: the releases may have changed since`;
  }
  return undefined;
}

/** One rollback, written with the store's ETag; after a conflict, read again and decided again. */
async function rollBackZone(storeArn: string, input: RollbackInput, now: number): Promise<Outcome> {
  /** The release the first read would take out: the one the alarm judged. */
  let judged: string | undefined;
  for (let attempt = 1; ; attempt++) {
    const read = await readRecord(storeArn, input.key);
    const step = decide(read.value, input, now, judged);
    if ('skip' in step) return { outcome: 'skipped', reason: step.skip, attempts: attempt };
    const [, , out] = step.next.b!;
    judged ??= out;
    try {
      await client.send(new PutKeyCommand({ KvsARN: storeArn, Key: input.key, Value: encodeRecord(step.next), IfMatch: read.etag }));
      return { outcome: 'rolled-back', rolledBack: out, current: step.next.c, attempts: attempt };
    } catch (error) {
      if (!isConflict(error) || attempt >= MAX_ROLLBACK_ATTEMPTS) throw error;
      await sleep(RETRY_DELAY_MS * attempt);
    }
  }
}

/** The store's ETag and the record's value (undefined when the key is missing). */
async function readRecord(storeArn: string, key: string): Promise<{ etag?: string; value?: string }> {
  // The ETag first: a write between the two reads then fails the IfMatch instead of being overwritten.
  const { ETag } = await client.send(new DescribeKeyValueStoreCommand({ KvsARN: storeArn }));
  try {
    const { Value } = await client.send(new GetKeyCommand({ KvsARN: storeArn, Key: key }));
    return { etag: ETag, value: Value };
  } catch (error) {
    if (errorName(error) !== 'ResourceNotFoundException') throw error;
    return { etag: ETag };
  }
}

/** The record to write, or why nothing is written. */
function decide(value: string | undefined, { zone, key, event }: RollbackInput, now: number, judged?: string): { next: ReleaseRecord } | { skip: string } {
  if (value === undefined) return { skip: `no release record at key ${key}` };
  const rec = parseReleaseRecord(value);
  if (!rec) return { skip: `the release record at key ${key} is damaged (the edge serves the zone's template origin)` };
  // A repeated delivery of the event, or someone rolling back first: the release the alarm judged is out already.
  const since = Math.floor(Date.parse(event.time!) / 1000);
  if (rec.b && rec.b[1] >= since) {
    return { skip: `rolled back since the alarm went off: ${rec.b[2]} by ${rec.b[0]} at ${new Date(rec.b[1] * 1000).toISOString()}` };
  }
  let next: ReleaseRecord;
  try {
    next = rollback(rec, zone, `alarm:${event.detail!.alarmName}`, now);
  } catch (error) {
    if (!MultiZoneErrors.isValidationError(error)) throw error;
    return { skip: (error as Error).message };
  }
  const out = next.b![2];
  if (judged !== undefined && out !== judged) {
    return { skip: `the zone changed while rolling back: ${judged}, which the alarm judged, is no longer the release to take out (${out} is)` };
  }
  return { next };
}

/** The store changed since its ETag was read. */
function isConflict(error: unknown): boolean {
  return errorName(error) === 'ConflictException'
    || (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode === 412;
}

function errorName(error: unknown): string | undefined {
  return (error as { name?: string } | undefined)?.name;
}
