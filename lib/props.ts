import { Stack, Token } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { CrossZonePrefetch, crossZonePrefetchProblems } from './cross-zone-prefetch';
import { throwIfProblems } from './errors';
import { limitValue } from './limits';
import { OriginVerifyHeader, originVerifyHeaderProblems } from './zone-origin';
import { DefaultZoneDefinition, OverrideDefinition, ZoneDefinition, ZoneModel, zoneModelProblems } from './zones';

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

/** The zones, overrides and flags of the props, with their defaults: what the routing table is built from. */
export function zoneModelOf(props: MultiZoneDistributionProps): ZoneModel {
  return { defaultZone: props.defaultZone, zones: props.zones ?? [], overrides: props.overrides ?? [], flags: props.flags ?? {}, zoneFlags: props.zoneFlags ?? [] };
}

/** The cross-zone prefetch the props ask for, prefetching on hover unless told otherwise. */
export function crossZonePrefetchOf(props: MultiZoneDistributionProps): CrossZonePrefetch {
  return props.crossZonePrefetch ?? CrossZonePrefetch.prefetch();
}

/** Refuses props that cannot make a site, with every problem at once: the zones, flags and overrides, the options, the prefetch. */
export function refuseBadProps(props: MultiZoneDistributionProps, stack: Stack): void {
  throwIfProblems([...zoneModelProblems(zoneModelOf(props)), ...optionProblems(props, stack), ...crossZonePrefetchProblems(crossZonePrefetchOf(props))]);
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
