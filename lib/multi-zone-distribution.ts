import { Annotations, CfnOutput, Duration, Lazy, Names, Stack, Token } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct, IConstruct } from 'constructs';
import { regionalResourceName } from './account-names';
import { BehaviorPlan, PlannedBehavior, planBehaviors } from './behaviors';
import { bodyHashFunction, canPlaceEdgeFunction } from './body-hash/body-hash-function';
import { CrossZonePrefetch, crossZonePrefetchProblems } from './cross-zone-prefetch';
import { FlagDecisionOptions, ZONE_HEADER, generateRouterCode, generateVisitorCookieCode } from './edge-function/generate';
import { IMAGE_ACCEPT_CODE } from './edge-function/image-accept';
import { speculationRulesFunctionCode } from './edge-function/speculation-rules-function';
import { encodeRoutingTable } from './edge-function/kvs-table';
import { MultiZoneValidationError, throwIfProblems } from './errors';
import { jsonFileAsset } from './json-asset';
import { KvsTableSync, siteKeyId } from './kvs-sync/kvs-table-sync';
import { storeFunctionProblems } from './kvs-sync/store-functions';
import { dynamicReferenceCount, limitValue } from './limits';
import { METADATA_KEY } from './metadata-key';
import { pagePolicyProblem, pageResponseHeadersPolicy } from './page-response-headers';
import { RoutingTable, buildRoutingTable } from './routing-plan';
import { SPECULATION_RULES_PATH, SpeculationRulesPlan, planSpeculationRules } from './speculation-rules';
import { DEFAULT_ORIGIN_VERIFY_HEADER, OriginVerifyHeader, ZoneOrigin, originVerifyHeaderProblems } from './zone-origin';
import { VISITOR_COOKIE, ZONE_FLAGS_HEADER } from './zone-flags';
import { DefaultZoneDefinition, OverrideDefinition, ZoneDefinition, zoneModelProblems } from './zones';

/** Request headers that make Next.js answer a page URL differently (App Router RSC payloads and prefetches). */
export const NEXT_CACHE_KEY_HEADERS = ['RSC', 'Next-Router-State-Tree', 'Next-Router-Prefetch', 'Next-Router-Segment-Prefetch', 'Next-Url'];

/**
 * Lambda@Edge triggers (function associations) a distribution may have
 * by default (CloudFront Developer Guide, "Quotas on Lambda@Edge",
 * triggers per distribution).
 */
export const MAX_LAMBDA_EDGE_TRIGGERS = limitValue('lambda-edge-triggers-per-distribution');

/** Query string parameters of the Next.js image optimizer (`/_next/image?url=&w=&q=`): all it reads. */
export const NEXT_IMAGE_QUERY_STRINGS = ['url', 'w', 'q'];

export { METADATA_KEY };

/** Name of the site asset's file: JSON `SiteAssetFile`. */
export const SITE_ASSET_FILE_NAME = 'multizone-site.json';

/** Where an S3 file asset of the site is: in the cloud assembly at synth, in S3 once deployed. */
export interface SiteAssetLocation {
  /** The staged file, relative to the directory of the template (the cloud assembly): `asset.<hash>.json`. */
  readonly path: string;
  /** The assets bucket's name: a CloudFormation expression in the template, resolved in what DescribeStackResource returns. */
  readonly bucket: string;
  /** The object key in that bucket. */
  readonly key: string;
}

/**
 * The distribution's `MultiZone` metadata: what is small. The routing
 * table and the overflow list grow with the overrides, so they travel in
 * the site asset and the store's contents in the sync's asset; the template
 * stays small whatever the table's size.
 */
export interface SiteMetadata {
  /** Zones and their origin ids. */
  readonly zones: BoundZone[];
  /** Whether the viewer's Host reaches zones as x-forwarded-host. */
  readonly forwardViewerHost: boolean;
  /** The site asset: `SiteAssetFile`. */
  readonly siteAsset: SiteAssetLocation;
  /** The asset the KeyValueStore sync reads (`{ entries, initialFlags }`), when the site has a store. */
  readonly storeAsset?: SiteAssetLocation;
  /** Flags decided at the edge for every page request and forwarded in `x-multizone-flags`, sorted by name (empty: none). */
  readonly zoneFlags: string[];
  /**
   * The cookie whose value rollout buckets follow: `bucketCookie`, else the
   * edge's visitor cookie (`mz-vid`, which the edge sets); absent when
   * viewers are bucketed by IP address.
   */
  readonly bucketCookie?: string;
  /** Whether the edge sets the visitor cookie (`mz-vid`) on the responses of behaviors that bucket viewers. */
  readonly visitorCookie: boolean;
}

/** The site asset's JSON. */
export interface SiteAssetFile {
  /** The routing table the construct planned. */
  readonly table: RoutingTable;
  /** Patterns of the routes that overflowed to the function. */
  readonly overflow: string[];
}

/**
 * Suffixes of the stack outputs a MultiZoneDistribution writes; each
 * output's logical id is the construct's id (letters and digits only)
 * followed by the suffix, e.g. `SiteMultiZoneDistributionId`. The
 * `multizone` CLI finds a deployed site from these.
 */
export const STACK_OUTPUT_SUFFIXES = {
  distributionId: 'MultiZoneDistributionId',
  domainName: 'MultiZoneDomainName',
  functionName: 'MultiZoneRouterFunctionName',
  kvsArn: 'MultiZoneKvsArn',
} as const;

/** Properties of a MultiZoneDistribution. */
export interface MultiZoneDistributionProps {
  /** The zone that serves every path that no other zone or override claims. */
  readonly defaultZone: DefaultZoneDefinition;
  /**
   * The other zones, each with its path patterns and asset prefix. Their
   * order does not matter: the most specific pattern always wins.
   *
   * @default - only the default zone
   */
  readonly zones?: ZoneDefinition[];
  /**
   * Paths that move to another zone while a feature flag is on, decided at
   * the edge on every request, with no redeploy.
   *
   * @default - no overrides
   */
  readonly overrides?: OverrideDefinition[];
  /**
   * Initial flag values (`on`, `off` or `N%`), written when a flag's key
   * does not exist yet; later values are set at runtime and never reset by
   * a deploy. A flag an override names but this map leaves out starts `off`.
   *
   * @default - every flag starts "off"
   */
  readonly flags?: Record<string, string>;
  /**
   * The KeyValueStore holding flags and the routing table.
   *
   * @default - a store is created when overrides or overflow routing need one
   */
  readonly keyValueStore?: cloudfront.IKeyValueStore;
  /**
   * Pass the viewer's Host to zones as `x-forwarded-host` (zones see their
   * own Host). Next.js server actions compare it with `Origin`.
   *
   * @default true
   */
  readonly forwardViewerHost?: boolean;
  /**
   * Cache behaviors the distribution may have, the default behavior included.
   *
   * @default 75 (CloudFront's default quota)
   */
  readonly maxCacheBehaviors?: number;
  /**
   * Origins the distribution may have: one per zone, the default zone
   * included. Raise it after CloudFront raises your "Origins per
   * distribution" quota.
   *
   * @default 100 (CloudFront's default quota)
   */
  readonly maxOrigins?: number;
  /**
   * Route the patterns that do not fit in `maxCacheBehaviors` in the
   * viewer-request function instead of refusing to synthesize.
   *
   * @default true
   */
  readonly overflowToFunction?: boolean;
  /**
   * Cookie whose value keeps a viewer in the same bucket of a percentage
   * rollout (for example a session id your zones set).
   *
   * @default - viewers are bucketed by IP address
   */
  readonly bucketCookie?: string;
  /**
   * Flags decided at the edge for each viewer and forwarded to every
   * zone's page requests (asset and image requests excepted) in the
   * request header `x-multizone-flags: a=off,b=on`, so a feature switches
   * in unison across zones. Each must be a key of `flags`; a flag that
   * also has overrides gets the same decision for routing and for the
   * zones. Every page behavior then runs a function that reads each zone
   * flag from the KeyValueStore once a request, and the header joins the
   * page cache key.
   *
   * @default - none
   */
  readonly zoneFlags?: string[];
  /**
   * Keep a first-party visitor-id cookie, `mz-vid` (`Secure; HttpOnly;
   * SameSite=Lax; Path=/`, 400 days), as the sticky identity of percentage
   * rollouts, so one viewer falls in the same buckets across networks,
   * zones and visits. The edge creates it on a viewer's first request that
   * a flag is decided for, buckets that request by it, and sets it on the
   * response through a viewer-response function, only on behaviors where
   * a flag can be decided (pages a flag can move; every page with
   * `zoneFlags`). Ignored when `bucketCookie` is set; off, viewers are
   * bucketed by IP address.
   *
   * @default true
   */
  readonly visitorCookie?: boolean;
  /**
   * Cache policy for zone pages. With `zoneFlags`, it must have
   * `x-multizone-flags` in its key, or not cache (synth warns).
   *
   * @default - a policy that honors the zone's Cache-Control (nothing cached
   * without it) and keys on the query string and the Next.js RSC headers
   * (and `x-multizone-flags` with `zoneFlags`)
   */
  readonly pageCachePolicy?: cloudfront.ICachePolicy;
  /**
   * Alternative domain names of the distribution.
   *
   * @default - the CloudFront domain only
   */
  readonly domainNames?: string[];
  /**
   * Certificate for `domainNames`, in us-east-1.
   *
   * @default - none
   */
  readonly certificate?: acm.ICertificate;
  /**
   * Distribution comment.
   *
   * @default - none
   */
  readonly comment?: string;
  /**
   * Price class of the distribution.
   *
   * @default PriceClass.PRICE_CLASS_ALL
   */
  readonly priceClass?: cloudfront.PriceClass;
  /**
   * Minimum TLS protocol version for viewers.
   *
   * @default SecurityPolicyProtocol.TLS_V1_2_2021
   */
  readonly minimumProtocolVersion?: cloudfront.SecurityPolicyProtocol;
  /**
   * HTTP versions viewers may use.
   *
   * @default HttpVersion.HTTP2_AND_3
   */
  readonly httpVersion?: cloudfront.HttpVersion;
  /**
   * AWS WAF web ACL (ARN of a WAFv2 web ACL) to associate.
   *
   * @default - none
   */
  readonly webAclId?: string;
  /**
   * Geographic restriction of the distribution.
   *
   * @default - none
   */
  readonly geoRestriction?: cloudfront.GeoRestriction;
  /**
   * Enable standard access logging.
   *
   * @default - false, unless `logBucket` is given
   */
  readonly enableLogging?: boolean;
  /**
   * Bucket for standard access logs.
   *
   * @default - a bucket is created when enableLogging is true
   */
  readonly logBucket?: s3.IBucket;
  /**
   * Key prefix of access log files.
   *
   * @default - none
   */
  readonly logFilePrefix?: string;
  /**
   * Custom error responses.
   *
   * @default - none
   */
  readonly errorResponses?: cloudfront.ErrorResponse[];
  /**
   * Whether the distribution serves requests.
   *
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * Response headers policy of every behavior, pages and assets alike.
   * Pass your own (a `ResponseHeadersPolicy` with a Content-Security-Policy
   * that fits your zones, say) to replace the default; note that an account
   * holds at most 20 custom response headers policies, while managed ones
   * do not count.
   *
   * With `crossZonePrefetch`, zone pages get a copy of this policy (a
   * `ResponseHeadersPolicy` construct, read at synth) with
   * `Speculation-Rules` added; an imported or managed policy other than
   * SecurityHeadersPolicy cannot be read, so it refuses an explicit
   * `crossZonePrefetch` and turns the default one off (with a warning).
   *
   * @default ResponseHeadersPolicy.SECURITY_HEADERS - CloudFront's managed
   * SecurityHeadersPolicy (Strict-Transport-Security,
   * X-Content-Type-Options, X-Frame-Options, Referrer-Policy,
   * X-XSS-Protection); with `crossZonePrefetch`, zone pages get one custom
   * policy with the same headers plus `Speculation-Rules`
   */
  readonly responseHeadersPolicy?: cloudfront.IResponseHeadersPolicy;
  /**
   * Let Chromium fetch links to the site's pages before the click
   * (Speculation Rules): zone pages carry a `Speculation-Rules` header
   * naming `/_multizone/speculation-rules.json`, which the distribution
   * answers itself from a CloudFront Function (one cache behavior, one
   * function, one custom response headers policy), with rules generated
   * from the routing table; assets and `next/image` are never matched.
   * A site of one zone gets nothing.
   *
   * @default CrossZonePrefetch.prefetch() - documents are prefetched on
   * hover (eagerness "moderate"), nothing excluded beyond assets and images
   */
  readonly crossZonePrefetch?: CrossZonePrefetch;
  /**
   * A secret header CloudFront adds to every request to a zone whose origin
   * is a custom (HTTP) origin; zones refuse requests without it, so nobody
   * reaches them around the distribution. (S3 and Lambda function URL
   * zones are better protected with origin access control:
   * `S3BucketOrigin.withOriginAccessControl`,
   * `FunctionUrlOrigin.withOriginAccessControl`.)
   *
   * @default - no header; zones with HTTP origins are reachable directly
   * (synth warns)
   */
  readonly originVerifyHeader?: OriginVerifyHeader;
  /**
   * Write stack outputs with the distribution id and domain name, the
   * router function's name and the KeyValueStore ARN (those that exist),
   * which the `multizone` CLI reads. No exports: other stacks do not
   * depend on them.
   *
   * @default true
   */
  readonly stackOutputs?: boolean;
}

/** A zone as bound into the distribution. */
export interface BoundZone {
  /** The zone's name. */
  readonly name: string;
  /** The origin id the distribution gave the zone's origin: what the function selects. */
  readonly originId: string;
}

/**
 * Several applications (Next.js "zones") on one domain behind one
 * CloudFront distribution.
 *
 * Each zone's path patterns and asset prefix become cache behaviors to its
 * origin, ordered most specific first; assets are cached as immutable and
 * pages by a Next.js-aware key. Feature-flag overrides, and routes past the
 * cache-behavior quota, are decided at the edge by a viewer-request
 * CloudFront Function that reads a KeyValueStore, on those paths only.
 */
export class MultiZoneDistribution extends Construct {
  /** The CloudFront distribution. */
  public readonly distribution: cloudfront.Distribution;
  /**
   * The routing table: zones, routes and overrides in first-match order
   * (TypeScript only: its route kinds are unions).
   *
   * @jsii ignore
   */
  public readonly routingTable: RoutingTable;
  /**
   * The cache behaviors as planned, and what overflowed to the function
   * (TypeScript only, like routingTable).
   *
   * @jsii ignore
   */
  public readonly behaviorPlan: BehaviorPlan;
  /** The viewer-request function that routes by flags and overflow, when any behavior needs it. */
  public readonly routerFunction?: cloudfront.Function;
  /**
   * The viewer-request function of pages no flag can move, on a site
   * without zone flags: drops the viewer's copies of the edge's headers,
   * copies `Authorization` to `x-viewer-authorization`, and passes the
   * viewer's host on (`forwardViewerHost`). It never reads the store.
   */
  public readonly hostForwarderFunction?: cloudfront.Function;
  /** The viewer-request function of pages no flag can move on a site with zone flags: it decides them, reading no routing table. */
  public readonly flagDeciderFunction?: cloudfront.Function;
  /** The viewer-response function that sets the visitor cookie (`mz-vid`) where viewers are bucketed by it. */
  public readonly visitorCookieFunction?: cloudfront.Function;
  /** The viewer-request function of `next/image` behaviors, reducing `Accept` to the image formats it names. */
  public readonly imageAcceptFunction?: cloudfront.Function;
  /** The viewer-request function answering the Speculation Rules file, when the site prefetches across zones. */
  public readonly speculationRulesFunction?: cloudfront.Function;
  /**
   * The Speculation Rules as planned (what is fetched ahead, what never is),
   * when the site prefetches across zones (TypeScript only, like routingTable).
   *
   * @jsii ignore
   */
  public readonly speculationRules?: SpeculationRulesPlan;
  /** The KeyValueStore with flags and the routing table, when overrides or overflow need one. */
  public readonly keyValueStore?: cloudfront.IKeyValueStore;
  /**
   * The origin-request Lambda@Edge function (us-east-1) that adds
   * `x-amz-content-sha256` to request bodies, when a Lambda function URL
   * zone behind origin access control needs it; one per stack.
   */
  public readonly bodyHashFunction?: cloudfront.experimental.EdgeFunction;

  private readonly zoneOrigins: ZoneOrigin[];

  /**
   * @param scope the stack or construct the distribution belongs to
   * @param id the construct id; logical ids, stack outputs and the store's name derive from it
   * @param props the zones, overrides and distribution settings
   * @throws MultiZoneValidationError when the props are refused, naming the zone, override, flag or prop at fault
   */
  constructor(scope: Construct, id: string, props: MultiZoneDistributionProps) {
    super(scope, id);
    const zones = props.zones ?? [];
    const overrides = props.overrides ?? [];
    const prefetch = props.crossZonePrefetch ?? CrossZonePrefetch.prefetch();
    const model = { defaultZone: props.defaultZone, zones, overrides, flags: props.flags ?? {}, zoneFlags: props.zoneFlags ?? [] };
    throwIfProblems([...zoneModelProblems(model), ...optionProblems(props, Stack.of(scope)), ...crossZonePrefetchProblems(prefetch)]);
    const forwardViewerHost = props.forwardViewerHost ?? true;
    this.routingTable = buildRoutingTable(model);
    const zoneFlags = this.routingTable.zoneFlags ?? [];
    const visitorCookie = (props.visitorCookie ?? true) && props.bucketCookie === undefined;
    const plan = (speculationRules: boolean) =>
      planBehaviors(this.routingTable, {
        maxCacheBehaviors: props.maxCacheBehaviors ?? limitValue('cache-behaviors-per-distribution'),
        overflowToFunction: props.overflowToFunction ?? true,
        zoneFlags: zoneFlags.length > 0,
        visitorCookie,
        speculationRules,
      });
    const prefetching = this.planPrefetch(prefetch, props, plan);
    this.behaviorPlan = prefetching?.behaviorPlan ?? plan(false);
    this.speculationRules = prefetching?.rules;
    const fallbackPolicy = props.responseHeadersPolicy ?? cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS;
    const pagePolicy = prefetching ? pageResponseHeadersPolicy(this, props.responseHeadersPolicy) : fallbackPolicy;
    const decisions: FlagDecisionOptions = {
      bucketCookie: props.bucketCookie ?? '',
      visitorCookie,
      previewFlags: this.routingTable.previewFlags,
      zoneFlags,
    };

    const originScope = new Construct(this, 'Zones');
    const verifyHeader = props.originVerifyHeader && {
      headerName: props.originVerifyHeader.headerName ?? DEFAULT_ORIGIN_VERIFY_HEADER,
      headerValue: props.originVerifyHeader.value.unsafeUnwrap(),
    };
    // Lazy: the zones' origins may be bound before the distribution exists (see ZoneOrigin).
    const distributionId = Lazy.string({ produce: () => this.distribution.distributionId });
    this.zoneOrigins = [props.defaultZone, ...zones].map((z) => new ZoneOrigin(z.name, z.origin, originScope, distributionId, verifyHeader));
    const bodyHashing = this.planBodyHashing([props.defaultZone, ...zones]);
    for (const problem of this.zoneOrigins.map((z) => z.authorizationProblem)) {
      if (problem) Annotations.of(this).addWarningV2('multizone:functionUrlAuthorization', problem);
    }
    if (bodyHashing.size > 0) this.bodyHashFunction = bodyHashFunction(this);

    // The router's code and table name the zones' origin ids, known once the distribution has bound every origin.
    let routerCode: string | undefined;
    if (this.behaviorPlan.needsRouter || this.behaviorPlan.needsFlagDecider) {
      const store = props.keyValueStore ?? this.createStore();
      this.keyValueStore = store;
      // Every site and function of the app on the store counts, so the count waits for the whole app.
      this.node.addValidation({ validate: () => storeFunctionProblems(this, store, siteOf) });
    }
    if (this.behaviorPlan.needsRouter) {
      this.routerFunction = new cloudfront.Function(this, 'Router', {
        comment: 'MultiZoneDistribution viewer-request router',
        runtime: cloudfront.FunctionRuntime.JS_2_0,
        keyValueStore: this.keyValueStore,
        code: cloudfront.FunctionCode.fromInline(Lazy.string({ produce: () => routerCode })),
      });
    }
    if (this.behaviorPlan.needsFlagDecider) {
      // Pages no flag can move read only the zone flags, never the routing table.
      this.flagDeciderFunction = new cloudfront.Function(this, 'FlagDecider', {
        comment: 'MultiZoneDistribution viewer-request: zone flags decided and forwarded',
        runtime: cloudfront.FunctionRuntime.JS_2_0,
        keyValueStore: this.keyValueStore,
        code: cloudfront.FunctionCode.fromInline(generateRouterCode({ forwardViewerHost, decideFlags: decisions })),
      });
    }
    if (this.behaviorPlan.needsVisitorCookie) {
      this.visitorCookieFunction = new cloudfront.Function(this, 'VisitorCookie', {
        comment: `MultiZoneDistribution viewer-response: sets the ${VISITOR_COOKIE} visitor cookie`,
        runtime: cloudfront.FunctionRuntime.JS_2_0,
        code: cloudfront.FunctionCode.fromInline(generateVisitorCookieCode()),
      });
    }
    if (this.behaviorPlan.needsHostForwarder) {
      // Pages no flag can move run this one: it never reads the store.
      this.hostForwarderFunction = new cloudfront.Function(this, 'HostForwarder', {
        comment: `MultiZoneDistribution viewer-request: ${forwardViewerHost ? 'viewer host as x-forwarded-host, ' : ''}edge headers dropped, Authorization copied`,
        runtime: cloudfront.FunctionRuntime.JS_2_0,
        code: cloudfront.FunctionCode.fromInline(generateRouterCode({ forwardViewerHost })),
      });
    }
    if (this.behaviorPlan.needsImageAccept) {
      this.imageAcceptFunction = new cloudfront.Function(this, 'ImageAccept', {
        comment: 'MultiZoneDistribution viewer-request: Accept reduced to its image formats for next/image',
        runtime: cloudfront.FunctionRuntime.JS_2_0,
        code: cloudfront.FunctionCode.fromInline(IMAGE_ACCEPT_CODE),
      });
    }

    if (prefetching) {
      this.speculationRulesFunction = new cloudfront.Function(this, 'SpeculationRules', {
        comment: `MultiZoneDistribution viewer-request: answers ${SPECULATION_RULES_PATH}`,
        runtime: cloudfront.FunctionRuntime.JS_2_0,
        code: cloudfront.FunctionCode.fromInline(prefetching.code),
      });
    }

    const policies = new BehaviorPolicies(this, props.pageCachePolicy, zoneFlags.length > 0);
    if (zoneFlags.length > 0 && props.pageCachePolicy) {
      Annotations.of(this).addWarningV2(
        'multizone:zoneFlagsCacheKey',
        `pageCachePolicy: pages carry the zone flags (${zoneFlags.join(', ')}) in ${ZONE_FLAGS_HEADER}; unless the policy has that header in its key or caches nothing, ` +
          'a page rendered for one viewer\'s decisions is served to viewers with others',
      );
    }
    const behaviorOptions = (b: PlannedBehavior): cloudfront.BehaviorOptions => ({
      origin: this.zoneOrigin(b.zone),
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      // Image responses are AVIF, WebP, PNG, JPEG: compressing them gains nothing, and Accept-Encoding stays out of their key.
      compress: b.kind !== 'image',
      allowedMethods: allowedMethods(b),
      ...policies.caching(b),
      functionAssociations: this.functionFor(b),
      edgeLambdas: bodyHashing.has(b) ? this.bodyHashAssociation() : undefined,
      // Only pages name the rules file: assets, images and the rules themselves keep the policy as given.
      responseHeadersPolicy: b.kind === 'page' ? pagePolicy : fallbackPolicy,
    });

    const additionalBehaviors: Record<string, cloudfront.BehaviorOptions> = {};
    for (const b of this.behaviorPlan.behaviors) additionalBehaviors[b.pattern] = behaviorOptions(b);
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      defaultBehavior: behaviorOptions(this.behaviorPlan.defaultBehavior),
      additionalBehaviors,
      domainNames: props.domainNames,
      certificate: props.certificate,
      comment: props.comment,
      priceClass: props.priceClass,
      // The CloudFront default certificate has a fixed policy; the minimum applies to a custom one.
      minimumProtocolVersion: props.certificate ? (props.minimumProtocolVersion ?? cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021) : undefined,
      httpVersion: props.httpVersion ?? cloudfront.HttpVersion.HTTP2_AND_3,
      webAclId: props.webAclId,
      geoRestriction: props.geoRestriction,
      enableLogging: props.enableLogging,
      logBucket: props.logBucket,
      logFilePrefix: props.logFilePrefix,
      errorResponses: props.errorResponses,
      enabled: props.enabled,
    });
    this.nameOriginAccessControls(originScope);
    this.refuseTooManyDynamicReferences(props.originVerifyHeader !== undefined);
    const unbound = this.zoneOrigins.filter((z) => z.originId === undefined).map((z) => z.zone);
    if (unbound.length > 0) {
      throw new MultiZoneValidationError(`Zones ${unbound.join(', ')}: origin was not added to the distribution`);
    }
    let sync: KvsTableSync | undefined;
    if (this.keyValueStore && (this.routerFunction || this.flagDeciderFunction)) {
      const zonesBound = this.boundZones;
      const site = siteKeyId(this);
      const kvsTable = encodeRoutingTable(this.routingTable, zonesBound, site);
      if (this.routerFunction) {
        routerCode = generateRouterCode({
          forwardViewerHost,
          routes: {
            ...decisions,
            defaultZone: [zonesBound[0].name, zonesBound[0].originId],
            keyPrefix: kvsTable.keyPrefix,
            bucketCount: kvsTable.bucketCount,
            maxReads: kvsTable.maxReads,
          },
        });
      }
      sync = new KvsTableSync(this, 'TableSync', {
        keyValueStore: this.keyValueStore,
        site,
        siteName: this.node.path,
        functionCount: [this.routerFunction, this.flagDeciderFunction].filter((f) => f !== undefined).length,
        entries: kvsTable.entries,
        version: kvsTable.version,
        initialFlags: this.routingTable.flags,
        createPreviewSecret: (this.routingTable.previewFlags ?? []).length > 0,
      });
      // The functions may only go live once the table and flags they read are in the store.
      this.routerFunction?.node.addDependency(sync);
      this.flagDeciderFunction?.node.addDependency(sync);
    }
    const exposed = this.zoneOrigins.filter((z) => z.reachableAround).map((z) => z.zone);
    if (exposed.length > 0) {
      Annotations.of(this).addWarningV2(
        'multizone:unverifiedOrigin',
        `Zones ${exposed.join(', ')}: HTTP origins can be reached around the distribution; set originVerifyHeader and have the zones check it`,
      );
    }
    if (props.stackOutputs ?? true) this.addStackOutputs();
    const bucketCookie = props.bucketCookie ?? (this.behaviorPlan.needsVisitorCookie ? VISITOR_COOKIE : undefined);
    const siteFile: SiteAssetFile = { table: this.routingTable, overflow: this.behaviorPlan.overflow.map((r) => r.pattern) };
    const siteAsset = jsonFileAsset(this, 'SiteAsset', SITE_ASSET_FILE_NAME, siteFile);
    const location = (asset: s3assets.Asset): SiteAssetLocation => ({ path: asset.assetPath, bucket: asset.s3BucketName, key: asset.s3ObjectKey });
    (this.distribution.node.defaultChild as cloudfront.CfnDistribution).addMetadata(
      METADATA_KEY,
      Lazy.any({
        produce: (): SiteMetadata => ({
          zones: this.boundZones,
          forwardViewerHost,
          siteAsset: location(siteAsset),
          ...(sync && { storeAsset: location(sync.tableAsset) }),
          zoneFlags,
          ...(bucketCookie !== undefined && { bucketCookie }),
          visitorCookie: this.behaviorPlan.needsVisitorCookie,
        }),
      }),
    );
  }

  /** Every zone with the origin id the distribution gave it, the default zone first. */
  public get boundZones(): BoundZone[] {
    return this.routingTable.zones.map((name) => ({ name, originId: this.zoneOrigin(name).originId ?? '' }));
  }

  /**
   * The Speculation Rules, their function's code and the behaviors planned
   * with the rules behavior; undefined when there are none. What cannot be
   * built (rules past the function's 10 KB, a response headers policy that
   * cannot be read or has no room for the header) is refused when
   * `crossZonePrefetch` was asked for, and turns the default off with a
   * warning, as does a behavior the default would take from a route: a
   * site that synthesized before prefetching existed still does, with the
   * same routes.
   */
  private planPrefetch(
    prefetch: CrossZonePrefetch,
    props: MultiZoneDistributionProps,
    plan: (speculationRules: boolean) => BehaviorPlan,
  ): { rules: SpeculationRulesPlan; code: string; behaviorPlan: BehaviorPlan } | undefined {
    const rules = planSpeculationRules(this.routingTable, prefetch);
    if (!rules) return undefined;
    const asked = props.crossZonePrefetch !== undefined;
    const turnedOff = (why: string) => {
      Annotations.of(this).addWarningV2('multizone:prefetchOff', `crossZonePrefetch is off: ${why}; set crossZonePrefetch: CrossZonePrefetch.none() to silence this`);
      return undefined;
    };
    let code: string;
    try {
      code = speculationRulesFunctionCode(rules.body);
    } catch (e) {
      if (asked || !(e instanceof MultiZoneValidationError)) throw e;
      return turnedOff(e.message);
    }
    const problem = pagePolicyProblem(props.responseHeadersPolicy);
    if (problem) {
      const why = `zone pages must carry Speculation-Rules through their response headers policy, but ${problem.problem}`;
      if (!asked) return turnedOff(`${why}; ${problem.remedy} to have it`);
      throw new MultiZoneValidationError(`crossZonePrefetch: ${why}; ${problem.remedy}, or set crossZonePrefetch: CrossZonePrefetch.none()`);
    }
    if (asked) return { rules, code, behaviorPlan: plan(true) };
    const without = plan(false);
    let withRules: BehaviorPlan | undefined;
    try {
      withRules = plan(true);
    } catch (e) {
      if (!(e instanceof MultiZoneValidationError)) throw e;
    }
    if (!withRules || withRules.overflow.length > without.overflow.length) {
      return turnedOff(`its cache behavior (${SPECULATION_RULES_PATH}) does not fit in maxCacheBehaviors beside every route; raise maxCacheBehaviors to have it`);
    }
    return { rules, code, behaviorPlan: withRules };
  }

  /** The construct's own store, named for the stack, construct path and region: store names are unique in the account, across regions. */
  private createStore(): cloudfront.KeyValueStore {
    const store: cloudfront.KeyValueStore = new cloudfront.KeyValueStore(this, 'Store', {
      keyValueStoreName: Lazy.string({ produce: () => regionalResourceName(store, limitValue('store-name')) }),
      comment: 'MultiZoneDistribution flags and routing table',
    });
    return store;
  }

  /**
   * Origin access controls that zones' origins created under the
   * construct (`FunctionUrlOrigin.withOriginAccessControl`, ...) take a
   * name from aws-cdk-lib that lacks the region, while OAC names are
   * unique in the account: those keeping that default get the region in.
   */
  private nameOriginAccessControls(originScope: Construct): void {
    for (const c of originScope.node.findAll()) {
      if (!(c instanceof cloudfront.CfnOriginAccessControl) || !c.node.scope) continue;
      const config = Stack.of(this).resolve(c.originAccessControlConfig);
      if (config?.name === Names.uniqueResourceName(c.node.scope, { maxLength: 64 })) {
        c.addPropertyOverride('OriginAccessControlConfig.Name', regionalResourceName(c.node.scope, 64));
      }
    }
  }

  /** Refuses a distribution that alone holds more dynamic references than CloudFormation allows in a template. */
  private refuseTooManyDynamicReferences(verifyHeader: boolean): void {
    const config = (this.distribution.node.defaultChild as cloudfront.CfnDistribution).distributionConfig;
    const count = dynamicReferenceCount(Stack.of(this).resolve(config));
    const max = limitValue('dynamic-references');
    if (count <= max) return;
    const cause = verifyHeader
      ? `originVerifyHeader: its value is a dynamic reference ({{resolve:...}}) written into each HTTP origin, ${count} in the distribution`
      : `Distribution: its origins hold ${count} dynamic references ({{resolve:...}})`;
    throw new MultiZoneValidationError(
      `${cause}, and CloudFormation allows at most ${max} in a template ("Get values stored in other services using dynamic references"); ` +
        'pass the secret as SecretValue.cfnParameter(...) of a NoEcho CfnParameter (a Ref, not a dynamic reference), or protect some zones with origin access control instead',
    );
  }

  /** Outputs with export-free, stable logical ids: `<construct id><suffix>`. */
  private addStackOutputs(): void {
    const prefix = this.node.id.replace(/[^A-Za-z0-9]/g, '');
    const outputs: Array<[string, string | undefined, string]> = [
      [STACK_OUTPUT_SUFFIXES.distributionId, this.distribution.distributionId, 'CloudFront distribution id'],
      [STACK_OUTPUT_SUFFIXES.domainName, this.distribution.distributionDomainName, 'CloudFront domain name of the distribution'],
      [STACK_OUTPUT_SUFFIXES.functionName, this.routerFunction?.functionName, 'Name of the viewer-request router function'],
      [STACK_OUTPUT_SUFFIXES.kvsArn, this.keyValueStore?.keyValueStoreArn, 'ARN of the KeyValueStore holding the flags'],
    ];
    const stack = Stack.of(this);
    for (const [suffix, value, description] of outputs) {
      if (value === undefined) continue;
      const logicalId = `${prefix}${suffix}`;
      if (stack.node.findAll().some((c) => c instanceof CfnOutput && stack.resolve(c.logicalId) === logicalId)) {
        throw new MultiZoneValidationError(
          `stackOutputs: stack ${stack.stackName} already has an output "${logicalId}"; give each MultiZoneDistribution of a stack its own id, or set stackOutputs: false`,
        );
      }
      new CfnOutput(this, suffix, { value, description: `MultiZoneDistribution ${this.node.path}: ${description}` }).overrideLogicalId(logicalId);
    }
  }

  /**
   * The behaviors that need the body hash: those taking request bodies
   * that some zone able to answer them signs for a Lambda function URL
   * (and has not opted out).
   */
  private planBodyHashing(zones: Array<DefaultZoneDefinition | ZoneDefinition>): Set<PlannedBehavior> {
    const hashing = new Set(
      zones.filter((z) => z.hashRequestBodies !== false && this.zoneOrigin(z.name).signsForFunctionUrl).map((z) => z.name),
    );
    const behaviors = [...this.behaviorPlan.behaviors, this.behaviorPlan.defaultBehavior].filter(
      (b) => allowedMethods(b).methods.some((m) => m === 'POST' || m === 'PUT') && b.servedBy.some((z) => hashing.has(z)),
    );
    if (behaviors.length === 0) return new Set();
    const stack = Stack.of(this);
    const named = [...new Set(behaviors.flatMap((b) => b.servedBy.filter((z) => hashing.has(z))))].map((z) => `"${z}"`);
    const zonesNamed = `${named.length === 1 ? 'Zone' : 'Zones'} ${named.join(', ')}`;
    if (!canPlaceEdgeFunction(stack)) {
      throw new MultiZoneValidationError(
        `${zonesNamed}: a Lambda function URL origin with origin access control needs x-amz-content-sha256 on POST and PUT, ` +
          `which a Lambda@Edge function in us-east-1 adds; stack ${stack.stackName} has no region at synth to place it from: ` +
          'set env.region on the stack, or set hashRequestBodies: false on the zone if its clients send the header themselves',
      );
    }
    if (behaviors.length > MAX_LAMBDA_EDGE_TRIGGERS) {
      throw new MultiZoneValidationError(
        `${zonesNamed}: ${behaviors.length} cache behaviors would run the body-hash Lambda@Edge function, past the ${MAX_LAMBDA_EDGE_TRIGGERS} ` +
          'Lambda@Edge triggers a distribution may have ("Quotas on Lambda@Edge"); lower maxCacheBehaviors, or set hashRequestBodies: false on the zone',
      );
    }
    return new Set(behaviors);
  }

  /** The body hash runs at origin request, after the router chose the zone, and reads the body. */
  private bodyHashAssociation(): cloudfront.EdgeLambda[] | undefined {
    if (!this.bodyHashFunction) return undefined;
    return [{ functionVersion: this.bodyHashFunction, eventType: cloudfront.LambdaEdgeEventType.ORIGIN_REQUEST, includeBody: true }];
  }

  /** One function per event type (CloudFront allows no more): the behavior's viewer-request role, and the visitor cookie where it buckets. */
  private functionFor(b: PlannedBehavior): cloudfront.FunctionAssociation[] | undefined {
    const fn = {
      router: this.routerFunction,
      'decide-flags': this.flagDeciderFunction,
      'forward-host': this.hostForwarderFunction,
      'image-accept': this.imageAcceptFunction,
      'speculation-rules': this.speculationRulesFunction,
      none: undefined,
    }[b.edgeFunction];
    const associations: cloudfront.FunctionAssociation[] = [];
    if (fn) associations.push({ function: fn, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST });
    if (b.setsVisitorCookie && this.visitorCookieFunction) associations.push({ function: this.visitorCookieFunction, eventType: cloudfront.FunctionEventType.VIEWER_RESPONSE });
    return associations.length > 0 ? associations : undefined;
  }

  private zoneOrigin(zone: string): ZoneOrigin {
    return this.zoneOrigins.find((z) => z.zone === zone)!;
  }
}

/** The methods a behavior takes: pages take them all, assets are read-only, anchors only carry an origin. */
function allowedMethods(b: PlannedBehavior): cloudfront.AllowedMethods {
  if (b.kind === 'asset') return cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS;
  return b.kind === 'page' ? cloudfront.AllowedMethods.ALLOW_ALL : cloudfront.AllowedMethods.ALLOW_GET_HEAD;
}

function optionProblems(props: MultiZoneDistributionProps, stack: Stack): string[] {
  const problems: string[] = [];
  const max = props.maxCacheBehaviors;
  if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
    problems.push(`maxCacheBehaviors: ${max} must be a whole number of at least 1`);
  }
  if (props.bucketCookie !== undefined && !/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/.test(props.bucketCookie)) {
    problems.push(`bucketCookie: "${props.bucketCookie}" is not a cookie name`);
  }
  const maxOrigins = props.maxOrigins ?? limitValue('origins-per-distribution');
  if (!Number.isInteger(maxOrigins) || maxOrigins < 1) {
    problems.push(`maxOrigins: ${maxOrigins} must be a whole number of at least 1`);
  } else if ((props.zones ?? []).length + 1 > maxOrigins) {
    problems.push(
      `maxOrigins: the zones need ${(props.zones ?? []).length + 1} origins (one per zone, the default zone included) but only ${maxOrigins} are allowed ` +
        '(CloudFront quota "Origins per distribution"); raise maxOrigins after a quota increase, or serve fewer zones from this distribution',
    );
  }
  problems.push(...originVerifyHeaderProblems(props.originVerifyHeader, stack));
  problems.push(...domainNameProblems(props));
  return problems;
}

/**
 * CloudFront's rules for alternate domain names (CloudFront guide, "Use
 * custom URLs by adding alternate domain names (CNAMEs)", "Requirements
 * for using alternate domain names"): each must be lower case and covered
 * by the distribution's certificate, or the deploy fails.
 */
function domainNameProblems(props: MultiZoneDistributionProps): string[] {
  const names = (props.domainNames ?? []).filter((n) => !Token.isUnresolved(n));
  const problems = names.filter((n) => n !== n.toLowerCase()).map((n) => `domainNames: "${n}" must be lower case; CloudFront refuses alternate domain names with capitals`);
  if ((props.domainNames ?? []).length > 0 && !props.certificate) {
    problems.push(
      `domainNames: ${names.map((n) => `"${n}"`).join(', ') || 'the given names'} need a certificate: CloudFront serves an alternate domain name only with a certificate that covers it; ` +
        'pass certificate (an ACM certificate in us-east-1 whose names cover every domain name)',
    );
  }
  return problems;
}

/**
 * The construct's cache policies: a fixed, small number whatever the
 * number of zones (an account holds only 20 custom cache policies).
 */
class BehaviorPolicies {
  public readonly pages: cloudfront.ICachePolicy;
  private movable?: cloudfront.ICachePolicy;
  private image?: cloudfront.ICachePolicy;
  /**
   * With zone flags, a page's HTML may depend on them, so their header
   * joins every page key: a cached page is only ever served to viewers with
   * the same decisions. Keying keeps caching for pages that send
   * Cache-Control (each combination of decisions its own entry), where
   * not caching flagged pages at all would take ISR and static pages from
   * every zone; the policies stay within CloudFront's 10 headers (5 RSC
   * headers, the zone header, this one).
   */
  private readonly flagHeaders: string[];

  constructor(
    private readonly scope: Construct,
    pageCachePolicy: cloudfront.ICachePolicy | undefined,
    zoneFlags: boolean,
  ) {
    this.flagHeaders = zoneFlags ? [ZONE_FLAGS_HEADER] : [];
    this.pages =
      pageCachePolicy ??
      this.nextPagePolicy('PageCachePolicy', `Next.js pages: query string and RSC headers${zoneFlags ? ', zone flags' : ''} in the key`, this.flagHeaders);
  }

  /** Pages whose zone a flag can change: the chosen zone joins the cache key, so zones never share an entry. */
  public movablePages(): cloudfront.ICachePolicy {
    this.movable ??= this.nextPagePolicy('MovablePageCachePolicy', 'Next.js pages that a flag can move: zone in the key', [ZONE_HEADER, ...this.flagHeaders]);
    return this.movable;
  }

  /** Methods and policies of a behavior, by its kind. */
  public caching(b: PlannedBehavior): Pick<cloudfront.BehaviorOptions, 'cachePolicy' | 'originRequestPolicy'> {
    switch (b.kind) {
      case 'asset':
        return { cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED };
      case 'anchor':
        // An anchor only carries an origin: nothing of the viewer's (headers, cookies, query) reaches the zone, nothing is cached.
        return { cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED };
      case 'speculation-rules':
        // Its function answers before the cache, and CloudFront never caches what a viewer-request function answers.
        return { cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED };
      case 'image':
        // The optimizer reads only its query string and Accept (it fetches the image itself): no cookies, no viewer host.
        return { cachePolicy: this.images() };
      default:
        return {
          cachePolicy: b.zoneMayChange ? this.movablePages() : this.pages,
          originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        };
    }
  }

  /**
   * `next/image` in every zone: one policy, whose key holds what the
   * optimizer reads, so each image, width, quality and format is its own
   * entry. TTLs follow the zone's Cache-Control (`public, max-age=<at
   * least minimumCacheTTL>, must-revalidate`; `immutable` for 10 years for
   * static imports, kept at most a year here).
   */
  private images(): cloudfront.ICachePolicy {
    this.image ??= new cloudfront.CachePolicy(this.scope, 'ImageCachePolicy', {
      comment: 'Next.js image optimizer: url, w, q and Accept in the key',
      // minTtl 0 keeps a zone's no-store; a day, as CachingOptimized, for an answer without Cache-Control.
      defaultTtl: Duration.days(1),
      minTtl: Duration.seconds(0),
      maxTtl: Duration.days(365),
      queryStringBehavior: cloudfront.CacheQueryStringBehavior.allowList(...NEXT_IMAGE_QUERY_STRINGS),
      headerBehavior: cloudfront.CacheHeaderBehavior.allowList('Accept'),
      cookieBehavior: cloudfront.CacheCookieBehavior.none(),
      enableAcceptEncodingGzip: false,
      enableAcceptEncodingBrotli: false,
    });
    return this.image;
  }

  private nextPagePolicy(id: string, comment: string, extraHeaders: string[]): cloudfront.CachePolicy {
    return new cloudfront.CachePolicy(this.scope, id, {
      comment,
      // Nothing is cached unless the zone says so with Cache-Control (ISR, static pages).
      defaultTtl: Duration.seconds(0),
      minTtl: Duration.seconds(0),
      maxTtl: Duration.days(365),
      queryStringBehavior: cloudfront.CacheQueryStringBehavior.all(),
      headerBehavior: cloudfront.CacheHeaderBehavior.allowList(...NEXT_CACHE_KEY_HEADERS, ...extraHeaders),
      cookieBehavior: cloudfront.CacheCookieBehavior.none(),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });
  }
}

/** The MultiZoneDistribution a construct belongs to, if any. */
function siteOf(c: IConstruct): MultiZoneDistribution | undefined {
  for (let scope: IConstruct | undefined = c; scope; scope = scope.node.scope) {
    if (scope instanceof MultiZoneDistribution) return scope;
  }
  return undefined;
}
