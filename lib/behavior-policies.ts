import { Annotations, Duration } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { Construct } from 'constructs';
import { PlannedBehavior } from './behaviors';
import { ZONE_HEADER } from './edge-function/generate';
import { pageResponseHeadersPolicy } from './page-response-headers';
import { MultiZoneDistributionProps } from './props';
import { SitePlan } from './site-plan';
import { RELEASE_HEADER } from './releases/record';
import { ZONE_FLAGS_HEADER } from './zone-flags';

/** Request headers that make Next.js answer a page URL differently (App Router RSC payloads and prefetches). */
export const NEXT_CACHE_KEY_HEADERS = ['RSC', 'Next-Router-State-Tree', 'Next-Router-Prefetch', 'Next-Router-Segment-Prefetch', 'Next-Url'];

/** Query string parameters of the Next.js image optimizer (`/_next/image?url=&w=&q=`): all it reads. */
export const NEXT_IMAGE_QUERY_STRINGS = ['url', 'w', 'q'];

/** The methods a behavior takes: pages take them all, assets are read-only, anchors only carry an origin. */
export function allowedMethods(b: PlannedBehavior): cloudfront.AllowedMethods {
  if (b.kind === 'asset') return cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS;
  return b.kind === 'page' ? cloudfront.AllowedMethods.ALLOW_ALL : cloudfront.AllowedMethods.ALLOW_GET_HEAD;
}

/**
 * The policies of the construct's behaviors: cache, origin request and
 * response headers. Its own cache policies are a fixed, small number
 * whatever the number of zones (an account holds only 20 custom cache
 * policies).
 */
export class BehaviorPolicies {
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
   * headers, the zone header, this one, the release header).
   */
  private readonly flagHeaders: string[];
  /**
   * On a site with releases, the release the edge picked joins the page
   * and image keys, so an entry cached for one release never answers
   * another's viewers. Requests of zones without releases carry no such
   * header, so their entries are as many as before, and the policies stay
   * as few.
   */
  private readonly releaseHeaders: string[];
  /** The response headers policy of assets, images and the rules file: the one given. */
  private readonly givenHeaders: cloudfront.IResponseHeadersPolicy;
  /** The response headers policy of pages: the one given, or its copy naming the rules file. */
  private readonly pageHeaders: cloudfront.IResponseHeadersPolicy;

  constructor(
    private readonly scope: Construct,
    props: MultiZoneDistributionProps,
    site: SitePlan,
  ) {
    const zoneFlags = site.zoneFlags.length > 0;
    this.givenHeaders = props.responseHeadersPolicy ?? cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS;
    this.pageHeaders = site.prefetch ? pageResponseHeadersPolicy(scope, props.responseHeadersPolicy) : this.givenHeaders;
    this.flagHeaders = zoneFlags ? [ZONE_FLAGS_HEADER] : [];
    this.releaseHeaders = site.releaseZones.length > 0 ? [RELEASE_HEADER] : [];
    this.pages =
      props.pageCachePolicy ??
      this.nextPagePolicy('PageCachePolicy', `Next.js pages: query string and RSC headers${zoneFlags ? ', zone flags' : ''}${this.releaseHeaders.length ? ', release' : ''} in the key`, this.flagHeaders);
    if (site.releaseZones.length > 0 && props.pageCachePolicy) {
      Annotations.of(scope).addWarningV2(
        'multizone:releasesCacheKey',
        `pageCachePolicy: pages of the zones with releases (${site.releaseZones.join(', ')}) carry the release the edge picked in ${RELEASE_HEADER}; unless the policy has that header in its key or caches nothing, ` +
          'a page one release rendered is served to viewers of another',
      );
    }
    if (zoneFlags && props.pageCachePolicy) {
      Annotations.of(scope).addWarningV2(
        'multizone:zoneFlagsCacheKey',
        `pageCachePolicy: pages carry the zone flags (${site.zoneFlags.join(', ')}) in ${ZONE_FLAGS_HEADER}; unless the policy has that header in its key or caches nothing, ` +
          'a page rendered for one viewer\'s decisions is served to viewers with others',
      );
    }
  }

  /** Only pages name the rules file: assets, images and the rules themselves keep the policy as given. */
  public responseHeaders(b: PlannedBehavior): cloudfront.IResponseHeadersPolicy {
    return b.kind === 'page' ? this.pageHeaders : this.givenHeaders;
  }

  /** Pages whose zone a flag can change: the chosen zone joins the cache key, so zones never share an entry. */
  public movablePages(): cloudfront.ICachePolicy {
    this.movable ??= this.nextPagePolicy('MovablePageCachePolicy', `Next.js pages that a flag can move: zone${this.releaseHeaders.length ? ' and release' : ''} in the key`, [ZONE_HEADER, ...this.flagHeaders]);
    return this.movable;
  }

  /** Cache and origin request policies of a behavior, by its kind. */
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
      comment: `Next.js image optimizer: url, w, q${this.releaseHeaders.length ? ', Accept and the release' : ' and Accept'} in the key`,
      // minTtl 0 keeps a zone's no-store; a day, as CachingOptimized, for an answer without Cache-Control.
      defaultTtl: Duration.days(1),
      minTtl: Duration.seconds(0),
      maxTtl: Duration.days(365),
      queryStringBehavior: cloudfront.CacheQueryStringBehavior.allowList(...NEXT_IMAGE_QUERY_STRINGS),
      headerBehavior: cloudfront.CacheHeaderBehavior.allowList('Accept', ...this.releaseHeaders),
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
      headerBehavior: cloudfront.CacheHeaderBehavior.allowList(...NEXT_CACHE_KEY_HEADERS, ...extraHeaders, ...this.releaseHeaders),
      cookieBehavior: cloudfront.CacheCookieBehavior.none(),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });
  }
}
