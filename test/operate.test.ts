/**
 * The operator commands (`flags`, `verify`, `invalidate`) end to end
 * through the `multizone` program, against mocked AWS clients: the example
 * stack's template stands in for the deployed stack, and the mocked
 * TestFunction runs the template's own function code in the sandbox.
 */
import { CloudFormationClient, DescribeStackResourceCommand, DescribeStacksCommand, GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import {
  CloudFrontClient,
  CreateInvalidationCommand,
  DescribeFunctionCommand,
  GetDistributionConfigCommand,
  GetInvalidationCommand,
  TestFunctionCommand,
  TooManyInvalidationsInProgress,
} from '@aws-sdk/client-cloudfront';
import {
  CloudFrontKeyValueStoreClient,
  ConflictException,
  DescribeKeyValueStoreCommand,
  GetKeyCommand,
  ListKeysCommand,
  PutKeyCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-cloudfront-keyvaluestore';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { mockClient } from 'aws-sdk-client-mock';
import { EXAMPLE_ZONE_ORIGINS, ExampleSiteStack } from '../bin/example-stack';
import { FunctionSandbox, SynthesizedSite } from 'multizone-cli';
import { MultiZoneDistribution } from '../lib';
import { PREVIEW_COOKIE, PREVIEW_SECRET_KEY } from '../lib/preview';
import { STACK_OUTPUT_SUFFIXES } from '../lib/site-metadata';
import { main } from '../packages/multizone-cli/src/cli';
import { invalidationBatches } from '../packages/multizone-cli/src/operate/invalidate';
import { DEFAULT_MAX_UTILIZATION, SPOOFED_FLAGS, SPOOFED_ZONE, VERIFY_IMAGE_ACCEPT, VERIFY_VIEWER_IP, defaultCases, samplePath, verifyEvent } from '../packages/multizone-cli/src/operate/verify';
import { origin, seedZones } from './support/sites';

const STACK = 'MultiZoneExample';
const DIST_ID = 'E2EXAMPLE0001';
const DOMAIN = 'd1111abcdef8.cloudfront.net';
const KVS_ARN = 'arn:aws:cloudfront::123456789012:key-value-store/0f6a1c2e-0000-4000-8000-000000000000';

const exampleApp = new App();
const template = Template.fromStack(new ExampleSiteStack(exampleApp, STACK, { zoneOrigins: EXAMPLE_ZONE_ORIGINS })).toJSON();
const site = SynthesizedSite.fromTemplate(template, { assetDirectory: exampleApp.outdir });
/** The deployed stack's assets bucket, as CloudFormation resolves it. */
const ASSETS_BUCKET = 'cdk-hnb659fds-assets-123456789012-us-east-1';
const distributionLogicalId = Object.keys(template.Resources).find((id) => template.Resources[id].Type === 'AWS::CloudFront::Distribution')!;
/** The distribution's metadata as DescribeStackResource answers it: the bucket resolved. */
const resolvedMetadata = JSON.parse(JSON.stringify(template.Resources[distributionLogicalId].Metadata, (k, v) => (k === 'bucket' ? ASSETS_BUCKET : v)));
/** The assets bucket's objects: the example's assets from its cloud assembly, by object key. */
const assetObjects: Record<string, string> = Object.fromEntries(
  [resolvedMetadata.MultiZone.siteAsset, resolvedMetadata.MultiZone.storeAsset].map((a) => [a.key, fs.readFileSync(path.join(exampleApp.outdir, a.path), 'utf8')]),
);
const resources: Record<string, any> = template.Resources;
const functionIds = Object.keys(resources).filter((id) => resources[id].Type === 'AWS::CloudFront::Function');
const routerId = functionIds.find((id) => id.startsWith('SiteRouter'))!;
/** The function of pages no flag can move (the home and dashboard zones'): with the example's zone flags, the zone-flag decider. */
const pageFunctionId = site.behaviorFor('/dashboard/x').behavior.viewerRequestFunction!;
/** The blog has releases: its pages, assets and images run its zone release function. */
const blogFunctionId = site.behaviorFor('/blog/x').behavior.viewerRequestFunction!;
/** The function of the next/image behaviors. */
const imageFunctionId = site.behaviorFor('/_next/image').behavior.viewerRequestFunction!;
/** Deployed function names: the logical ids, for readability. */
const fnArn = (name: string) => `arn:aws:cloudfront::123456789012:function/${name}`;

const cfn = mockClient(CloudFormationClient);
const s3 = mockClient(S3Client);
const cloudfront = mockClient(CloudFrontClient);
const kvs = mockClient(CloudFrontKeyValueStoreClient);

/** The flags the (mocked) store lists, and the values the (mocked) edge function reads. */
let storeFlags: Record<string, string>;
let edgeStore: Record<string, string>;

function awsError(name: string, message: string, status = 400): Error {
  return Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode: status } });
}

/** The distribution config as GetDistributionConfig answers it, from the template's. */
function deployedConfig() {
  const config = site.behaviors.map((b) => ({
    PathPattern: b.pathPattern,
    TargetOriginId: b.targetOriginId,
    FunctionAssociations: {
      Quantity: (b.raw.FunctionAssociations ?? []).length,
      Items: (b.raw.FunctionAssociations ?? []).map((a: any) => ({ EventType: a.EventType, FunctionARN: fnArn(a.FunctionARN['Fn::GetAtt'][0]) })),
    },
  }));
  const additional = config.slice(0, -1);
  const { PathPattern: _default, ...defaultBehavior } = config[config.length - 1];
  return { CacheBehaviors: { Quantity: additional.length, Items: additional }, DefaultCacheBehavior: defaultBehavior };
}

beforeEach(() => {
  cfn.reset();
  cloudfront.reset();
  kvs.reset();
  s3.reset();
  storeFlags = { 'new-checkout': 'off' };
  edgeStore = { ...site.storeEntries };
  const outputs = {
    [STACK_OUTPUT_SUFFIXES.distributionId]: DIST_ID,
    [STACK_OUTPUT_SUFFIXES.domainName]: DOMAIN,
    [STACK_OUTPUT_SUFFIXES.functionName]: routerId,
    [STACK_OUTPUT_SUFFIXES.kvsArn]: KVS_ARN,
  };
  cfn.on(DescribeStacksCommand, { StackName: STACK }).resolves({
    Stacks: [
      {
        StackName: STACK,
        CreationTime: new Date(0),
        StackStatus: 'UPDATE_COMPLETE',
        Outputs: [{ OutputKey: 'SiteDomainName', OutputValue: DOMAIN }, ...Object.entries(outputs).map(([suffix, value]) => ({ OutputKey: `Site${suffix}`, OutputValue: value }))],
      },
    ],
  });
  cfn.on(GetTemplateCommand, { StackName: STACK }).resolves({ TemplateBody: JSON.stringify(template) });
  cfn.on(DescribeStackResourceCommand, { StackName: STACK, LogicalResourceId: distributionLogicalId }).resolves({
    StackResourceDetail: { LogicalResourceId: distributionLogicalId, ResourceType: 'AWS::CloudFront::Distribution', ResourceStatus: 'UPDATE_COMPLETE', LastUpdatedTimestamp: new Date(0), Metadata: JSON.stringify(resolvedMetadata) },
  });
  s3.on(GetObjectCommand).callsFake(async (input) => {
    if (input.Bucket !== ASSETS_BUCKET || !(input.Key in assetObjects)) throw Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' });
    return { Body: { transformToString: async () => assetObjects[input.Key] } };
  });
  kvs.on(ListKeysCommand).callsFake(async () => ({
    Items: [...Object.entries(site.storeEntries).filter(([k]) => k.startsWith('mz-site:')), ...Object.entries(storeFlags)].map(([Key, Value]) => ({ Key, Value })),
  }));
  kvs.on(GetKeyCommand).callsFake(async (input) => {
    if (!(input.Key in storeFlags)) throw new ResourceNotFoundException({ message: 'Key not found', $metadata: {} });
    return { Key: input.Key, Value: storeFlags[input.Key], ItemCount: 1, TotalSizeInBytes: 10 };
  });
  cloudfront.on(GetDistributionConfigCommand, { Id: DIST_ID }).callsFake(async () => ({ ETag: 'DIST-ETAG', DistributionConfig: deployedConfig() }));
  cloudfront.on(DescribeFunctionCommand).callsFake(async (input) => ({ ETag: `ETAG-${input.Name}`, FunctionSummary: { Name: input.Name } }));
  cloudfront.on(TestFunctionCommand).callsFake(async (input) => {
    const event = JSON.parse(Buffer.from(input.EventObject).toString('utf8'));
    const outcome = await new FunctionSandbox(site.functionCode(input.Name)).run(event, (key) => edgeStore[key]);
    const output = typeof outcome.result?.statusCode === 'number' ? { response: outcome.result } : { request: outcome.result };
    return { TestResult: { FunctionSummary: { Name: input.Name }, ComputeUtilization: '14', FunctionExecutionLogs: [], FunctionOutput: JSON.stringify(output) } };
  });
});

/** Runs `multizone <args>` as the binary would, capturing its output and exit code. */
async function run(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'multizone', ...args], { out: (t) => out.push(...t.replace(/\n$/, '').split('\n')), err: (t) => err.push(...t.replace(/\n$/, '').split('\n')) });
  return { code, out, err };
}

/** A failure is one line naming the problem, and nothing like a stack trace. */
function expectOneLineError(result: { code: number; err: string[] }, message: string | RegExp): void {
  expect(result.code).not.toBe(0);
  expect(result.err).toHaveLength(1);
  expect(result.err[0]).toMatch(typeof message === 'string' ? new RegExp(`^multizone: .*${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`) : message);
  expect(result.err[0]).not.toMatch(/\n\s+at /);
}

const awsCalls = () => cfn.calls().length + cloudfront.calls().length + kvs.calls().length;

describe('the construct writes the outputs the CLI reads', () => {
  test('distribution id, domain, router function and store, under stable ids, without exports', () => {
    expect(Object.keys(template.Outputs).sort()).toEqual(
      ['SiteDomainName', 'SiteMultiZoneDistributionId', 'SiteMultiZoneDomainName', 'SiteMultiZoneKvsArn', 'SiteMultiZoneRouterFunctionName'].sort(),
    );
    const distribution = Object.keys(resources).find((id) => resources[id].Type === 'AWS::CloudFront::Distribution');
    expect(template.Outputs.SiteMultiZoneDistributionId.Value).toEqual({ Ref: distribution });
    expect(template.Outputs.SiteMultiZoneRouterFunctionName.Value).toEqual({ 'Fn::Join': ['', [{ Ref: 'AWS::Region' }, expect.stringMatching(/^MultiZoneExampleSiteRouter/)]] });
    expect(template.Outputs.SiteMultiZoneKvsArn.Value).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^SiteStore/), 'Arn'] });
    expect(Object.values<any>(template.Outputs).every((o) => o.Export === undefined)).toBe(true);
  });

  const stackWith = (...sites: Array<[string, boolean?]>) => {
    const stack = new Stack(new App(), 'S', { env: { account: '123456789012', region: 'us-east-1' } });
    for (const [id, outputs] of sites) {
      new MultiZoneDistribution(stack, id, { defaultZone: { name: 'home', origin: origin('home') }, zones: seedZones(), forwardViewerHost: false, stackOutputs: outputs });
    }
    return Template.fromStack(stack).toJSON();
  };

  test('a site without a router or store writes only what it has; stackOutputs: false writes none', () => {
    expect(Object.keys(stackWith(['Web']).Outputs).sort()).toEqual(['WebMultiZoneDistributionId', 'WebMultiZoneDomainName']);
    expect(stackWith(['Web', false]).Outputs).toBeUndefined();
  });

  test('two sites of a stack get their own prefixes; the same prefix twice is refused', () => {
    expect(Object.keys(stackWith(['Shop'], ['Docs']).Outputs).sort()).toEqual([
      'DocsMultiZoneDistributionId',
      'DocsMultiZoneDomainName',
      'ShopMultiZoneDistributionId',
      'ShopMultiZoneDomainName',
    ]);
    expect(() => stackWith(['Web-1'], ['Web1'])).toThrow('stackOutputs: stack S already has an output "Web1MultiZoneDistributionId"');
  });
});

describe('flags on the deployed store', () => {
  test('list shows every flag and hides the routing table keys', async () => {
    storeFlags = { 'new-checkout': '25%', beta: 'off' };
    const result = await run('flags', 'list', '--stack', STACK);
    expect(result).toMatchObject({ code: 0, out: ['beta=off', 'new-checkout=25%'] });
    expect(kvs.commandCalls(ListKeysCommand)[0].args[0].input).toEqual({ KvsARN: KVS_ARN, MaxResults: 50 });
    expect(cfn.commandCalls(DescribeStacksCommand)[0].args[0].input).toEqual({ StackName: STACK });
  });

  test('get prints the value', async () => {
    const result = await run('flags', 'get', 'new-checkout', '--stack', STACK);
    expect(result).toMatchObject({ code: 0, out: ['off'] });
    expect(kvs.commandCalls(GetKeyCommand)[0].args[0].input).toEqual({ KvsARN: KVS_ARN, Key: 'new-checkout' });
  });

  test('an explicit --kvs-arn needs no stack', async () => {
    const result = await run('flags', 'get', 'new-checkout', '--kvs-arn', KVS_ARN);
    expect(result).toMatchObject({ code: 0, out: ['off'] });
    expect(cfn.calls()).toHaveLength(0);
  });

  test('set reads the ETag, writes with IfMatch and says when the change is live', async () => {
    kvs.on(DescribeKeyValueStoreCommand).resolves({ KvsARN: KVS_ARN, ETag: 'ETAG-1' });
    kvs.on(PutKeyCommand).resolves({ ETag: 'ETAG-2', ItemCount: 9, TotalSizeInBytes: 900 });
    const result = await run('flags', 'set', 'new-checkout', '25%', '--stack', STACK);
    expect(result.code).toBe(0);
    expect(kvs.commandCalls(DescribeKeyValueStoreCommand).map((c) => c.args[0].input)).toEqual([{ KvsARN: KVS_ARN }]);
    expect(kvs.commandCalls(PutKeyCommand).map((c) => c.args[0].input)).toEqual([{ KvsARN: KVS_ARN, Key: 'new-checkout', Value: '25%', IfMatch: 'ETAG-1' }]);
    expect(result.out[0]).toBe('new-checkout: off -> 25% (store ETag ETAG-2)');
    expect(result.out[1]).toMatch(/^live in seconds: KeyValueStore changes reach every edge location within seconds/);
  });

  test('a lost ETag race is retried from a fresh ETag', async () => {
    kvs.on(DescribeKeyValueStoreCommand).resolvesOnce({ ETag: 'ETAG-1' }).resolves({ ETag: 'ETAG-7' });
    kvs.on(PutKeyCommand).rejectsOnce(new ConflictException({ message: 'ETag mismatch', $metadata: { httpStatusCode: 409 } })).resolves({ ETag: 'ETAG-8' });
    const result = await run('flags', 'set', 'new-checkout', 'on', '--stack', STACK);
    expect(result.code).toBe(0);
    expect(kvs.commandCalls(PutKeyCommand).map((c) => c.args[0].input.IfMatch)).toEqual(['ETAG-1', 'ETAG-7']);
    expect(result.out[0]).toBe('new-checkout: off -> on (store ETag ETAG-8, after 1 lost ETag race(s))');
  });

  test('a race lost every time gives up after four writes', async () => {
    kvs.on(DescribeKeyValueStoreCommand).resolves({ ETag: 'ETAG-1' });
    kvs.on(PutKeyCommand).rejects(new ConflictException({ message: 'ETag mismatch', $metadata: { httpStatusCode: 409 } }));
    const result = await run('flags', 'set', 'new-checkout', 'on', '--stack', STACK);
    expectOneLineError(result, 'PutKey "new-checkout": the store changed under every one of 4 attempts');
    expect(kvs.commandCalls(PutKeyCommand)).toHaveLength(4);
  });

  test('setting the value the flag has writes nothing', async () => {
    const result = await run('flags', 'set', 'new-checkout', 'off', '--stack', STACK);
    expect(result).toMatchObject({ code: 0, out: ['new-checkout is already off; nothing written'] });
    expect(kvs.commandCalls(PutKeyCommand)).toHaveLength(0);
  });

  test.each([
    ['50', 'value "50" must be "on", "off" or a whole percentage'],
    ['101%', 'value "101%" must be'],
    ['ON', 'value "ON" must be'],
  ])('the value %s is refused before anything is sent', async (value, message) => {
    expectOneLineError(await run('flags', 'set', 'new-checkout', value, '--stack', STACK), `Flag "new-checkout": ${message}`);
    expect(awsCalls()).toBe(0);
  });

  test('an unknown flag is refused, naming the flags there are', async () => {
    expectOneLineError(await run('flags', 'set', 'new-chekout', 'on', '--stack', STACK), 'Flag "new-chekout": unknown; the store\'s flags are new-checkout');
    expectOneLineError(await run('flags', 'get', 'new-chekout', '--stack', STACK), 'Flag "new-chekout": unknown');
    expect(kvs.commandCalls(PutKeyCommand)).toHaveLength(0);
  });
});

describe('flags preview on the deployed store', () => {
  const SECRET = 'f'.repeat(64);

  test('reads the secret with GetKey and prints a cookie the deployed function honors', async () => {
    storeFlags[PREVIEW_SECRET_KEY] = SECRET;
    const result = await run('flags', 'preview', 'new-checkout', 'on', '--ttl', '30m', '--stack', STACK);
    expect(result.code).toBe(0);
    expect(kvs.commandCalls(GetKeyCommand).map((c) => c.args[0].input)).toEqual([{ KvsARN: KVS_ARN, Key: PREVIEW_SECRET_KEY }]);
    expect(kvs.commandCalls(PutKeyCommand)).toHaveLength(0);
    expect(result.out[0]).toMatch(/^mz-preview=new-checkout\.on\.\d+\.[0-9a-f]{64}$/);
    expect(result.out[1]).toContain(`curl -b '${result.out[0]}' https://${DOMAIN}/`);
    expect(result.out[1]).toContain('max-age=1800');
    const value = result.out[0].slice(`${PREVIEW_COOKIE}=`.length);
    // The example's own function, with the store at off and the secret in it.
    const served = await site.serve('/checkout', { flags: { 'new-checkout': 'off', [PREVIEW_SECRET_KEY]: SECRET }, cookies: { [PREVIEW_COOKIE]: value } });
    expect(served.zone).toBe('dashboard');
  });

  test('an explicit --kvs-arn needs no stack', async () => {
    storeFlags[PREVIEW_SECRET_KEY] = SECRET;
    const result = await run('flags', 'preview', 'new-checkout', 'off', '--kvs-arn', KVS_ARN);
    expect(result.code).toBe(0);
    expect(cfn.calls()).toHaveLength(0);
    expect(result.out[0]).toMatch(/^mz-preview=new-checkout\.off\./);
  });

  test('a flag the function would not preview is refused, as with --local, before the secret is read', async () => {
    storeFlags[PREVIEW_SECRET_KEY] = SECRET;
    const result = await run('flags', 'preview', 'new-nav', 'on', '--stack', STACK);
    expectOneLineError(result, 'flags preview new-nav: "new-nav" is a zone flag with no overrides, and a preview cookie covers only flags whose overrides set preview: true');
    expect(result.out).toEqual([]);
    expect(kvs.commandCalls(GetKeyCommand)).toHaveLength(0);
  });

  test('a store without the secret: one line saying how to get one', async () => {
    expectOneLineError(await run('flags', 'preview', 'new-checkout', 'on', '--stack', STACK), 'the store has no "preview:secret"; deploy the site with preview: true');
  });

  test('a bad value or ttl fails before any AWS call', async () => {
    expectOneLineError(await run('flags', 'preview', 'new-checkout', '25%', '--stack', STACK), 'a preview value must be "on" or "off"');
    expectOneLineError(await run('flags', 'preview', 'new-checkout', 'on', '--ttl', '90d', '--stack', STACK), '--ttl: "90d" must be a duration');
    expect(awsCalls()).toBe(0);
  });

  test('flags list does not show the secret', async () => {
    storeFlags[PREVIEW_SECRET_KEY] = SECRET;
    const result = await run('flags', 'list', '--stack', STACK);
    expect(result).toMatchObject({ code: 0, out: ['new-checkout=off'] });
  });
});

describe('AWS failures are one line and a non-zero exit', () => {
  test('no credentials', async () => {
    cfn.on(DescribeStacksCommand).rejects(awsError('CredentialsProviderError', 'Could not load credentials from any providers'));
    expectOneLineError(await run('flags', 'list', '--stack', STACK), 'DescribeStacks on "MultiZoneExample": no AWS credentials found; set AWS_PROFILE');
  });

  test('a wrong stack name', async () => {
    cfn.on(DescribeStacksCommand, { StackName: 'Nope' }).rejects(awsError('ValidationError', 'Stack with id Nope does not exist'));
    expectOneLineError(await run('verify', '--stack', 'Nope'), 'Stack "Nope" does not exist in this account and region; check --stack, --region and --profile');
  });

  test('a stack without a multi-zone site', async () => {
    cfn.on(DescribeStacksCommand, { StackName: 'Other' }).resolves({ Stacks: [{ StackName: 'Other', CreationTime: new Date(0), StackStatus: 'CREATE_COMPLETE', Outputs: [] }] });
    expectOneLineError(await run('invalidate', '--stack', 'Other'), 'Stack "Other" has no *MultiZoneDistributionId output');
  });

  test('throttling', async () => {
    kvs.on(DescribeKeyValueStoreCommand).resolves({ ETag: 'ETAG-1' });
    kvs.on(PutKeyCommand).rejects(awsError('ThrottlingException', 'Rate exceeded'));
    expectOneLineError(await run('flags', 'set', 'new-checkout', 'on', '--stack', STACK), 'PutKey "new-checkout": AWS is throttling these requests');
  });

  test('access denied names the documentation section', async () => {
    cloudfront.on(CreateInvalidationCommand).rejects(awsError('AccessDenied', 'User: arn:aws:iam::123456789012:user/op is not authorized to perform: cloudfront:CreateInvalidation', 403));
    expectOneLineError(await run('invalidate', '--stack', STACK), 'CreateInvalidation on E2EXAMPLE0001: access denied (User: arn:aws:iam::123456789012:user/op is not authorized');
  });

  test('no site named at all', async () => {
    expectOneLineError(await run('verify'), 'Site: name it with --stack NAME, or with --distribution-id, --kvs-arn and --function-name');
    expect(awsCalls()).toBe(0);
  });
});

describe('verify', () => {
  test('the default cases come from the zone table: a page, an asset and a next/image request per zone, each override on and off', () => {
    expect(defaultCases(site.table)).toEqual([
      { uri: '/', label: 'home page' },
      { uri: '/_next/static/multizone-verify.js', label: 'home asset' },
      { uri: '/_next/image?url=%2Fmultizone-verify.png&w=640&q=75', label: 'home image' },
      { uri: '/blog/multizone-verify', label: 'blog page' },
      { uri: '/blog-static/multizone-verify.js', label: 'blog asset' },
      { uri: '/blog-static/_next/image?url=%2Fblog-static%2Fmultizone-verify.png&w=640&q=75', label: 'blog image' },
      { uri: '/dashboard/multizone-verify', label: 'dashboard page' },
      { uri: '/dashboard-static/multizone-verify.js', label: 'dashboard asset' },
      { uri: '/dashboard-static/_next/image?url=%2Fdashboard-static%2Fmultizone-verify.png&w=640&q=75', label: 'dashboard image' },
      { uri: '/checkout/multizone-verify', label: 'new-checkout on', flags: { 'new-checkout': 'on' } },
      { uri: '/checkout/multizone-verify', label: 'new-checkout off', flags: { 'new-checkout': 'off' } },
      { uri: '/checkout', label: 'new-checkout on', flags: { 'new-checkout': 'on' } },
      { uri: '/checkout', label: 'new-checkout off', flags: { 'new-checkout': 'off' } },
    ]);
    expect(samplePath('/blog/*.xml', false)).toBe('/blog/multizone-verify.xml');
  });

  test('help states the utilization limit verify applies by default', async () => {
    const help = await run('verify', '--help');
    expect(help.code).toBe(0);
    expect(help.out.join(' ')).toContain(`(default: "${DEFAULT_MAX_UTILIZATION}")`);
  });

  test('runs each case through the deployed behaviors and the LIVE function, and prints a table', async () => {
    const result = await run('verify', '--stack', STACK);
    expect(result.err).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.out[0]).toMatch(/^\s+URI\s+FLAGS\s+EXPECTED\s+CHOSEN\s+BEHAVIOR\s+FUNCTION\s+UTIL%\s+NOTE$/);
    const row = (uri: string, flags = '-') => result.out.find((l) => l.split(/\s+/)[1] === uri && l.split(/\s+/)[2] === flags)!;
    expect(row('/blog/multizone-verify')).toMatch(new RegExp(`^ok\\s+/blog/multizone-verify\\s+-\\s+blog\\s+blog\\s+/blog/\\*\\s+${blogFunctionId}\\s+14$`));
    expect(row('/blog-static/multizone-verify.js')).toMatch(new RegExp(`^ok\\s+\\S+\\s+-\\s+blog\\s+blog\\s+/blog-static/\\*\\s+${blogFunctionId}\\s+14$`));
    expect(row('/checkout/multizone-verify', 'new-checkout=off')).toMatch(new RegExp(`^ok\\s+\\S+\\s+\\S+\\s+home\\s+home\\s+/checkout/\\*\\s+${routerId}\\s+14$`));
    expect(row('/checkout/multizone-verify', 'new-checkout=on')).toMatch(/^skip\s.*needs new-checkout=on, the store has off; TestFunction reads the live store/);
    expect(row('/checkout', 'new-checkout=off')).toMatch(new RegExp(`^ok\\s+\\S+\\s+\\S+\\s+home\\s+home\\s+/checkout\\s+${routerId}\\s+14$`));
    // Each zone's next/image route runs the deployed image behavior's function, which keeps the zone.
    expect(row('/blog-static/_next/image?url=%2Fblog-static%2Fmultizone-verify.png&w=640&q=75')).toMatch(new RegExp(`^ok\\s+\\S+\\s+-\\s+blog\\s+blog\\s+/blog-static/_next/image\\s+${blogFunctionId}\\s+14$`));
    expect(row('/_next/image?url=%2Fmultizone-verify.png&w=640&q=75')).toMatch(new RegExp(`^ok\\s+\\S+\\s+-\\s+home\\s+home\\s+/_next/image\\s+${imageFunctionId}\\s+14$`));
    expect(result.out[result.out.length - 1]).toBe('11 passed, 0 failed, 2 skipped (utilization limit 70%)');

    // One DescribeFunction per function, for the LIVE stage's ETag; assets of zones without releases run no function.
    expect(cloudfront.commandCalls(DescribeFunctionCommand).map((c) => c.args[0].input).sort((a, b) => a.Name!.localeCompare(b.Name!))).toEqual(
      [{ Name: pageFunctionId, Stage: 'LIVE' }, { Name: blogFunctionId, Stage: 'LIVE' }, { Name: routerId, Stage: 'LIVE' }, { Name: imageFunctionId, Stage: 'LIVE' }].sort((a, b) =>
        a.Name.localeCompare(b.Name),
      ),
    );
    const tests = cloudfront.commandCalls(TestFunctionCommand).map((c) => c.args[0].input);
    expect(tests).toHaveLength(9);
    const checkout = tests.find((t) => t.Name === routerId)!;
    expect(checkout).toEqual({ Name: routerId, IfMatch: `ETAG-${routerId}`, Stage: 'LIVE', EventObject: expect.any(Uint8Array) });
    expect(JSON.parse(Buffer.from(checkout.EventObject!).toString('utf8'))).toEqual({
      version: '1.0',
      context: { eventType: 'viewer-request', distributionId: DIST_ID, distributionDomainName: DOMAIN, requestId: 'multizone-verify' },
      viewer: { ip: VERIFY_VIEWER_IP },
      request: {
        method: 'GET',
        uri: '/checkout/multizone-verify',
        querystring: {},
        // The example has zone flags: the event spoofs their header too.
        headers: { 'x-multizone-zone': { value: SPOOFED_ZONE }, 'x-multizone-flags': { value: SPOOFED_FLAGS }, host: { value: DOMAIN } },
        cookies: {},
      },
    });
    expect(verifyEvent({ uri: '/a?x=1' }, '/a', { x: '1' }, DIST_ID, DOMAIN).request.querystring).toEqual({ x: { value: '1' } });
  });

  test('with the flag on in the store, the on side runs and the off side is skipped', async () => {
    storeFlags = { 'new-checkout': 'on' };
    edgeStore['new-checkout'] = 'on';
    const result = await run('verify', '--stack', STACK);
    expect(result.code).toBe(0);
    expect(result.out.filter((l) => l.includes('new-checkout=on'))).toEqual([expect.stringMatching(/^ok\s+\S+\s+\S+\s+dashboard\s+dashboard\s/), expect.stringMatching(/^ok\s+\S+\s+\S+\s+dashboard\s+dashboard\s/)]);
    expect(result.out.filter((l) => l.includes('new-checkout=off')).every((l) => l.startsWith('skip'))).toBe(true);
  });

  test('a percentage flag makes the cases it decides depend on the viewer: skipped', async () => {
    storeFlags = { 'new-checkout': '30%' };
    const result = await run('verify', '--stack', STACK);
    expect(result.out.filter((l) => l.startsWith('skip') && l.includes('flag "new-checkout" is at 30%: the zone depends on the viewer'))).toHaveLength(4);
  });

  test('a wrong route fails the run', async () => {
    // The store lists the flag on, but the function at the edge reads it off: /checkout stays home.
    storeFlags = { 'new-checkout': 'on' };
    const result = await run('verify', '--stack', STACK);
    expect(result.out.filter((l) => l.includes('new-checkout=on'))).toEqual([
      expect.stringMatching(/^FAIL\s+\/checkout\/multizone-verify\s.*routed to home, expected dashboard$/),
      expect.stringMatching(/^FAIL\s+\/checkout\s.*routed to home, expected dashboard$/),
    ]);
    expectOneLineError(result, 'verify: 2 of 13 cases failed');
  });

  test('high compute utilization fails, under a threshold of the operator\'s choice', async () => {
    cloudfront.on(TestFunctionCommand).callsFake(async (input) => {
      const event = JSON.parse(Buffer.from(input.EventObject).toString('utf8'));
      const outcome = await new FunctionSandbox(site.functionCode(input.Name)).run(event, (key) => edgeStore[key]);
      return { TestResult: { ComputeUtilization: '82', FunctionOutput: JSON.stringify({ request: outcome.result }) } };
    });
    const hot = await run('verify', '--stack', STACK);
    expect(hot.out.filter((l) => l.endsWith('compute utilization 82 is above 70'))).toHaveLength(9);
    expectOneLineError(hot, 'verify: 9 of 13 cases failed');
    expect((await run('verify', '--stack', STACK, '--max-utilization', '90')).code).toBe(0);
    expectOneLineError(await run('verify', '--stack', STACK, '--max-utilization', 'lots'), '--max-utilization: "lots" must be a number from 0 to 100');
  });

  test('a function that keeps the spoofed zone header, or throws, fails', async () => {
    cloudfront.on(TestFunctionCommand, { Name: pageFunctionId }).resolves({
      TestResult: { ComputeUtilization: '5', FunctionOutput: JSON.stringify({ request: { uri: '/', headers: { 'x-multizone-zone': { value: SPOOFED_ZONE } } } }) },
    });
    cloudfront.on(TestFunctionCommand, { Name: routerId }).resolves({ TestResult: { ComputeUtilization: '100', FunctionErrorMessage: 'TypeError: x is undefined' } });
    const result = await run('verify', '--stack', STACK);
    expect(result.out.filter((l) => l.endsWith("the function kept the viewer's x-multizone-zone header")).map((l) => l.split(/\s+/)[1])).toEqual(['/', '/dashboard/multizone-verify']);
    expect(result.out.filter((l) => l.includes('new-checkout=off'))).toEqual([
      expect.stringMatching(/the function failed \(viewers get a 503\): TypeError: x is undefined$/),
      expect.stringMatching(/the function failed \(viewers get a 503\): TypeError: x is undefined$/),
    ]);
    expect(result.code).toBe(1);
  });

  test('an image event carries a browser\'s Accept and no internal header; an image function that does not reduce Accept fails', async () => {
    const events: any[] = [];
    cloudfront.on(TestFunctionCommand, { Name: imageFunctionId }).callsFake(async (input) => {
      const event = JSON.parse(Buffer.from(input.EventObject).toString('utf8'));
      events.push(event);
      // A function that forwards Accept as the browser sent it.
      return { TestResult: { ComputeUtilization: '5', FunctionOutput: JSON.stringify({ request: event.request }) } };
    });
    const result = await run('verify', '--stack', STACK);
    expect(events.map((e) => `${e.request.uri} ${JSON.stringify(e.request.querystring)}`)).toEqual([
      '/_next/image {"url":{"value":"%2Fmultizone-verify.png"},"w":{"value":"640"},"q":{"value":"75"}}',
      '/dashboard-static/_next/image {"url":{"value":"%2Fdashboard-static%2Fmultizone-verify.png"},"w":{"value":"640"},"q":{"value":"75"}}',
    ]);
    expect(events[0].request.headers).toEqual({ accept: { value: VERIFY_IMAGE_ACCEPT }, host: { value: DOMAIN } });
    const failed = result.out.filter((l) => l.startsWith('FAIL'));
    expect(failed.map((l) => l.split(/\s+/)[1])).toEqual(events.map((e) => `${e.request.uri}?url=${e.request.querystring.url.value}&w=640&q=75`));
    expect(failed[0]).toMatch(/the function forwarded Accept "image\/avif,image\/webp,image\/apng,image\/svg\+xml,image\/\*,\*\/\*;q=0\.8", not "image\/avif,image\/webp": each browser's spelling would be an image cache entry of its own$/);
    expectOneLineError(result, 'verify: 2 of 13 cases failed');
  });

  test('the zones get the function\'s flag decisions, never the viewer\'s spoofed header; a function that keeps it fails', async () => {
    // The deployed functions replace the spoofed header with their decisions (the store's new-nav is off).
    const outputs: any[] = [];
    cloudfront.on(TestFunctionCommand).callsFake(async (input) => {
      const event = JSON.parse(Buffer.from(input.EventObject).toString('utf8'));
      const outcome = await new FunctionSandbox(site.functionCode(input.Name)).run(event, (key) => edgeStore[key]);
      outputs.push(outcome.result);
      return { TestResult: { ComputeUtilization: '14', FunctionOutput: JSON.stringify({ request: outcome.result }) } };
    });
    expect((await run('verify', '--stack', STACK)).code).toBe(0);
    expect(outputs.map((r) => r.headers['x-multizone-flags']?.value)).toContain('new-nav=off');
    expect(outputs.every((r) => r.headers['x-multizone-flags']?.value !== SPOOFED_FLAGS)).toBe(true);

    // A page function that strips only the zone header, as one predating zone flags would.
    cloudfront.on(TestFunctionCommand, { Name: pageFunctionId }).callsFake(async (input) => {
      const { request } = JSON.parse(Buffer.from(input.EventObject).toString('utf8'));
      delete request.headers['x-multizone-zone'];
      return { TestResult: { ComputeUtilization: '5', FunctionOutput: JSON.stringify({ request }) } };
    });
    const result = await run('verify', '--stack', STACK);
    const kept = result.out.filter((l) => l.endsWith(`the function kept the viewer's x-multizone-flags header (${SPOOFED_FLAGS}): zones would read the viewer's own flags`));
    expect(kept.map((l) => l.split(/\s+/)[1])).toEqual(['/', '/dashboard/multizone-verify']);
    expectOneLineError(result, 'verify: 2 of 13 cases failed');
    // Without zone flags, no zone reads the header: the event carries none.
    expect(verifyEvent({ uri: '/a' }, '/a', {}, DIST_ID, DOMAIN).request.headers['x-multizone-flags']).toBeUndefined();
  });

  test('a router function that the distribution does not run means the ids are mixed up', async () => {
    expectOneLineError(
      await run('verify', '--stack', STACK, '--function-name', 'OtherSiteRouter'),
      `Router function "OtherSiteRouter" runs on no behavior of distribution ${DIST_ID}: the function name and the distribution id do not belong to the same site`,
    );
    expect(cloudfront.commandCalls(TestFunctionCommand)).toHaveLength(0);
  });

  test('cases from a file, with explicit ids and no stack', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'multizone-verify-'));
    const file = path.join(dir, 'cases.json');
    fs.writeFileSync(file, JSON.stringify([{ uri: '/blog/hello?page=2', zone: 'blog' }, { uri: '/checkout', zone: 'home', flags: { 'new-checkout': 'off' } }, { uri: '/about', zone: 'blog' }]));
    const result = await run('verify', '--cases', file, '--distribution-id', DIST_ID, '--kvs-arn', KVS_ARN);
    expect(cfn.calls()).toHaveLength(0);
    expect(result.out.slice(1, 4).map((l) => l.split(/\s+/)[0])).toEqual(['ok', 'ok', 'FAIL']);
    expect(result.out[3]).toMatch(/routed to home, expected blog$/);
    expectOneLineError(result, 'verify: 1 of 3 cases failed');

    fs.writeFileSync(file, JSON.stringify([{ uri: 'blog', zone: 'blog' }]));
    expectOneLineError(await run('verify', '--cases', file, '--distribution-id', DIST_ID), `Cases file ${file}: case 1: uri must be a string starting with "/"`);
    fs.writeFileSync(file, JSON.stringify([{ uri: '/checkout', zone: 'home', flags: { 'new-checkout': '50%' } }]));
    expectOneLineError(await run('verify', '--cases', file, '--distribution-id', DIST_ID), 'flag "new-checkout": value "50%" must be on or off here');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('the local edge page\'s samples, on the example', () => {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'docs', 'local-edge.md'), 'utf8').replace(/\s+/g, ' ');
  const templateFile = path.join(exampleApp.outdir, 'readme-example.template.json');
  fs.writeFileSync(templateFile, JSON.stringify(template));
  const noFlagFile = path.join(exampleApp.outdir, 'absent', 'flags.json');

  test('explain --visitor prints the bucket the README quotes, run after run; --ip, which the example\'s buckets ignore, is refused', async () => {
    const sample = ['explain', '/checkout', '--flag', 'new-checkout=25%', '--visitor', '3f2a9c0d4b5e6f708192a3b4c5d6e7f8'];
    expect(readme).toContain(`npx multizone ${sample.join(' ')}`);
    const runs = [await run(...sample, '--template', templateFile, '--flags-file', noFlagFile), await run(...sample, '--template', templateFile, '--flags-file', noFlagFile)];
    const quoted = runs.map((r) => r.out.find((l) => l.includes('new-checkout=25%'))!.replace(/^\s*flags\s+/, ''));
    expect(quoted[1]).toBe(quoted[0]);
    expect(readme).toContain(`\`${quoted[0]}\``);
    expectOneLineError(await run('explain', '/checkout', '--flag', 'new-checkout=25%', '--ip', '203.0.113.7', '--template', templateFile), '--ip 203.0.113.7: this site buckets viewers by their mz-vid visitor id, not by IP');
  });

  test('flags preview of the example\'s zone flag prints the refusal the README quotes, and makes nothing', async () => {
    const flagsFile = path.join(exampleApp.outdir, 'preview', 'flags.json');
    const result = await run('flags', 'preview', 'new-nav', 'on', '--local', '--template', templateFile, '--flags-file', flagsFile);
    expectOneLineError(result, 'flags preview new-nav: "new-nav" is a zone flag with no overrides');
    expect(readme).toContain(`$ npx multizone flags preview new-nav on --local ${result.err[0]}`);
    expect(fs.existsSync(path.dirname(flagsFile))).toBe(false);
  });
});

describe('invalidate', () => {
  beforeEach(() => {
    cloudfront.on(CreateInvalidationCommand).resolves({ Location: 'x', Invalidation: { Id: 'I2EXAMPLE', Status: 'InProgress', CreateTime: new Date(0), InvalidationBatch: undefined } });
    cloudfront
      .on(GetInvalidationCommand)
      .resolvesOnce({ Invalidation: { Id: 'I2EXAMPLE', Status: 'InProgress', CreateTime: new Date(0), InvalidationBatch: undefined } })
      .resolves({ Invalidation: { Id: 'I2EXAMPLE', Status: 'Completed', CreateTime: new Date(0), InvalidationBatch: undefined } });
  });

  const batch = () => cloudfront.commandCalls(CreateInvalidationCommand).map((c) => c.args[0].input);

  test('by default everything, and it waits with progress until CloudFront is done', async () => {
    const result = await run('invalidate', '--stack', STACK, '--interval', '0.01');
    expect(result.code).toBe(0);
    expect(batch()).toEqual([
      { DistributionId: DIST_ID, InvalidationBatch: { Paths: { Quantity: 1, Items: ['/*'] }, CallerReference: expect.stringMatching(/^multizone-\d{13}-[0-9a-f]{8}$/) } },
    ]);
    expect(cloudfront.commandCalls(GetInvalidationCommand).map((c) => c.args[0].input)).toEqual([
      { DistributionId: DIST_ID, Id: 'I2EXAMPLE' },
      { DistributionId: DIST_ID, Id: 'I2EXAMPLE' },
    ]);
    expect(result.err).toEqual(['waiting for invalidation: InProgress (0 s)', 'waiting for invalidation: Completed (0 s)']);
    expect(result.out).toEqual(['invalidation I2EXAMPLE of E2EXAMPLE0001: Completed (/*)']);
  });

  test('--flag from a deployed stack whose table asset is gone from the assets bucket: one line naming the object', async () => {
    s3.on(GetObjectCommand).rejects(Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } }));
    const result = await run('invalidate', '--flag', 'new-checkout', '--stack', STACK, '--no-wait');
    expectOneLineError(result, `GetObject s3://${ASSETS_BUCKET}/${resolvedMetadata.MultiZone.siteAsset.key} (the routing table of "${STACK}"): not found (The specified key does not exist)`);
  });

  test('--flag takes the paths the flag\'s overrides cover, from the deployed template', async () => {
    const result = await run('invalidate', '--flag', 'new-checkout', '--stack', STACK, '--no-wait');
    expect(result.code).toBe(0);
    expect(batch()[0].InvalidationBatch!.Paths).toEqual({ Quantity: 2, Items: ['/checkout/*', '/checkout'] });
    expect(cfn.commandCalls(GetTemplateCommand)[0].args[0].input).toEqual({ StackName: STACK, TemplateStage: 'Original' });
    // The routing table is not in the template: it is read from the deployed asset, located by the resolved metadata.
    expect(s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input)).toEqual(
      [resolvedMetadata.MultiZone.siteAsset, resolvedMetadata.MultiZone.storeAsset].map((a) => ({ Bucket: ASSETS_BUCKET, Key: a.key })),
    );
    expect(cloudfront.commandCalls(GetInvalidationCommand)).toHaveLength(0);
    expect(result.out).toEqual(['invalidation I2EXAMPLE of E2EXAMPLE0001: InProgress (/checkout/* /checkout)']);
  });

  test('explicit paths, each CallerReference unique', async () => {
    await run('invalidate', '/blog/*', '/', '--distribution-id', DIST_ID, '--no-wait');
    await run('invalidate', '/blog/*', '/', '--distribution-id', DIST_ID, '--no-wait');
    expect(batch().map((b) => b.InvalidationBatch!.Paths)).toEqual([
      { Quantity: 2, Items: ['/blog/*', '/'] },
      { Quantity: 2, Items: ['/blog/*', '/'] },
    ]);
    expect(batch()[0].InvalidationBatch!.CallerReference).not.toBe(batch()[1].InvalidationBatch!.CallerReference);
  });

  test('a path of 4,000 characters is sent; one of 4,001 is refused before anything is sent, naming it', async () => {
    const longest = `/long/${'a'.repeat(4000 - '/long/'.length)}`;
    expect(longest).toHaveLength(4000);
    expect((await run('invalidate', longest, '--distribution-id', DIST_ID, '--no-wait')).code).toBe(0);
    expect(batch().map((b) => b.InvalidationBatch!.Paths)).toEqual([{ Quantity: 1, Items: [longest] }]);

    cloudfront.resetHistory();
    expectOneLineError(
      await run('invalidate', `${longest}b`, '--distribution-id', DIST_ID, '--no-wait'),
      `Invalidation path "${longest.slice(0, 40)}...": 4001 characters, CloudFront allows at most 4000`,
    );
    expect(awsCalls()).toBe(0);
  });

  test.each([
    [['blog/*'], 'Invalidation path "blog/*": must start with "/"'],
    [['/blog/*.js'], 'Invalidation path "/blog/*.js": "*" is only allowed at the end'],
    [['/a', '--flag', 'new-checkout'], 'invalidate: give paths, --flag or --zone, only one of them'],
    [['--zone', 'blog', '--flag', 'new-checkout'], 'invalidate: give paths, --flag or --zone, only one of them'],
  ])('refuses %j before sending anything', async (args, message) => {
    expectOneLineError(await run('invalidate', ...args, '--distribution-id', DIST_ID), message);
    expect(awsCalls()).toBe(0);
  });

  test('an unknown flag', async () => {
    expectOneLineError(await run('invalidate', '--flag', 'new-chekout', '--stack', STACK), 'Flag "new-chekout": no override names it; the site\'s flags are new-checkout');
    expect(cloudfront.commandCalls(CreateInvalidationCommand)).toHaveLength(0);
  });

  test('--flag without a routing table says how to give one', async () => {
    expectOneLineError(await run('invalidate', '--flag', 'new-checkout', '--distribution-id', DIST_ID), 'invalidate --flag needs the routing table: pass --stack NAME, or --template');
  });

  test('--zone takes the zone\'s pages, overrides and Pages Router data, never its assets, and says where it widened', async () => {
    const result = await run('invalidate', '--zone', 'blog', '--stack', STACK, '--interval', '0.01');
    expect(result.code).toBe(0);
    expect(batch()).toHaveLength(1);
    const sent = batch()[0].InvalidationBatch!.Paths!.Items!;
    expect([...sent].sort()).toEqual(['/_next/data/*', '/blog', '/blog/*']);
    // Nothing sent reaches an immutable asset of any zone.
    for (const asset of ['/blog-static/_next/static/chunks/a.js', '/_next/static/chunks/a.js', '/dashboard-static/_next/static/x.css']) {
      expect(sent.some((p) => (p.endsWith('*') ? asset.startsWith(p.slice(0, -1)) : asset === p))).toBe(false);
    }
    expect(result.err.filter((l) => l.startsWith('note: ')).sort()).toEqual([
      'note: "/blog": invalidated as "/blog" only; its query-string variants stay cached until they expire, since "/blog*" would reach the assets under "/blog-static/*"',
      'note: "/_next/data/*/blog/*": widened to "/_next/data/*" ("*" only at the end, no "?"); other paths under it are invalidated too',
      'note: "/_next/data/*/blog.json": widened to "/_next/data/*" ("*" only at the end, no "?"); other paths under it are invalidated too',
    ].sort());
    expect(result.out).toEqual([`invalidation I2EXAMPLE of ${DIST_ID}: Completed (${sent.join(' ')})`]);
  });

  test('--zone of a zone that overrides move paths to includes them, with their query variants', async () => {
    const result = await run('invalidate', '--zone', 'dashboard', '--stack', STACK, '--no-wait');
    expect(result.code).toBe(0);
    expect([...batch()[0].InvalidationBatch!.Paths!.Items!].sort()).toEqual(['/checkout*', '/dashboard', '/dashboard/*']);
  });

  /** A site's template in a cloud assembly of its own, its assets beside it. */
  const siteWith = (zone: string, pathPatterns: string[]) => {
    const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'multizone-invalidate-')) });
    const stack = new Stack(app, 'S', { env: { account: '123456789012', region: 'us-east-1' } });
    new MultiZoneDistribution(stack, 'Site', { defaultZone: { name: 'home', origin: origin('home') }, zones: [{ name: zone, origin: origin(zone), pathPatterns, assetPrefix: `/${zone}-static` }] });
    const assembly = app.synth();
    return path.join(assembly.directory, assembly.getStackArtifact(stack.artifactId).templateFile);
  };

  test('--zone with more than 15 wildcard paths sends them 15 at a time, each invalidation completed before the next', async () => {
    const file = siteWith('shop', Array.from({ length: 17 }, (_, i) => `/shop-${i}/*`));
    const created: string[] = [];
    let polled = 0;
    let ids = 0;
    cloudfront.on(CreateInvalidationCommand).callsFake(async (input) => {
      created.push(`create ${input.InvalidationBatch.Paths.Quantity}`);
      return { Invalidation: { Id: `I${++ids}`, Status: 'InProgress', CreateTime: new Date(0), InvalidationBatch: undefined } };
    });
    cloudfront.on(GetInvalidationCommand).callsFake(async (input) => {
      created.push(`poll ${input.Id}`);
      polled++;
      return { Invalidation: { Id: input.Id, Status: polled % 2 === 0 ? 'Completed' : 'InProgress', CreateTime: new Date(0), InvalidationBatch: undefined } };
    });
    const result = await run('invalidate', '--zone', 'shop', '--template', file, '--distribution-id', DIST_ID, '--interval', '0.01');
    expect(result.code).toBe(0);
    const sent = batch().map((b) => b.InvalidationBatch!.Paths!.Items!);
    expect(sent.map((items) => items.filter((p) => p.endsWith('*')).length)).toEqual([15, 2]);
    expect(sent.flat().sort()).toEqual(Array.from({ length: 17 }, (_, i) => `/shop-${i}/*`).sort());
    expect(created).toEqual(['create 15', 'poll I1', 'poll I1', 'create 2', 'poll I2', 'poll I2']);
    expect(result.err.filter((l) => l.startsWith('waiting'))).toEqual([
      'waiting for invalidation: InProgress, 1 of 2 (0 s)',
      'waiting for invalidation: Completed, 1 of 2 (0 s)',
      'waiting for invalidation: InProgress, 2 of 2 (0 s)',
      'waiting for invalidation: Completed, 2 of 2 (0 s)',
    ]);
    expect(result.out).toEqual([`invalidation I1 of ${DIST_ID}: Completed (${sent[0].join(' ')})`, `invalidation I2 of ${DIST_ID}: Completed (${sent[1].join(' ')})`]);
  });

  test('batches keep to both quotas at once: 15 wildcard paths and 3,000 file paths each', () => {
    const wildcards = Array.from({ length: 31 }, (_, i) => `/w${i}/*`);
    const files = Array.from({ length: 3001 }, (_, i) => `/f${i}`);
    const batches = invalidationBatches([...files, ...wildcards]);
    expect(batches.map((b) => [b.filter((p) => p.endsWith('*')).length, b.filter((p) => !p.endsWith('*')).length])).toEqual([
      [15, 3000],
      [15, 1],
      [1, 0],
    ]);
    expect(batches.flat().sort()).toEqual([...files, ...wildcards].sort());
  });

  test('--no-wait with more than 15 wildcard paths is refused before anything is sent', async () => {
    const file = siteWith('shop', Array.from({ length: 16 }, (_, i) => `/shop-${i}/*`));
    expectOneLineError(
      await run('invalidate', '--zone', 'shop', '--template', file, '--distribution-id', DIST_ID, '--no-wait'),
      'Invalidation: 16 wildcard and 0 file paths need 2 invalidations, one after another (CloudFront allows 15 wildcard and 3000 file paths in progress at once); run without --no-wait',
    );
    expect(cloudfront.commandCalls(CreateInvalidationCommand)).toHaveLength(0);
  });

  test('CloudFront refusing for invalidations already in progress says so, with the counts', async () => {
    cloudfront.on(CreateInvalidationCommand).rejects(new TooManyInvalidationsInProgress({ message: 'Processing your request will cause you to exceed the maximum number of in-progress wildcard invalidations', $metadata: { httpStatusCode: 400 } }));
    expectOneLineError(
      await run('invalidate', '/blog/*', '/dashboard/*', '/', '--distribution-id', DIST_ID, '--no-wait'),
      `CreateInvalidation on ${DIST_ID}: CloudFront has too many invalidations in progress (at most 15 wildcard paths and 3000 file paths at once, other invalidations included); this one has 2 wildcard and 1 file paths: wait for the others to complete and run again`,
    );
  });

  test('--zone with a pattern whose nearest invalidation path would reach assets is refused, naming both', async () => {
    const file = siteWith('images', ['*.png']);
    expectOneLineError(
      await run('invalidate', '--zone', 'images', '--template', file, '--distribution-id', DIST_ID),
      'Zone "images": path pattern "*.png" cannot be an invalidation path ("*" only at the end, no "?"), and the nearest one, "/*", would drop the immutable assets under "/images-static/*", "/_next/static/*"; invalidate its pages by path instead',
    );
    expect(cloudfront.commandCalls(CreateInvalidationCommand)).toHaveLength(0);
  });

  test('--zone of an unknown zone names it and lists the zones', async () => {
    const result = await run('invalidate', '--zone', 'blgo', '--stack', STACK);
    expect(result.code).toBe(1);
    expectOneLineError(result, 'Zone "blgo": not a zone of this site; its zones are home, blog, dashboard');
    expect(cloudfront.commandCalls(CreateInvalidationCommand)).toHaveLength(0);
  });

  test('--zone of the default zone is refused: "/*" would drop every zone\'s assets', async () => {
    expectOneLineError(
      await run('invalidate', '--zone', 'home', '--stack', STACK),
      'Zone "home" is the default zone: it serves every path no other route claims, and the only invalidation path covering those, "/*", would also drop the immutable assets (',
    );
    expect(cloudfront.commandCalls(CreateInvalidationCommand)).toHaveLength(0);
  });

  test('gives up waiting after --timeout, saying the invalidation carries on', async () => {
    cloudfront.on(GetInvalidationCommand).resolves({ Invalidation: { Id: 'I2EXAMPLE', Status: 'InProgress', CreateTime: new Date(0), InvalidationBatch: undefined } });
    const result = await run('invalidate', '--stack', STACK, '--interval', '0.01', '--timeout', '0.001');
    expect(result.err.filter((l) => l.startsWith('multizone: '))).toEqual([
      'multizone: Invalidation I2EXAMPLE is still InProgress after 0 s; it carries on: check it with "aws cloudfront get-invalidation --distribution-id E2EXAMPLE0001 --id I2EXAMPLE"',
    ]);
    expect(result.code).toBe(1);
    expect(cloudfront.commandCalls(GetInvalidationCommand)).toHaveLength(6);
  });
});
