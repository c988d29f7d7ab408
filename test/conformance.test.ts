/**
 * Conformance: sites at the edges of what the construct accepts,
 * synthesized once each and held to every row of the limits table
 * (lib/limits.ts), or refused at synth with the documented error.
 */
import { App, CfnParameter, SecretValue, Stack, Stage } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { CfnTemplateJson, TemplateLimitProblem, templateLimitProblems } from '../lib/limits';
import { MultiZoneDistributionProps, MultiZoneValidationError, OverrideDefinition, ZoneDefinition } from '../lib';
import { EXAMPLE_ZONE_ORIGINS, ExampleSiteStack } from '../bin/example-stack';
import { origin, seedZones, siteStack } from './support/sites';

const ACCOUNT = '123456789012';
const SECRET_ARN = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:origin-verify-AbCdEf`;

/** A synthesized template and the cloud assembly directory holding its assets. */
interface Synthesized {
  readonly template: CfnTemplateJson;
  readonly assetDirectory: string;
}

const templateOf = (stack: Stack): Synthesized => ({ template: Template.fromStack(stack).toJSON() as CfnTemplateJson, assetDirectory: Stage.of(stack)!.outdir });

/** The templates of every stack of the stack's app: the site's, and any support stack (`edge-lambda-stack-*`). */
const appTemplates = (stack: Stack): Synthesized[] => stack.node.root.node.children.filter((c): c is Stack => c instanceof Stack).map(templateOf);

/** One site's templates in us-east-1. */
const site = (props: Partial<MultiZoneDistributionProps>, extra?: (stack: Stack) => Partial<MultiZoneDistributionProps>) => () =>
  appTemplates(siteStack(props, extra, { id: 'Conformance', stackName: 'MultiZoneConformance' }));

/** `n` zones named to `length` characters, one page pattern each. */
const zonesNamed = (n: number, length: number): ZoneDefinition[] =>
  Array.from({ length: n }, (_, i) => {
    const name = `z${i}-`.padEnd(length, 'x');
    return { name, origin: origin(`z${i}`), pathPatterns: [`/${name}/*`] };
  });

const overrides = (n: number): OverrideDefinition[] =>
  Array.from({ length: n }, (_, i) => ({ flag: `flag-${i % 50}`, pathPatterns: [`/promo-${i}/*`], zone: 'dashboard' }));

/** A zone served by a Lambda function URL behind origin access control. */
const functionUrlZone = (stack: Stack): ZoneDefinition => {
  const fn = new lambda.Function(stack, 'ShopFn', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200 });'),
  });
  const url = fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
  return { name: 'shop', origin: origins.FunctionUrlOrigin.withOriginAccessControl(url), pathPatterns: ['/shop', '/shop/*'], assetPrefix: '/shop-static' };
};

const withShop = (stack: Stack) => ({ zones: [...seedZones(), functionUrlZone(stack)], overrides: overrides(1) });

/** The same stack, a function URL zone with OAC included, in two regions of one app. */
function twoRegionStacks(): Stack[] {
  const app = new App();
  return ['eu-west-1', 'us-west-2'].map((region) => siteStack({}, withShop, { app, id: `Site-${region}`, region, stackName: 'MultiZoneConformance' }));
}

/** The two sites' templates. */
const twoRegions = (): Synthesized[] => twoRegionStacks().map(templateOf);

interface MatrixCase {
  readonly name: string;
  /** The templates of the case. */
  readonly build: () => Synthesized[];
  /** Quotas the case declares raised (by limit id). */
  readonly raisedQuotas?: Record<string, number>;
}

/** Ten zone flags with names of the longest length a flag may have (128). */
const longZoneFlags = Array.from({ length: 10 }, (_, i) => `${String(i)}${'z'.repeat(127)}`);

const MATRIX: MatrixCase[] = [
  { name: 'the example site (bin/example-stack.ts)', build: () => appTemplates(new ExampleSiteStack(new App(), 'MultiZoneExample', { zoneOrigins: EXAMPLE_ZONE_ORIGINS })) },
  { name: 'one zone', build: site({ zones: [] }) },
  { name: 'the seed site with a flag', build: site({ overrides: overrides(1) }) },
  {
    name: '74 zones with 64-character names and an override',
    build: site({ zones: zonesNamed(74, 64), overrides: [{ flag: 'promo', pathPatterns: ['/promo'], zone: zonesNamed(1, 64)[0].name }] }),
  },
  {
    name: '65 HTTP zones behind originVerifyHeader given as a NoEcho parameter',
    build: site({ zones: zonesNamed(65, 8) }, (stack) => ({
      originVerifyHeader: { value: SecretValue.cfnParameter(new CfnParameter(stack, 'OriginVerify', { noEcho: true })) },
    })),
  },
  {
    name: '120 zones with maxCacheBehaviors 300 and maxOrigins 150',
    build: site({ zones: zonesNamed(120, 8), maxCacheBehaviors: 300, maxOrigins: 150 }),
    raisedQuotas: { 'cache-behaviors-per-distribution': 300, 'origins-per-distribution': 150 },
  },
  { name: 'a Pages Router zone', build: site({ zones: seedZones().map((z) => ({ ...z, pagesRouter: true })), overrides: overrides(1) }) },
  { name: 'a function URL zone behind OAC in us-east-1', build: site({}, withShop) },
  { name: 'the same stack, with a function URL zone behind OAC, in two regions, and their us-east-1 support stacks', build: () => appTemplates(twoRegionStacks()[0]) },
  {
    name: 'releases on every zone (a function URL zone among them), with 10 zone flags of 128 characters and previewable overrides',
    build: site({}, (stack) => ({
      defaultZone: { name: 'home', origin: origin('home'), releases: { deploymentId: 'h'.repeat(64) } },
      zones: [...seedZones(), functionUrlZone(stack)].map((z) => ({ ...z, releases: { deploymentId: `${z.name}-v1` } })),
      overrides: overrides(10).map((o) => ({ ...o, flag: `${'p'.repeat(120)}-${o.flag}`, preview: true })),
      zoneFlags: longZoneFlags,
      flags: Object.fromEntries(longZoneFlags.map((f) => [f, 'off'])),
    })),
  },
  { name: 'seven zones with releases and a release router', build: site({ zones: zonesNamed(7, 8).map((z) => ({ ...z, releases: { deploymentId: 'v1' } })), overrides: [{ flag: 'move', pathPatterns: ['/promo/*'], zone: zonesNamed(1, 8)[0].name }] }) },
  { name: '1,000 overrides', build: site({ overrides: overrides(1000) }) },
  { name: '3,000 overrides', build: site({ overrides: overrides(3000) }) },
  { name: '5,000 overrides', build: site({ overrides: overrides(5000) }) },
];

describe.each(MATRIX)('conformance: $name', ({ build, raisedQuotas }) => {
  let problems: TemplateLimitProblem[] = [];
  beforeAll(() => {
    problems = build().flatMap((s) => templateLimitProblems(s.template, { raisedQuotas, assetDirectory: s.assetDirectory }));
  });

  test('within every limit of the table', () => {
    expect(problems.map((p) => p.message)).toEqual([]);
  });
});

describe('conformance: refused at synth with the documented error', () => {
  const refusal = (build: () => unknown): Error => {
    try {
      build();
    } catch (e) {
      return e as Error;
    }
    throw new Error('synthesized');
  };

  test('65 HTTP zones behind originVerifyHeader from Secrets Manager: 66 dynamic references', () => {
    const error = refusal(site({ zones: zonesNamed(65, 8), originVerifyHeader: { value: SecretValue.secretsManager(SECRET_ARN) } }));
    expect(error).toBeInstanceOf(MultiZoneValidationError);
    expect(error.message).toMatch(/^originVerifyHeader: .* 66 in the distribution, and CloudFormation allows at most 60 in a template/);
    expect(error.message).toContain('SecretValue.cfnParameter');
  });

  test('the refusal starts past 60: 60 zones (61 references) refused, 59 zones (60) accepted', () => {
    expect(refusal(site({ zones: zonesNamed(60, 8), originVerifyHeader: { value: SecretValue.secretsManager(SECRET_ARN) } })).message).toMatch(/61 in the distribution/);
    const [accepted] = site({ zones: zonesNamed(59, 8), originVerifyHeader: { value: SecretValue.secretsManager(SECRET_ARN) } })();
    expect(templateLimitProblems(accepted.template, { assetDirectory: accepted.assetDirectory })).toEqual([]);
  });

  test('3,000 wildcard-first overrides: more store reads a request than the bound', () => {
    const wildcardFirst = Array.from({ length: 3000 }, (_, i) => ({ flag: `flag-${i % 50}`, pathPatterns: [`*.x${i}`], zone: 'dashboard' }));
    const error = refusal(site({ overrides: wildcardFirst }));
    expect(error).toBeInstanceOf(MultiZoneValidationError);
    expect(error.message).toMatch(/^overrides: 3000 path patterns have a wildcard in their first path segment, .*\(Override "flag-0" "\*\.x1000", .*, and 2995 more\): 88 KeyValueStore reads a request, at most 8 allowed/);
  });

  test('120 zones with maxCacheBehaviors 300: 121 origins past the default quota of 100', () => {
    const error = refusal(site({ zones: zonesNamed(120, 8), maxCacheBehaviors: 300 }));
    expect(error).toBeInstanceOf(MultiZoneValidationError);
    expect(error.message).toBe(
      'maxOrigins: the zones need 121 origins (one per zone, the default zone included) but only 100 are allowed (CloudFront quota "Origins per distribution"); raise maxOrigins after a quota increase, or serve fewer zones from this distribution',
    );
  });
});

describe('conformance: the same stack in two regions', () => {
  let templates: CfnTemplateJson[] = [];
  beforeAll(() => {
    templates = twoRegions().map((s) => s.template);
  });

  /** Names of CloudFront resources that are unique in the account, by type. */
  const accountWideNames = (t: CfnTemplateJson) =>
    Object.values(t.Resources ?? {})
      .map((r) => {
        const p = r.Properties ?? {};
        const name = p.Name ?? p.CachePolicyConfig?.Name ?? p.OriginAccessControlConfig?.Name;
        return /^AWS::CloudFront::/.test(r.Type) && name !== undefined ? `${r.Type} ${name}` : undefined;
      })
      .filter((n): n is string => n !== undefined)
      .sort();

  test('every account-wide name differs between the regions', () => {
    const [eu, us] = templates.map(accountWideNames);
    expect(eu.map((n) => n.split(' ')[0])).toEqual(
      expect.arrayContaining(['AWS::CloudFront::KeyValueStore', 'AWS::CloudFront::Function', 'AWS::CloudFront::CachePolicy', 'AWS::CloudFront::OriginAccessControl']),
    );
    expect(eu.filter((n) => us.includes(n))).toEqual([]);
  });

  test('the store is named for the stack, the construct and the region', () => {
    const storeName = (t: CfnTemplateJson) => Object.values(t.Resources ?? {}).find((r) => r.Type === 'AWS::CloudFront::KeyValueStore')!.Properties.Name;
    expect(templates.map(storeName)).toEqual([expect.stringMatching(/^MultiZoneConformanceSiteStore[0-9A-F]{8}-eu-west-1$/), expect.stringMatching(/^MultiZoneConformanceSiteStore[0-9A-F]{8}-us-west-2$/)]);
  });
});
