/**
 * The limits table: each row's check finds a synthesized template past its
 * limit, docs/limits.md renders the table as it is, and the names the
 * construct gives account-wide resources fit their limits in every region.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { CfnTemplateJson, PLATFORM_LIMITS, templateLimitProblems } from '../lib/limits';
import { MultiZoneDistribution, MultiZoneDistributionProps, ZoneDefinition } from '../lib';
import { withLimitsTable } from '../lib/limits-doc';
import { origin, seedZones, synth } from './support/sites';

const CHECKOUT = { overrides: [{ flag: 'new-checkout', pathPatterns: ['/checkout', '/checkout/*'], zone: 'dashboard' }] };

/** A fresh copy of a template, to push one value past a limit. */
const copy = (t: CfnTemplateJson): any => JSON.parse(JSON.stringify(t));
const ofType = (t: any, type: string): any[] => Object.values(t.Resources).filter((r: any) => r.Type === type);
const limitsFound = (t: CfnTemplateJson, raisedQuotas?: Record<string, number>, assetDirectory?: string) =>
  templateLimitProblems(t, { raisedQuotas, assetDirectory }).map((p) => `${p.limit}: ${p.found}`);

const zones = (n: number): ZoneDefinition[] => Array.from({ length: n }, (_, i) => ({ name: `z${i}`, origin: origin(`z${i}`), pathPatterns: [`/z${i}/*`] }));

describe('the limits table', () => {
  const seedSynth = synth(CHECKOUT);
  const seed = seedSynth.template.toJSON() as CfnTemplateJson;
  const seedAssets = seedSynth.assemblyDir;

  test('the seed site is within every limit', () => {
    expect(templateLimitProblems(seed, { assetDirectory: seedAssets })).toEqual([]);
  });

  test('a site with a store is only checked with its assets, which hold the store contents', () => {
    expect(() => templateLimitProblems(seed)).toThrow(/keeps its store contents in asset asset\.[0-9a-f]+\.json; pass assetDirectory/);
  });

  test('docs/limits.md holds the table as lib/limits.ts renders it (npm run docs:limits)', () => {
    const page = fs.readFileSync(path.join(__dirname, '..', 'docs', 'limits.md'), 'utf8');
    expect(withLimitsTable(page)).toBe(page);
  });

  test('each row names its documentation page and what the construct does', () => {
    expect(new Set(PLATFORM_LIMITS.map((l) => l.id)).size).toBe(PLATFORM_LIMITS.length);
    for (const l of PLATFORM_LIMITS) {
      // AWS's pages; for what browsers enforce (the cookie lifetime), the IETF's; for what Next.js sends (deployment ids), Next.js's.
      expect([l.id, l.doc.url]).toEqual([l.id, expect.stringMatching(/^https:\/\/(docs\.aws\.amazon\.com|datatracker\.ietf\.org|nextjs\.org)\//)]);
      expect([l.id, l.handling.length > 20]).toEqual([l.id, true]);
    }
  });

  test('a problem names the limit, the value found and the page', () => {
    const t = copy(seed);
    ofType(t, 'AWS::CloudFront::Function')[0].Properties.FunctionCode = 'x'.repeat(10241);
    expect(templateLimitProblems(t, { assetDirectory: seedAssets })).toEqual([
      expect.objectContaining({
        limit: 'function-code-size',
        found: '10241 bytes of code',
        max: 10240,
        message: expect.stringContaining('https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html'),
      }),
    ]);
  });

  test('past 60 dynamic references in the template', () => {
    const t = copy(seed);
    t.Resources.Extra = { Type: 'AWS::SSM::Parameter', Properties: { Values: Array.from({ length: 61 }, (_, i) => `{{resolve:ssm:p${i}}}`) } };
    expect(limitsFound(t, undefined, seedAssets)).toEqual(['dynamic-references: 61 dynamic references']);
  });

  test('store keys, values and the store past their sizes', () => {
    const storeAsset: string = Object.values<any>(seed.Resources!).find((r) => r.Type === 'AWS::CloudFront::Distribution').Metadata.MultiZone.storeAsset.path;
    const table = JSON.parse(fs.readFileSync(path.join(seedAssets, storeAsset), 'utf8'));
    const withTable = (change: (t: any) => void) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'limits-'));
      change(table);
      fs.writeFileSync(path.join(dir, storeAsset), JSON.stringify(table));
      return limitsFound(seed, undefined, dir);
    };
    const key = Object.keys(table.entries)[0];
    expect(withTable((t) => {
      t.entries[key] = 'v'.repeat(1025);
      t.initialFlags['f'.repeat(513)] = 'off';
    })).toEqual([`store-key-size: 513 bytes`, `store-value-size: 1025 bytes`]);
    const past = withTable((t) => {
      for (let i = 0; i < 5200; i++) t.entries[`${key}${i}`] = 'v'.repeat(1000);
    });
    expect(past.filter((f) => f.startsWith('store-size'))).toEqual([expect.stringMatching(/^store-size: \d{7} bytes of keys and values$/)]);
  });

  test('a template past 1 MB', () => {
    const t = copy(seed);
    t.Resources.Extra = { Type: 'AWS::SSM::Parameter', Properties: { Value: 'x'.repeat(1_000_000) } };
    expect(limitsFound(t, undefined, seedAssets)).toEqual([expect.stringMatching(/^template-size: \d{7} bytes$/)]);
  });

  test('a page cache policy with 11 headers', () => {
    const withPolicy = new Stack(new App(), 'WithPolicy', { env: { account: '123456789012', region: 'us-east-1' } });
    new cloudfront.CachePolicy(withPolicy, 'Wide', { defaultTtl: Duration.seconds(0), headerBehavior: cloudfront.CacheHeaderBehavior.allowList(...Array.from({ length: 11 }, (_, i) => `x-h${i}`)) });
    expect(limitsFound(Template.fromStack(withPolicy).toJSON())).toEqual([expect.stringMatching(/^policy-headers: 11 headers$/)]);
  });

  test('an origin with 31 custom headers; 30 are allowed', () => {
    const t = copy(seed);
    const [distribution] = ofType(t, 'AWS::CloudFront::Distribution');
    const [first] = distribution.Properties.DistributionConfig.Origins;
    first.OriginCustomHeaders = Array.from({ length: 30 }, (_, i) => ({ HeaderName: `x-h${i}`, HeaderValue: 'v' }));
    expect(limitsFound(t, undefined, seedAssets)).toEqual([]);
    first.OriginCustomHeaders.push({ HeaderName: 'x-h30', HeaderValue: 'v' });
    expect(limitsFound(t, undefined, seedAssets)).toEqual(['origin-custom-headers: 31 custom headers']);
  });

  test('a response headers policy with 11 custom headers', () => {
    const t = copy(seed);
    const [policy] = ofType(t, 'AWS::CloudFront::ResponseHeadersPolicy');
    policy.Properties.ResponseHeadersPolicyConfig.CustomHeadersConfig.Items = Array.from({ length: 11 }, (_, i) => ({ Header: `X-H${i}`, Value: 'v', Override: true }));
    expect(limitsFound(t, undefined, seedAssets)).toEqual(['response-headers-policy-custom-headers: 11 custom headers']);
  });

  test('a cache policy whose header names add up to 1,030 characters', () => {
    const stack = new Stack(new App(), 'LongNames', { env: { account: '123456789012', region: 'us-east-1' } });
    const names = Array.from({ length: 10 }, (_, i) => `x-${i}`.padEnd(103, 'h'));
    new cloudfront.CachePolicy(stack, 'Long', { defaultTtl: Duration.seconds(0), headerBehavior: cloudfront.CacheHeaderBehavior.allowList(...names) });
    expect(limitsFound(Template.fromStack(stack).toJSON())).toEqual(['cache-policy-names-length: 1030 characters of names']);
  });

  test('a function associated with 101 distributions', () => {
    const t = copy(seed);
    const [[id, distribution]] = Object.entries<any>(t.Resources).filter(([, r]) => r.Type === 'AWS::CloudFront::Distribution');
    for (let i = 0; i < 100; i++) t.Resources[`${id}Copy${i}`] = distribution;
    const functions = new Set<string>();
    const config = distribution.Properties.DistributionConfig;
    for (const b of [config.DefaultCacheBehavior, ...config.CacheBehaviors]) for (const a of b.FunctionAssociations ?? []) functions.add(a.FunctionARN['Fn::GetAtt'][0]);
    expect(functions.size).toBeGreaterThan(0);
    const found = templateLimitProblems(t, { assetDirectory: seedAssets }).filter((p) => p.limit === 'distributions-per-function');
    expect(found.map((p) => `${p.where}: ${p.found}`).sort()).toEqual([...functions].map((f) => `function ${f}: 101 distributions`).sort());
  });

  test('a Lambda@Edge function and version that CloudFormation would delete', () => {
    const stack = new Stack(new App(), 'Edge', { env: { account: '123456789012', region: 'us-east-1' } });
    new cloudfront.experimental.EdgeFunction(stack, 'Fn', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async (e) => e;') });
    expect(limitsFound(Template.fromStack(stack).toJSON())).toEqual([
      'lambda-edge-deletion: DeletionPolicy Delete and UpdateReplacePolicy Delete',
      'lambda-edge-deletion: DeletionPolicy Delete and UpdateReplacePolicy Delete',
    ]);
  });

  describe('adjustable quotas', () => {
    const many = synth({ zones: zones(101), maxCacheBehaviors: 110, maxOrigins: 102 }).template.toJSON() as CfnTemplateJson;

    test('past the default quotas of behaviors and origins (101 zones, the default zone\'s assets and images, the Speculation Rules file)', () => {
      expect(limitsFound(many)).toEqual([expect.stringMatching(/^cache-behaviors-per-distribution: 105 cache behaviors$/), expect.stringMatching(/^origins-per-distribution: 102 origins$/)]);
    });

    test('within quotas declared raised', () => {
      expect(limitsFound(many, { 'cache-behaviors-per-distribution': 105, 'origins-per-distribution': 102 })).toEqual([]);
    });

    test.each([
      ['cache-policies-per-account', 'AWS::CloudFront::CachePolicy', 20],
      ['origin-request-policies-per-account', 'AWS::CloudFront::OriginRequestPolicy', 20],
      ['response-headers-policies-per-account', 'AWS::CloudFront::ResponseHeadersPolicy', 20],
      ['stores-per-account', 'AWS::CloudFront::KeyValueStore', 50],
    ])('%s: one %s past %i is found, and accepted once the quota is raised', (id, type, quota) => {
      const t = copy(seed);
      for (let i = ofType(t, type).length; i <= quota; i++) t.Resources[`Extra${i}`] = { Type: type, Properties: {} };
      expect(limitsFound(t, undefined, seedAssets)).toEqual([expect.stringMatching(new RegExp(`^${id}: ${quota + 1} `))]);
      expect(limitsFound(t, { [id]: quota + 1 }, seedAssets)).toEqual([]);
    });

    test('only adjustable quotas can be raised', () => {
      expect(() => templateLimitProblems(many, { raisedQuotas: { 'function-code-size': 20000 } })).toThrow('Platform limit "function-code-size" is not adjustable');
    });
  });

  describe('names unique in the account', () => {
    test('a store named without the region, and two stores of one name', () => {
      const stack = new Stack(new App(), 'Stores', { env: { account: '123456789012', region: 'us-east-1' } });
      new cloudfront.KeyValueStore(stack, 'A', { keyValueStoreName: 'flags' });
      new cloudfront.KeyValueStore(stack, 'B', { keyValueStoreName: 'flags' });
      const withoutRegion = 'account-wide-names: name "flags" without the region: the same stack in a second region would collide';
      expect(limitsFound(Template.fromStack(stack).toJSON())).toEqual([withoutRegion, expect.stringMatching(/^account-wide-names: the same name as A[0-9A-F]{8}$/), withoutRegion]);
    });

    test('a store name past 64 characters or with other characters', () => {
      const t = copy(seed);
      const store = ofType(t, 'AWS::CloudFront::KeyValueStore')[0];
      store.Properties.Name = `${'s'.repeat(55)}-us-east-1`;
      expect(limitsFound(t, undefined, seedAssets)).toEqual(['store-name: 65 characters of name']);
      store.Properties.Name = 'flags.store-us-east-1';
      expect(limitsFound(t, undefined, seedAssets)).toEqual(['store-name: name "flags.store-us-east-1" with characters outside A-Z a-z 0-9 - _']);
    });
  });
});

describe('the store name', () => {
  const storeName = (stack: Stack, props: Partial<MultiZoneDistributionProps> = {}) => {
    new MultiZoneDistribution(stack, 'Site', { defaultZone: { name: 'home', origin: origin('home') }, zones: seedZones(), ...CHECKOUT, ...props });
    const template = Template.fromStack(stack).toJSON();
    return ofType(template, 'AWS::CloudFront::KeyValueStore')[0].Properties.Name;
  };

  test('joins the region in at deploy when the stack is environment-agnostic, leaving it room', () => {
    const name = storeName(new Stack(new App(), 'Agnostic'));
    expect(name).toEqual({ 'Fn::Join': ['', [expect.stringMatching(/^AgnosticSiteStore[0-9A-F]{8}-$/), { Ref: 'AWS::Region' }]] });
    const long = storeName(new Stack(new App(), 'A'.repeat(100)));
    expect(long['Fn::Join'][1][0].length).toBeLessThanOrEqual(64 - 20);
  });

  test('stays within 64 characters for a long stack name in a region', () => {
    const name = storeName(new Stack(new App(), 'S', { stackName: 'a-very-long-stack-name-for-a-multi-zone-site-in-production', env: { region: 'ap-southeast-2' } }));
    expect(name).toMatch(/^[A-Za-z0-9_-]+-ap-southeast-2$/);
    expect(name.length).toBeLessThanOrEqual(64);
  });

  test('is the same on every synth', () => {
    const once = () => storeName(new Stack(new App(), 'Stable', { env: { region: 'eu-west-1' } }));
    expect(once()).toBe(once());
  });
});

describe('origin access controls of zones', () => {
  test('carry the region in their name', () => {
    const stack = new Stack(new App(), 'Oac', { env: { account: '123456789012', region: 'eu-central-1' } });
    const s3Origin = origins.S3BucketOrigin.withOriginAccessControl(new s3.Bucket(stack, 'Assets'));
    new MultiZoneDistribution(stack, 'Site', {
      defaultZone: { name: 'home', origin: origin('home') },
      zones: [{ name: 'docs', origin: s3Origin, pathPatterns: ['/docs/*'] }],
    });
    const [oac] = ofType(Template.fromStack(stack).toJSON(), 'AWS::CloudFront::OriginAccessControl');
    expect(oac.Properties.OriginAccessControlConfig.Name).toMatch(/^OacSiteZonesdocsS3OriginAccessControl[0-9A-F]{8}-eu-central-1$/);
  });
});

describe('maxOrigins', () => {
  test.each([0, 1.5, -3])('%p is refused', (max) => {
    expect(() => synth({ maxOrigins: max })).toThrow(`maxOrigins: ${max} must be a whole number of at least 1`);
  });

  test('a raised quota is honored', () => {
    expect(() => synth({ zones: zones(3), maxOrigins: 3 })).toThrow(/^maxOrigins: the zones need 4 origins/);
    expect(() => synth({ zones: zones(3), maxOrigins: 4 })).not.toThrow();
  });
});
