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
import { TableFile } from '../lib/kvs-sync/table-file';

const ARN = 'arn:aws:cloudfront::123456789012:key-value-store/0f6a1c2e-0000-4000-8000-000000000000';
const NEW = 'bbbbbbbb';
const OLD = 'aaaaaaaa';
const STALE = '99999999';

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

/** The store holds `items` at ETag `etag`; every UpdateKeys answers with the next ETag e2, e3, ... */
function storeHolds(items: Record<string, string>, etag = 'e1'): void {
  kvs.on(DescribeKeyValueStoreCommand).resolves({ KvsARN: ARN, ETag: etag });
  kvs.on(ListKeysCommand).resolves({ Items: Object.entries(items).map(([Key, Value]) => ({ Key, Value })) });
  let next = 1;
  kvs.on(UpdateKeysCommand).callsFake(async () => ({ ETag: `e${++next}` }));
}

function updates() {
  return kvs.commandCalls(UpdateKeysCommand).map((call) => call.args[0].input);
}

/** The resource properties of `version`, its table uploaded as `<version>.json`. */
function propsOf(version: string, table: Partial<TableFile> = {}, extra: Partial<KvsSyncProperties> = {}): KvsSyncProperties {
  objects[`${version}.json`] = { entries: {}, initialFlags: {}, ...table };
  return { KeyValueStoreArn: ARN, Version: version, TableBucket: BUCKET, TableKey: `${version}.json`, ...extra };
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

/** The `@since` key of a version current since `time`. */
const since = (version: string, time: number) => ({ [`mz:${version}:@since`]: new Date(time).toISOString() });

/** `count` entries of `version`, keys zero-padded so they sort in creation order. */
function entriesOf(version: string, count: number, value = 'v'): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`mz:${version}:k${String(i).padStart(3, '0')}`, value]));
}

const NOW_MARK = since(NEW, T0);

describe('handler: Create and Update', () => {
  test('reads the table asset named by the properties, and nothing of it from the event', async () => {
    storeHolds({});

    await handler(syncEvent({ entries: { [`mz:${NEW}:a`]: '1' } }));

    expect(s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input)).toEqual([{ Bucket: BUCKET, Key: `${NEW}.json` }]);
    expect(updates().flatMap((u) => u.Puts ?? [])[0]).toEqual({ Key: `mz:${NEW}:a`, Value: '1' });
  });

  test('puts missing and changed entries and missing flags, with the described ETag, then marks the version current', async () => {
    storeHolds({ [`mz:${NEW}:same`]: '1', [`mz:${NEW}:changed`]: 'old', beta: 'on' });

    const response = await handler(syncEvent({
      entries: { [`mz:${NEW}:same`]: '1', [`mz:${NEW}:changed`]: 'new', [`mz:${NEW}:missing`]: '3' },
      initialFlags: { beta: 'off', gamma: '10%' },
    }));

    expect(response).toEqual({ PhysicalResourceId: ARN });
    expect(kvs.commandCalls(DescribeKeyValueStoreCommand)[0].args[0].input).toEqual({ KvsARN: ARN });
    expect(updates()).toEqual([{
      KvsARN: ARN,
      IfMatch: 'e1',
      Puts: [
        { Key: `mz:${NEW}:changed`, Value: 'new' },
        { Key: `mz:${NEW}:missing`, Value: '3' },
        { Key: 'gamma', Value: '10%' },
        { Key: `mz:${NEW}:@since`, Value: '2026-12-01T10:00:00.000Z' },
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
    const event = syncEvent({ entries: { [`mz:${NEW}:a`]: '1' } });
    delete objects[`${NEW}.json`];

    await expect(handler(event)).rejects.toThrow('Access Denied');
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(MAX_TABLE_READ_ATTEMPTS);
    expect(pauses()).toEqual([1000, 2000, 3000, 4000]);
    expect(kvs.commandCalls(UpdateKeysCommand)).toHaveLength(0);
  });

  test('a rollback to a version still in the store succeeds without its asset, which the role no longer grants', async () => {
    // NEW was current from T0 - 30 min; OLD replaced it at T0 - 5 min; the deploy failed and rolls back to NEW.
    storeHolds({ [`mz:${NEW}:a`]: '1', ...since(NEW, T0 - 30 * MINUTE), [`mz:${OLD}:a`]: '2', ...since(OLD, T0 - 5 * MINUTE) });
    const event = syncEvent({}, OLD);
    delete objects[`${NEW}.json`];

    await handler(event);

    // NEW is current again; OLD stays for functions that already run it.
    expect(updates()).toEqual([{ KvsARN: ARN, IfMatch: 'e1', Puts: [{ Key: `mz:${NEW}:@since`, Value: '2026-12-01T10:00:00.000Z' }] }]);
  });

  test('splits changes into batches of at most 50 keys, deletes first, each matching the ETag the previous one returned', async () => {
    expect(MAX_KEYS_PER_UPDATE).toBe(50);
    // STALE was replaced by OLD past the retention window; OLD itself is kept.
    const stale = { ...entriesOf(STALE, 29), ...since(STALE, T0 - 3 * VERSION_RETENTION_MS) };
    storeHolds({ ...stale, [`mz:${OLD}:a`]: '1', ...since(OLD, T0 - 2 * VERSION_RETENTION_MS) });
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
      { Items: [{ Key: `mz:${NEW}:a`, Value: '1' }], NextToken: 'page2' },
      { Items: [{ Key: 'beta', Value: 'on' }, { Key: `mz:${NEW}:@since`, Value: new Date(T0).toISOString() }] },
    ];
    // The paginator reuses one input object: copy it at call time.
    const lists: object[] = [];
    kvs.on(ListKeysCommand).callsFake(async (input) => {
      lists.push({ ...input });
      return pages[lists.length - 1];
    });
    kvs.on(UpdateKeysCommand).resolves({ ETag: 'e2' });

    await handler(syncEvent({ entries: { [`mz:${NEW}:a`]: '1' }, initialFlags: { beta: 'off', gamma: 'on' } }, OLD));

    expect(lists).toEqual([
      { KvsARN: ARN, MaxResults: 50 },
      { KvsARN: ARN, MaxResults: 50, NextToken: 'page2' },
    ]);
    // Keys of both pages count: only gamma is missing.
    expect(updates()).toEqual([{ KvsARN: ARN, IfMatch: 'e1', Puts: [{ Key: 'gamma', Value: 'on' }] }]);
  });

  test('does not call UpdateKeys when the store is already in sync', async () => {
    storeHolds({ [`mz:${NEW}:a`]: '1', ...since(NEW, T0 - MINUTE), [`mz:${OLD}:a`]: '1', ...since(OLD, T0 - 2 * MINUTE), beta: 'on' });

    await handler(syncEvent({ entries: { [`mz:${NEW}:a`]: '1' }, initialFlags: { beta: 'off' } }, OLD));

    expect(kvs.commandCalls(UpdateKeysCommand)).toHaveLength(0);
  });

  test('on an ETag conflict, re-describes, re-lists and applies only what is still missing', async () => {
    kvs.on(DescribeKeyValueStoreCommand).resolvesOnce({ ETag: 'e1' }).resolvesOnce({ ETag: 'e7' });
    kvs.on(ListKeysCommand)
      .resolvesOnce({ Items: [] })
      // Meanwhile an operator created the flag: its value must survive the retry.
      .resolvesOnce({ Items: [{ Key: 'beta', Value: 'on' }] });
    kvs.on(UpdateKeysCommand)
      .rejectsOnce(new ConflictException({ message: 'Pre-Condition failed', $metadata: { httpStatusCode: 409 } }))
      .resolves({ ETag: 'e8' });

    await handler(syncEvent({ entries: { [`mz:${NEW}:a`]: '1' }, initialFlags: { beta: 'off' } }));

    const mark = { Key: `mz:${NEW}:@since`, Value: '2026-12-01T10:00:00.000Z' };
    expect(kvs.commandCalls(DescribeKeyValueStoreCommand)).toHaveLength(2);
    expect(updates()).toEqual([
      { KvsARN: ARN, IfMatch: 'e1', Puts: [{ Key: `mz:${NEW}:a`, Value: '1' }, { Key: 'beta', Value: 'off' }, mark] },
      { KvsARN: ARN, IfMatch: 'e7', Puts: [{ Key: `mz:${NEW}:a`, Value: '1' }, mark] },
    ]);
  });

  test('treats an HTTP 412 as a conflict too', async () => {
    storeHolds({});
    const preconditionFailed = Object.assign(new Error('precondition failed'), {
      name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 },
    });
    kvs.on(UpdateKeysCommand).rejectsOnce(preconditionFailed).resolves({ ETag: 'e2' });

    await handler(syncEvent({ entries: { [`mz:${NEW}:a`]: '1' } }));

    expect(kvs.commandCalls(UpdateKeysCommand)).toHaveLength(2);
  });

  test(`gives up after ${MAX_SYNC_ATTEMPTS} conflicting attempts`, async () => {
    storeHolds({});
    kvs.on(UpdateKeysCommand).rejects(new ConflictException({ message: 'Pre-Condition failed', $metadata: {} }));

    await expect(handler(syncEvent({ entries: { [`mz:${NEW}:a`]: '1' } }))).rejects.toThrow('Pre-Condition failed');
    expect(kvs.commandCalls(UpdateKeysCommand)).toHaveLength(MAX_SYNC_ATTEMPTS);
    expect(pauses()).toEqual([200, 400, 600]);
  });

  test('does not retry other errors', async () => {
    storeHolds({});
    kvs.on(UpdateKeysCommand).rejects(new AccessDeniedException({ message: 'denied', $metadata: {} }));

    await expect(handler(syncEvent({ entries: { [`mz:${NEW}:a`]: '1' } }))).rejects.toThrow('denied');
    expect(kvs.commandCalls(UpdateKeysCommand)).toHaveLength(1);
  });
});

describe('handler: table versions', () => {
  const V1 = '11111111';
  const V2 = '22222222';
  const V3 = '33333333';

  /** A store that applies UpdateKeys, so deploys can follow one another. */
  function liveStore(initial: Record<string, string> = {}): Map<string, string> {
    const store = new Map(Object.entries(initial));
    let etag = 1;
    kvs.on(DescribeKeyValueStoreCommand).callsFake(async () => ({ ETag: `e${etag}` }));
    kvs.on(ListKeysCommand).callsFake(async () => ({ Items: [...store].map(([Key, Value]) => ({ Key, Value })) }));
    kvs.on(UpdateKeysCommand).callsFake(async (input) => {
      for (const d of input.Deletes ?? []) store.delete(d.Key);
      for (const p of input.Puts ?? []) store.set(p.Key, p.Value);
      return { ETag: `e${++etag}` };
    });
    return store;
  }

  /** Deploys `version` (replacing `previous`) at `time`. */
  async function deploy(version: string, previous: string | undefined, time: number, entries = { [`mz:${version}:w`]: `[${version}]` }): Promise<void> {
    jest.spyOn(Date, 'now').mockReturnValue(time);
    await handler({
      RequestType: previous ? 'Update' : 'Create',
      ResourceProperties: propsOf(version, { entries, initialFlags: { beta: 'off' } }),
      ...(previous && { OldResourceProperties: propsOf(previous) }),
    });
  }

  const versionsIn = (store: Map<string, string>) => [...new Set([...store.keys()].filter((k) => k.startsWith('mz:')).map((k) => k.split(':')[1]))].sort();

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
      [`mz:${V2}:@since`]: new Date(T0 + 2 * MINUTE).toISOString(),
      [`mz:${V2}:w`]: `[${V2}]`,
      [`mz:${V3}:@since`]: new Date(T0 + 2 * MINUTE + VERSION_RETENTION_MS).toISOString(),
      [`mz:${V3}:w`]: `[${V3}]`,
    });
  });

  test('a rollback makes the older version current again, and keeps the one it replaces for the window', async () => {
    const store = liveStore();
    await deploy(V1, undefined, T0);
    await deploy(V2, V1, T0 + 5 * MINUTE);
    // The stack update failed after the sync: CloudFormation sends V1 again.
    await deploy(V1, V2, T0 + 6 * MINUTE);
    expect(store.get(`mz:${V1}:@since`)).toBe(new Date(T0 + 6 * MINUTE).toISOString());

    await deploy(V1, V1, T0 + 5 * MINUTE + VERSION_RETENTION_MS);
    expect(versionsIn(store)).toEqual([V1, V2]);
    await deploy(V1, V1, T0 + 6 * MINUTE + VERSION_RETENTION_MS);
    expect(versionsIn(store)).toEqual([V1]);
  });

  test('keys of versions that never recorded a time (older releases, strays) count as replaced by the first version that did', async () => {
    const store = liveStore({ [`mz:${STALE}:w`]: '[]', 'mz:garbage': '1' });
    await deploy(V1, STALE, T0);
    expect(versionsIn(store)).toEqual([V1, STALE, 'garbage'].sort());

    await deploy(V1, V1, T0 + VERSION_RETENTION_MS);
    expect(versionsIn(store)).toEqual([V1]);
  });

  test('when keeping replaced versions would overflow the store, the oldest go early; the current one never', async () => {
    expect(MAX_STORE_BYTES).toBe(5_000_000);
    // Three tables of about 2 MB each: only two fit in 5 MB.
    const big = (version: string) => Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`mz:${version}:s:${i}`, 'x'.repeat(1000)]));
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
    const store = liveStore({ [`mz:${V1}:w`]: '[]' });
    const huge = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`mz:${V2}:s:${i}`, 'x'.repeat(1000)]));

    await expect(deploy(V2, V1, T0, huge)).rejects.toThrow(
      new RegExp(`^KeyValueStore ${ARN}: version ${V2} needs \\d+ bytes of keys and values with every older table version dropped, over the store's 5000000`),
    );
    expect(kvs.commandCalls(UpdateKeysCommand)).toHaveLength(0);
    expect(versionsIn(store)).toEqual([V1]);
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
    storeHolds({ 'preview:secret': 'existing-secret', [`mz:${STALE}:a`]: '1', ...since(STALE, T0 - 2 * VERSION_RETENTION_MS), ...since(NEW, T0 - VERSION_RETENTION_MS) });
    await handler(syncEvent({}));
    expect(updates()).toEqual([{ KvsARN: ARN, IfMatch: 'e1', Deletes: [{ Key: `mz:${STALE}:a` }, { Key: `mz:${STALE}:@since` }] }]);
  });

  test('is never deleted, not even when the site is', async () => {
    storeHolds({ 'preview:secret': 'existing-secret', [`mz:${NEW}:a`]: '1' });

    await handler({ ...deleteEvent(NEW), ResourceProperties: { ...deleteEvent(NEW).ResourceProperties, PreviewSecret: 'create-if-missing' } });

    expect(updates()).toEqual([{ KvsARN: ARN, IfMatch: 'e1', Deletes: [{ Key: `mz:${NEW}:a` }] }]);
  });
});

describe('handler: Delete', () => {
  test("deletes only this version's internal keys, never flags or other versions", async () => {
    storeHolds({ [`mz:${NEW}:a`]: '1', [`mz:${NEW}:b`]: '2', ...NOW_MARK, [`mz:${OLD}:a`]: '1', beta: 'on', [`${NEW}`]: 'x' });

    const response = await handler(deleteEvent(NEW));

    expect(response).toEqual({ PhysicalResourceId: ARN });
    expect(updates()).toEqual([{ KvsARN: ARN, IfMatch: 'e1', Deletes: [{ Key: `mz:${NEW}:a` }, { Key: `mz:${NEW}:b` }, { Key: `mz:${NEW}:@since` }] }]);
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(0);
  });

  test('batches large deletes with ETag chaining', async () => {
    storeHolds(entriesOf(NEW, 51));

    await handler(deleteEvent(NEW));

    expect(updates().map((u) => [u.IfMatch, u.Deletes?.length, u.Puts])).toEqual([['e1', 50, undefined], ['e2', 1, undefined]]);
  });

  test('succeeds without writing when the store is already gone', async () => {
    kvs.on(DescribeKeyValueStoreCommand).rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));

    await expect(handler(deleteEvent(NEW))).resolves.toEqual({ PhysicalResourceId: ARN });
    expect(kvs.commandCalls(UpdateKeysCommand)).toHaveLength(0);
  });

  test('succeeds when the store disappears between listing and updating', async () => {
    storeHolds({ [`mz:${NEW}:a`]: '1' });
    kvs.on(UpdateKeysCommand).rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));

    await expect(handler(deleteEvent(NEW))).resolves.toEqual({ PhysicalResourceId: ARN });
  });

  test('does not hide other errors', async () => {
    kvs.on(DescribeKeyValueStoreCommand).rejects(new AccessDeniedException({ message: 'denied', $metadata: {} }));

    await expect(handler(deleteEvent(NEW))).rejects.toThrow('denied');
  });
});

describe('KvsTableSync', () => {
  const ENTRIES = { [`mz:${NEW}:zones`]: '["blog","shop"]', [`mz:${NEW}:route:/blog/*`]: 'blog' };
  const FLAGS = { 'new-checkout': 'off' };

  function synth(extra: Partial<KvsTableSyncProps> = {}, instances = 1): { stack: Stack; template: Template; syncs: KvsTableSync[]; outdir: string } {
    const app = new App();
    const stack = new Stack(app, 'TestStack');
    const keyValueStore = new cloudfront.KeyValueStore(stack, 'Store');
    const syncs = Array.from({ length: instances }, (_, i) =>
      new KvsTableSync(stack, `Sync${i}`, { keyValueStore, entries: ENTRIES, version: NEW, initialFlags: FLAGS, ...extra }));
    return { stack, template: Template.fromStack(stack), syncs, outdir: app.outdir };
  }

  test('puts the table in an S3 asset that the properties name, and nothing of it in the template', () => {
    const { template, syncs, outdir } = synth();
    const asset = syncs[0].tableAsset;

    template.hasResourceProperties('Custom::MultiZoneKvsSync', {
      ServiceToken: Match.anyValue(),
      KeyValueStoreArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Store'), 'Arn'] },
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
    expect(key({ entries: { [`mz:${NEW}:zones`]: '["blog"]' } })).not.toBe(key());
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
    expect(() => synth({ entries: { [`mz:${NEW}:@since`]: 'x' } })).toThrow(`KvsTableSync "Sync0": entry key "mz:${NEW}:@since" is the handler's own record`);
  });

  test('rejects a version that is not 8 hex characters', () => {
    expect(() => synth({ version: 'v1', entries: {} })).toThrow('KvsTableSync "Sync0": version "v1" must be 8 hex characters');
  });

  test('rejects entries outside the version prefix and flags inside the internal prefix', () => {
    expect(() => synth({ entries: { [`mz:${OLD}:a`]: '1' }, initialFlags: { 'mz:flag': 'on' } })).toThrow(
      `2 problems:\n- KvsTableSync "Sync0": entry key "mz:${OLD}:a" must start with "mz:${NEW}:"\n`
      + '- KvsTableSync "Sync0": flag key "mz:flag" must not start with "mz:"',
    );
  });
});
