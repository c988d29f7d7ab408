/**
 * Automatic rollback: the handler against an in-memory store that checks
 * IfMatch as the service does, the rule's input as EventBridge fills it
 * from the synthesized template, and the construct's resources.
 */
import {
  AccessDeniedException,
  CloudFrontKeyValueStoreClient,
  ConflictException,
  DescribeKeyValueStoreCommand,
  GetKeyCommand,
  PutKeyCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-cloudfront-keyvaluestore';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { AwsSolutionsChecks } from 'cdk-nag';
import { releaseKey } from '../lib/kvs-sync/table-file';
import { CfnTemplateJson, platformLimit } from '../lib/limits';
import { ReleaseRollback, ZoneRollback } from '../lib/release-rollback';
import { MAX_ROLLBACK_ATTEMPTS, handler } from '../lib/release-rollback/handler';
import { RollbackInput, STORE_ARN_ENV } from '../lib/release-rollback/input';
import { ReleaseRecord, addRelease, encodeRecord, initialRecord, parseReleaseRecord, promote, rollback } from '../lib/releases/record';

const STORE = 'arn:aws:cloudfront::123456789012:key-value-store/0f6a1c2e-0000-4000-8000-000000000000';
const SITE = 'a1a1a1a1a1';
const KEY = releaseKey(SITE, 'blog');
const ALARM = 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:blog-5xx';
/** When the alarm went into ALARM, and when the handler runs (seconds later). */
const ALARM_TIME = '2026-12-05T10:00:00Z';
const NOW = Date.parse(ALARM_TIME) / 1000 + 5;
const DAY = 86_400;

// The handler's pauses between attempts: recorded, not waited for.
jest.mock('node:timers/promises', () => ({ setTimeout: jest.fn(async () => undefined) }));
const pauses = () => (jest.requireMock('node:timers/promises').setTimeout as jest.Mock).mock.calls.map((c) => c[0]);

const kvs = mockClient(CloudFrontKeyValueStoreClient);
/** The store's keys, and its ETag: `e<n>`, moved on by every write. */
let store: Map<string, string>;
let etag: number;
/** Someone else writing just before the handler's next PutKey reaches the store (after it read the ETag). */
let interloper: Array<() => void>;
let logs: string[];

/** A write by someone else: the record (or another key) changes and so does the store's ETag. */
function writeBySomeoneElse(key: string, value: string): void {
  store.set(key, value);
  etag++;
}

beforeEach(() => {
  kvs.reset();
  (jest.requireMock('node:timers/promises').setTimeout as jest.Mock).mockClear();
  store = new Map();
  etag = 1;
  interloper = [];
  logs = [];
  process.env[STORE_ARN_ENV] = STORE;
  kvs.on(DescribeKeyValueStoreCommand).callsFake(async (input) => {
    if (input.KvsARN !== STORE) throw new ResourceNotFoundException({ message: 'no store', $metadata: {} });
    return { ETag: `e${etag}` };
  });
  kvs.on(GetKeyCommand).callsFake(async (input) => {
    if (!store.has(input.Key)) throw new ResourceNotFoundException({ message: 'Key not found', $metadata: { httpStatusCode: 404 } });
    return { Key: input.Key, Value: store.get(input.Key) };
  });
  kvs.on(PutKeyCommand).callsFake(async (input) => {
    interloper.shift()?.();
    if (input.IfMatch !== `e${etag}`) throw new ConflictException({ message: 'Pre-Condition failed', $metadata: { httpStatusCode: 409 } });
    store.set(input.Key, input.Value);
    return { ETag: `e${++etag}` };
  });
  jest.spyOn(Date, 'now').mockReturnValue(NOW * 1000);
  jest.spyOn(console, 'log').mockImplementation((line: string) => void logs.push(line));
});

afterEach(() => jest.restoreAllMocks());

/** The event EventBridge sends when an alarm changes state (the fields the rule's input carries). */
function alarmEvent(overrides: { alarm?: string; state?: string; time?: string; source?: string } = {}): RollbackInput['event'] {
  const alarm = overrides.alarm ?? ALARM;
  return {
    'source': overrides.source ?? 'aws.cloudwatch',
    'detail-type': 'CloudWatch Alarm State Change',
    'time': overrides.time ?? ALARM_TIME,
    'resources': [alarm],
    'detail': { alarmName: alarm.split(':alarm:')[1], state: { value: overrides.state ?? 'ALARM' } },
  };
}

const input = (event = alarmEvent()): RollbackInput => ({ zone: 'blog', key: KEY, alarmArn: ALARM, event });
const recordNow = (): ReleaseRecord | undefined => parseReleaseRecord(store.get(KEY));
const puts = () => kvs.commandCalls(PutKeyCommand).map((c) => c.args[0].input);

/** blog's template build v1, replaced by v2 an hour before the alarm. */
const V2_CURRENT = addRelease(initialRecord('v1'), { zone: 'blog', id: 'v2', origin: 'https://v2.blog.example.com' }, NOW - 3600, DAY);
/** ... and v3, a 25% canary, since half an hour. */
const V3_CANARY = addRelease(V2_CURRENT, { zone: 'blog', id: 'v3', origin: 'https://v3.blog.example.com', canary: 25 }, NOW - 1800, DAY);

describe('the handler', () => {
  test('drops the canary: it leaves the record, the current stays, the alarm and the time are recorded', async () => {
    store.set(KEY, encodeRecord(V3_CANARY));
    const result = await handler(input());
    const rec = recordNow()!;
    expect(rec.k).toBeUndefined();
    expect(rec.r.v3).toBeUndefined();
    expect(rec.c).toBe('v2');
    expect(rec.b).toEqual(['alarm:blog-5xx', NOW, 'v3']);
    expect(puts()).toEqual([{ KvsARN: STORE, Key: KEY, Value: encodeRecord(rec), IfMatch: 'e1' }]);
    expect(result).toEqual({ zone: 'blog', alarm: 'blog-5xx', outcome: 'rolled-back', rolledBack: 'v3', current: 'v2', attempts: 1 });
    expect(logs.map((l) => JSON.parse(l))).toEqual([result]);
  });

  test('without a canary, the current release returns to the previous one', async () => {
    store.set(KEY, encodeRecord(V2_CURRENT));
    await handler(input());
    expect(recordNow()).toEqual({ v: 1, t: 'v1', c: 'v1', r: { v1: '' }, b: ['alarm:blog-5xx', NOW, 'v2'] });
  });

  test('writes only its own key: the other keys of the store stay as they are', async () => {
    store.set(KEY, encodeRecord(V2_CURRENT));
    store.set(releaseKey(SITE, 'shop'), encodeRecord(V2_CURRENT));
    await handler(input());
    expect(puts().map((p) => p.Key)).toEqual([KEY]);
    expect(store.get(releaseKey(SITE, 'shop'))).toBe(encodeRecord(V2_CURRENT));
  });

  test('a write in between (another key) makes its write conflict: it reads again, applies again and writes', async () => {
    store.set(KEY, encodeRecord(V3_CANARY));
    interloper.push(() => writeBySomeoneElse('new-checkout', 'on'));
    const result = await handler(input());
    expect(puts().map((p) => p.IfMatch)).toEqual(['e1', 'e2']);
    expect(pauses()).toEqual([200]);
    expect(result).toMatchObject({ outcome: 'rolled-back', rolledBack: 'v3', attempts: 2 });
    expect(recordNow()).toMatchObject({ c: 'v2', b: ['alarm:blog-5xx', NOW, 'v3'] });
    expect(store.get('new-checkout')).toBe('on');
  });

  test('the canary promoted in between: the release the alarm judged is taken out as current', async () => {
    store.set(KEY, encodeRecord(V3_CANARY));
    interloper.push(() => writeBySomeoneElse(KEY, encodeRecord(promote(V3_CANARY, 'blog', NOW, DAY))));
    const result = await handler(input());
    expect(result).toMatchObject({ outcome: 'rolled-back', rolledBack: 'v3', current: 'v2', attempts: 2 });
  });

  test('a new release in between: the alarm never judged it, so nothing is written', async () => {
    store.set(KEY, encodeRecord(V2_CURRENT));
    const v4 = addRelease(V2_CURRENT, { zone: 'blog', id: 'v4', origin: 'https://v4.blog.example.com' }, NOW, DAY);
    interloper.push(() => writeBySomeoneElse(KEY, encodeRecord(v4)));
    const result = await handler(input());
    expect(result).toMatchObject({
      outcome: 'skipped',
      reason: 'the zone changed while rolling back: v2, which the alarm judged, is no longer the release to take out (v4 is)',
    });
    expect(store.get(KEY)).toBe(encodeRecord(v4));
  });

  test('someone rolling back first: the alarm\'s rollback is done, not made twice', async () => {
    store.set(KEY, encodeRecord(V3_CANARY));
    interloper.push(() => writeBySomeoneElse(KEY, encodeRecord(rollback(V3_CANARY, 'blog', 'cli:ana', NOW))));
    const result = await handler(input());
    expect(result).toMatchObject({ outcome: 'skipped', reason: `rolled back since the alarm went off: v3 by cli:ana at ${new Date(NOW * 1000).toISOString()}` });
    expect(recordNow()).toMatchObject({ c: 'v2', r: { v1: '', v2: 'https://v2.blog.example.com' } });
  });

  test('a repeated delivery of the event rolls back once', async () => {
    store.set(KEY, encodeRecord(V2_CURRENT));
    await handler(input());
    const second = await handler(input());
    expect(second).toMatchObject({ outcome: 'skipped', reason: expect.stringMatching(/^rolled back since the alarm went off: v2 by alarm:blog-5xx/) });
    expect(puts()).toHaveLength(1);
    expect(recordNow()!.c).toBe('v1');
  });

  test(`the store changing under it at every attempt: it gives up after ${MAX_ROLLBACK_ATTEMPTS} and throws, for Lambda to retry`, async () => {
    store.set(KEY, encodeRecord(V3_CANARY));
    for (let i = 0; i < MAX_ROLLBACK_ATTEMPTS; i++) interloper.push(() => writeBySomeoneElse('new-checkout', `${i}`));
    await expect(handler(input())).rejects.toThrow(ConflictException);
    expect(puts()).toHaveLength(MAX_ROLLBACK_ATTEMPTS);
    expect(recordNow()).toEqual(V3_CANARY);
  });

  test('a store error a retry may mend is thrown', async () => {
    store.set(KEY, encodeRecord(V3_CANARY));
    kvs.on(PutKeyCommand).rejects(new AccessDeniedException({ message: 'not authorized', $metadata: { httpStatusCode: 403 } }));
    await expect(handler(input())).rejects.toThrow('not authorized');
    expect(pauses()).toEqual([]);
  });

  test.each([
    ['no record', undefined, `no release record at key ${KEY}`],
    ['a damaged record', '{"v":1,"c":', `the release record at key ${KEY} is damaged (the edge serves the zone's template origin)`],
    ['nothing to roll back', encodeRecord(initialRecord('v1')), 'Zone "blog": nothing to roll back: no canary and no earlier release'],
  ])('%s: logs why and writes nothing', async (_name, value, reason) => {
    if (value !== undefined) store.set(KEY, value);
    const result = await handler(input());
    expect(result).toEqual({ zone: 'blog', alarm: 'blog-5xx', outcome: 'skipped', reason, attempts: 1 });
    expect(JSON.parse(logs[0])).toEqual(result);
    expect(puts()).toEqual([]);
  });

  test.each([
    ['another alarm\'s event', alarmEvent({ alarm: 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:shop-5xx' }),
      `an event of arn:aws:cloudwatch:eu-west-1:123456789012:alarm:shop-5xx, not of the zone's alarm ${ALARM}`],
    ['the alarm going back to OK', alarmEvent({ state: 'OK' }), 'the alarm went into OK, not ALARM'],
    ['another source', alarmEvent({ source: 'my.app' }), 'not an alarm state change (source my.app, detail-type CloudWatch Alarm State Change)'],
    ['an event delivered too late', alarmEvent({ time: '2026-12-05T09:44:00Z' }),
      'the alarm went into ALARM at 2026-12-05T09:44:00Z, over 15 minutes ago: the releases may have changed since'],
  ])('%s is ignored: the store is not even read', async (_name, event, reason) => {
    store.set(KEY, encodeRecord(V3_CANARY));
    expect(await handler(input(event))).toMatchObject({ outcome: 'ignored', reason });
    expect(kvs.calls()).toEqual([]);
  });

  test('the bundle the function deploys loads (SDK and SigV4A signer inside) and answers an event', async () => {
    const bundled = require(path.join(__dirname, '..', 'dist', 'handlers', 'release-rollback', 'index.js'));
    expect(await bundled.handler(input(alarmEvent({ state: 'OK' })))).toMatchObject({ outcome: 'ignored', reason: 'the alarm went into OK, not ALARM' });
  });

  test('without its store in the environment, it throws', async () => {
    delete process.env[STORE_ARN_ENV];
    await expect(handler(input())).rejects.toThrow(`The rollback function has no ${STORE_ARN_ENV} in its environment`);
  });
});

describe('the construct', () => {
  function stackWith(zones: (stack: Stack) => ZoneRollback[]): Stack {
    const stack = new Stack(new App(), 'TestStack', { env: { account: '123456789012', region: 'eu-west-1' } });
    const store = new cloudfront.KeyValueStore(stack, 'Store');
    new ReleaseRollback(stack, 'Rollback', { store, zones: zones(stack) });
    return stack;
  }
  const alarmOf = (stack: Stack, arn = ALARM) => cloudwatch.Alarm.fromAlarmArn(stack, `Alarm${stack.node.children.length}`, arn);
  const blog = (stack: Stack): ZoneRollback => ({ zone: 'blog', key: KEY, alarm: alarmOf(stack) });
  const storeArn = { 'Fn::GetAtt': [Match.stringLikeRegexp('^Store'), 'Arn'] };

  test('a rule on the alarm going into ALARM, handing the function the zone, its key, the alarm and the event', () => {
    const template = Template.fromStack(stackWith((s) => [blog(s)]));
    template.resourceCountIs('AWS::Events::Rule', 1);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        'source': ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        'resources': [ALARM],
        'detail': { state: { value: ['ALARM'] } },
      },
      Targets: [{
        Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RollbackHandler'), 'Arn'] },
        Id: Match.anyValue(),
        RetryPolicy: { MaximumEventAgeInSeconds: 900, MaximumRetryAttempts: 10 },
        InputTransformer: Match.objectLike({ InputTemplate: Match.stringLikeRegexp(`^\\{"zone":"blog","key":"${KEY}","alarmArn":"${ALARM}","event":`) }),
      }],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RollbackRuleblog'), 'Arn'] },
    });
  });

  test('the rule\'s input, as EventBridge fills it from an alarm\'s event, rolls the zone back', async () => {
    const template = Template.fromStack(stackWith((s) => [blog(s)]));
    const [rule] = Object.values(template.findResources('AWS::Events::Rule'));
    const { InputPathsMap, InputTemplate } = rule.Properties.Targets[0].InputTransformer;
    // An event as CloudWatch sends it, with more than the input takes.
    const event = {
      'version': '0', 'id': 'c4c1c1c9-6542-e61b-6ef0-8c4d36933a92', 'detail-type': 'CloudWatch Alarm State Change', 'source': 'aws.cloudwatch',
      'account': '123456789012', 'time': ALARM_TIME, 'region': 'eu-west-1', 'resources': [ALARM],
      'detail': { alarmName: 'blog-5xx', state: { value: 'ALARM', reason: 'Threshold Crossed', timestamp: '2026-12-05T10:00:00.123+0000' }, previousState: { value: 'OK' } },
    };
    const at = (path: string) => path.split('.').slice(1).reduce((x: any, k) => x?.[k], event);
    // EventBridge puts each path's value, as JSON, in place of its <name>.
    const filled = InputTemplate.replace(/<([^>]+)>/g, (_: string, name: string) => JSON.stringify(at(InputPathsMap[name])));
    store.set(KEY, encodeRecord(V3_CANARY));
    expect(await handler(JSON.parse(filled))).toMatchObject({ outcome: 'rolled-back', rolledBack: 'v3' });
  });

  test('one function for the site, one rule per zone: zones sharing an alarm get a rule each', () => {
    const template = Template.fromStack(stackWith((s) => {
      const alarm = alarmOf(s);
      return [{ zone: 'blog', key: KEY, alarm }, { zone: 'shop', key: releaseKey(SITE, 'shop'), alarm }];
    }));
    template.resourceCountIs('AWS::Lambda::Function', 1);
    const rules = Object.values(template.findResources('AWS::Events::Rule'));
    expect(rules.map((r) => [r.Properties.EventPattern.resources, JSON.parse(r.Properties.Targets[0].InputTransformer.InputTemplate.replace(/<[^>]+>/g, 'null')).zone]))
      .toEqual([[[ALARM], 'blog'], [[ALARM], 'shop']]);
  });

  test('the function may write its own log, and describe, read and write the one store; no dead-letter queue', () => {
    const template = Template.fromStack(stackWith((s) => [blog(s)]));
    const policies = Object.values(template.findResources('AWS::IAM::Policy'));
    expect(policies.map((p) => p.Properties.PolicyDocument.Statement)).toEqual([[
      { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^RollbackLogs/), 'Arn'] } },
      {
        Action: ['cloudfront-keyvaluestore:DescribeKeyValueStore', 'cloudfront-keyvaluestore:GetKey', 'cloudfront-keyvaluestore:PutKey'],
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Store/), 'Arn'] },
      },
    ]]);
    const [role] = Object.values(template.findResources('AWS::IAM::Role'));
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Environment: { Variables: { [STORE_ARN_ENV]: storeArn } },
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^RollbackLogs') } },
      DeadLetterConfig: Match.absent(),
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumEventAgeInSeconds: 900, MaximumRetryAttempts: 2 });
    template.resourceCountIs('AWS::SQS::Queue', 0);
  });

  test('cdk-nag AwsSolutions: nothing left but the runtime pin, acknowledged on the function with its reason', () => {
    const stack = stackWith((s) => [blog(s)]);
    const report = new AwsSolutionsChecks(stack.node.root).validateScope(stack);
    expect(report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} @ ${r.constructPath}`))).toEqual([]);
    const acknowledged = stack.node.findAll().flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:acknowledged-rules').map((m) => [c.node.path, Object.keys(m.data as object)]));
    expect(acknowledged).toEqual([['TestStack/Rollback/Handler', ['Annotation::AwsSolutions-L1']]]);
  });

  test.each<[string, (s: Stack) => ZoneRollback[], string]>([
    ['no zones', () => [], 'ReleaseRollback "Rollback": zones must name at least one zone'],
    ['a zone twice', (s) => [blog(s), blog(s)], 'Zone "blog": given twice to ReleaseRollback "Rollback"'],
    ['another zone\'s key', (s) => [{ ...blog(s), key: releaseKey(SITE, 'shop') }], `Zone "blog": release record key "${releaseKey(SITE, 'shop')}" must be mz-site:<site>:@release:blog`],
    ['a key that is no release record', (s) => [{ ...blog(s), key: 'new-checkout' }], 'Zone "blog": release record key "new-checkout" must be mz-site:<site>:@release:blog'],
    ['an alarm in another Region', (s) => [{ ...blog(s), alarm: alarmOf(s, 'arn:aws:cloudwatch:us-east-1:123456789012:alarm:blog-5xx') }],
      'Zone "blog": rollbackAlarm is in account 123456789012 and Region us-east-1, but the site is in account 123456789012 and Region eu-west-1: '
      + 'CloudWatch sends an alarm\'s state changes only to EventBridge in its own account and Region, so it would never roll the zone back'],
  ])('refuses %s', (_name, zones, message) => {
    expect(() => stackWith(zones)).toThrow(message);
  });

  test('an alarm of the same stack, whose Region is known only at deploy, is taken as the stack\'s', () => {
    const stack = new Stack(new App(), 'AgnosticStack');
    const alarm = new cloudwatch.Alarm(stack, 'Errors', {
      metric: new cloudwatch.Metric({ namespace: 'AWS/CloudFront', metricName: '5xxErrorRate' }), threshold: 5, evaluationPeriods: 1,
    });
    new ReleaseRollback(stack, 'Rollback', { store: new cloudfront.KeyValueStore(stack, 'Store'), zones: [{ zone: 'blog', key: KEY, alarm }] });
    Template.fromStack(stack).hasResourceProperties('AWS::Events::Rule', { EventPattern: Match.objectLike({ resources: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^Errors'), 'Arn'] }] }) });
  });
});

describe('the limits rows of the rules', () => {
  const template = Template.fromStack((() => {
    const stack = new Stack(new App(), 'TestStack', { env: { account: '123456789012', region: 'eu-west-1' } });
    const zones = ['blog', 'shop'].map((zone) => ({ zone, key: releaseKey(SITE, zone), alarm: cloudwatch.Alarm.fromAlarmArn(stack, zone, `${ALARM}-${zone}`) }));
    new ReleaseRollback(stack, 'Rollback', { store: new cloudfront.KeyValueStore(stack, 'Store'), zones });
    return stack;
  })()).toJSON() as CfnTemplateJson;
  const findings = (id: string, t: CfnTemplateJson, max: number) => platformLimit(id).check!(t, max, { storeKeys: [] });

  test('the template is within them', () => {
    expect(findings('rules-per-event-bus', template, 300)).toEqual([]);
    expect(findings('targets-per-rule', template, 5)).toEqual([]);
  });

  test('they find a template past them', () => {
    expect(findings('rules-per-event-bus', template, 1)).toEqual([{ where: 'template', found: '2 rules' }]);
    const crowded = JSON.parse(JSON.stringify(template));
    const [id, rule] = Object.entries<any>(crowded.Resources).find(([, r]) => r.Type === 'AWS::Events::Rule')!;
    rule.Properties.Targets = Array.from({ length: 6 }, () => rule.Properties.Targets[0]);
    expect(findings('targets-per-rule', crowded, 5)).toEqual([{ where: id, found: '6 targets' }]);
  });
});
