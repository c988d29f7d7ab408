import {
  AccessDeniedException,
  CloudFrontKeyValueStoreClient,
  ConflictException,
  DescribeKeyValueStoreCommand,
  ListKeysCommand,
  ResourceNotFoundException,
  UpdateKeysCommand,
} from '@aws-sdk/client-cloudfront-keyvaluestore';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as fc from 'fast-check';
import * as fs from 'fs';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { mockClient } from 'aws-sdk-client-mock';
import {
  KvsSyncEvent,
  KvsSyncProperties,
  MAX_KEYS_PER_UPDATE,
  MAX_STORE_BYTES,
  MAX_SYNC_ATTEMPTS,
  MAX_TABLE_READ_ATTEMPTS,
  VERSION_RETENTION_MS,
  handler,
} from '../lib/kvs-sync/handler';
import { KvsTableSync, KvsTableSyncProps } from '../lib/kvs-sync/kvs-table-sync';
import { TableFile, releaseKey, siteRecordKey, tableKeyPrefix } from '../lib/kvs-sync/table-file';
import { addRelease, encodeRecord, parseReleaseRecord } from '../lib/releases/record';
import { CfnTemplateJson, templateLimitProblems } from '../lib/limits';
import { siteStack } from './support/sites';

const ARN = 'arn:aws:cloudfront::123456789012:key-value-store/0f6a1c2e-0000-4000-8000-000000000000';
const NEW = 'bbbbbbbb';
const OLD = 'aaaaaaaa';
const STALE = '99999999';
/** The site under test, and another site on the same store. */
const SITE = 'a1a1a1a1a1';
const OTHER = 'b2b2b2b2b2';
/** The prefix of the keys of a version of the site under test. */
const px = (version: string) => tableKeyPrefix(SITE, version);
/** The site's record as its sync writes it from `propsOf`. */
const RECORD = { [siteRecordKey(SITE)]: JSON.stringify({ name: 'App/ShopA/Site', stack: '', functions: 1 }) };

// The handler's pauses between attempts: recorded, not waited for.
jest.mock('node:timers/promises', () => ({ setTimeout: jest.fn(async () => undefined) }));
const pauses = () => (jest.requireMock('node:timers/promises').setTimeout as jest.Mock).mock.calls.map((c) => c[0]);

const BUCKET = 'cdk-hnb659fds-assets-123456789012-us-east-1';
/** Deploy times: the handler stamps versions with Date.now(). */
const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const MINUTE = 60_000;

const kvs = mockClient(CloudFrontKeyValueStoreClient);
const s3 = mockClient(S3Client);
/** The assets bucket: object key to a table file. */
let objects: Record<string, TableFile> = {};

beforeEach(() => {
  kvs.reset();
  s3.reset();
  (jest.requireMock('node:timers/promises').setTimeout as jest.Mock).mockClear();
  objects = {};
  s3.on(GetObjectCommand).callsFake(async (input) => {
    if (input.Bucket !== BUCKET || !(input.Key in objects)) throw Object.assign(new Error('Access Denied'), { name: 'AccessDenied' });
    return { Body: { transformToString: async () => JSON.stringify(objects[input.Key]) } };
  });
  jest.spyOn(Date, 'now').mockReturnValue(T0);
  // The handler logs one summary line per event.
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
});

afterEach(() => jest.restoreAllMocks());

/** The store holds the site's record and `items` at ETag `etag`; every UpdateKeys answers with the next ETag e2, e3, ... */
function storeHolds(items: Record<string, string>, etag = 'e1'): void {
  kvs.on(DescribeKeyValueStoreCommand).resolves({ KvsARN: ARN, ETag: etag });
  kvs.on(ListKeysCommand).resolves({ Items: Object.entries({ ...RECORD, ...items }).map(([Key, Value]) => ({ Key, Value })) });
  let next = 1;
  kvs.on(UpdateKeysCommand).callsFake(async () => ({ ETag: `e${++next}` }));
}

function updates() {
  return kvs.commandCalls(UpdateKeysCommand).map((call) => call.args[0].input);
}

/** The resource properties of `version`, its table uploaded as `<version>.json`. */
function propsOf(version: string, table: Partial<TableFile> = {}, extra: Partial<KvsSyncProperties> = {}): KvsSyncProperties {
  objects[`${version}.json`] = { entries: {}, initialFlags: {}, ...table };
  return { KeyValueStoreArn: ARN, Site: SITE, SiteName: 'App/ShopA/Site', Functions: '1', Version: version, TableBucket: BUCKET, TableKey: `${version}.json`, ...extra };
}

/** A Create (or an Update from `oldVersion`) deploying NEW with `table`. */
function syncEvent(table: Partial<TableFile> = {}, oldVersion?: string, extra: Partial<KvsSyncProperties> = {}): KvsSyncEvent {
  return {
    RequestType: oldVersion ? 'Update' : 'Create',
    ResourceProperties: propsOf(NEW, table, extra),
    ...(oldVersion && { OldResourceProperties: propsOf(oldVersion) }),
  };
}

function deleteEvent(version: string): KvsSyncEvent {
  return { RequestType: 'Delete', ResourceProperties: propsOf(version) };
}

/**
 * A store that applies UpdateKeys, so deploys can follow one another, and
 * refuses an update whose ETag is not the current one, as the service does;
 * `afterList` may write as another client would, once a listing is taken.
 */
function liveStore(initial: Record<string, string> = {}, afterList?: (write: (key: string, value: string) => void) => void): Map<string, string> {
  const store = new Map(Object.entries(initial));
  let etag = 1;
  const write = (key: string, value: string) => {
    store.set(key, value);
    etag++;
  };
  kvs.on(DescribeKeyValueStoreCommand).callsFake(async () => ({ ETag: `e${etag}` }));
  kvs.on(ListKeysCommand).callsFake(async () => {
    const items = [...store].map(([Key, Value]) => ({ Key, Value }));
    afterList?.(write);
    return { Items: items };
  });
  kvs.on(UpdateKeysCommand).callsFake(async (input) => {
    if (input.IfMatch !== `e${etag}`) throw new ConflictException({ message: 'Pre-Condition failed', $metadata: { httpStatusCode: 409 } });
    for (const d of input.Deletes ?? []) store.delete(d.Key);
    for (const p of input.Puts ?? []) store.set(p.Key, p.Value);
    return { ETag: `e${++etag}` };
  });
  return store;
}

/** The `@since` key of a version current since `time`. */
const since = (version: string, time: number) => ({ [`${px(version)}@since`]: new Date(time).toISOString() });

/** `count` entries of `version`, keys zero-padded so they sort in creation order. */
function entriesOf(version: string, count: number, value = 'v'): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`${px(version)}k${String(i).padStart(3, '0')}`, value]));
}

const NOW_MARK = since(NEW, T0);

describe('handler: Create and Update', () => {
  test('reads the table asset named by the properties, and nothing of it from the event', async () => {
    storeHolds({});

    await handler(syncEvent({ entries: { [`${px(NEW)}a`]: '1' } }));

    expect(s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input)).toEqual([{ Bucket: BUCKET, Key: `${NEW}.json` }]);
    expect(updates().flatMap((u) => u.Puts ?? [])[0]).toEqual({ Key: `${px(NEW)}a`, Value: '1' });
  });

  test('puts missing and changed entries and missing flags, with the described ETag, then marks the version current', async () => {
    storeHolds({ [`${px(NEW)}same`]: '1', [`${px(NEW)}changed`]: 'old', beta: 'on' });

    const response = await handler(syncEvent({
      entries: { [`${px(NEW)}same`]: '1', [`${px(NEW)}changed`]: 'new', [`${px(NEW)}missing`]: '3' },
      initialFlags: { beta: 'off', gamma: '10%' },
    }));

    expect(response).toEqual({ PhysicalResourceId: ARN });
    expect(kvs.commandCalls(DescribeKeyValueStoreCommand)[0].args[0].input).toEqual({ KvsARN: ARN });
    expect(updates()).toEqual([{
      KvsARN: ARN,
      IfMatch: 'e1',
      Puts: [
        { Key: `${px(NEW)}changed`, Value: 'new' },
        { Key: `${px(NEW)}missing`, Value: '3' },
        { Key: 'gamma', Value: '10%' },
        { Key: `${px(NEW)}@since`, Value: '2026-12-01T10:00:00.000Z' },
      ],
    }]);
  });

  test('never overwrites an existing flag value, even one that differs from the initial value', async () => {
    storeHolds({ beta: 'on', gamma: '0%', ...NOW_MARK });

    await handler(syncEvent({ initialFlags: { beta: 'off', gamma: 'on' } }));

    expect(kvs.commandCalls(UpdateKeysCommand)).toHaveLength(0);
  });

  test('fails when the table asset cannot be read, after retrying a denial that IAM may still be lifting', async () => {
    storeHolds({});
    const event = syncEvent({ entries: { [`${px(NEW)}a`]: '1' } });
    delete objects[`${NEW}.json`];

    await expect(handler(event)).rejects.toThrow('Access Denied');
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(MAX_TABLE_READ_ATTEMPTS);
    expect(pauses()).toEqual([1000, 2000, 3000, 4000]);
    expect(kvs.commandCalls(UpdateKeysCommand)).toHaveLength(0);
  });

  test('a rollback to a version still in the store succeeds without its asset, which the role no longer grants', async () => {
    // NEW was current from T0 - 30 min; OLD replaced it at T0 - 5 min; the deploy failed and rolls back to NEW.
    storeHolds({ [`${px(NEW)}a`]: '1', ...since(NEW, T0 - 30 * MINUTE), [`${px(OLD)}a`]: '2', ...since(OLD, T0 - 5 * MINUTE) });
    const event = syncEvent({}, OLD);
    delete objects[`${NEW}.json`];

    await handler(event);

    // NEW is current again; OLD stays for functions that already run it.
    expect(updates()).toEqual([{ KvsARN: ARN, IfMatch: 'e1', Puts: [{ Key: `${px(NEW)}@since`, Value: '2026-12-01T10:00:00.000Z' }] }]);
  });

  test('splits changes into batches of at most 50 keys, deletes first, each matching the ETag the previous one returned', async () => {
    expect(MAX_KEYS_PER_UPDATE).toBe(50);
    // STALE was replaced by OLD past the retention window; OLD itself is kept.
    const stale = { ...entriesOf(STALE, 29), ...since(STALE, T0 - 3 * VERSION_RETENTION_MS) };
    storeHolds({ ...stale, [`${px(OLD)}a`]: '1', ...since(OLD, T0 - 2 * VERSION_RETENTION_MS) });
    const entries = entriesOf(NEW, 90);

    await handler(syncEvent({ entries, initialFlags: { beta: 'off' } }, OLD));

    const puts = [...Object.entries(entries), ['beta', 'off'], ...Object.entries(NOW_MARK)].map(([Key, Value]) => ({ Key, Value }));
    const deletes = Object.keys(stale).map((Key) => ({ Key }));
    expect(updates()).toEqual([
      { KvsARN: ARN, IfMatch: 'e1', Puts: puts.slice(0, 20), Deletes: deletes },
      { KvsARN: ARN, IfMatch: 'e2', Puts: puts.slice(20, 70) },
      { KvsARN: ARN, IfMatch: 'e3', Puts: puts.slice(70) },
    ]);
  });

  test('reads every page of ListKeys', async () => {
    kvs.on(DescribeKeyValueStoreCommand).resolves({ ETag: 'e1' });
    const pages = [
      { Items: [{ Key: `${px(NEW)}a`, Value: '1' }], NextToken: 'page2' },
      { Items: [{ Key: 'beta', Value: 'on' }, { Key: `${px(NEW)}@since`, Value: new Date(T0).toISOString() }, ...Object.entries(RECORD).map(([Key, Value]) => ({ Key, Value }))] },
    ];
    // The paginator reuses one input object: copy it at call time.
    const lists: object[] = [];
    kvs.on(ListKeysCommand).callsFake(async (input) => {
      lists.push({ ...input });
      return pages[lists.length - 1];
    });
    kvs.on(UpdateKeysCommand).resolves({ ETag: 'e2' });

    await handler(syncEvent({ entries: { [`${px(NEW)}a`]: '1' }, initialFlags: { beta: 'off', gamma: 'on' } }, OLD));

    expect(lists).toEqual([
      { KvsARN: ARN, MaxResults: 50 },
      { KvsARN: ARN, MaxResults: 50, NextToken: 'page2' },
    ]);
    // Keys of both pages count: only gamma is missing.
    expect(updates()).toEqual([{ KvsARN: ARN, IfMatch: 'e1', Puts: [{ Key: 'gamma', Value: 'on' }] }]);
  });

  test('does not call UpdateKeys when the store is already in sync', async () => {
    storeHolds({ [`${px(NEW)}a`]: '1', ...since(NEW, T0 - MINUTE), [`${px(OLD)}a`]: '1', ...since(OLD, T0 - 2 * MINUTE), beta: 'on' });

    await handler(syncEvent({ entries: { [`${px(NEW)}a`]: '1' }, initialFlags: { beta: 'off' } }, OLD));

    expect(kvs.commandCalls(UpdateKeysCommand)).toHaveLength(0);
  });

  test('on an ETag conflict, re-describes, re-lists and applies only what is still missing', async () => {
    kvs.on(DescribeKeyValueStoreCommand).resolvesOnce({ ETag: 'e1' }).resolvesOnce({ ETag: 'e7' });
    const record = Object.entries(RECORD).map(([Key, Value]) => ({ Key, Value }));
    kvs.on(ListKeysCommand)
      .resolvesOnce({ Items: record })
      // Meanwhile an operator created the flag: its value must survive the retry.
      .resolvesOnce({ Items: [...record, { Key: 'beta', Value: 'on' }] });
    kvs.on(UpdateKeysCommand)
      .rejectsOnce(new ConflictException({ message: 'Pre-Condition failed', $metadata: { httpStatusCode: 409 } }))
      .resolves({ ETag: 'e8' });

    await handler(syncEvent({ entries: { [`${px(NEW)}a`]: '1' }, initialFlags: { beta: 'off' } }));

    const mark = { Key: `${px(NEW)}@since`, Value: '2026-12-01T10:00:00.000Z' };
    expect(kvs.commandCalls(DescribeKeyValueStoreCommand)).toHaveLength(2);
    expect(updates()).toEqual([
      { KvsARN: ARN, IfMatch: 'e1', Puts: [{ Key: `${px(NEW)}a`, Value: '1' }, { Key: 'beta', Value: 'off' }, mark] },
      { KvsARN: ARN, IfMatch: 'e7', Puts: [{ Key: `${px(NEW)}a`, Value: '1' }, mark] },
    ]);
  });

  test('treats an HTTP 412 as a conflict too', async () => {
    storeHolds({});
    const preconditionFailed = Object.assign(new Error('precondition failed'), {
      name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 },
    });
    kvs.on(UpdateKeysCommand).rejectsOnce(preconditionFailed).resolves({ ETag: 'e2' });

    await handler(syncEvent({ entries: { [`${px(NEW)}a`]: '1' } }));

    expect(kvs.commandCalls(UpdateKeysCommand)).toHaveLength(2);
  });

  test(`gives up after ${MAX_SYNC_ATTEMPTS} conflicting attempts`, async () => {
    storeHolds({});
    kvs.on(UpdateKeysCommand).rejects(new ConflictException({ message: 'Pre-Condition failed', $metadata: {} }));

    await expect(handler(syncEvent({ entries: { [`${px(NEW)}a`]: '1' } }))).rejects.toThrow('Pre-Condition failed');
    expect(kvs.commandCalls(UpdateKeysCommand)).toHaveLength(MAX_SYNC_ATTEMPTS);
    expect(pauses()).toEqual([200, 400, 600]);
  });

  test('does not retry other errors', async () => {
    storeHolds({});
    kvs.on(UpdateKeysCommand).rejects(new AccessDeniedException({ message: 'denied', $metadata: {} }));

    await expect(handler(syncEvent({ entries: { [`${px(NEW)}a`]: '1' } }))).rejects.toThrow('denied');
    expect(kvs.commandCalls(UpdateKeysCommand)).toHaveLength(1);
  });
});

describe('handler: table versions', () => {
  const V1 = '11111111';
  const V2 = '22222222';
  const V3 = '33333333';

  /** Deploys `version` (replacing `previous`) at `time`. */
  async function deploy(version: string, previous: string | undefined, time: number, entries = { [`${px(version)}w`]: `[${version}]` }): Promise<void> {
    jest.spyOn(Date, 'now').mockReturnValue(time);
    await handler({
      RequestType: previous ? 'Update' : 'Create',
      ResourceProperties: propsOf(version, { entries, initialFlags: { beta: 'off' } }),
      ...(previous && { OldResourceProperties: propsOf(previous) }),
    });
  }

  const versionsIn = (store: Map<string, string>) =>
    [...new Set([...store.keys()].filter((k) => k.startsWith(`mz-site:${SITE}:`)).map((k) => k.split(':')[2]).filter((v) => /^[0-9a-f]{8}$/.test(v)))].sort();

  test('two deploys minutes apart keep the first version; a deploy after the window deletes it', async () => {
    const store = liveStore();
    await deploy(V1, undefined, T0);
    await deploy(V2, V1, T0 + 5 * MINUTE);
    // Functions still at the edge read V1 while the V2 function propagates.
    expect(versionsIn(store)).toEqual([V1, V2]);

    await deploy(V3, V2, T0 + 10 * MINUTE);
    // V1 was replaced 5 minutes ago: still inside the window, like V2.
    expect(versionsIn(store)).toEqual([V1, V2, V3]);

    await deploy(V3, V3, T0 + 5 * MINUTE + VERSION_RETENTION_MS);
    // V1's successor (V2) has been current for the whole window; V2's (V3) not yet.
    expect(versionsIn(store)).toEqual([V2, V3]);

    await deploy(V3, V3, T0 + 10 * MINUTE + VERSION_RETENTION_MS);
    expect(versionsIn(store)).toEqual([V3]);
  });

  test('the store after a sequence of deploys: each version with its entries and the time it became current', async () => {
    const store = liveStore({ beta: 'on', 'other-tool:key': 'x' });
    await deploy(V1, undefined, T0);
    await deploy(V2, V1, T0 + 2 * MINUTE);
    await deploy(V3, V2, T0 + 2 * MINUTE + VERSION_RETENTION_MS);

    expect(Object.fromEntries([...store].sort())).toEqual({
      beta: 'on',
      'other-tool:key': 'x',
      ...RECORD,
      [`${px(V2)}@since`]: new Date(T0 + 2 * MINUTE).toISOString(),
      [`${px(V2)}w`]: `[${V2}]`,
      [`${px(V3)}@since`]: new Date(T0 + 2 * MINUTE + VERSION_RETENTION_MS).toISOString(),
      [`${px(V3)}w`]: `[${V3}]`,
    });
  });

  test('a rollback makes the older version current again, and keeps the one it replaces for the window', async () => {
    const store = liveStore();
    await deploy(V1, undefined, T0);
    await deploy(V2, V1, T0 + 5 * MINUTE);
    // The stack update failed after the sync: CloudFormation sends V1 again.
    await deploy(V1, V2, T0 + 6 * MINUTE);
    expect(store.get(`${px(V1)}@since`)).toBe(new Date(T0 + 6 * MINUTE).toISOString());

    await deploy(V1, V1, T0 + 5 * MINUTE + VERSION_RETENTION_MS);
    expect(versionsIn(store)).toEqual([V1, V2]);
    await deploy(V1, V1, T0 + 6 * MINUTE + VERSION_RETENTION_MS);
    expect(versionsIn(store)).toEqual([V1]);
  });

  test('a version of the site that never recorded a time counts as replaced by the first version that did', async () => {
    const store = liveStore({ [`${px(STALE)}w`]: '[]' });
    await deploy(V1, STALE, T0);
    expect(versionsIn(store)).toEqual([V1, STALE].sort());

    await deploy(V1, V1, T0 + VERSION_RETENTION_MS);
    expect(versionsIn(store)).toEqual([V1]);
  });

  test('when keeping replaced versions would overflow the store, the oldest go early; the current one never', async () => {
    expect(MAX_STORE_BYTES).toBe(5_000_000);
    // Three tables of about 2 MB each: only two fit in 5 MB.
    const big = (version: string) => Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`${px(version)}s:${i}`, 'x'.repeat(1000)]));
    const store = liveStore();
    await deploy(V1, undefined, T0, big(V1));
    await deploy(V2, V1, T0 + MINUTE, big(V2));
    expect(versionsIn(store)).toEqual([V1, V2]);

    await deploy(V3, V2, T0 + 2 * MINUTE, big(V3));
    expect(versionsIn(store)).toEqual([V2, V3]);
    const summary = JSON.parse((console.log as jest.Mock).mock.calls.at(-1)[0]);
    expect(summary.evictedBeforeRetention).toEqual([V1]);
  });

  test('refuses, writing nothing, a table that does not fit in the store even alone', async () => {
    const store = liveStore({ [`${px(V1)}w`]: '[]' });
    const huge = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`${px(V2)}s:${i}`, 'x'.repeat(1000)]));

    await expect(deploy(V2, V1, T0, huge)).rejects.toThrow(
      new RegExp(`^KeyValueStore ${ARN}: version ${V2} needs \\d+ bytes of keys and values with every older table version of the site dropped, over the store's 5000000 \\(\\d+ bytes are flags and other sites' keys\\)`),
    );
    expect(kvs.commandCalls(UpdateKeysCommand)).toHaveLength(0);
    expect(versionsIn(store)).toEqual([V1]);
  });
});

describe('handler: release records', () => {
  const blog = releaseKey(SITE, 'blog');
  const releasesOf = (deploymentId: string) => ({ releases: { blog: { deploymentId, maxAgeSeconds: 3600 } } });
  const recordIn = (store: Map<string, string>) => parseReleaseRecord(store.get(blog));

  test('makes the record of a zone with releases: its template build is current, served by the zone\'s own origin', async () => {
    const store = liveStore();
    await handler(syncEvent(releasesOf('v1')));
    expect(recordIn(store)).toEqual({ v: 1, t: 'v1', c: 'v1', r: { v1: '' } });
  });

  test('keeps releases made between deploys when the template is unchanged', async () => {
    const released = addRelease({ v: 1, t: 'v1', c: 'v1', r: { v1: '' } }, { zone: 'blog', id: 'v2', origin: 'https://v2.example.com' }, T0 / 1000, 3600);
    const store = liveStore({ [blog]: encodeRecord(released) });
    await handler(syncEvent(releasesOf('v1')));
    expect(recordIn(store)).toEqual(released);
  });

  test('a new template deployment id becomes current; the release it replaces keeps its viewers for the window and is the rollback target', async () => {
    const released = addRelease({ v: 1, t: 'v1', c: 'v1', r: { v1: '' } }, { zone: 'blog', id: 'v2', origin: 'https://v2.example.com' }, T0 / 1000 - 60, 3600);
    const store = liveStore({ [blog]: encodeRecord(released) });
    await handler(syncEvent(releasesOf('v3')));
    const rec = recordIn(store)!;
    expect(rec.c).toBe('v3');
    expect(rec.r).toEqual({ v3: '', v2: 'https://v2.example.com' });
    expect(rec.u).toEqual({ v2: T0 / 1000 + 3600 });
    expect(rec.h).toEqual(['v2']);
  });

  test('a damaged record is made again; records of zones that no longer have releases are deleted; other sites\' records are left alone', async () => {
    const other = releaseKey(OTHER, 'blog');
    const store = liveStore({ [blog]: '{"v":1,', [releaseKey(SITE, 'shop')]: encodeRecord({ v: 1, t: 'a', c: 'a', r: { a: '' } }), [other]: 'theirs' });
    await handler(syncEvent(releasesOf('v1')));
    expect(recordIn(store)).toEqual({ v: 1, t: 'v1', c: 'v1', r: { v1: '' } });
    expect(store.has(releaseKey(SITE, 'shop'))).toBe(false);
    expect(store.get(other)).toBe('theirs');
  });

  test('a table file without releases (an earlier release\'s) leaves records alone', async () => {
    const store = liveStore({ [blog]: 'kept' });
    await handler(syncEvent());
    expect(store.get(blog)).toBe('kept');
  });

  test('a record the CLI writes during the deploy is read again before the sync writes its own (ETag conflict)', async () => {
    const cli = addRelease({ v: 1, t: 'v1', c: 'v1', r: { v1: '' } }, { zone: 'blog', id: 'v2', origin: 'https://v2.example.com' }, T0 / 1000, 3600);
    let listings = 0;
    // The CLI's write lands after the sync's first listing: that attempt's batch carries a stale ETag.
    const store = liveStore({}, (write) => {
      if (++listings === 1) write(blog, encodeRecord(cli));
    });
    await handler(syncEvent(releasesOf('v1')));
    expect(listings).toBe(2);
    expect(recordIn(store)).toEqual(cli);
  });
});

describe('handler: the preview secret', () => {
  test('is created when missing, 32 random bytes in hex, if the site asks for it', async () => {
    storeHolds({ beta: 'on', ...NOW_MARK });

    await handler(syncEvent({ initialFlags: { beta: 'off' } }, undefined, { PreviewSecret: 'create-if-missing' }));

    const puts = updates().flatMap((u) => u.Puts ?? []);
    expect(puts).toEqual([{ Key: 'preview:secret', Value: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
  });

  test('is different for every store it creates', async () => {
    storeHolds({});
    await handler(syncEvent({}, undefined, { PreviewSecret: 'create-if-missing' }));
    storeHolds({});
    await handler(syncEvent({}, undefined, { PreviewSecret: 'create-if-missing' }));
    const secrets = updates().flatMap((u) => u.Puts ?? []).filter((p) => p.Key === 'preview:secret').map((p) => p.Value);
    expect(secrets).toHaveLength(2);
    expect(secrets[0]).not.toBe(secrets[1]);
  });

  test('is never overwritten', async () => {
    storeHolds({ 'preview:secret': 'existing-secret', beta: 'on', ...NOW_MARK });

    await handler(syncEvent({ initialFlags: { beta: 'off' } }, OLD, { PreviewSecret: 'create-if-missing' }));

    expect(kvs.commandCalls(UpdateKeysCommand)).toHaveLength(0);
  });

  test('is not created for a site without previews, and an existing one is left alone', async () => {
    storeHolds({ ...NOW_MARK });
    await handler(syncEvent({ initialFlags: { beta: 'off' } }));
    expect(updates().flatMap((u) => u.Puts ?? []).map((p) => p.Key)).toEqual(['beta']);

    kvs.reset();
    storeHolds({ 'preview:secret': 'existing-secret', [`${px(STALE)}a`]: '1', ...since(STALE, T0 - 2 * VERSION_RETENTION_MS), ...since(NEW, T0 - VERSION_RETENTION_MS) });
    await handler(syncEvent({}));
    expect(updates()).toEqual([{ KvsARN: ARN, IfMatch: 'e1', Deletes: [{ Key: `${px(STALE)}a` }, { Key: `${px(STALE)}@since` }] }]);
  });

  test('is never deleted, not even when the site is', async () => {
    storeHolds({ 'preview:secret': 'existing-secret', [`${px(NEW)}a`]: '1' });

    await handler({ ...deleteEvent(NEW), ResourceProperties: { ...deleteEvent(NEW).ResourceProperties, PreviewSecret: 'create-if-missing' } });

    expect(updates()).toEqual([{ KvsARN: ARN, IfMatch: 'e1', Deletes: [{ Key: `${px(NEW)}a` }, { Key: siteRecordKey(SITE) }] }]);
  });
});

describe('handler: Delete', () => {
  test("deletes every key of the site, its versions and its record, and never flags, other sites' keys or the earlier layout's", async () => {
    storeHolds({
      [`${px(NEW)}a`]: '1', [`${px(NEW)}b`]: '2', ...NOW_MARK, [`${px(OLD)}a`]: '1', beta: 'on', [`${NEW}`]: 'x',
      [`${tableKeyPrefix(OTHER, NEW)}a`]: '1', [siteRecordKey(OTHER)]: '{}', [`mz:${NEW}:a`]: '1',
    });

    const response = await handler(deleteEvent(NEW));

    expect(response).toEqual({ PhysicalResourceId: ARN });
    expect(updates()).toEqual([{
      KvsARN: ARN,
      IfMatch: 'e1',
      Deletes: [`${px(NEW)}a`, `${px(NEW)}b`, `${px(NEW)}@since`, `${px(OLD)}a`, siteRecordKey(SITE)].map((Key) => ({ Key })),
    }]);
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(0);
  });

  test('batches large deletes with ETag chaining', async () => {
    storeHolds(entriesOf(NEW, 51));

    await handler(deleteEvent(NEW));

    // 51 entries and the site's record.
    expect(updates().map((u) => [u.IfMatch, u.Deletes?.length, u.Puts])).toEqual([['e1', 50, undefined], ['e2', 2, undefined]]);
  });

  test('succeeds without writing when the store is already gone', async () => {
    kvs.on(DescribeKeyValueStoreCommand).rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));

    await expect(handler(deleteEvent(NEW))).resolves.toEqual({ PhysicalResourceId: ARN });
    expect(kvs.commandCalls(UpdateKeysCommand)).toHaveLength(0);
  });

  test('succeeds when the store disappears between listing and updating', async () => {
    storeHolds({ [`${px(NEW)}a`]: '1' });
    kvs.on(UpdateKeysCommand).rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));

    await expect(handler(deleteEvent(NEW))).resolves.toEqual({ PhysicalResourceId: ARN });
  });

  test('does not hide other errors', async () => {
    kvs.on(DescribeKeyValueStoreCommand).rejects(new AccessDeniedException({ message: 'denied', $metadata: {} }));

    await expect(handler(deleteEvent(NEW))).rejects.toThrow('denied');
  });
});

describe('KvsTableSync', () => {
  const ENTRIES = { [`${px(NEW)}zones`]: '["blog","shop"]', [`${px(NEW)}route:/blog/*`]: 'blog' };
  const FLAGS = { 'new-checkout': 'off' };

  function synth(extra: Partial<KvsTableSyncProps> = {}, instances = 1): { stack: Stack; template: Template; syncs: KvsTableSync[]; outdir: string } {
    const app = new App();
    const stack = new Stack(app, 'TestStack');
    const keyValueStore = new cloudfront.KeyValueStore(stack, 'Store');
    const syncs = Array.from({ length: instances }, (_, i) =>
      new KvsTableSync(stack, `Sync${i}`, { keyValueStore, site: SITE, siteName: 'App/ShopA/Site', functionCount: 2, entries: ENTRIES, version: NEW, initialFlags: FLAGS, ...extra }));
    return { stack, template: Template.fromStack(stack), syncs, outdir: app.outdir };
  }

  test('puts the table in an S3 asset that the properties name, and nothing of it in the template', () => {
    const { template, syncs, outdir } = synth();
    const asset = syncs[0].tableAsset;

    template.hasResourceProperties('Custom::MultiZoneKvsSync', {
      ServiceToken: Match.anyValue(),
      KeyValueStoreArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Store'), 'Arn'] },
      Site: SITE,
      SiteName: 'App/ShopA/Site',
      Functions: 2,
      Version: NEW,
      TableBucket: { 'Fn::Sub': Match.stringLikeRegexp('^cdk-.*-assets-') },
      TableKey: `${asset.assetHash}.json`,
    });
    const staged = JSON.parse(fs.readFileSync(path.join(outdir, asset.assetPath), 'utf8'));
    expect(staged).toEqual({ entries: ENTRIES, initialFlags: FLAGS });
    expect(JSON.stringify(template.toJSON())).not.toContain('["blog","shop"]');
  });

  test('the asset is addressed by its content: the same table makes the same key, another table another', () => {
    const key = (extra: Partial<KvsTableSyncProps> = {}) => Object.values<any>(synth(extra).template.findResources('Custom::MultiZoneKvsSync'))[0].Properties.TableKey;
    expect(key()).toBe(key());
    expect(key({ entries: { [`${px(NEW)}zones`]: '["blog"]' } })).not.toBe(key());
  });

  test('asks for the preview secret only with createPreviewSecret', () => {
    const props = (t: Template) => Object.values<any>(t.findResources('Custom::MultiZoneKvsSync'))[0].Properties;
    expect(props(synth().template).PreviewSecret).toBeUndefined();
    expect(props(synth({ createPreviewSecret: false }).template).PreviewSecret).toBeUndefined();
    expect(props(synth({ createPreviewSecret: true }).template).PreviewSecret).toBe('create-if-missing');
  });

  test('scopes the handler to the store ARN and the three KVS actions, and to reading its table asset only', () => {
    const { template, syncs } = synth();

    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((policy) => policy.Properties.PolicyDocument.Statement);
    const kvsStatements = statements.filter((statement) => JSON.stringify(statement.Action).includes('cloudfront-keyvaluestore:'));
    const s3Statements = statements.filter((statement) => JSON.stringify(statement.Action).includes('s3:'));
    expect(s3Statements).toEqual([{
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::', { 'Fn::Sub': expect.stringMatching(/^cdk-.*-assets-/) }, `/${syncs[0].tableAsset.assetHash}.json`]] },
    }]);
    expect(kvsStatements).toEqual([{
      Effect: 'Allow',
      Action: [
        'cloudfront-keyvaluestore:DescribeKeyValueStore',
        'cloudfront-keyvaluestore:ListKeys',
        'cloudfront-keyvaluestore:UpdateKeys',
      ],
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Store/), 'Arn'] },
    }]);
  });

  test('runs the bundled handler on a current Node.js runtime', () => {
    const { template } = synth();

    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs22.x',
      Timeout: 300,
    });
  });

  test('instances in one stack share one handler and provider', () => {
    const { template } = synth({}, 2);

    template.resourceCountIs('Custom::MultiZoneKvsSync', 2);
    // The sync handler and the provider framework's own function.
    template.resourceCountIs('AWS::Lambda::Function', 2);
  });

  test('synthesizes the same template every time, without local paths', () => {
    const first = JSON.stringify(synth().template.toJSON());

    expect(JSON.stringify(synth().template.toJSON())).toEqual(first);
    expect(first).not.toContain(process.cwd());
  });

  test('rejects an entry in the place of the handler\'s own @since key', () => {
    expect(() => synth({ entries: { [`${px(NEW)}@since`]: 'x' } })).toThrow(`KvsTableSync "Sync0": entry key "${px(NEW)}@since" is the handler's own record`);
  });

  test('rejects a version that is not 8 hex characters', () => {
    expect(() => synth({ version: 'v1', entries: {} })).toThrow('KvsTableSync "Sync0": version "v1" must be 8 hex characters');
  });

  test('rejects entries outside the site\'s version prefix and flags with the internal keys\' ":"', () => {
    expect(() => synth({ entries: { [`${px(OLD)}a`]: '1', [`${tableKeyPrefix(OTHER, NEW)}a`]: '1' }, initialFlags: { 'mz:flag': 'on' } })).toThrow(
      `3 problems:\n- KvsTableSync "Sync0": entry key "${px(OLD)}a" must start with "${px(NEW)}"\n`
      + `- KvsTableSync "Sync0": entry key "${tableKeyPrefix(OTHER, NEW)}a" must start with "${px(NEW)}"\n`
      + '- KvsTableSync "Sync0": flag key "mz:flag" must not contain ":" (the construct\'s own keys have one)',
    );
  });

  test('rejects a site id that is not 10 hex characters', () => {
    expect(() => synth({ site: 'shop', entries: {} })).toThrow('KvsTableSync "Sync0": site "shop" must be 10 hex characters');
  });
});

/** Deploys of several sites on one live store. */
describe('handler: sites sharing a store', () => {
  const A_NAME = 'App/ShopA/Site';
  const B_NAME = 'App/ShopB/Site';
  const versionsOf = (site: string) => Array.from({ length: 4 }, (_, i) => `${site.slice(0, 2)}${String(i).repeat(6)}`);
  const entriesFor = (site: string, version: string) => ({ [`${tableKeyPrefix(site, version)}b0`]: `[${site},${version}]`, [`${tableKeyPrefix(site, version)}b1`]: `[${version}]` });

  /** The properties of `site` deploying `version`; `site` undefined gives an earlier release's. */
  function siteProps(site: string | undefined, version: string, extra: Partial<KvsSyncProperties> = {}): KvsSyncProperties {
    const key = `${site ?? 'legacy'}-${version}.json`;
    objects[key] = site ? { entries: entriesFor(site, version), initialFlags: { shared: 'off' } } : { entries: { [`mz:${version}:b0`]: '[]' }, initialFlags: {} };
    const name = site === OTHER ? B_NAME : A_NAME;
    return {
      KeyValueStoreArn: ARN, Version: version, TableBucket: BUCKET, TableKey: key,
      ...(site && { Site: site, SiteName: name, Functions: '2' }), ...extra,
    };
  }

  /** `site` deploys `version` over `previous` (the previous properties: an earlier release's when their Site is missing). */
  function siteDeploy(site: string, version: string, previous?: KvsSyncProperties, extra: Partial<KvsSyncProperties> = {}): Promise<unknown> {
    return handler({
      RequestType: previous ? 'Update' : 'Create',
      StackId: `arn:aws:cloudformation:us-east-1:123456789012:stack/${site === OTHER ? 'ShopB' : 'ShopA'}/0000`,
      ResourceProperties: siteProps(site, version, extra),
      ...(previous && { OldResourceProperties: previous }),
    });
  }

  const keysOf = (store: Map<string, string>, site: string) => Object.fromEntries([...store].filter(([k]) => k.startsWith(`mz-site:${site}:`)));

  test('interleaved deploys over hours: each site keeps every version its functions may read, and never touches the other\'s keys', async () => {
    const sites = [SITE, OTHER];
    // One step: a site deploys one of its versions after some minutes; `together` runs the other site's deploy at the same time.
    // At least a minute apart: a site's @since stamps tell its versions' order, and no two deploys of one stack share a millisecond.
    const step = fc.record({ site: fc.nat(1), version: fc.nat(3), minutes: fc.integer({ min: 1, max: 150 }), together: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
        kvs.reset();
        const legacy = { 'mz:0badc0de:b0': '[]', 'mz:0badc0de:@since': new Date(T0 - 5 * VERSION_RETENTION_MS).toISOString() };
        const store = liveStore({ shared: 'on', 'preview:secret': 'existing-secret', ...legacy });
        /**
         * Per site: its current version, when each version it replaced was last replaced, and when each version last
         * became current (its @since stamp: a version deployed again while current keeps it).
         */
        const model = sites.map(() => ({ current: undefined as string | undefined, replaced: new Map<string, number>(), since: new Map<string, number>() }));
        /**
         * When the store's stamps say `version` was replaced: the first stamp after its own. It is never earlier than
         * the real replacement, later when the successor became current again since (a conservative sync keeps more).
         */
        const recordedReplacement = (i: number, version: string) =>
          Math.min(...[...model[i].since.values()].filter((t) => t > model[i].since.get(version)!));
        let now = T0;
        for (const s of steps) {
          now += s.minutes * MINUTE;
          jest.spyOn(Date, 'now').mockReturnValue(now);
          const deploying = s.together ? [s.site, 1 - s.site] : [s.site];
          const before = sites.map((site) => keysOf(store, site));
          await Promise.all(deploying.map((i) => {
            const version = versionsOf(sites[i])[s.version];
            const previous = model[i].current && siteProps(sites[i], model[i].current!);
            if (model[i].current !== version) model[i].since.set(version, now);
            if (model[i].current && model[i].current !== version) model[i].replaced.set(model[i].current!, now);
            model[i].replaced.delete(version);
            model[i].current = version;
            return siteDeploy(sites[i], version, previous || undefined);
          }));

          sites.forEach((site, i) => {
            const keys = keysOf(store, site);
            if (!deploying.includes(i)) expect(keys).toEqual(before[i]);
            if (!model[i].current) return;
            // The current version and every version replaced within the window are whole; older ones are gone.
            expect(keys).toEqual(expect.objectContaining(entriesFor(site, model[i].current)));
            for (const [version, at] of model[i].replaced) {
              const kept = Object.keys(entriesFor(site, version)).every((k) => k in keys);
              // Kept while any function may read it: replaced less than the retention ago.
              if (now - at < VERSION_RETENTION_MS) expect([version, kept]).toEqual([version, true]);
              // Dropped by the site's next deploy once the store's stamps say its retention is over.
              else if (deploying.includes(i) && now - recordedReplacement(i, version) >= VERSION_RETENTION_MS) expect([version, kept]).toEqual([version, false]);
              // A dropped version's stamp went with it: the sync no longer sees it.
              if (!kept) model[i].since.delete(version);
            }
          });
          // Shared keys: the operator's flag, the secret and the earlier layout's table are never rewritten or deleted.
          expect([store.get('shared'), store.get('preview:secret'), store.get('mz:0badc0de:b0')]).toEqual(['on', 'existing-secret', '[]']);
        }
      }),
      { numRuns: 60 },
    );
  });

  test('two syncs at the same time: the one whose ETag went stale starts over and keeps the other\'s writes', async () => {
    const store = liveStore();
    await Promise.all([siteDeploy(SITE, versionsOf(SITE)[0]), siteDeploy(OTHER, versionsOf(OTHER)[0])]);

    expect(keysOf(store, SITE)).toEqual(expect.objectContaining(entriesFor(SITE, versionsOf(SITE)[0])));
    expect(keysOf(store, OTHER)).toEqual(expect.objectContaining(entriesFor(OTHER, versionsOf(OTHER)[0])));
    expect(kvs.commandCalls(UpdateKeysCommand).length).toBeGreaterThan(2);
  });

  test('records each site with its function count, and refuses a deploy that takes the store past 10 functions, naming the sites', async () => {
    const store = liveStore();
    await siteDeploy(SITE, versionsOf(SITE)[0]);
    expect(JSON.parse(store.get(siteRecordKey(SITE))!)).toEqual({ name: A_NAME, stack: 'arn:aws:cloudformation:us-east-1:123456789012:stack/ShopA', functions: 2 });
    for (const [i, site] of ['c3c3c3c3c3', 'd4d4d4d4d4', 'e5e5e5e5e5'].entries()) {
      store.set(siteRecordKey(site), JSON.stringify({ name: `App/Shop${i}/Site`, stack: '', functions: 2 }));
    }
    // 2 + 3 x 2 + 2 = 10: allowed.
    await siteDeploy(OTHER, versionsOf(OTHER)[0]);
    const before = new Map(store);

    // Another function on B: 11.
    await expect(siteDeploy(OTHER, versionsOf(OTHER)[1], siteProps(OTHER, versionsOf(OTHER)[0]), { Functions: '3' })).rejects.toThrow(
      `KeyValueStore ${ARN}: the sites sharing it would associate 11 CloudFront Functions with it `
      + `("${A_NAME}" 2, "App/Shop0/Site" 2, "App/Shop1/Site" 2, "App/Shop2/Site" 2, "${B_NAME}" 3), at most 10 allowed ("Quotas": functions per key value store); `
      + `give site "${B_NAME}" a store of its own`,
    );
    expect(store).toEqual(before);

    // A site that goes frees its share.
    await handler({ RequestType: 'Delete', ResourceProperties: siteProps(SITE, versionsOf(SITE)[0]) });
    await siteDeploy(OTHER, versionsOf(OTHER)[1], siteProps(OTHER, versionsOf(OTHER)[0]), { Functions: '3' });
    expect(JSON.parse(store.get(siteRecordKey(OTHER))!).functions).toBe(3);
  });

  test('refuses the keys of a site id another stack holds (the same stack and path in another region), writing nothing', async () => {
    const store = liveStore({ [siteRecordKey(SITE)]: JSON.stringify({ name: A_NAME, stack: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/ShopA', functions: 2 }) });
    const before = new Map(store);

    await expect(siteDeploy(SITE, versionsOf(SITE)[0])).rejects.toThrow(
      `KeyValueStore ${ARN}: site "${A_NAME}" of arn:aws:cloudformation:us-east-1:123456789012:stack/ShopA has the keys mz-site:${SITE}: of site "${A_NAME}" `
      + 'of arn:aws:cloudformation:eu-west-1:123456789012:stack/ShopA',
    );
    expect(store).toEqual(before);
  });

  test('the same stack created again (a new stack id under its name) keeps its keys', async () => {
    const store = liveStore({ [siteRecordKey(SITE)]: JSON.stringify({ name: A_NAME, stack: 'arn:aws:cloudformation:us-east-1:123456789012:stack/ShopA', functions: 2 }) });
    await siteDeploy(SITE, versionsOf(SITE)[0]);
    expect(keysOf(store, SITE)).toEqual(expect.objectContaining(entriesFor(SITE, versionsOf(SITE)[0])));
  });
});

describe('handler: keys of the earlier layout (mz:<version>:)', () => {
  const V1 = '11111111';
  const V2 = '22222222';
  const LEGACY_OTHER = { 'mz:0badc0de:b0': '[]', 'mz:0badc0de:@since': new Date(T0 - 3 * VERSION_RETENTION_MS).toISOString(), 'mz:garbage': '1' };
  /** An earlier release's properties: no site. */
  const legacyProps = (version: string): KvsSyncProperties => ({ KeyValueStoreArn: ARN, Version: version, TableBucket: BUCKET, TableKey: `legacy-${version}.json` });
  const at = (time: number) => jest.spyOn(Date, 'now').mockReturnValue(time);

  test('are never deleted when no update named them as the site\'s', async () => {
    const store = liveStore(LEGACY_OTHER);
    at(T0);
    await handler({ RequestType: 'Create', ResourceProperties: propsOf(V1) });
    at(T0 + 2 * VERSION_RETENTION_MS);
    await handler({ RequestType: 'Update', ResourceProperties: propsOf(V2), OldResourceProperties: propsOf(V1) });
    at(T0 + 4 * VERSION_RETENTION_MS);
    await handler({ RequestType: 'Update', ResourceProperties: propsOf(V2), OldResourceProperties: propsOf(V2) });

    expect(Object.fromEntries([...store].filter(([k]) => k.startsWith('mz:')))).toEqual(LEGACY_OTHER);
  });

  test('the first update from an earlier release adopts the table its old properties name, and drops it once replaced for the window', async () => {
    const own = { [`mz:${OLD}:b0`]: '[]', [`mz:${OLD}:@since`]: new Date(T0 - VERSION_RETENTION_MS).toISOString() };
    const store = liveStore({ ...LEGACY_OTHER, ...own });
    at(T0);
    await handler({ RequestType: 'Update', ResourceProperties: propsOf(V1), OldResourceProperties: legacyProps(OLD) });
    // Functions of the earlier release still read it while the new one propagates.
    expect(store.get(`mz-site:${SITE}:@adopted:${OLD}`)).toBe(new Date(T0).toISOString());
    expect(store.get(`mz:${OLD}:b0`)).toBe('[]');

    at(T0 + VERSION_RETENTION_MS);
    await handler({ RequestType: 'Update', ResourceProperties: propsOf(V1), OldResourceProperties: propsOf(V1) });
    expect([...store.keys()].filter((k) => k.includes(OLD))).toEqual([]);
    expect(Object.fromEntries([...store].filter(([k]) => k.startsWith('mz:')))).toEqual(LEGACY_OTHER);
  });

  test('a rollback to an earlier release\'s properties marks its table current and deletes nothing', async () => {
    const own = { [`mz:${OLD}:b0`]: '[]', [`mz:${OLD}:@since`]: new Date(T0 - VERSION_RETENTION_MS).toISOString() };
    const store = liveStore({ ...LEGACY_OTHER, ...own });
    at(T0);
    await handler({ RequestType: 'Update', ResourceProperties: propsOf(V1), OldResourceProperties: legacyProps(OLD) });
    const afterUpgrade = new Map(store);

    // The stack update failed: CloudFormation sends the earlier release's properties again (their asset no longer readable).
    at(T0 + 5 * MINUTE);
    await handler({ RequestType: 'Update', ResourceProperties: legacyProps(OLD), OldResourceProperties: propsOf(V1) });
    expect([...store.keys()].sort()).toEqual([...afterUpgrade.keys()].sort());
    expect(store.get(`mz:${OLD}:@since`)).toBe(new Date(T0 + 5 * MINUTE).toISOString());

    // Upgrading again hours later to the same table: the earlier one was current until now, so it stays for the window.
    at(T0 + 3 * VERSION_RETENTION_MS);
    await handler({ RequestType: 'Update', ResourceProperties: propsOf(V1), OldResourceProperties: legacyProps(OLD) });
    expect(store.get(`mz:${OLD}:b0`)).toBe('[]');
    expect(store.get(`${px(V1)}@since`)).toBe(new Date(T0 + 3 * VERSION_RETENTION_MS).toISOString());
  });

  test('deleting the site deletes the tables it adopted; deleting an earlier release\'s resource, the one version it names', async () => {
    const own = { [`mz:${OLD}:b0`]: '[]' };
    const store = liveStore({ ...LEGACY_OTHER, ...own, [`mz:${STALE}:b0`]: '[]' });
    at(T0);
    await handler({ RequestType: 'Update', ResourceProperties: propsOf(V1), OldResourceProperties: legacyProps(OLD) });
    await handler({ RequestType: 'Delete', ResourceProperties: propsOf(V1) });
    expect([...store.keys()].filter((k) => k.startsWith('mz-site:') || k.includes(OLD))).toEqual([]);

    await handler({ RequestType: 'Delete', ResourceProperties: legacyProps(STALE) });
    expect(Object.fromEntries([...store].filter(([k]) => k.startsWith('mz:')))).toEqual(LEGACY_OTHER);
  });
});

describe('sites on one store at synth', () => {
  const STORE_ARN = 'arn:aws:cloudfront::123456789012:key-value-store/0f6a1c2e-0000-4000-8000-000000000000';
  /** Router and zone-flag decider: two functions on the store. */
  const twoFunctions = { overrides: [{ flag: 'new-checkout', pathPatterns: ['/checkout/*'], zone: 'blog' }], zoneFlags: ['new-nav'], flags: { 'new-nav': 'off' } };
  const syncProps = (stack: Stack) => Object.values<any>(Template.fromStack(stack).findResources('Custom::MultiZoneKvsSync'))[0].Properties;

  test('a site id is the same on every synth, and differs with the stack name or the construct path', () => {
    const idOf = (place: { id?: string; stackName?: string }) => syncProps(siteStack(twoFunctions, undefined, place)).Site;
    expect(idOf({})).toMatch(/^[0-9a-f]{10}$/);
    expect(idOf({})).toBe(idOf({}));
    expect(idOf({ stackName: 'Other' })).not.toBe(idOf({}));
    expect(idOf({ id: 'Other', stackName: 'TestStack' })).not.toBe(idOf({}));
  });

  test('the sync names the site and counts its functions on the store', () => {
    const stack = siteStack(twoFunctions);
    expect(syncProps(stack)).toMatchObject({ SiteName: 'TestStack/Site', Functions: 2 });
    const functions = Object.values<any>(Template.fromStack(stack).findResources('AWS::CloudFront::Function'));
    expect(functions.filter((f) => f.Properties.FunctionConfig.KeyValueStoreAssociations)).toHaveLength(2);
  });

  /** Five sites in an app on one store (one store construct, or one ARN imported in each stack), and `extra` functions associated with it. */
  function appWithSites(shared: 'construct' | 'arn', extra: number): App {
    const app = new App();
    const home = new Stack(app, 'Home', { env: { account: '123456789012', region: 'us-east-1' } });
    const owned = new cloudfront.KeyValueStore(home, 'Shared');
    const storeIn = (stack: Stack) => (shared === 'construct' ? owned : cloudfront.KeyValueStore.fromKeyValueStoreArn(stack, 'Store', STORE_ARN));
    for (let i = 0; i < 5; i++) siteStack(twoFunctions, (stack) => ({ keyValueStore: storeIn(stack) }), { app, id: `Shop${i}` });
    for (let i = 0; i < extra; i++) {
      new cloudfront.Function(home, `Own${i}`, { code: cloudfront.FunctionCode.fromInline('function handler(e) { return e.request; }'), runtime: cloudfront.FunctionRuntime.JS_2_0, keyValueStore: storeIn(home) });
    }
    return app;
  }

  test.each(['construct', 'arn'] as const)('counts the functions of every site and stack on the store (one %s) and refuses past 10, naming them', (shared) => {
    expect(() => appWithSites(shared, 0).synth()).not.toThrow();
    const store = shared === 'construct' ? '"Home/Shared"' : STORE_ARN;
    expect(() => appWithSites(shared, 1).synth()).toThrow(
      `[Shop0/Site] keyValueStore: 11 CloudFront Functions of the app are associated with store ${store} (function "Home/Own0" 1, site "Shop0/Site" 2, `
      + 'site "Shop1/Site" 2, site "Shop2/Site" 2, site "Shop3/Site" 2, site "Shop4/Site" 2), at most 10 allowed ("Quotas": functions per key value store); give some of the sites a store of their own',
    );
  });

  test('the limits table counts the functions a template associates with each store', () => {
    const app = appWithSites('arn', 0);
    const stack = app.node.findChild('Shop0') as Stack;
    const template = Template.fromStack(stack).toJSON() as CfnTemplateJson;
    const problems = (t: CfnTemplateJson) => templateLimitProblems(t, { assetDirectory: app.outdir }).map((p) => `${p.limit}: ${p.where}: ${p.found}`);
    expect(problems(template)).toEqual([]);
    const fn = Object.values<any>(template.Resources!).find((r) => r.Type === 'AWS::CloudFront::Function' && r.Properties.FunctionConfig.KeyValueStoreAssociations);
    const crowded = JSON.parse(JSON.stringify(template));
    for (let i = 0; i < 9; i++) crowded.Resources[`Copy${i}`] = fn;
    // The copies share the original's name too: only this limit's finding is of interest here.
    expect(problems(crowded).filter((p) => p.startsWith('functions-per-key-value-store'))).toEqual([`functions-per-key-value-store: store "${STORE_ARN}": 11 functions`]);
  });
});
