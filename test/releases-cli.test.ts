/**
 * `multizone release|promote|rollback|releases` through the program, on
 * the local edge's releases file and on a deployed store (an in-memory
 * KeyValueStore behind aws-sdk-client-mock that checks the ETag, as the
 * service does): what each writes, every refusal (one line, nothing
 * written), and concurrent writers that never lose a write.
 */
import { createHmac } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CloudFormationClient, DescribeStackResourceCommand, DescribeStacksCommand, GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import {
  CloudFrontKeyValueStoreClient,
  ConflictException,
  DescribeKeyValueStoreCommand,
  GetKeyCommand,
  PutKeyCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-cloudfront-keyvaluestore';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { App, Stack, Stage } from 'aws-cdk-lib';
import { FunctionUrlOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import * as fc from 'fast-check';
import { MultiZoneDistribution } from '../lib';
import { releaseKey } from '../lib/kvs-sync/table-file';
import { METADATA_KEY } from '../lib/metadata-key';
import { ReleaseRecord, addRelease, initialRecord, parseReleaseRecord } from '../lib/releases/record';
import { STACK_OUTPUT_SUFFIXES } from '../lib/site-metadata';
import { main } from '../packages/multizone-cli/src/cli';
import { MAX_RELEASE_WRITE_ATTEMPTS, updateReleaseRecord } from '../packages/multizone-cli/src/operate/releases';
import { origin, seedZones } from './support/sites';

/** An origin URL with a path of 250 characters, the most an origin path may be short of 255. */
const longOrigin = (c: string) => `https://${c}.example.com/${c.repeat(249)}`;

/** The blog's record with three releases pinned for a day, each with a long origin: another one does not fit in 1 KB. */
const nearlyFull = (): ReleaseRecord => {
  const now = Math.floor(Date.now() / 1000);
  return ['a', 'b', 'c'].reduce((rec, c) => addRelease(rec, { zone: 'blog', id: `v1${c}`, origin: longOrigin(c) }, now, 86400), initialRecord('v1'));
};

jest.setTimeout(60_000);

const SITE_ID = 'a1b2c3d4e5';
const KVS_ARN = 'arn:aws:cloudfront::123456789012:key-value-store/0f6a1c2e-0000-4000-8000-000000000000';
const STACK = 'ReleaseStack';
const DOMAIN = 'd2222abcdef8.cloudfront.net';
const DAY = 86_400;
const BLOG_KEY = releaseKey(SITE_ID, 'blog');
const DASHBOARD_KEY = releaseKey(SITE_ID, 'dashboard');

/**
 * The seed's site with a blog zone on a Lambda function URL behind origin
 * access control; blog and dashboard have releases (builds v1 and d1),
 * home has none. The construct's `releases` metadata is written in here
 * as the construct records it.
 */
function releaseSite(): { template: Record<string, any>; templateFile: string; distributionId: string } {
  const stack = new Stack(new App(), STACK, { env: { account: '123456789012', region: 'us-east-1' } });
  const fn = new lambda.Function(stack, 'BlogFn', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => ({})') });
  const blog = { ...seedZones()[0], origin: FunctionUrlOrigin.withOriginAccessControl(fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM })) };
  new MultiZoneDistribution(stack, 'Site', { defaultZone: { name: 'home', origin: origin('home') }, zones: [blog, seedZones()[1]] });
  const assembly = Stage.of(stack)!.synth();
  const template = JSON.parse(JSON.stringify(assembly.getStackArtifact(stack.artifactId).template));
  const distributionId = Object.keys(template.Resources).find((id) => template.Resources[id].Type === 'AWS::CloudFront::Distribution')!;
  template.Resources[distributionId].Metadata[METADATA_KEY].releases = {
    blog: { deploymentId: 'v1', key: BLOG_KEY, maxAgeSeconds: DAY },
    dashboard: { deploymentId: 'd1', key: DASHBOARD_KEY, maxAgeSeconds: 3600 },
  };
  const templateFile = path.join(assembly.directory, 'release-site.template.json');
  fs.writeFileSync(templateFile, JSON.stringify(template));
  return { template, templateFile, distributionId };
}

const fixture = releaseSite();
const { templateFile } = fixture;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'multizone-releases-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs `multizone <args>` as the binary would, capturing its output and exit code. */
async function run(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'multizone', ...args], { out: (t) => out.push(...t.replace(/\n$/, '').split('\n')), err: (t) => err.push(...t.replace(/\n$/, '').split('\n')) });
  return { code, out, err };
}

/** A failure is one line naming the problem. */
function expectOneLineError(result: { code: number; err: string[] }, message: string): void {
  expect(result.code).not.toBe(0);
  expect(result.err).toHaveLength(1);
  expect(result.err[0]).toMatch(new RegExp(`^multizone: .*${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
}

const conflict = () => new ConflictException({ message: 'Pre-condition failed: ETag mismatch', $metadata: { httpStatusCode: 409 } });

/** The store as the service keeps it: one ETag over every key, a PutKey refused unless it names the current one. */
class MemoryStore {
  public etag = 1;
  public readonly values = new Map<string, string>();
  /** Describe answers held until this many writers have asked (so that they all read the same ETag); 0: none held. */
  private barrier = 0;
  private waiting: Array<() => void> = [];

  /** Holds the first `writers` DescribeKeyValueStore answers until all of them have asked. */
  public holdFirstDescribes(writers: number): void {
    this.barrier = writers;
  }

  public async describe(): Promise<{ ETag: string }> {
    const etag = `E${this.etag}`;
    if (this.barrier > 0) {
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        if (this.waiting.length === this.barrier) {
          this.barrier = 0;
          this.waiting.splice(0).forEach((r) => r());
        }
      });
    }
    return { ETag: etag };
  }

  public get(key: string): { Key: string; Value: string } {
    const value = this.values.get(key);
    if (value === undefined) throw new ResourceNotFoundException({ message: 'Key not found', $metadata: {} });
    return { Key: key, Value: value };
  }

  public put(key: string, value: string, ifMatch: string | undefined): { ETag: string } {
    if (ifMatch !== `E${this.etag}`) throw conflict();
    this.values.set(key, value);
    this.etag++;
    return { ETag: `E${this.etag}` };
  }

  public record(key: string): ReleaseRecord | undefined {
    return parseReleaseRecord(this.values.get(key));
  }
}

const kvs = mockClient(CloudFrontKeyValueStoreClient);
const cfn = mockClient(CloudFormationClient);
const s3 = mockClient(S3Client);
mockClient(CloudFrontClient);
let store: MemoryStore;

beforeEach(() => {
  kvs.reset();
  cfn.reset();
  s3.reset();
  store = new MemoryStore();
  kvs.on(DescribeKeyValueStoreCommand).callsFake(() => store.describe());
  kvs.on(GetKeyCommand).callsFake(async (input) => store.get(input.Key));
  kvs.on(PutKeyCommand).callsFake(async (input) => store.put(input.Key, input.Value, input.IfMatch));
});

/** PutKey calls the store accepted. */
const writesMade = () => store.etag - 1;
const deployed = ['--kvs-arn', KVS_ARN, '--template', templateFile];

describe('on the local edge (--local)', () => {
  let dir: string;
  let local: string[];
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(tmp, 'local-'));
    local = ['--local', '--template', templateFile, '--flags-file', path.join(dir, 'flags.json')];
    file = path.join(dir, 'releases.json');
  });
  const records = (): Record<string, ReleaseRecord> => JSON.parse(fs.readFileSync(file, 'utf8'));

  test('a release becomes current in releases.json beside the flag file; the template build stays a pinned rollback target', async () => {
    const before = Math.floor(Date.now() / 1000);
    const result = await run('release', 'blog', 'http://localhost:3002/', '--deployment-id', 'v2', ...local);
    expect(result.code).toBe(0);
    const blog = records().blog;
    expect(blog).toMatchObject({ v: 1, t: 'v1', c: 'v2', r: { v1: '', v2: 'http://localhost:3002' }, h: ['v1'] });
    expect(blog.u!.v1).toBeGreaterThanOrEqual(before + DAY);
    expect(Object.keys(records())).toEqual(['blog']);
    expect(result.out[0]).toBe(`blog: v2 (http://localhost:3002) is current; v1 serves the viewers that name it until ${new Date(blog.u!.v1 * 1000).toISOString()}; "multizone rollback blog" returns to it`);
    expect(result.out[1]).toBe(`written to ${file}: a running local edge uses it from its next request`);
  });

  test('canary, promote, rollback: each a step of the one record; releases shows each state', async () => {
    expect((await run('release', 'blog', 'http://127.0.0.1:3002', '--deployment-id', 'v2', '--canary', '25%', ...local)).out[0]).toBe(
      'blog: v2 (http://127.0.0.1:3002) is the canary for 25% of viewers, sticky per viewer; current stays v1; then "multizone promote blog" or "multizone rollback blog"',
    );
    expect(records().blog).toMatchObject({ c: 'v1', k: ['v2', 25] });
    expect((await run('releases', 'blog', ...local)).out).toEqual(['blog: current v1 (template origin)', '  canary    v2 (http://127.0.0.1:3002) for 25% of viewers']);

    const promoted = await run('promote', 'blog', ...local);
    expect(promoted.out[0]).toMatch(/^blog: v2 \(http:\/\/127\.0\.0\.1:3002\) is current; v1 serves the viewers that name it until \S+Z; "multizone rollback blog" returns to it$/);
    expect(records().blog).toMatchObject({ c: 'v2', h: ['v1'] });
    expect(records().blog.k).toBeUndefined();

    const rolled = await run('rollback', 'blog', '--by', 'pipeline:blog-42', ...local);
    expect(rolled.out[0]).toBe('blog: rolled back v2; current is v1 again (template origin); v2 serves no viewer now (by pipeline:blog-42)');
    const blog = records().blog;
    expect(blog).toMatchObject({ c: 'v1', r: { v1: '' }, b: ['pipeline:blog-42', expect.any(Number), 'v2'] });
    expect(blog.r.v2).toBeUndefined();
    const listed = await run('releases', ...local);
    expect(listed.out).toEqual(['blog: current v1 (template origin)', `  last rollback: v2 taken out by pipeline:blog-42 at ${new Date(blog.b![1] * 1000).toISOString()}`, 'dashboard: current d1 (template origin); no release yet']);
  });

  test('rollback of a canary drops it and records the OS user; current stays', async () => {
    await run('release', 'dashboard', 'https://d2.example.com', '--deployment-id', 'd2', ...local);
    await run('release', 'dashboard', 'https://d3.example.com', '--deployment-id', 'd3', '--canary', '10', ...local);
    const result = await run('rollback', 'dashboard', ...local);
    expect(result.out[0]).toBe('dashboard: rolled back the canary d3; current stays d2 (https://d2.example.com); d3 serves no viewer now (by cli:' + os.userInfo().username + ')');
    expect(records().dashboard).toMatchObject({ c: 'd2', b: [`cli:${os.userInfo().username}`, expect.any(Number), 'd3'] });
    expect(records().dashboard.k).toBeUndefined();
    const listed = (await run('releases', 'dashboard', ...local)).out;
    expect(listed[0]).toBe('dashboard: current d2 (https://d2.example.com)');
    expect(listed).toContainEqual(expect.stringMatching(/^ {2}pinned {4}d1 \(template origin\) until \S+Z, for viewers that name it$/));
    expect(listed).toContain('  rollback  to d1');
  });

  test('--preview prints a mz-release cookie signed with the record\'s secret, valid for --ttl', async () => {
    const now = Math.floor(Date.now() / 1000);
    const result = await run('release', 'blog', 'https://pr7.example.com', '--deployment-id', 'pr7', '--preview', '--ttl', '2h', '--port', '8090', ...local);
    expect(result.code).toBe(0);
    const blog = records().blog;
    expect(blog).toMatchObject({ c: 'v1', p: ['pr7'], s: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(result.out[0]).toBe('blog: pr7 (https://pr7.example.com) is a preview, reached only with its signed cookie; current stays v1');
    const [, zone, id, expiry, signature] = /^mz-release=([^.]+)\.([^.]+)\.(\d+)\.([0-9a-f]{64})$/.exec(result.out[2])!;
    expect([zone, id]).toEqual(['blog', 'pr7']);
    expect(Number(expiry) - now).toBeGreaterThanOrEqual(7200);
    expect(Number(expiry) - now).toBeLessThanOrEqual(7201);
    expect(signature).toBe(createHmac('sha256', blog.s!).update(`blog.pr7.${expiry}`).digest('hex'));
    expect(result.out[3]).toContain(`curl -b '${result.out[2]}' http://localhost:8090/`);
    expect((await run('releases', 'blog', ...local)).out).toContain('  preview   pr7 (https://pr7.example.com), with a signed mz-release cookie only');
    // With no canary, the only preview is what promote makes current.
    await run('promote', 'blog', ...local);
    expect(records().blog).toMatchObject({ c: 'pr7' });
    expect(records().blog.p).toBeUndefined();
  });

  test('the default preview cookie lasts 24h', async () => {
    const now = Math.floor(Date.now() / 1000);
    const result = await run('release', 'blog', 'https://pr8.example.com', '--deployment-id', 'pr8', '--preview', ...local);
    expect(Number(result.out[2].split('.')[2]) - now).toBeGreaterThanOrEqual(DAY);
    expect(result.out[3]).toContain('max-age=86400');
  });

  test('a record from an earlier template build is reconciled before the step', async () => {
    fs.writeFileSync(file, JSON.stringify({ blog: { v: 1, t: 'v0', c: 'v0', r: { v0: '' } }, other: { kept: true } }));
    expect((await run('releases', 'blog', ...local)).out).toContain("  note      the record's template build is v0, the template's is v1: deploying this template makes v1 current (on the local edge, the next release does)");
    await run('release', 'blog', 'https://v2.example.com', '--deployment-id', 'v2', ...local);
    expect(records().blog).toMatchObject({ t: 'v1', c: 'v2', r: { v1: '', v2: 'https://v2.example.com' } });
    expect(records().blog.r.v0).toBeUndefined();
    expect((records() as any).other).toEqual({ kept: true });
  });

  describe('refusals: one line, and the file is not touched', () => {
    const refusals: Array<[string, string[], string]> = [
      ['an unknown zone', ['release', 'blgo', 'https://x.example.com', '--deployment-id', 'v9'], 'Zone "blgo": the site has no such zone (its zones: home, blog, dashboard)'],
      ['a zone without releases', ['release', 'home', 'https://x.example.com', '--deployment-id', 'v9'], 'Zone "home": has no releases; set releases: { deploymentId } on it and deploy (zones with releases: blog, dashboard)'],
      ['a zone without releases, listed', ['releases', 'home'], 'Zone "home": has no releases'],
      ['an origin that is not a URL', ['release', 'blog', 'v2.example.com', '--deployment-id', 'v9'], 'Zone "blog": origin "v2.example.com" is not a URL'],
      ['plain http elsewhere than this machine', ['release', 'blog', 'http://v2.example.com', '--deployment-id', 'v9'], 'Zone "blog": origin "http://v2.example.com" must be https://, or http://localhost or http://127.0.0.1 on the local edge'],
      ['a function URL on a zone that is not one', ['release', 'dashboard', 'https://abc.lambda-url.us-east-1.on.aws', '--deployment-id', 'd9'], "is a Lambda function URL, but the zone's own origin is not one"],
      ['a canary over 100%', ['release', 'blog', 'https://x.example.com', '--deployment-id', 'v9', '--canary', '101%'], 'Zone "blog": canary "101%" must be a whole percentage from 0% to 100%'],
      ['a negative canary', ['release', 'blog', 'https://x.example.com', '--deployment-id', 'v9', '--canary=-5%'], 'Zone "blog": canary "-5%" must be a whole percentage'],
      ['a canary that is no number', ['release', 'blog', 'https://x.example.com', '--deployment-id', 'v9', '--canary', 'half'], 'Zone "blog": canary "half" must be'],
      ['a canary preview', ['release', 'blog', 'https://x.example.com', '--deployment-id', 'v9', '--canary', '5%', '--preview'], 'Zone "blog": a release is a canary or a preview, not both'],
      ['a hostile deployment id', ['release', 'blog', 'https://x.example.com', '--deployment-id', 'v2";alert(1)'], 'Zone "blog": deployment id "v2";alert(1)" must be 1 to 64 letters, digits'],
      ['--ttl without --preview', ['release', 'blog', 'https://x.example.com', '--deployment-id', 'v9', '--ttl', '1h'], '--ttl: only a --preview release has a cookie to time'],
      ['a --ttl past 30 days', ['release', 'blog', 'https://x.example.com', '--deployment-id', 'v9', '--preview', '--ttl', '31d'], '--ttl: "31d" must be a duration'],
      ['the template build\'s id again', ['release', 'blog', 'https://x.example.com', '--deployment-id', 'v1'], 'Zone "blog": deployment id "v1" is already a release of the zone (current)'],
      ['nothing to promote', ['promote', 'blog'], 'Zone "blog": nothing to promote: no canary'],
      ['nothing to roll back', ['rollback', 'blog'], 'Zone "blog": nothing to roll back: no canary and no earlier release'],
      ['an unprintable --by', ['rollback', 'blog', '--by', 'a\nb'], '--by "a\\nb": must be 1 to 64 printable ASCII characters'],
    ];
    test.each(refusals)('%s', async (_what, args, message) => {
      await run('release', 'dashboard', 'https://d2.example.com', '--deployment-id', 'd2', ...local);
      const before = fs.readFileSync(file, 'utf8');
      const result = await run(...args, ...local);
      expectOneLineError(result, message);
      expect(fs.readFileSync(file, 'utf8')).toBe(before);
    });

    test('a duplicate deployment id, of a release the CLI made', async () => {
      await run('release', 'blog', 'https://v2.example.com', '--deployment-id', 'v2', '--canary', '5%', ...local);
      const before = fs.readFileSync(file, 'utf8');
      expectOneLineError(await run('release', 'blog', 'https://v2b.example.com', '--deployment-id', 'v2', ...local), 'Zone "blog": deployment id "v2" is already a release of the zone (canary 5%); give each build its own id');
      expect(fs.readFileSync(file, 'utf8')).toBe(before);
    });

    test('a release past 1 KB', async () => {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(file, JSON.stringify({ blog: nearlyFull() }));
      const before = fs.readFileSync(file, 'utf8');
      expectOneLineError(await run('release', 'blog', longOrigin('d'), '--deployment-id', 'v9', ...local), 'Zone "blog": the releases would take 1');
      expect(fs.readFileSync(file, 'utf8')).toBe(before);
    });

    test('a refused first release creates no file', async () => {
      expectOneLineError(await run('release', 'home', 'https://x.example.com', '--deployment-id', 'h2', ...local), 'Zone "home": has no releases');
      expect(fs.existsSync(dir) && fs.readdirSync(dir)).toEqual([]);
    });
  });
});

describe('on the deployed store', () => {
  test('release reads the ETag, then the record, and writes it with IfMatch', async () => {
    store.values.set('new-checkout', 'off');
    const result = await run('release', 'blog', 'https://v2.blog.example.com/', '--deployment-id', 'v2', ...deployed);
    expect(result.code).toBe(0);
    expect(kvs.calls().map((c) => c.args[0].constructor.name)).toEqual(['DescribeKeyValueStoreCommand', 'GetKeyCommand', 'PutKeyCommand']);
    expect(kvs.commandCalls(GetKeyCommand)[0].args[0].input).toEqual({ KvsARN: KVS_ARN, Key: BLOG_KEY });
    expect(kvs.commandCalls(PutKeyCommand)[0].args[0].input).toEqual({ KvsARN: KVS_ARN, Key: BLOG_KEY, Value: store.values.get(BLOG_KEY), IfMatch: 'E1' });
    expect(store.record(BLOG_KEY)).toMatchObject({ t: 'v1', c: 'v2', r: { v1: '', v2: 'https://v2.blog.example.com' } });
    expect(store.values.get('new-checkout')).toBe('off');
    expect(result.out[1]).toBe('live in seconds (store ETag E2): KeyValueStore changes reach every edge location within seconds; pages are cached per release, so no invalidation is needed');
  });

  test('a function URL zone takes a function URL release; releases reads the record back', async () => {
    const url = 'https://v2abc.lambda-url.us-east-1.on.aws';
    expect((await run('release', 'blog', url, '--deployment-id', 'v2', '--canary', '50%', ...deployed)).code).toBe(0);
    const result = await run('releases', ...deployed);
    expect(result.out).toEqual(['blog: current v1 (template origin)', `  canary    v2 (${url}) for 50% of viewers`, 'dashboard: current d1 (template origin); no release yet']);
    expect(kvs.commandCalls(GetKeyCommand).slice(-2).map((c) => c.args[0].input.Key)).toEqual([BLOG_KEY, DASHBOARD_KEY]);
  });

  test('a damaged record is started afresh from the template build', async () => {
    store.values.set(BLOG_KEY, '{"v":1,"c":');
    expect((await run('releases', 'blog', ...deployed)).out).toEqual(['blog: current v1 (template origin); no release yet']);
    await run('release', 'blog', 'https://v2.example.com', '--deployment-id', 'v2', ...deployed);
    expect(store.record(BLOG_KEY)).toMatchObject({ t: 'v1', c: 'v2' });
  });

  const refusals: Array<[string, string[], string]> = [
    ['plain http, even of localhost', ['release', 'blog', 'http://localhost:3002', '--deployment-id', 'v2'], 'Zone "blog": origin "http://localhost:3002" must be https:// (CloudFront reaches release origins over HTTPS)'],
    ['an unknown zone', ['rollback', 'shop'], 'Zone "shop": the site has no such zone (its zones: home, blog, dashboard)'],
    ['a zone without releases', ['promote', 'home'], 'Zone "home": has no releases'],
    ['a duplicate deployment id', ['release', 'dashboard', 'https://d.example.com', '--deployment-id', 'd1'], 'Zone "dashboard": deployment id "d1" is already a release of the zone (current)'],
    ['nothing to roll back', ['rollback', 'dashboard'], 'Zone "dashboard": nothing to roll back'],
  ];
  test.each(refusals)('%s is refused with nothing written', async (_what, args, message) => {
    expectOneLineError(await run(...args, ...deployed), message);
    expect(kvs.commandCalls(PutKeyCommand)).toHaveLength(0);
  });

  test('a release past 1 KB is refused with nothing written', async () => {
    store.values.set(BLOG_KEY, JSON.stringify(nearlyFull()));
    expectOneLineError(await run('release', 'blog', longOrigin('d'), '--deployment-id', 'v9', ...deployed), 'over the 1024 bytes of one KeyValueStore value');
    expect(kvs.commandCalls(PutKeyCommand)).toHaveLength(0);
  });

  test('without --local, --stack or ids: one line saying how to name the site', async () => {
    expectOneLineError(await run('releases'), 'Site: name it with --stack NAME, or with --distribution-id, --kvs-arn and --function-name');
  });

  test('a race lost every time gives up, one line, after a bounded number of writes', async () => {
    kvs.on(PutKeyCommand).rejects(conflict());
    expectOneLineError(await run('release', 'blog', 'https://v2.example.com', '--deployment-id', 'v2', ...deployed), `the store changed under every one of ${MAX_RELEASE_WRITE_ATTEMPTS} attempts`);
    expect(kvs.commandCalls(PutKeyCommand)).toHaveLength(MAX_RELEASE_WRITE_ATTEMPTS);
  });

  test('two pipelines releasing different zones at once: the loser re-reads and re-applies, and both releases are in', async () => {
    store.holdFirstDescribes(2);
    const [blog, dashboard] = await Promise.all([
      run('release', 'blog', 'https://v2.example.com', '--deployment-id', 'v2', ...deployed),
      run('release', 'dashboard', 'https://d2.example.com', '--deployment-id', 'd2', '--canary', '10%', ...deployed),
    ]);
    expect([blog.code, dashboard.code]).toEqual([0, 0]);
    expect([blog.out[1], dashboard.out[1]].filter((l) => l.includes('after 1 lost ETag race(s)'))).toHaveLength(1);
    expect(store.record(BLOG_KEY)).toMatchObject({ c: 'v2' });
    expect(store.record(DASHBOARD_KEY)).toMatchObject({ c: 'd1', k: ['d2', 10] });
    expect(writesMade()).toBe(2);
    expect(kvs.commandCalls(PutKeyCommand)).toHaveLength(3);
  });

  test('the same release twice at once: one writes it, the other is refused as a duplicate after re-reading', async () => {
    store.holdFirstDescribes(2);
    const results = await Promise.all([1, 2].map(() => run('release', 'blog', 'https://v2.example.com', '--deployment-id', 'v2', ...deployed)));
    expect(results.map((r) => r.code).sort()).toEqual([0, 1]);
    expect(results.find((r) => r.code === 1)!.err).toEqual(['multizone: Zone "blog": deployment id "v2" is already a release of the zone (current); give each build its own id']);
    expect(writesMade()).toBe(1);
    expect(kvs.commandCalls(PutKeyCommand)).toHaveLength(2);
  });

  test('--stack finds the store and the template from the stack', async () => {
    const { template, distributionId } = fixture;
    cfn.on(DescribeStacksCommand, { StackName: STACK }).resolves({
      Stacks: [
        {
          StackName: STACK,
          CreationTime: new Date(0),
          StackStatus: 'UPDATE_COMPLETE',
          Outputs: [
            { OutputKey: `Site${STACK_OUTPUT_SUFFIXES.distributionId}`, OutputValue: 'E2EXAMPLE' },
            { OutputKey: `Site${STACK_OUTPUT_SUFFIXES.domainName}`, OutputValue: DOMAIN },
            { OutputKey: `Site${STACK_OUTPUT_SUFFIXES.kvsArn}`, OutputValue: KVS_ARN },
          ],
        },
      ],
    });
    cfn.on(GetTemplateCommand, { StackName: STACK }).resolves({ TemplateBody: JSON.stringify(template) });
    const metadata = template.Resources[distributionId].Metadata;
    cfn.on(DescribeStackResourceCommand).resolves({
      StackResourceDetail: { LogicalResourceId: distributionId, ResourceType: 'AWS::CloudFront::Distribution', ResourceStatus: 'UPDATE_COMPLETE', LastUpdatedTimestamp: new Date(0), Metadata: JSON.stringify(metadata) },
    });
    const assets = path.dirname(templateFile);
    s3.on(GetObjectCommand).callsFake(async (input) => ({ Body: { transformToString: async () => fs.readFileSync(path.join(assets, metadata[METADATA_KEY].siteAsset.path), 'utf8'), key: input.Key } }));
    const result = await run('release', 'blog', 'https://pr3.example.com', '--deployment-id', 'pr3', '--preview', '--stack', STACK);
    expect(result.code).toBe(0);
    expect(kvs.commandCalls(PutKeyCommand)[0].args[0].input).toMatchObject({ KvsARN: KVS_ARN, Key: BLOG_KEY });
    expect(result.out[2]).toMatch(/^mz-release=blog\.pr3\.\d+\.[0-9a-f]{64}$/);
    expect(result.out[3]).toContain(`curl -b '${result.out[2]}' https://${DOMAIN}/`);
  });
});

describe('concurrent writers on the store (property)', () => {
  const clients = { keyValueStore: new CloudFrontKeyValueStoreClient({ region: 'us-east-1' }) } as any;
  const writer = fc.record({
    zone: fc.constantFrom('blog', 'dashboard'),
    id: fc.constantFrom('a', 'b', 'c', 'd'),
    canary: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
  });

  test('in any interleaving, every write that succeeded is in its zone\'s record, and the others were refused as duplicates', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(writer, { minLength: 1, maxLength: MAX_RELEASE_WRITE_ATTEMPTS }), fc.scheduler(), async (writers, s) => {
        const memory = new MemoryStore();
        kvs.reset();
        kvs.on(DescribeKeyValueStoreCommand).callsFake(() => s.schedule(Promise.resolve()).then(() => memory.describe()));
        kvs.on(GetKeyCommand).callsFake((input) => s.schedule(Promise.resolve()).then(() => memory.get(input.Key)));
        kvs.on(PutKeyCommand).callsFake((input) => s.schedule(Promise.resolve()).then(() => memory.put(input.Key, input.Value, input.IfMatch)));
        const writes = writers.map((w) =>
          updateReleaseRecord(clients, KVS_ARN, w.zone, (rec) => addRelease(rec ?? initialRecord('t0'), { zone: w.zone, id: w.id, origin: `https://${w.id}.example.com`, canary: w.canary }, 1000, DAY), {
            sleep: async () => undefined,
          }),
        );
        const results = await s.waitFor(Promise.allSettled(writes));
        const written = writers.filter((_, i) => results[i].status === 'fulfilled');
        for (const [i, r] of results.entries()) {
          if (r.status === 'rejected') expect(String(r.reason.message)).toContain(`deployment id "${writers[i].id}" is already a release of the zone`);
        }
        for (const zone of ['blog', 'dashboard']) {
          const ids = written.filter((w) => w.zone === zone).map((w) => w.id);
          expect(new Set(ids).size).toBe(ids.length);
          const rec = memory.record(zone);
          expect(rec === undefined ? [] : Object.keys(rec.r).filter((id) => id !== 't0').sort()).toEqual([...ids].sort());
        }
        expect(memory.etag - 1).toBe(written.length);
      }),
      { numRuns: 150 },
    );
  });
});
