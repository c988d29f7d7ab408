import { Lazy, Stack } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { Construct, IConstruct } from 'constructs';
import { BehaviorPlan } from './behaviors';
import { BehaviorPolicies } from './behavior-policies';
import { BodyHashing } from './body-hashing';
import { EdgeFunctions } from './edge-functions';
import { MultiZoneDistributionProps, refuseBadProps } from './props';
import { renderDistribution } from './render-distribution';
import { RoutingTable } from './routing-plan';
import { recordSite } from './site-metadata';
import { planSite } from './site-plan';
import { siteStore, syncStore } from './site-store';
import { SpeculationRulesPlan } from './speculation-rules';
import { BoundZone, ZoneOrigins } from './zone-origins';
import { rollBackOnAlarms } from './release-rollback';
import { templateReleases } from './zone-releases';

export { MultiZoneDistributionProps } from './props';
export { BoundZone } from './zone-origins';

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

  /** The router of the behaviors that can reach a zone with releases, which also picks the release. */
  public readonly releaseRouterFunction?: cloudfront.Function;

  private readonly zoneOrigins: ZoneOrigins;
  private readonly functions: EdgeFunctions;

  /**
   * @param scope the stack or construct the distribution belongs to
   * @param id the construct id; logical ids, stack outputs and the store's name derive from it
   * @param props the zones, overrides and distribution settings
   * @throws MultiZoneValidationError when the props are refused, naming the zone, override, flag or prop at fault
   */
  constructor(scope: Construct, id: string, props: MultiZoneDistributionProps) {
    super(scope, id);
    refuseBadProps(props, Stack.of(scope));
    const site = planSite(this, props);
    this.routingTable = site.routingTable;
    this.behaviorPlan = site.behaviorPlan;
    this.speculationRules = site.prefetch?.rules;

    // Lazy: the zones' origins may be bound before the distribution exists (see ZoneOrigin).
    this.zoneOrigins = new ZoneOrigins(this, props, Lazy.string({ produce: () => this.distribution.distributionId }));
    const bodyHashing = new BodyHashing(this, [props.defaultZone, ...(props.zones ?? [])], this.zoneOrigins, site.behaviorPlan);
    this.bodyHashFunction = bodyHashing.function;
    this.zoneOrigins.warnOfAuthorization();

    if (EdgeFunctions.needStore(site.behaviorPlan)) this.keyValueStore = siteStore(this, props.keyValueStore, siteOf);
    const functions = new EdgeFunctions(this, site, this.keyValueStore);
    this.routerFunction = functions.get('router');
    this.flagDeciderFunction = functions.get('decide-flags');
    this.hostForwarderFunction = functions.get('forward-host');
    this.visitorCookieFunction = functions.get('visitor-cookie');
    this.imageAcceptFunction = functions.get('image-accept');
    this.speculationRulesFunction = functions.get('speculation-rules');
    this.releaseRouterFunction = functions.get('release-router');
    this.functions = functions;
    const policies = new BehaviorPolicies(this, props, site);

    const parts = { origins: this.zoneOrigins, policies, functions, bodyHashing };
    this.distribution = new cloudfront.Distribution(this, 'Distribution', renderDistribution(props, site.behaviorPlan, parts));
    this.zoneOrigins.checkBound(this.distribution, props.originVerifyHeader !== undefined);
    const releases = templateReleases([props.defaultZone, ...(props.zones ?? [])]);
    const sync = this.keyValueStore && syncStore(this, this.keyValueStore, this.routingTable, this.boundZones, functions, releases);
    if (this.keyValueStore) rollBackOnAlarms(this, this.keyValueStore, [props.defaultZone, ...(props.zones ?? [])]);
    this.zoneOrigins.warnOfReachableAround();
    recordSite(this, site, { bucketCookie: props.bucketCookie, stackOutputs: props.stackOutputs, storeAsset: sync?.tableAsset, releases });
  }

  /**
   * The viewer-request function of a zone with releases, on its behaviors
   * the router does not run: it picks the zone's release.
   *
   * @param zone the zone's name
   * @returns undefined when the zone has none (no releases, or the router runs on all its behaviors)
   */
  public zoneReleaseFunction(zone: string): cloudfront.Function | undefined {
    return this.functions.get('zone-release', zone);
  }

  /** Every zone with the origin id the distribution gave it, the default zone first. */
  public get boundZones(): BoundZone[] {
    return this.zoneOrigins.bound(this.routingTable.zones);
  }
}

/** The MultiZoneDistribution a construct belongs to, if any. */
function siteOf(c: IConstruct): MultiZoneDistribution | undefined {
  for (let scope: IConstruct | undefined = c; scope; scope = scope.node.scope) {
    if (scope instanceof MultiZoneDistribution) return scope;
  }
  return undefined;
}
