/**
 * The documented CloudFront and CloudFormation limits the construct relies
 * on, in one table: each row names the number, what it applies to, the
 * page that states it and what the construct does about it, and, where the
 * limit shows in a synthesized template, checks the template against it.
 *
 * Modules that enforce a limit take its number from here
 * (`limitValue('function-code-size')`), so the limits page (docs/limits.md),
 * the code and the conformance tests never disagree.
 */

import { METADATA_KEY } from './metadata-key';
import { encodeRecord, initialRecord } from './releases/record';
import { readSiteAsset } from './site-assets';

/** A documentation page a limit is stated on. */
export interface LimitDocPage {
  /** The page's title. */
  readonly title: string;
  /** The page's address. */
  readonly url: string;
}

/** One place in a template that goes past a limit. */
export interface LimitFinding {
  /** The resource (logical id) or template part at fault. */
  readonly where: string;
  /** What was found there: a count, a size, a name. */
  readonly found: string;
}

/** A synthesized CloudFormation template, as JSON. */
export interface CfnTemplateJson {
  readonly Resources?: Record<string, { readonly Type: string; readonly Properties?: any; readonly DeletionPolicy?: string; readonly UpdateReplacePolicy?: string }>;
  readonly Outputs?: Record<string, unknown>;
  readonly [section: string]: unknown;
}

/** One documented platform limit. */
export interface PlatformLimit {
  /** Stable id, used in messages and to raise an adjustable quota in checks. */
  readonly id: string;
  /** What is limited, as the documentation names it. */
  readonly title: string;
  /** The limit: a maximum, or (for character sets) the allowed characters. */
  readonly value: number | string;
  /** Unit of the value: bytes, characters, cache behaviors... */
  readonly unit: string;
  /** What the limit applies to: per distribution, per account, per template... */
  readonly scope: string;
  /** Whether AWS raises it on request (a quota increase). */
  readonly adjustable: boolean;
  /** The page stating it. */
  readonly doc: LimitDocPage;
  /** What the construct does about it: designed away, refused at synth (with which error), or checked on the template. */
  readonly handling: string;
  /**
   * Findings of a template past the limit; `max` is the limit in force (a
   * raised quota, for adjustable ones), `site` what the template's assets add.
   */
  readonly check?: (template: CfnTemplateJson, max: number, site: TemplateAssets) => LimitFinding[];
}

/** What a template's assets hold that limits apply to. */
export interface TemplateAssets {
  /** The keys and values each store sync writes in one deploy, from its table asset. */
  readonly storeKeys: ReadonlyArray<StoreKey>;
}

/** One key a store sync writes, and where it comes from. */
export interface StoreKey {
  /** The asset (or resource) that writes it. */
  readonly where: string;
  readonly key: string;
  /** Its value, unless it is not a literal. */
  readonly value?: string;
}

const CLOUDFRONT_QUOTAS: LimitDocPage = {
  title: 'Amazon CloudFront Developer Guide: Quotas',
  url: 'https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html',
};
const CACHE_BEHAVIOR_SETTINGS: LimitDocPage = {
  title: 'Amazon CloudFront Developer Guide: Cache behavior settings (Path pattern)',
  url: 'https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/DownloadDistValuesCacheBehavior.html#DownloadDistValuesPathPattern',
};
const KVS_FILE_FORMAT: LimitDocPage = {
  title: 'Amazon CloudFront Developer Guide: File format for key-value pairs',
  url: 'https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/kvs-with-functions-create-s3-kvp.html',
};
const CREATE_KEY_VALUE_STORE: LimitDocPage = {
  title: 'Amazon CloudFront API Reference: CreateKeyValueStore (Name); AWS::CloudFront::KeyValueStore',
  url: 'https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CreateKeyValueStore.html',
};
const LAMBDA_EDGE_QUOTAS: LimitDocPage = {
  title: 'Amazon CloudFront Developer Guide: Quotas on Lambda@Edge',
  url: 'https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html#limits-lambda-at-edge',
};
const LAMBDA_EDGE_DELETE: LimitDocPage = {
  title: 'Amazon CloudFront Developer Guide: Delete Lambda@Edge functions and replicas',
  url: 'https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-edge-delete-replicas.html',
};
const LAMBDA_EDGE_RESTRICTIONS: LimitDocPage = {
  title: 'Amazon CloudFront Developer Guide: Restrictions on Lambda@Edge',
  url: 'https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/edge-functions-restrictions.html#lambda-at-edge-function-restrictions',
};
const FUNCTION_RESTRICTIONS: LimitDocPage = {
  title: 'Amazon CloudFront Developer Guide: Restrictions on CloudFront Functions',
  url: 'https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/edge-functions-restrictions.html#cloudfront-function-restrictions',
};
const INVALIDATION_QUOTAS: LimitDocPage = {
  title: 'Amazon CloudFront Developer Guide: Concurrent invalidation request maximum',
  url: 'https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/InvalidationLimits.html',
};
const LAMBDA_QUOTAS: LimitDocPage = {
  title: 'AWS Lambda Developer Guide: Lambda quotas (invocation payload, asynchronous)',
  url: 'https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html',
};
const FUNCTION_URL_OAC: LimitDocPage = {
  title: 'Amazon CloudFront Developer Guide: Restrict access to an AWS Lambda function URL origin',
  url: 'https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-lambda.html',
};
const ORIGIN_MODIFICATION: LimitDocPage = {
  title: 'Amazon CloudFront Developer Guide: Helper methods for origin modification',
  url: 'https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/helper-functions-origin-modification.html',
};

const NEXT_DEPLOYMENT_ID: LimitDocPage = {
  title: 'Next.js docs: next.config.js deploymentId (version skew protection)',
  url: 'https://nextjs.org/docs/app/api-reference/config/next-config-js/deploymentId',
};

const FUNCTION_PURPOSE: LimitDocPage = {
  title: 'Amazon CloudFront Developer Guide: Determine function purpose (viewer request functions run before the cache check)',
  url: 'https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/function-code-choose-purpose.html',
};
const KVS_PUT_KEY: LimitDocPage = {
  title: 'Amazon CloudFront API Reference: PutKey (IfMatch); UpdateKeys',
  url: 'https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_kvs_PutKey.html',
};
const EVENTBRIDGE_QUOTAS: LimitDocPage = {
  title: 'Amazon EventBridge User Guide: Amazon EventBridge quotas',
  url: 'https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html',
};
const EVENTBRIDGE_SERVICE_EVENTS: LimitDocPage = {
  title: 'Amazon EventBridge User Guide: Events from AWS services (they go to the default event bus of the account)',
  url: 'https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events.html#eb-service-event',
};
const CLOUDFORMATION_QUOTAS: LimitDocPage = {
  title: 'AWS CloudFormation User Guide: Understand CloudFormation quotas',
  url: 'https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html',
};
const DYNAMIC_REFERENCES: LimitDocPage = {
  title: 'AWS CloudFormation User Guide: Get values stored in other services using dynamic references',
  url: 'https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references.html',
};

const COOKIE_AGE_LIMIT: LimitDocPage = {
  title: 'IETF draft-ietf-httpbis-rfc6265bis (Cookies: HTTP State Management Mechanism), section 5.5: the cookie-age-limit of 400 days',
  url: 'https://datatracker.ietf.org/doc/html/draft-ietf-httpbis-rfc6265bis#section-5.5',
};

/** Characters a CloudFront path pattern may hold (`*` and `?` are its wildcards). */
export const PATH_PATTERN_CHARACTERS = /^[A-Za-z0-9_\-.*$/~"'@:+&?]*$/;

/** Characters of a KeyValueStore name. */
const KVS_NAME_CHARACTERS = /^[A-Za-z0-9_-]+$/;

/**
 * Characters a region code takes in a name whose region is only known at
 * deploy (`{"Ref": "AWS::Region"}`): the longest code today has 15
 * (`us-isof-south-1`); 20 leaves room for new ones.
 */
export const REGION_NAME_ROOM = 20;

/** The account-wide named CloudFront resources, and where their name sits in the properties. */
const ACCOUNT_WIDE_NAMES: Record<string, string[]> = {
  'AWS::CloudFront::KeyValueStore': ['Name'],
  'AWS::CloudFront::Function': ['Name'],
  'AWS::CloudFront::CachePolicy': ['CachePolicyConfig', 'Name'],
  'AWS::CloudFront::OriginRequestPolicy': ['OriginRequestPolicyConfig', 'Name'],
  'AWS::CloudFront::ResponseHeadersPolicy': ['ResponseHeadersPolicyConfig', 'Name'],
  'AWS::CloudFront::OriginAccessControl': ['OriginAccessControlConfig', 'Name'],
};

type Resource = { id: string; properties: any };

function resourcesOf(template: CfnTemplateJson, type: string): Resource[] {
  return Object.entries(template.Resources ?? {})
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => ({ id, properties: r.Properties ?? {} }));
}

function distributionConfigs(template: CfnTemplateJson): Array<{ id: string; config: any }> {
  return resourcesOf(template, 'AWS::CloudFront::Distribution').map((r) => ({ id: r.id, config: r.properties.DistributionConfig ?? {} }));
}

/** One finding when `count` is past `max`. */
const over = (where: string, count: number, max: number, what: string): LimitFinding[] =>
  count > max ? [{ where, found: `${count} ${what}` }] : [];

const countOf = (type: string, what: string) => (template: CfnTemplateJson, max: number) =>
  over('template', resourcesOf(template, type).length, max, what);

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** A value's literal text, or undefined when CloudFormation computes it at deploy. */
const literal = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** The parts of a name: literal text, and `{"Ref": "AWS::Region"}` as null; undefined when some other function computes it. */
function nameParts(value: unknown): Array<string | null> | undefined {
  if (typeof value === 'string') return [value];
  const join = (value as any)?.['Fn::Join'];
  if (!Array.isArray(join) || join[0] !== '' || !Array.isArray(join[1])) return undefined;
  const parts: Array<string | null> = [];
  for (const part of join[1]) {
    if (typeof part === 'string') parts.push(part);
    else if (part?.Ref === 'AWS::Region') parts.push(null);
    else return undefined;
  }
  return parts;
}

function propertyAt(properties: any, path: string[]): unknown {
  return path.reduce((value, key) => value?.[key], properties);
}

/** Every header, cookie and query string list of the template's cache and origin request policies. */
function policyLists(template: CfnTemplateJson, kind: 'Header' | 'Cookie' | 'QueryString'): Array<{ where: string; items: unknown[] }> {
  const lists: Array<{ where: string; items: unknown[] }> = [];
  const plural = `${kind}s`;
  const config = `${kind}sConfig`;
  for (const r of resourcesOf(template, 'AWS::CloudFront::CachePolicy')) {
    const key = r.properties.CachePolicyConfig?.ParametersInCacheKeyAndForwardedToOrigin?.[config];
    if (Array.isArray(key?.[plural])) lists.push({ where: r.id, items: key[plural] });
  }
  for (const r of resourcesOf(template, 'AWS::CloudFront::OriginRequestPolicy')) {
    const list = r.properties.OriginRequestPolicyConfig?.[config]?.[plural];
    if (Array.isArray(list)) lists.push({ where: r.id, items: list });
  }
  return lists;
}

const policyListCheck = (kind: 'Header' | 'Cookie' | 'QueryString', what: string) => (template: CfnTemplateJson, max: number) =>
  policyLists(template, kind).flatMap((l) => over(l.where, l.items.length, max, what));

/** Every name a cache policy keys on: its headers, cookies and query strings. */
function cacheKeyNames(policy: any): string[] {
  const parameters = policy.CachePolicyConfig?.ParametersInCacheKeyAndForwardedToOrigin ?? {};
  return (['Header', 'Cookie', 'QueryString'] as const).flatMap((kind) => {
    const list = parameters[`${kind}sConfig`]?.[`${kind}s`];
    return Array.isArray(list) ? list.filter((name): name is string => typeof name === 'string') : [];
  });
}

/** The distributions of the template that associate each CloudFront Function, by the function's logical id (or its ARN as written). */
function distributionsByFunction(template: CfnTemplateJson): Map<string, Set<string>> {
  const byFunction = new Map<string, Set<string>>();
  for (const d of distributionConfigs(template)) {
    for (const b of [d.config.DefaultCacheBehavior, ...(d.config.CacheBehaviors ?? [])]) {
      for (const a of b?.FunctionAssociations ?? []) {
        const arn = a.FunctionARN;
        const key = typeof arn?.['Fn::GetAtt']?.[0] === 'string' ? arn['Fn::GetAtt'][0] : JSON.stringify(arn);
        byFunction.set(key, (byFunction.get(key) ?? new Set()).add(d.id));
      }
    }
  }
  return byFunction;
}

/**
 * The template's Lambda@Edge functions (those whose role lets
 * edgelambda.amazonaws.com assume it) and their versions, by logical id.
 */
function lambdaEdgeResources(template: CfnTemplateJson): string[] {
  const resources = template.Resources ?? {};
  const trustsEdge = (role: unknown) => {
    const roleId = (role as any)?.['Fn::GetAtt']?.[0];
    return typeof roleId === 'string' && JSON.stringify(resources[roleId]?.Properties?.AssumeRolePolicyDocument ?? null).includes('edgelambda.amazonaws.com');
  };
  const functions = resourcesOf(template, 'AWS::Lambda::Function').filter((f) => trustsEdge(f.properties.Role)).map((f) => f.id);
  const versions = resourcesOf(template, 'AWS::Lambda::Version').filter((v) => functions.includes(v.properties.FunctionName?.Ref)).map((v) => v.id);
  return [...functions, ...versions];
}

/**
 * Entries and initial flags each MultiZoneDistribution's store sync writes,
 * read from the table asset its metadata names (`storeAsset`), which sits
 * in the cloud assembly beside the template.
 */
function storeKeys(template: CfnTemplateJson, assetDirectory: string | undefined): StoreKey[] {
  const keys: StoreKey[] = [];
  for (const [id, resource] of Object.entries<any>(template.Resources ?? {})) {
    const asset = resource?.Type === 'AWS::CloudFront::Distribution' ? resource.Metadata?.[METADATA_KEY]?.storeAsset?.path : undefined;
    if (typeof asset !== 'string') continue;
    if (assetDirectory === undefined) {
      throw new Error(`templateLimitProblems: distribution ${id} keeps its store contents in asset ${asset}; pass assetDirectory (the cloud assembly directory) to check them`);
    }
    const file = readSiteAsset(asset, { assetDirectory });
    for (const part of [file.entries, file.initialFlags]) {
      for (const [key, value] of Object.entries(part ?? {})) keys.push({ where: asset, key, value: literal(value) });
    }
    // The release records the sync makes at the first deploy.
    const releaseKeys = resource.Metadata[METADATA_KEY].releases ?? {};
    for (const [zone, release] of Object.entries<any>(file.releases ?? {})) {
      keys.push({ where: asset, key: releaseKeys[zone]?.key ?? zone, value: encodeRecord(initialRecord(release.deploymentId)) });
    }
  }
  return keys;
}

/** Occurrences of `{{resolve:...}}` in the template. */
export function dynamicReferenceCount(value: unknown): number {
  return (JSON.stringify(value ?? null).match(/\{\{resolve:/g) ?? []).length;
}

/**
 * Every limit the construct relies on. Rows are small and named, each with
 * one job, like cdk-nag's rule packs.
 */
export const PLATFORM_LIMITS: ReadonlyArray<PlatformLimit> = [
  {
    id: 'cache-behaviors-per-distribution',
    title: 'Cache behaviors per distribution',
    value: 75,
    unit: 'cache behaviors, the default included',
    scope: 'per distribution',
    adjustable: true,
    doc: CLOUDFRONT_QUOTAS,
    handling:
      'Planned within `maxCacheBehaviors` (default 75): the most specific routes keep behaviors and the rest overflow to the router function; with `overflowToFunction: false`, refused at synth ("maxCacheBehaviors: the zones need N cache behaviors ...").',
    check: (t, max) => distributionConfigs(t).flatMap((d) => over(d.id, (d.config.CacheBehaviors ?? []).length + 1, max, 'cache behaviors')),
  },
  {
    id: 'origins-per-distribution',
    title: 'Origins per distribution',
    value: 100,
    unit: 'origins',
    scope: 'per distribution',
    adjustable: true,
    doc: CLOUDFRONT_QUOTAS,
    handling: 'One origin per zone. Refused at synth past `maxOrigins` (default 100): "maxOrigins: the zones need N origins ...".',
    check: (t, max) => distributionConfigs(t).flatMap((d) => over(d.id, (d.config.Origins ?? []).length, max, 'origins')),
  },
  {
    id: 'origin-custom-headers',
    title: 'Custom headers CloudFront adds to origin requests',
    value: 30,
    unit: 'headers',
    scope: 'per origin',
    adjustable: true,
    doc: CLOUDFRONT_QUOTAS,
    handling: '`originVerifyHeader` adds one to each HTTP origin; the zone\'s own headers are kept. Checked on the template.',
    check: (t, max) =>
      distributionConfigs(t).flatMap((d) =>
        (d.config.Origins ?? []).flatMap((o: any) => over(`${d.id} origin ${o.Id}`, (o.OriginCustomHeaders ?? []).length, max, 'custom headers')),
      ),
  },
  {
    id: 'path-pattern-length',
    title: 'Path pattern length',
    value: 255,
    unit: 'characters',
    scope: 'per cache behavior',
    adjustable: false,
    doc: CACHE_BEHAVIOR_SETTINGS,
    handling: 'Refused at synth for zone, asset-prefix, Pages Router data and override patterns: "path pattern \\"...\\" is N characters, CloudFront allows at most 255".',
    check: (t, max) =>
      distributionConfigs(t).flatMap((d) =>
        (d.config.CacheBehaviors ?? []).flatMap((b: any) => over(`${d.id} behavior "${String(b.PathPattern).slice(0, 40)}"`, String(b.PathPattern).length, max, 'characters')),
      ),
  },
  {
    id: 'path-pattern-characters',
    title: 'Path pattern characters',
    value: 'A-Z a-z 0-9 _ - . * $ / ~ " \' @ : + & ?',
    unit: 'characters allowed',
    scope: 'per cache behavior',
    adjustable: false,
    doc: CACHE_BEHAVIOR_SETTINGS,
    handling: 'Refused at synth: "path pattern \\"...\\" has characters CloudFront refuses: ...".',
    check: (t) =>
      distributionConfigs(t).flatMap((d) =>
        (d.config.CacheBehaviors ?? [])
          .filter((b: any) => !PATH_PATTERN_CHARACTERS.test(String(b.PathPattern)))
          .map((b: any) => ({ where: `${d.id} behavior`, found: `path pattern "${b.PathPattern}"` })),
      ),
  },
  {
    id: 'function-code-size',
    title: 'CloudFront Functions: maximum function size',
    value: 10240,
    unit: 'bytes',
    scope: 'per function',
    adjustable: false,
    doc: CLOUDFRONT_QUOTAS,
    handling:
      'Designed away: the routing table and the zones it names live in the KeyValueStore, so the router (about 5.1 KB) does not grow with zones or overrides; only the names of previewable flags and zone flags add to it (10 zone flags of 128 characters: 6.3 KB). The release router and each zone release function (about 7.4 and 6.2 KB) grow with neither releases nor zones. Refused at synth past the limit for every generated function; checked on the template.',
    check: (t, max) =>
      resourcesOf(t, 'AWS::CloudFront::Function').flatMap((r) => {
        const code = literal(r.properties.FunctionCode);
        return code === undefined ? [] : over(r.id, bytes(code), max, 'bytes of code');
      }),
  },
  {
    id: 'speculation-rules-code-size',
    title: 'CloudFront Functions: maximum function size, for the function whose code holds the Speculation Rules file',
    value: 10240,
    unit: 'bytes of code, the rules file included',
    scope: 'per function',
    adjustable: false,
    doc: CLOUDFRONT_QUOTAS,
    handling:
      'The rules file is answered by a viewer-request function that holds it (832 bytes for the example; each zone\'s asset prefix and each exclude pattern adds its length plus about 20 bytes, routes and overrides nothing). Refused at synth past the limit: "crossZonePrefetch: the function answering /_multizone/speculation-rules.json holds the rules file in its code, N bytes ...", naming the remedy (fewer or shorter patterns, or `CrossZonePrefetch.none()`); checked on the template with every function (function-code-size). The code is the only size a generated answer reaches: its body and four headers are far below any response size limit.',
  },
  {
    id: 'function-answers-not-cached',
    title: 'Answers of viewer-request functions are made on every request, not cached',
    value: 0,
    unit: 'seconds cached at the edge',
    scope: 'per response a viewer-request function generates',
    adjustable: false,
    doc: FUNCTION_PURPOSE,
    handling:
      'Designed for: a viewer-request function runs before CloudFront checks its cache, so the rules file is generated at the edge on each request (no zone round trip, sub-millisecond), under CachingDisabled (there is nothing to cache); browsers keep it with `Cache-Control: no-cache` and revalidate with its ETag, which the function answers 304.',
  },
  {
    id: 'stores-per-function',
    title: 'Key value stores associated with a function',
    value: 1,
    unit: 'key value stores',
    scope: 'per function',
    adjustable: false,
    doc: CLOUDFRONT_QUOTAS,
    handling: 'Designed away: flags and the routing table share one store; only the router and the zone-flag decider are associated with it.',
    check: (t, max) =>
      resourcesOf(t, 'AWS::CloudFront::Function').flatMap((r) => over(r.id, (r.properties.FunctionConfig?.KeyValueStoreAssociations ?? []).length, max, 'stores')),
  },
  {
    id: 'functions-per-account',
    title: 'CloudFront Functions per AWS account',
    value: 100,
    unit: 'functions',
    scope: 'per account (this template\'s share)',
    adjustable: true,
    doc: CLOUDFRONT_QUOTAS,
    handling:
      'Designed away: at most six functions per site (the router, the zone-flag decider, the host forwarder, the next/image Accept reducer, the visitor cookie, the Speculation Rules answer of `crossZonePrefetch`), whatever the number of zones.',
    check: countOf('AWS::CloudFront::Function', 'functions'),
  },
  {
    id: 'distributions-per-function',
    title: 'CloudFront Functions: distributions associated with one function',
    value: 100,
    unit: 'distributions',
    scope: 'per function (this template\'s distributions)',
    adjustable: false,
    doc: CLOUDFRONT_QUOTAS,
    handling: 'Designed away: each MultiZoneDistribution creates its own functions and associates them with its one distribution. Checked on the template: the distributions associating each function.',
    check: (t, max) => [...distributionsByFunction(t)].flatMap(([fn, distributions]) => over(`function ${fn}`, distributions.size, max, 'distributions')),
  },
  {
    id: 'cache-policies-per-account',
    title: 'Cache policies per AWS account',
    value: 20,
    unit: 'custom cache policies',
    scope: 'per account (this template\'s share)',
    adjustable: true,
    doc: CLOUDFRONT_QUOTAS,
    handling: 'Designed away: at most three custom cache policies per site (pages, pages a flag can move, next/image); assets use the managed CachingOptimized.',
    check: countOf('AWS::CloudFront::CachePolicy', 'cache policies'),
  },
  {
    id: 'origin-request-policies-per-account',
    title: 'Origin request policies per AWS account',
    value: 20,
    unit: 'custom origin request policies',
    scope: 'per account (this template\'s share)',
    adjustable: true,
    doc: CLOUDFRONT_QUOTAS,
    handling: 'Designed away: none created; pages use the managed AllViewerExceptHostHeader.',
    check: countOf('AWS::CloudFront::OriginRequestPolicy', 'origin request policies'),
  },
  {
    id: 'response-headers-policies-per-account',
    title: 'Response headers policies per AWS account',
    value: 20,
    unit: 'custom response headers policies',
    scope: 'per account (this template\'s share)',
    adjustable: true,
    doc: CLOUDFRONT_QUOTAS,
    handling:
      'At most one per site: with `crossZonePrefetch` (the default) zone pages need `Speculation-Rules` besides the security headers, and a policy cannot be extended, so pages get one custom policy (the managed SecurityHeadersPolicy\'s headers, or a copy of the given `responseHeadersPolicy`, plus the header); every other behavior uses the policy as given. `CrossZonePrefetch.none()` creates none. Checked on the template.',
    check: countOf('AWS::CloudFront::ResponseHeadersPolicy', 'response headers policies'),
  },
  {
    id: 'response-headers-policy-custom-headers',
    title: 'Custom headers per response headers policy',
    value: 10,
    unit: 'custom headers',
    scope: 'per response headers policy',
    adjustable: false,
    doc: CLOUDFRONT_QUOTAS,
    handling:
      'The zone pages\' policy copies the given `responseHeadersPolicy` and adds `Speculation-Rules`: when that would make more than 10, the default `crossZonePrefetch` turns off with a warning, and an explicit one is refused at synth ("crossZonePrefetch: ... responseHeadersPolicy <path> has N custom headers ..."), naming the remedy. Checked on the template.',
    check: (t, max) =>
      resourcesOf(t, 'AWS::CloudFront::ResponseHeadersPolicy').flatMap((r) =>
        over(r.id, (r.properties.ResponseHeadersPolicyConfig?.CustomHeadersConfig?.Items ?? []).length, max, 'custom headers'),
      ),
  },
  {
    id: 'origin-access-controls-per-account',
    title: 'Origin access controls per AWS account',
    value: 100,
    unit: 'origin access controls',
    scope: 'per account (this template\'s share)',
    adjustable: true,
    doc: CLOUDFRONT_QUOTAS,
    handling: 'Zones\' origins create them (one per S3 or function URL origin with origin access control, unless you pass one to share). Checked on the template.',
    check: countOf('AWS::CloudFront::OriginAccessControl', 'origin access controls'),
  },
  {
    id: 'policy-headers',
    title: 'Headers per cache policy and per origin request policy',
    value: 10,
    unit: 'headers',
    scope: 'per policy',
    adjustable: true,
    doc: CLOUDFRONT_QUOTAS,
    handling:
      'Designed away: page policies key on the five Next.js RSC headers, plus the zone header where a flag can move the page, plus `x-multizone-flags` when the site has `zoneFlags`: at most 7.',
    check: policyListCheck('Header', 'headers'),
  },
  {
    id: 'policy-cookies',
    title: 'Cookies per cache policy and per origin request policy',
    value: 10,
    unit: 'cookies',
    scope: 'per policy',
    adjustable: true,
    doc: CLOUDFRONT_QUOTAS,
    handling: 'Designed away: no policy of the construct lists cookies.',
    check: policyListCheck('Cookie', 'cookies'),
  },
  {
    id: 'policy-query-strings',
    title: 'Query strings per cache policy and per origin request policy',
    value: 10,
    unit: 'query strings',
    scope: 'per policy',
    adjustable: true,
    doc: CLOUDFRONT_QUOTAS,
    handling: 'Designed away: page policies key on all query strings, which is no list.',
    check: policyListCheck('QueryString', 'query strings'),
  },
  {
    id: 'cache-policy-names-length',
    title: 'Total length of the query string, header and cookie names in one cache policy',
    value: 1024,
    unit: 'characters',
    scope: 'per cache policy',
    adjustable: false,
    doc: CLOUDFRONT_QUOTAS,
    handling: 'Designed away: page policies key on at most 7 header names of at most 28 characters each, the next/image policy on `Accept` and its three query strings; none lists a cookie. Checked on the template.',
    check: (t, max) =>
      resourcesOf(t, 'AWS::CloudFront::CachePolicy').flatMap((r) => over(r.id, cacheKeyNames(r.properties).join('').length, max, 'characters of names')),
  },
  {
    id: 'stores-per-account',
    title: 'Key value stores per AWS account',
    value: 50,
    unit: 'key value stores',
    scope: 'per account (this template\'s share)',
    adjustable: true,
    doc: CLOUDFRONT_QUOTAS,
    handling: 'Designed away: one store per site, and only when overrides or overflow routing need it (or the `keyValueStore` you pass).',
    check: countOf('AWS::CloudFront::KeyValueStore', 'key value stores'),
  },
  {
    id: 'store-key-size',
    title: 'Key value store: key size',
    value: 512,
    unit: 'bytes',
    scope: 'per key',
    adjustable: false,
    doc: KVS_FILE_FORMAT,
    handling: 'Table keys are `mz-site:<site>:<version>:` (28 bytes) and a bucket path of at most one pattern\'s literal segments; flag names are refused at synth when they cannot be keys. Checked on the store\'s table asset.',
    check: (_t, max, site) => site.storeKeys.flatMap((k) => over(`${k.where} key "${k.key.slice(0, 40)}"`, bytes(k.key), max, 'bytes')),
  },
  {
    id: 'store-value-size',
    title: 'Key value store: value size',
    value: 1024,
    unit: 'bytes',
    scope: 'per value',
    adjustable: false,
    doc: KVS_FILE_FORMAT,
    handling: 'Designed away: the routing table is split into buckets and chunks that each fit in one value. Checked on the store\'s table asset.',
    check: (_t, max, site) => site.storeKeys.flatMap((k) => (k.value === undefined ? [] : over(`${k.where} key "${k.key.slice(0, 40)}"`, bytes(k.value), max, 'bytes'))),
  },
  {
    id: 'store-size',
    title: 'Key value store: total size',
    value: 5_000_000,
    unit: 'bytes (5 MB, read as 5,000,000)',
    scope: 'per store',
    adjustable: false,
    doc: KVS_FILE_FORMAT,
    handling:
      'A routing table over half the store is refused at synth ("overrides: the routing table takes N bytes ..."), so the version edge functions may still read fits beside it; the sync drops the oldest replaced versions first when the store would overflow. Checked on the store\'s table asset: the keys and values one deploy writes.',
    check: (_t, max, site) => {
      const byResource = new Map<string, number>();
      for (const k of site.storeKeys) byResource.set(k.where, (byResource.get(k.where) ?? 0) + bytes(k.key) + bytes(k.value ?? ''));
      return [...byResource].flatMap(([where, size]) => over(where, size, max, 'bytes of keys and values'));
    },
  },
  {
    id: 'store-write-if-match',
    title: 'Key value store writes: only with the store\'s current ETag (IfMatch)',
    value: 'IfMatch',
    unit: 'header: the store\'s current ETag, from DescribeKeyValueStore',
    scope: 'per write (PutKey, UpdateKeys), the whole store',
    adjustable: false,
    doc: KVS_PUT_KEY,
    handling:
      'Every write reads the store\'s ETag (DescribeKeyValueStore) before the values it changes, so a write by anyone else in between fails with ConflictException instead of being overwritten: the store sync then runs again (4 attempts in all), the alarm rollback reads the release record again and decides again (5 attempts; it writes nothing when the release the alarm judged is no longer the one to take out).',
  },
  {
    id: 'functions-per-key-value-store',
    title: 'Functions associated with a key value store',
    value: 10,
    unit: 'functions',
    scope: 'per key value store, every site and function on it together',
    adjustable: false,
    doc: CLOUDFRONT_QUOTAS,
    handling:
      'A site associates with its store the router, the release router and the zone-flag decider when it needs them, and one function per zone with releases (the zone release function). Sites sharing a `keyValueStore` are counted together: at synth across the app, every function associated with the same store construct or ARN ("keyValueStore: N CloudFront Functions of the app are associated with store ..., at most 10 allowed", naming each site and function); at deploy across every site recorded in the store, whatever its stack, the sync failing before it writes anything, naming the sites. Checked on the template: functions associating each store.',
    check: (t, max) => {
      const byStore = new Map<string, number>();
      for (const r of resourcesOf(t, 'AWS::CloudFront::Function')) {
        for (const a of r.properties.FunctionConfig?.KeyValueStoreAssociations ?? []) {
          const store = JSON.stringify(a.KeyValueStoreARN);
          byStore.set(store, (byStore.get(store) ?? 0) + 1);
        }
      }
      return [...byStore].flatMap(([store, count]) => over(`store ${store}`, count, max, 'functions'));
    },
  },
  {
    id: 'store-name',
    title: 'Key value store name: length and characters',
    value: 64,
    unit: 'characters of A-Z a-z 0-9 - _',
    scope: 'per store',
    adjustable: false,
    doc: CREATE_KEY_VALUE_STORE,
    handling: `Designed away: the construct names its store from the stack name, construct path and region, within 64 characters (${REGION_NAME_ROOM} kept for a region known only at deploy).`,
    check: (t, max) =>
      resourcesOf(t, 'AWS::CloudFront::KeyValueStore').flatMap((r) => {
        const parts = nameParts(r.properties.Name);
        if (!parts) return [];
        const text = parts.filter((p): p is string => p !== null).join('');
        const length = text.length + parts.filter((p) => p === null).length * REGION_NAME_ROOM;
        if (text !== '' && !KVS_NAME_CHARACTERS.test(text)) return [{ where: r.id, found: `name "${text}" with characters outside A-Z a-z 0-9 - _` }];
        return over(r.id, length, max, 'characters of name');
      }),
  },
  {
    id: 'account-wide-names',
    title: 'Names unique in the account: key value stores, functions, policies, origin access controls',
    value: 1,
    unit: 'resource per name',
    scope: 'per account, all regions (CloudFront is global)',
    adjustable: false,
    doc: CREATE_KEY_VALUE_STORE,
    handling:
      'Designed away: the store and the origin access controls of zones are named with the region (and aws-cdk-lib names functions and cache policies with it), so the same stack deploys in two regions. Checked on the template: names are distinct and carry the region.',
    check: (t) => {
      const findings: LimitFinding[] = [];
      const seen = new Map<string, string>();
      for (const [type, path] of Object.entries(ACCOUNT_WIDE_NAMES)) {
        for (const r of resourcesOf(t, type)) {
          const parts = nameParts(propertyAt(r.properties, path));
          if (!parts) continue;
          const key = JSON.stringify(parts);
          const other = seen.get(key);
          if (other) findings.push({ where: r.id, found: `the same name as ${other}` });
          seen.set(key, r.id);
          const hasRegion = parts.some((p) => p === null || /(^|[^a-z])[a-z]{2,4}(-[a-z]+)+-\d+/.test(p));
          if (!hasRegion) findings.push({ where: r.id, found: `name "${parts.join('')}" without the region: the same stack in a second region would collide` });
        }
      }
      return findings;
    },
  },
  {
    id: 'dynamic-references',
    title: 'Dynamic references per template',
    value: 60,
    unit: 'dynamic references ({{resolve:...}})',
    scope: 'per template',
    adjustable: false,
    doc: DYNAMIC_REFERENCES,
    handling:
      '`originVerifyHeader` writes its secret once per HTTP origin; when the distribution alone holds more than 60, refused at synth ("originVerifyHeader: its value is a dynamic reference ... N in the distribution ..."), naming the remedy: `SecretValue.cfnParameter` of a NoEcho parameter (a Ref, not a dynamic reference). The whole template is checked too.',
    check: (t, max) => over('template', dynamicReferenceCount(t), max, 'dynamic references'),
  },
  {
    id: 'resources-per-template',
    title: 'Resources per template',
    value: 500,
    unit: 'resources',
    scope: 'per template',
    adjustable: false,
    doc: CLOUDFORMATION_QUOTAS,
    handling: 'Designed away: a site adds a fixed handful of resources, plus the origin access controls and permissions of its zones\' origins; aws-cdk-lib refuses a stack past 500 at synth.',
    check: (t, max) => over('template', Object.keys(t.Resources ?? {}).length, max, 'resources'),
  },
  {
    id: 'outputs-per-template',
    title: 'Outputs per template',
    value: 200,
    unit: 'outputs',
    scope: 'per template',
    adjustable: false,
    doc: CLOUDFORMATION_QUOTAS,
    handling: 'Designed away: at most four outputs per site (`stackOutputs`).',
    check: (t, max) => over('template', Object.keys(t.Outputs ?? {}).length, max, 'outputs'),
  },
  {
    id: 'table-reads-per-request',
    title: 'CloudFront Functions: compute utilization (the construct\'s bound on store reads a request)',
    value: 8,
    unit: 'table values read',
    scope: 'per request',
    adjustable: false,
    doc: FUNCTION_RESTRICTIONS,
    handling:
      'Our bound, not an AWS number: a function past its compute budget fails the request (503), so the table is indexed to need one read a request (hashed first-segment buckets, deeper ones only when a bucket overflows) and a table needing more than 8 values for some request is refused at synth, naming the patterns ("overrides: N path patterns ... KeyValueStore reads a request, at most 8 allowed"); the router also stops itself after 8 and fails safe.',
  },
  {
    id: 'zone-flags-per-request',
    title: 'CloudFront Functions: compute utilization (the construct\'s bound on zone flags)',
    value: 10,
    unit: 'zone flags',
    scope: 'per site (each one a store read on every page request)',
    adjustable: false,
    doc: FUNCTION_RESTRICTIONS,
    handling:
      'Our bound, not an AWS number: every page request reads each zone flag once (shared with routing reads of the same flag), and a function past its compute budget fails the request (503); 10 is what the benchmark measures (`npm run bench:function`, zone-flag rows), and more are refused at synth ("zoneFlags: N flags, at most 10").',
  },
  {
    id: 'origin-update-event',
    title: 'cf.updateRequestOrigin: viewer-request functions of runtime cloudfront-js-2.0 only, importing the cloudfront module',
    value: 'viewer-request',
    unit: 'event type',
    scope: 'per function that updates the origin',
    adjustable: false,
    doc: ORIGIN_MODIFICATION,
    handling:
      'Designed for: the release router and the zone release functions, which point a request at a release\'s origin, are viewer-request functions of cloudfront-js-2.0 whose first line imports `cloudfront`. Checked on the template: every function whose code calls `cf.updateRequestOrigin` has that runtime and first line, and is associated only as viewer-request.',
    check: (t) => {
      const updating = resourcesOf(t, 'AWS::CloudFront::Function').filter((r) => literal(r.properties.FunctionCode)?.includes('cf.updateRequestOrigin(') === true);
      const ids = new Set(updating.map((r) => r.id));
      const found: LimitFinding[] = updating
        .filter((r) => r.properties.FunctionConfig?.Runtime !== 'cloudfront-js-2.0' || !String(r.properties.FunctionCode).startsWith("import cf from 'cloudfront';"))
        .map((r) => ({ where: r.id, found: `runtime ${r.properties.FunctionConfig?.Runtime} without the cloudfront import first` }));
      for (const d of distributionConfigs(t)) {
        for (const b of [d.config.DefaultCacheBehavior, ...(d.config.CacheBehaviors ?? [])]) {
          for (const a of b?.FunctionAssociations ?? []) {
            const fn = a.FunctionARN?.['Fn::GetAtt']?.[0];
            if (ids.has(fn) && a.EventType !== 'viewer-request') found.push({ where: `${d.id} behavior ${b.PathPattern ?? '*'}`, found: `${fn} as ${a.EventType}` });
          }
        }
      }
      return found;
    },
  },
  {
    id: 'release-origin-protocol',
    title: 'Origins set by cf.updateRequestOrigin: HTTPS custom origins, and Lambda function URLs behind origin access control',
    value: 'https',
    unit: 'protocol',
    scope: 'per release origin',
    adjustable: false,
    doc: ORIGIN_MODIFICATION,
    handling:
      'Refused by `multizone release` before anything is written: an origin that is not an https:// URL ("Zone \"blog\": origin ... must be https://"), with credentials, a query or a fragment, or a function URL for a zone whose own origin is not one (only those behaviors hash request bodies, which Lambda needs from origin access control: function-url-oac-payload-hash). The local edge also takes http://localhost and http://127.0.0.1. A release origin takes no origin slot of the distribution (origins-per-distribution).',
  },
  {
    id: 'origin-update-vpc',
    title: 'cf.updateRequestOrigin cannot update a VPC origin (the request fails), and can set an origin path but not remove one',
    value: 0,
    unit: 'VPC origins with releases',
    scope: 'per zone with releases',
    adjustable: false,
    doc: ORIGIN_MODIFICATION,
    handling: 'Refused at synth: a zone with releases whose origin is a VPC origin ("Zones ...: releases need an origin the edge can point at each release, and cf.updateRequestOrigin cannot update a VPC origin; ..."), or has an origin path, which every release would inherit ("Zone \\"blog\\": its origin has the origin path ..."). Checked on the template: no zone with releases has a VPC origin.',
    check: (t) =>
      distributionConfigs(t).flatMap((d) => {
        const vpc = new Set((d.config.Origins ?? []).filter((o: any) => o.VpcOriginConfig).map((o: any) => o.Id));
        const zones = new Set(Object.keys((t.Resources?.[d.id] as any)?.Metadata?.[METADATA_KEY]?.releases ?? {}));
        return [...vpc].filter((id) => zones.has(String(id).replace(/^zone-/, ''))).map((id) => ({ where: `${d.id} origin ${id}`, found: 'a VPC origin of a zone with releases' }));
      }),
  },
  {
    id: 'release-record-size',
    title: 'Key value store: value size, for one zone\'s release record',
    value: 1024,
    unit: 'bytes',
    scope: 'per zone with releases',
    adjustable: false,
    doc: KVS_FILE_FORMAT,
    handling:
      'A zone\'s releases are one value, so a request reads one more value at most (release-reads-per-request). The releases that fit depend on their ids and URLs: with 40-character ids and 54-character URLs, six (the current one and five replaced within `skewProtectionMaxAge`); with 2-character ids and 27-character URLs, nineteen. Releases no viewer can reach and no rollback needs are dropped at each write; then the oldest rollback targets; a release that would still not fit is refused ("Zone \"blog\": the releases would take N bytes, over the 1024 bytes of one KeyValueStore value; ..."), by the CLI and by the sync, before anything is written. Checked on the template: the record each zone starts with (store-value-size).',
    check: (_t, max, site) => site.storeKeys.filter((k) => k.key.includes(':@release:')).flatMap((k) => over(`${k.where} key "${k.key}"`, bytes(k.value ?? ''), max, 'bytes')),
  },
  {
    id: 'release-reads-per-request',
    title: 'CloudFront Functions: compute utilization (the construct\'s bound on store reads for releases)',
    value: 1,
    unit: 'store values read',
    scope: 'per request to a zone with releases (none for other zones)',
    adjustable: false,
    doc: FUNCTION_RESTRICTIONS,
    handling:
      'Our bound, not an AWS number: the release picked for a request comes from its zone\'s one record (the preview secret is in it too), read only when the request goes to a zone with releases; the routing table and flag reads are as before. Measured by `npm run bench:function` (release rows).',
  },
  {
    id: 'deployment-id-length',
    title: 'Deployment id: length and characters (the construct\'s bound)',
    value: 64,
    unit: 'characters: letters, digits, "_", "." and "-"',
    scope: 'per release',
    adjustable: false,
    doc: NEXT_DEPLOYMENT_ID,
    handling:
      'Our bound, not a Next.js one: a deployment id travels in a header, a query string, a cookie entry and the release record (release-record-size), so it is kept short and URL-safe. Refused at synth ("Zone \"blog\": releases.deploymentId: deployment id ... must be 1 to 64 letters, digits, ...") and by `multizone release`; the edge ignores any other id a request carries. Checked on the template: the deployment ids the site metadata records.',
    check: (t, max) =>
      Object.entries(t.Resources ?? {}).flatMap(([id, r]: [string, any]) =>
        Object.entries<any>(r.Metadata?.[METADATA_KEY]?.releases ?? {})
          .filter(([, release]) => !new RegExp(`^[A-Za-z0-9_.-]{1,${max}}$`).test(String(release.deploymentId)))
          .map(([zone, release]) => ({ where: `${id} zone ${zone}`, found: `deployment id "${String(release.deploymentId).slice(0, 80)}"` })),
      ),
  },
  {
    id: 'request-size',
    title: 'Maximum length of a request, including headers and query strings, not the body',
    value: 20480,
    unit: 'bytes',
    scope: 'per request',
    adjustable: false,
    doc: CLOUDFRONT_QUOTAS,
    handling:
      'Designed away: the zone-flags header the function adds (`x-multizone-flags`) is at most 10 entries of a 128-character name and `=off`, 1,329 bytes, within the zone package\'s 8,192-character bound (`MAX_ZONE_FLAGS_HEADER_LENGTH`), as test/zone-flags.test.ts checks on the longest header the edge can write.',
  },
  {
    id: 'functions-per-event-type-per-behavior',
    title: 'CloudFront Functions associated with one cache behavior, per event type',
    value: 1,
    unit: 'functions',
    scope: 'per cache behavior and event type (viewer request, viewer response)',
    adjustable: false,
    doc: FUNCTION_RESTRICTIONS,
    handling:
      'Designed away: each behavior gets one viewer-request function for its role (router, zone-flag decider, host forwarder, next/image Accept reducer) and, where a flag decision buckets viewers, the one viewer-response function that sets the visitor cookie. Checked on the template.',
    check: (t, max) =>
      distributionConfigs(t).flatMap((d) =>
        [...(d.config.CacheBehaviors ?? []), ...(d.config.DefaultCacheBehavior ? [{ ...d.config.DefaultCacheBehavior, PathPattern: '*' }] : [])].flatMap((b: any) =>
          ['viewer-request', 'viewer-response'].flatMap((type) =>
            over(`${d.id} behavior "${b.PathPattern}"`, (b.FunctionAssociations ?? []).filter((a: any) => a.EventType === type).length, max, `${type} functions`),
          ),
        ),
      ),
  },
  {
    id: 'cookie-max-age',
    title: 'Cookie lifetime browsers keep (Max-Age and Expires are cut to it)',
    value: 34_560_000,
    unit: 'seconds (400 days)',
    scope: 'per cookie',
    adjustable: false,
    doc: COOKIE_AGE_LIMIT,
    handling:
      'The visitor cookie `mz-vid` asks for exactly this (`Max-Age=34560000`): longer would be cut to it by Chromium and Firefox, as the draft requires, so the cookie says what browsers keep. It is re-sent, unchanged, on every response where flags are decided, so a viewer returning within 400 days keeps its id past them.',
  },
  {
    id: 'lambda-edge-triggers-per-distribution',
    title: 'Lambda@Edge: triggers per distribution',
    value: 100,
    unit: 'function associations',
    scope: 'per distribution',
    adjustable: true,
    doc: LAMBDA_EDGE_QUOTAS,
    handling: 'The body-hash function goes on exactly the POST-capable behaviors a function URL zone behind OAC can serve; refused at synth past 100 ("Zones ...: N behaviors would run the body-hash function ...").',
    check: (t, max) =>
      distributionConfigs(t).flatMap((d) =>
        over(d.id, [d.config.DefaultCacheBehavior, ...(d.config.CacheBehaviors ?? [])].reduce((n: number, b: any) => n + (b?.LambdaFunctionAssociations ?? []).length, 0), max, 'Lambda@Edge associations'),
      ),
  },
  {
    id: 'lambda-edge-origin-request-body',
    title: 'Lambda@Edge: request body exposed to an origin-request function (include body)',
    value: 1_048_576,
    unit: 'bytes (1 MB); longer bodies are truncated',
    scope: 'per request',
    adjustable: false,
    doc: LAMBDA_EDGE_RESTRICTIONS,
    handling: 'The body hash cannot hash a truncated body, so it answers 413 with the limit in its text instead of the 403 Lambda would give; a client sending its own x-amz-content-sha256 passes at any size.',
  },
  {
    id: 'lambda-edge-region',
    title: 'Lambda@Edge: functions are created in US East (N. Virginia)',
    value: 'us-east-1',
    unit: 'region',
    scope: 'per function',
    adjustable: false,
    doc: LAMBDA_EDGE_RESTRICTIONS,
    handling: 'The body-hash function is a `cloudfront.experimental.EdgeFunction` (a us-east-1 support stack from other regions); a stack with no region at synth is refused, naming the zone.',
  },
  {
    id: 'lambda-edge-deletion',
    title: 'Lambda@Edge: a function or version can be deleted only once CloudFront has deleted its replicas (hours after it is disassociated)',
    value: 'Retain',
    unit: 'DeletionPolicy and UpdateReplacePolicy',
    scope: 'per Lambda@Edge function and version',
    adjustable: false,
    doc: LAMBDA_EDGE_DELETE,
    handling:
      'Retained: the body-hash function and every version of it keep `DeletionPolicy` and `UpdateReplacePolicy` `Retain`, so `cdk destroy` and a deploy that replaces the version complete instead of failing on the replicas; docs/function-url-zones.md says how to delete them afterwards. Checked on the template: every function whose role trusts edgelambda.amazonaws.com, and its versions.',
    check: (t) =>
      lambdaEdgeResources(t).flatMap((id) => {
        const r = t.Resources![id];
        return r.DeletionPolicy === 'Retain' && r.UpdateReplacePolicy === 'Retain' ? [] : [{ where: id, found: `DeletionPolicy ${r.DeletionPolicy ?? 'Delete'} and UpdateReplacePolicy ${r.UpdateReplacePolicy ?? 'Delete'}` }];
      }),
  },
  {
    id: 'function-url-oac-payload-hash',
    title: 'Function URL behind OAC: PUT and POST must carry x-amz-content-sha256',
    value: 'x-amz-content-sha256',
    unit: 'request header',
    scope: 'per request',
    adjustable: false,
    doc: FUNCTION_URL_OAC,
    handling: 'An origin-request Lambda@Edge (body included) sets it to the SHA-256 of the body on the behaviors such a zone can serve; `hashRequestBodies: false` opts a zone out.',
  },
  {
    id: 'invalidation-wildcard-paths-in-progress',
    title: 'Invalidations: wildcard paths in progress at once',
    value: 15,
    unit: 'wildcard paths',
    scope: 'per distribution',
    adjustable: false,
    doc: INVALIDATION_QUOTAS,
    handling: '`multizone invalidate` sends at most 15 wildcard paths an invalidation and waits for each before the next; `--no-wait` past one batch is refused.',
  },
  {
    id: 'invalidation-file-paths-in-progress',
    title: 'Invalidations: file paths in progress at once',
    value: 3000,
    unit: 'file paths',
    scope: 'per distribution',
    adjustable: false,
    doc: INVALIDATION_QUOTAS,
    handling: '`multizone invalidate` batches at most 3,000 file paths an invalidation, one after another.',
  },
  {
    id: 'invalidation-path-length',
    title: 'Invalidations: length of one invalidation path',
    value: 4000,
    unit: 'characters',
    scope: 'per invalidation path',
    adjustable: false,
    doc: {
      title: 'Amazon CloudFront Developer Guide: What you need to know when invalidating paths (Invalidation paths)',
      url: 'https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/invalidation-specifying-objects.html#invalidation-specifying-objects-paths',
    },
    handling: '`multizone invalidate` refuses a longer path before anything is sent, naming the path and its length.',
  },
  {
    id: 'custom-resource-event-size',
    title: 'Lambda: asynchronous invocation payload (a custom resource event carries old and new properties)',
    value: 1_048_576,
    unit: 'bytes (1 MB)',
    scope: 'per event',
    adjustable: false,
    doc: LAMBDA_QUOTAS,
    handling: 'Designed away: the sync resource names its table asset (bucket, key, version) instead of carrying the table, so its event is a few hundred bytes whatever the table\'s size. Checked on the template: twice the sync resource\'s properties.',
    check: (t, max) =>
      resourcesOf(t, 'Custom::MultiZoneKvsSync').flatMap((r) => over(r.id, 2 * bytes(JSON.stringify(r.properties)), max, 'bytes of old and new properties')),
  },
  {
    id: 'rules-per-event-bus',
    title: 'EventBridge: rules per event bus',
    value: 300,
    unit: 'rules (100 in af-south-1 and eu-south-1)',
    scope: 'per event bus, account and Region (this template\'s share of the default bus)',
    adjustable: true,
    doc: EVENTBRIDGE_QUOTAS,
    handling: 'One rule on the default bus per zone with a `releases.rollbackAlarm`, and none otherwise. Checked on the template: its rules.',
    check: countOf('AWS::Events::Rule', 'rules'),
  },
  {
    id: 'targets-per-rule',
    title: 'EventBridge: targets per rule',
    value: 5,
    unit: 'targets',
    scope: 'per rule',
    adjustable: false,
    doc: EVENTBRIDGE_QUOTAS,
    handling: 'Designed away: a rule per zone with one target (the rollback function), even when zones share an alarm. Checked on the template: each rule\'s targets.',
    check: (t, max) => resourcesOf(t, 'AWS::Events::Rule').flatMap((r) => over(r.id, (r.properties.Targets ?? []).length, max, 'targets')),
  },
  {
    id: 'alarm-events-own-region',
    title: 'CloudWatch alarm state changes: sent to the default event bus of the alarm\'s own account and Region',
    value: 'default event bus',
    unit: 'of the alarm\'s account and Region',
    scope: 'per rollback alarm',
    adjustable: false,
    doc: EVENTBRIDGE_SERVICE_EVENTS,
    handling:
      'Refused at synth: a `releases.rollbackAlarm` whose ARN names another account or Region than the stack (`Zone "blog": rollbackAlarm is in account ... and Region ..., but the site is in ...`) would never roll the zone back; an alarm whose ARN is only known at deploy is taken as the stack\'s.',
  },
  {
    id: 'template-size',
    title: 'Template body size in an Amazon S3 object',
    value: 1_000_000,
    unit: 'bytes (1 MB, read as aws-cdk-lib does)',
    scope: 'per template',
    adjustable: false,
    doc: CLOUDFORMATION_QUOTAS,
    handling: 'Checked on the template as the CDK writes it (one-space indentation). The CDK CLI uploads templates past 51,200 bytes (the inline limit) to S3, so that limit is designed away.',
    check: (t, max) => over('template', bytes(JSON.stringify(t, undefined, 1)), max, 'bytes'),
  },
];

/** The row of a limit, by id. */
export function platformLimit(id: string): PlatformLimit {
  const limit = PLATFORM_LIMITS.find((l) => l.id === id);
  if (!limit) throw new Error(`No platform limit "${id}"`);
  return limit;
}

/** The number of a numeric limit, by id. */
export function limitValue(id: string): number {
  const value = platformLimit(id).value;
  if (typeof value !== 'number') throw new Error(`Platform limit "${id}" is not a number`);
  return value;
}

/** A template past a limit. */
export interface TemplateLimitProblem {
  /** The limit's id. */
  readonly limit: string;
  /** Where in the template. */
  readonly where: string;
  /** What was found. */
  readonly found: string;
  /** The limit in force. */
  readonly max: number | string;
  /** The page stating the limit. */
  readonly doc: LimitDocPage;
  /** All of it in one sentence. */
  readonly message: string;
}

/** Options of templateLimitProblems. */
export interface TemplateLimitOptions {
  /**
   * Raised quotas, by limit id (for example `{ 'origins-per-distribution': 150 }`
   * after a quota increase). Only adjustable limits can be raised.
   *
   * @default - the documented default quotas
   */
  readonly raisedQuotas?: Record<string, number>;
  /**
   * The cloud assembly directory of the template (`cdk.out`,
   * `app.synth().directory`), whose assets hold the store's contents.
   *
   * @default - none; a template whose site has a store is refused
   */
  readonly assetDirectory?: string;
}

/**
 * Holds a synthesized template to every limit of the table that shows in
 * a template; returns one problem per place past a limit, naming the
 * limit, the value found and the page that states it. Empty when the
 * template is within every limit.
 */
export function templateLimitProblems(template: CfnTemplateJson, options: TemplateLimitOptions = {}): TemplateLimitProblem[] {
  const raised = options.raisedQuotas ?? {};
  for (const id of Object.keys(raised)) {
    if (!platformLimit(id).adjustable) throw new Error(`Platform limit "${id}" is not adjustable`);
  }
  const site: TemplateAssets = { storeKeys: storeKeys(template, options.assetDirectory) };
  return PLATFORM_LIMITS.flatMap((limit) => {
    if (!limit.check) return [];
    const max = raised[limit.id] ?? (typeof limit.value === 'number' ? limit.value : 0);
    const shown = typeof limit.value === 'number' ? max : limit.value;
    return limit.check(template, max, site).map((f) => ({
      limit: limit.id,
      where: f.where,
      found: f.found,
      max: shown,
      doc: limit.doc,
      message: `${limit.title} (${limit.id}): ${f.where} has ${f.found}; the limit is ${shown} ${limit.unit} ${limit.scope} (${limit.doc.title}, ${limit.doc.url})`,
    }));
  });
}
