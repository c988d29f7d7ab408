import {
  AccessDeniedException,
  CloudFrontKeyValueStoreClient,
  ConflictException,
  DescribeKeyValueStoreCommand,
  ListKeysCommand,
  ResourceNotFoundException,
  UpdateKeysCommand,
} from '@aws-sdk/client-cloudfront-keyvaluestore';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { mockClient } from 'aws-sdk-client-mock';
import { KvsSyncEvent, MAX_KEYS_PER_UPDATE, MAX_SYNC_ATTEMPTS, handler } from '../lib/kvs-sync/handler';
import { KvsTableSync, KvsTableSyncProps } from '../lib/kvs-sync/kvs-table-sync';

const ARN = 'arn:aws:cloudfront::123456789012:key-value-store/0f6a1c2e-0000-4000-8000-000000000000';
const NEW = 'bbbbbbbb';
const OLD = 'aaaaaaaa';
const STALE = '99999999';

const kvs = mockClient(CloudFrontKeyValueStoreClient);

beforeEach(() => {
  kvs.reset();
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

function syncEvent(props: Partial<KvsSyncEvent['ResourceProperties']>, oldVersion?: string): KvsSyncEvent {
  return {
    RequestType: oldVersion ? 'Update' : 'Create',
    ResourceProperties: { KeyValueStoreArn: ARN, Version: NEW, Entries: {}, InitialFlags: {}, ...props },
    ...(oldVersion && { OldResourceProperties: { KeyValueStoreArn: ARN, Version: oldVersion } }),
  };
}

function deleteEvent(version: string): KvsSyncEvent {
  return { RequestType: 'Delete', ResourceProperties: { KeyValueStoreArn: ARN, Version: version, Entries: {}, InitialFlags: {} } };
}

/** `count` entries of `version`, keys zero-padded so they sort in creation order. */
function entriesOf(version: string, count: number, value = 'v'): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`mz:${version}:k${String(i).padStart(3, '0')}`, value]));
}

describe('handler: Create and Update', () => {
  test('puts missing and changed entries and missing flags, with the described ETag', async () => {
    storeHolds({ [`mz:${NEW}:same`]: '1', [`mz:${NEW}:changed`]: 'old', beta: 'on' });

    const response = await handler(syncEvent({
      Entries: { [`mz:${NEW}:same`]: '1', [`mz:${NEW}:changed`]: 'new', [`mz:${NEW}:missing`]: '3' },
      InitialFlags: { beta: 'off', gamma: '10%' },
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
      ],
    }]);
  });

  test('never overwrites an existing flag value, even one that differs from the initial value', async () => {
    storeHolds({ beta: 'on', gamma: '0%' });

    await handler(syncEvent({ InitialFlags: { beta: 'off', gamma: 'on' } }));

    expect(kvs.commandCalls(UpdateKeysCommand)).toHaveLength(0);
  });

  test('deletes internal keys of stale versions, keeps the current and previous versions, flags and foreign keys', async () => {
    storeHolds({
      [`mz:${NEW}:a`]: '1',
      [`mz:${OLD}:a`]: '1',
      [`mz:${STALE}:a`]: '1',
      [`mz:${STALE}:b`]: '1',
      'mz:garbage': '1',
      beta: 'on',
      'other-tool:key': 'x',
    });

    await handler(syncEvent({ Entries: { [`mz:${NEW}:a`]: '1' }, InitialFlags: { beta: 'off' } }, OLD));

    expect(updates()).toEqual([{
      KvsARN: ARN,
      IfMatch: 'e1',
      Deletes: [{ Key: `mz:${STALE}:a` }, { Key: `mz:${STALE}:b` }, { Key: 'mz:garbage' }],
    }]);
  });

  test('on Create, keys of every other version are stale', async () => {
    storeHolds({ [`mz:${OLD}:a`]: '1', [`mz:${NEW}:a`]: '1' });

    await handler(syncEvent({ Entries: { [`mz:${NEW}:a`]: '1' } }));

    expect(updates()).toEqual([{ KvsARN: ARN, IfMatch: 'e1', Deletes: [{ Key: `mz:${OLD}:a` }] }]);
  });

  test('reads every page of ListKeys', async () => {
    kvs.on(DescribeKeyValueStoreCommand).resolves({ ETag: 'e1' });
    const pages = [
      { Items: [{ Key: `mz:${NEW}:a`, Value: '1' }], NextToken: 'page2' },
      { Items: [{ Key: 'beta', Value: 'on' }, { Key: `mz:${STALE}:a`, Value: '1' }] },
    ];
    // The paginator reuses one input object: copy it at call time.
    const lists: object[] = [];
    kvs.on(ListKeysCommand).callsFake(async (input) => {
      lists.push({ ...input });
      return pages[lists.length - 1];
    });
    kvs.on(UpdateKeysCommand).resolves({ ETag: 'e2' });

    await handler(syncEvent({ Entries: { [`mz:${NEW}:a`]: '1' }, InitialFlags: { beta: 'off' } }, OLD));

    expect(lists).toEqual([
      { KvsARN: ARN, MaxResults: 50 },
      { KvsARN: ARN, MaxResults: 50, NextToken: 'page2' },
    ]);
    expect(updates()).toEqual([{ KvsARN: ARN, IfMatch: 'e1', Deletes: [{ Key: `mz:${STALE}:a` }] }]);
  });

  test('splits changes into batches of at most 50 keys, each matching the ETag the previous one returned', async () => {
    expect(MAX_KEYS_PER_UPDATE).toBe(50);
    const stale = entriesOf(STALE, 30);
    storeHolds(stale);
    const entries = entriesOf(NEW, 90);

    await handler(syncEvent({ Entries: entries, InitialFlags: { beta: 'off' } }, OLD));

    const puts = [...Object.entries(entries), ['beta', 'off']].map(([Key, Value]) => ({ Key, Value }));
    const deletes = Object.keys(stale).map((Key) => ({ Key }));
    expect(updates()).toEqual([
      { KvsARN: ARN, IfMatch: 'e1', Puts: puts.slice(0, 50) },
      { KvsARN: ARN, IfMatch: 'e2', Puts: puts.slice(50), Deletes: deletes.slice(0, 9) },
      { KvsARN: ARN, IfMatch: 'e3', Deletes: deletes.slice(9) },
    ]);
  });

  test('does not call UpdateKeys when the store is already in sync', async () => {
    storeHolds({ [`mz:${NEW}:a`]: '1', [`mz:${OLD}:a`]: '1', beta: 'on' });

    await handler(syncEvent({ Entries: { [`mz:${NEW}:a`]: '1' }, InitialFlags: { beta: 'off' } }, OLD));

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

    await handler(syncEvent({ Entries: { [`mz:${NEW}:a`]: '1' }, InitialFlags: { beta: 'off' } }));

    expect(kvs.commandCalls(DescribeKeyValueStoreCommand)).toHaveLength(2);
    expect(updates()).toEqual([
      { KvsARN: ARN, IfMatch: 'e1', Puts: [{ Key: `mz:${NEW}:a`, Value: '1' }, { Key: 'beta', Value: 'off' }] },
      { KvsARN: ARN, IfMatch: 'e7', Puts: [{ Key: `mz:${NEW}:a`, Value: '1' }] },
    ]);
  });

  test('treats an HTTP 412 as a conflict too', async () => {
    storeHolds({});
    const preconditionFailed = Object.assign(new Error('precondition failed'), {
      name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 },
    });
    kvs.on(UpdateKeysCommand).rejectsOnce(preconditionFailed).resolves({ ETag: 'e2' });

    await handler(syncEvent({ Entries: { [`mz:${NEW}:a`]: '1' } }));

    expect(kvs.commandCalls(UpdateKeysCommand)).toHaveLength(2);
  });

  test(`gives up after ${MAX_SYNC_ATTEMPTS} conflicting attempts`, async () => {
    storeHolds({});
    kvs.on(UpdateKeysCommand).rejects(new ConflictException({ message: 'Pre-Condition failed', $metadata: {} }));

    await expect(handler(syncEvent({ Entries: { [`mz:${NEW}:a`]: '1' } }))).rejects.toThrow('Pre-Condition failed');
    expect(kvs.commandCalls(UpdateKeysCommand)).toHaveLength(MAX_SYNC_ATTEMPTS);
  });

  test('does not retry other errors', async () => {
    storeHolds({});
    kvs.on(UpdateKeysCommand).rejects(new AccessDeniedException({ message: 'denied', $metadata: {} }));

    await expect(handler(syncEvent({ Entries: { [`mz:${NEW}:a`]: '1' } }))).rejects.toThrow('denied');
    expect(kvs.commandCalls(UpdateKeysCommand)).toHaveLength(1);
  });
});

describe('handler: the preview secret', () => {
  test('is created when missing, 32 random bytes in hex, if the site asks for it', async () => {
    storeHolds({ beta: 'on' });

    await handler(syncEvent({ InitialFlags: { beta: 'off' }, PreviewSecret: 'create-if-missing' }));

    const puts = updates().flatMap((u) => u.Puts ?? []);
    expect(puts).toEqual([{ Key: 'preview:secret', Value: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
  });

  test('is different for every store it creates', async () => {
    storeHolds({});
    await handler(syncEvent({ PreviewSecret: 'create-if-missing' }));
    storeHolds({});
    await handler(syncEvent({ PreviewSecret: 'create-if-missing' }));
    const secrets = updates().flatMap((u) => u.Puts ?? []).map((p) => p.Value);
    expect(secrets).toHaveLength(2);
    expect(secrets[0]).not.toBe(secrets[1]);
  });

  test('is never overwritten', async () => {
    storeHolds({ 'preview:secret': 'existing-secret', beta: 'on' });

    await handler(syncEvent({ InitialFlags: { beta: 'off' }, PreviewSecret: 'create-if-missing' }, OLD));

    expect(kvs.commandCalls(UpdateKeysCommand)).toHaveLength(0);
  });

  test('is not created for a site without previews, and an existing one is left alone', async () => {
    storeHolds({});
    await handler(syncEvent({ InitialFlags: { beta: 'off' } }));
    expect(updates().flatMap((u) => u.Puts ?? []).map((p) => p.Key)).toEqual(['beta']);

    kvs.reset();
    storeHolds({ 'preview:secret': 'existing-secret', [`mz:${STALE}:a`]: '1' });
    await handler(syncEvent({}));
    expect(updates()).toEqual([{ KvsARN: ARN, IfMatch: 'e1', Deletes: [{ Key: `mz:${STALE}:a` }] }]);
  });

  test('is never deleted, not even when the site is', async () => {
    storeHolds({ 'preview:secret': 'existing-secret', [`mz:${NEW}:a`]: '1' });

    await handler({ ...deleteEvent(NEW), ResourceProperties: { ...deleteEvent(NEW).ResourceProperties, PreviewSecret: 'create-if-missing' } });

    expect(updates()).toEqual([{ KvsARN: ARN, IfMatch: 'e1', Deletes: [{ Key: `mz:${NEW}:a` }] }]);
  });
});

describe('handler: Delete', () => {
  test("deletes only this version's internal keys, never flags or other versions", async () => {
    storeHolds({ [`mz:${NEW}:a`]: '1', [`mz:${NEW}:b`]: '2', [`mz:${OLD}:a`]: '1', beta: 'on', [`${NEW}`]: 'x' });

    const response = await handler(deleteEvent(NEW));

    expect(response).toEqual({ PhysicalResourceId: ARN });
    expect(updates()).toEqual([{ KvsARN: ARN, IfMatch: 'e1', Deletes: [{ Key: `mz:${NEW}:a` }, { Key: `mz:${NEW}:b` }] }]);
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

  function synth(extra: Partial<KvsTableSyncProps> = {}, instances = 1): { stack: Stack; template: Template } {
    const stack = new Stack(new App(), 'TestStack');
    const keyValueStore = new cloudfront.KeyValueStore(stack, 'Store');
    for (let i = 0; i < instances; i++) {
      new KvsTableSync(stack, `Sync${i}`, { keyValueStore, entries: ENTRIES, version: NEW, initialFlags: FLAGS, ...extra });
    }
    return { stack, template: Template.fromStack(stack) };
  }

  test('puts the table in the custom resource properties', () => {
    const { template } = synth();

    template.hasResourceProperties('Custom::MultiZoneKvsSync', {
      ServiceToken: Match.anyValue(),
      KeyValueStoreArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Store'), 'Arn'] },
      Version: NEW,
      Entries: ENTRIES,
      InitialFlags: FLAGS,
    });
  });

  test('asks for the preview secret only with createPreviewSecret', () => {
    const props = (t: Template) => Object.values<any>(t.findResources('Custom::MultiZoneKvsSync'))[0].Properties;
    expect(props(synth().template).PreviewSecret).toBeUndefined();
    expect(props(synth({ createPreviewSecret: false }).template).PreviewSecret).toBeUndefined();
    expect(props(synth({ createPreviewSecret: true }).template).PreviewSecret).toBe('create-if-missing');
  });

  test('scopes the handler to the store ARN and the three KVS actions', () => {
    const { template } = synth();

    const kvsStatements = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
      .filter((statement) => JSON.stringify(statement.Action).includes('cloudfront-keyvaluestore:'));
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
