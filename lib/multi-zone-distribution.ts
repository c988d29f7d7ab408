import { Annotations, CfnOutput, Duration, Lazy, Stack } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { BehaviorPlan, PlannedBehavior, planBehaviors } from './behaviors';
import { ZONE_HEADER, generateRouterCode } from './edge-function/generate';
import { encodeRoutingTable } from './edge-function/kvs-table';
import { MultiZoneValidationError, throwIfProblems } from './errors';
import { jsonFileAsset } from './json-asset';
import { KvsTableSync } from './kvs-sync/kvs-table-sync';
import { RoutingTable, buildRoutingTable } from './routing-plan';
import { DEFAULT_ORIGIN_VERIFY_HEADER, OriginVerifyHeader, ZoneOrigin, originVerifyHeaderProblems } from './zone-origin';
import { DefaultZoneDefinition, OverrideDefinition, ZoneDefinition, zoneModelProblems } from './zones';

/** Request headers that make Next.js answer a page URL differently (App Router RSC payloads and prefetches). */
export const NEXT_CACHE_KEY_HEADERS = ['RSC', 'Next-Router-State-Tree', 'Next-Router-Prefetch', 'Next-Router-Segment-Prefetch', 'Next-Url'];

/**
 * The metadata key under which the synthesized distribution describes the
 * site for the tools that read templates (`SiteMetadata`).
 */
export const METADATA_KEY = 'MultiZone';

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
   * Cache policy for zone pages.
   *
   * @default - a policy that honors the zone's Cache-Control (nothing cached
   * without it) and keys on the query string and the Next.js RSC headers
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
   * @default ResponseHeadersPolicy.SECURITY_HEADERS - CloudFront's managed
   * SecurityHeadersPolicy (Strict-Transport-Security,
   * X-Content-Type-Options, X-Frame-Options, Referrer-Policy,
   * X-XSS-Protection); no custom policy is created
   */
  readonly responseHeadersPolicy?: cloudfront.IResponseHeadersPolicy;
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
  /** The routing table: zones, routes and overrides in first-match order. */
  public readonly routingTable: RoutingTable;
  /** The cache behaviors as planned, and what overflowed to the function. */
  public readonly behaviorPlan: BehaviorPlan;
  /** The viewer-request function that routes by flags and overflow, when any behavior needs it. */
  public readonly routerFunction?: cloudfront.Function;
  /** The viewer-request function of pages no flag can move, passing the viewer's host on. */
  public readonly hostForwarderFunction?: cloudfront.Function;
  /** The KeyValueStore with flags and the routing table, when overrides or overflow need one. */
  public readonly keyValueStore?: cloudfront.IKeyValueStore;

  private readonly zoneOrigins: ZoneOrigin[];

  constructor(scope: Construct, id: string, props: MultiZoneDistributionProps) {
    super(scope, id);
    const zones = props.zones ?? [];
    const overrides = props.overrides ?? [];
    throwIfProblems([
      ...zoneModelProblems({ defaultZone: props.defaultZone, zones, overrides, flags: props.flags ?? {} }),
      ...optionProblems(props, Stack.of(scope)),
    ]);
    const forwardViewerHost = props.forwardViewerHost ?? true;
    this.routingTable = buildRoutingTable({ defaultZone: props.defaultZone, zones, overrides, flags: props.flags ?? {} });
    this.behaviorPlan = planBehaviors(this.routingTable, {
      maxCacheBehaviors: props.maxCacheBehaviors ?? 75,
      overflowToFunction: props.overflowToFunction ?? true,
      forwardViewerHost,
    });

    const originScope = new Construct(this, 'Zones');
    const verifyHeader = props.originVerifyHeader && {
      headerName: props.originVerifyHeader.headerName ?? DEFAULT_ORIGIN_VERIFY_HEADER,
      headerValue: props.originVerifyHeader.value.unsafeUnwrap(),
    };
    this.zoneOrigins = [props.defaultZone, ...zones].map((z) => new ZoneOrigin(z.name, z.origin, originScope, verifyHeader));

    const kvsTable = this.behaviorPlan.needsRouter ? encodeRoutingTable(this.routingTable) : undefined;
    if (kvsTable) {
      this.keyValueStore = props.keyValueStore ?? new cloudfront.KeyValueStore(this, 'Store', { comment: 'MultiZoneDistribution flags and routing table' });
      this.routerFunction = new cloudfront.Function(this, 'Router', {
        comment: 'MultiZoneDistribution viewer-request router',
        runtime: cloudfront.FunctionRuntime.JS_2_0,
        keyValueStore: this.keyValueStore,
        code: cloudfront.FunctionCode.fromInline(
          // Lazy: origin ids are known once the distribution has bound every zone's origin.
          Lazy.string({
            produce: () =>
              generateRouterCode({
                forwardViewerHost,
                routes: {
                  zones: this.boundZones.map((z) => [z.name, z.originId] as [string, string]),
                  keyPrefix: kvsTable.keyPrefix,
                  bucketCookie: props.bucketCookie ?? '',
                  previewFlags: this.routingTable.previewFlags,
                },
              }),
          }),
        ),
      });
    }
    if (this.behaviorPlan.needsHostForwarder) {
      // Pages no flag can move run this one: it never reads the store.
      this.hostForwarderFunction = new cloudfront.Function(this, 'HostForwarder', {
        comment: 'MultiZoneDistribution viewer-request: viewer host as x-forwarded-host',
        runtime: cloudfront.FunctionRuntime.JS_2_0,
        code: cloudfront.FunctionCode.fromInline(generateRouterCode({ forwardViewerHost })),
      });
    }
    let sync: KvsTableSync | undefined;
    if (kvsTable && this.keyValueStore) {
      sync = new KvsTableSync(this, 'TableSync', {
        keyValueStore: this.keyValueStore,
        entries: kvsTable.entries,
        version: kvsTable.version,
        initialFlags: this.routingTable.flags,
        createPreviewSecret: (this.routingTable.previewFlags ?? []).length > 0,
      });
      // The function may only go live once the table it reads is in the store.
      this.routerFunction?.node.addDependency(sync);
    }

    const policies = new BehaviorPolicies(this, props.pageCachePolicy);
    const behaviorOptions = (b: PlannedBehavior): cloudfront.BehaviorOptions => ({
      origin: this.zoneOrigin(b.zone),
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      compress: true,
      ...(b.kind === 'asset'
        ? {
            allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
            cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
          }
        : {
            allowedMethods: b.kind === 'anchor' ? cloudfront.AllowedMethods.ALLOW_GET_HEAD : cloudfront.AllowedMethods.ALLOW_ALL,
            cachePolicy: b.zoneMayChange ? policies.movablePages() : policies.pages,
            originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
          }),
      functionAssociations: this.functionFor(b),
      responseHeadersPolicy: props.responseHeadersPolicy ?? cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
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
    const unbound = this.zoneOrigins.filter((z) => z.originId === undefined).map((z) => z.zone);
    if (unbound.length > 0) {
      throw new MultiZoneValidationError(`Zones ${unbound.join(', ')}: origin was not added to the distribution`);
    }
    const exposed = this.zoneOrigins.filter((z) => z.reachableAround).map((z) => z.zone);
    if (exposed.length > 0) {
      Annotations.of(this).addWarningV2(
        'multizone:unverifiedOrigin',
        `Zones ${exposed.join(', ')}: HTTP origins can be reached around the distribution; set originVerifyHeader and have the zones check it`,
      );
    }
    if (props.stackOutputs ?? true) this.addStackOutputs();
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
        }),
      }),
    );
  }

  /** Every zone with the origin id the distribution gave it, the default zone first. */
  public get boundZones(): BoundZone[] {
    return this.routingTable.zones.map((name) => ({ name, originId: this.zoneOrigin(name).originId ?? '' }));
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

  private functionFor(b: PlannedBehavior): cloudfront.FunctionAssociation[] | undefined {
    const fn = b.edgeFunction === 'router' ? this.routerFunction : b.edgeFunction === 'forward-host' ? this.hostForwarderFunction : undefined;
    return fn ? [{ function: fn, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }] : undefined;
  }

  private zoneOrigin(zone: string): ZoneOrigin {
    return this.zoneOrigins.find((z) => z.zone === zone)!;
  }
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
  problems.push(...originVerifyHeaderProblems(props.originVerifyHeader, stack));
  return problems;
}

/**
 * The construct's cache policies: a fixed, small number whatever the
 * number of zones (an account holds only 20 custom cache policies).
 */
class BehaviorPolicies {
  public readonly pages: cloudfront.ICachePolicy;
  private movable?: cloudfront.ICachePolicy;

  constructor(
    private readonly scope: Construct,
    pageCachePolicy?: cloudfront.ICachePolicy,
  ) {
    this.pages = pageCachePolicy ?? this.nextPagePolicy('PageCachePolicy', 'Next.js pages: query string and RSC headers in the key', []);
  }

  /** Pages whose zone a flag can change: the chosen zone joins the cache key, so zones never share an entry. */
  public movablePages(): cloudfront.ICachePolicy {
    this.movable ??= this.nextPagePolicy('MovablePageCachePolicy', 'Next.js pages that a flag can move: zone in the key', [ZONE_HEADER]);
    return this.movable;
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
