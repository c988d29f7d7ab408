import { Lazy } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { Construct } from 'constructs';
import { BehaviorPlan, EdgeFunctionRole, PlannedBehavior } from './behaviors';
import { ReleaseCodeOptions, generateRouterCode, generateVisitorCookieCode, generateZoneReleaseCode } from './edge-function/generate';
import { IMAGE_ACCEPT_CODE } from './edge-function/image-accept';
import { KvsRoutingTable } from './edge-function/kvs-table';
import { releaseKeyPrefix } from './kvs-sync/table-file';
import { siteKeyId } from './kvs-sync/kvs-table-sync';
import { SitePlan } from './site-plan';
import { SPECULATION_RULES_PATH } from './speculation-rules';
import { VISITOR_COOKIE } from './zone-flags';
import { BoundZone } from './zone-origins';

/** The CloudFront Functions a site may run: the behaviors' viewer-request roles, and the visitor cookie's viewer-response. */
export type EdgeFunctionKind = Exclude<EdgeFunctionRole, 'none'> | 'visitor-cookie';

/** What a function's code is made from. */
interface CodeInputs {
  readonly site: SitePlan;
  /** The router's code, known once the distribution has bound every origin (EdgeFunctions.route); with releases or without. */
  readonly routerCode: (releases: boolean) => string | undefined;
  /** Where the zones' release records are, and which zones have them. */
  readonly releases: ReleaseCodeOptions;
  /** For a function made once per zone: the zone. */
  readonly zone?: string;
}

/** One kind of function: made once, when the plan needs it, and associated with every behavior that runs it. */
interface EdgeFunctionSpec {
  readonly kind: EdgeFunctionKind;
  /** The construct id. */
  readonly id: string;
  /** The plan's flag that asks for it. */
  readonly need: keyof BehaviorPlan & `needs${string}`;
  /** Whether a behavior runs it; by default, when its viewer-request role is this kind. */
  readonly runsOn?: (b: PlannedBehavior) => boolean;
  /** Made once per zone whose behaviors run it (the plan's `zoneReleaseZones`), rather than once. */
  readonly perZone?: boolean;
  readonly eventType: cloudfront.FunctionEventType;
  /** Whether it reads the KeyValueStore (the flags, the routing table). */
  readonly readsStore: boolean;
  /** The function's comment, after "MultiZoneDistribution ". */
  readonly comment: (site: SitePlan, zone?: string) => string;
  readonly code: (inputs: CodeInputs) => string;
}

const VIEWER_REQUEST = cloudfront.FunctionEventType.VIEWER_REQUEST;

/**
 * Every kind of function, viewer-request ones first: a behavior runs at
 * most one function per event type (CloudFront allows no more), listed in
 * this order.
 */
const EDGE_FUNCTION_KINDS: readonly EdgeFunctionSpec[] = [
  {
    kind: 'router',
    id: 'Router',
    need: 'needsRouter',
    eventType: VIEWER_REQUEST,
    readsStore: true,
    comment: () => 'viewer-request router',
    // The router's code and table name the zones' origin ids, known once the distribution has bound every origin.
    code: ({ routerCode }) => Lazy.string({ produce: () => routerCode(false) }),
  },
  {
    kind: 'release-router',
    id: 'ReleaseRouter',
    need: 'needsReleaseRouter',
    eventType: VIEWER_REQUEST,
    readsStore: true,
    // A function of its own, on the behaviors that can reach a zone with releases: the router elsewhere keeps its size and reads.
    comment: (site) => `viewer-request router, picking releases of ${site.releaseZones.join(', ')}`,
    code: ({ routerCode }) => Lazy.string({ produce: () => routerCode(true) }),
  },
  {
    kind: 'zone-release',
    id: 'ZoneRelease',
    need: 'needsZoneRelease',
    perZone: true,
    eventType: VIEWER_REQUEST,
    readsStore: true,
    comment: (_site, zone) => `viewer-request: zone "${zone}", its release picked`,
    code: ({ site, releases, zone }) =>
      generateZoneReleaseCode({
        forwardViewerHost: site.forwardViewerHost,
        decisions: site.decisions,
        releases,
        zone: zone!,
        assetPatterns: fixedPatterns(site, zone!, 'asset'),
        imagePatterns: fixedPatterns(site, zone!, 'image'),
      }),
  },
  {
    kind: 'decide-flags',
    id: 'FlagDecider',
    need: 'needsFlagDecider',
    eventType: VIEWER_REQUEST,
    // Pages no flag can move read only the zone flags, never the routing table.
    readsStore: true,
    comment: () => 'viewer-request: zone flags decided and forwarded',
    code: ({ site }) => generateRouterCode({ forwardViewerHost: site.forwardViewerHost, decideFlags: site.decisions }),
  },
  {
    kind: 'forward-host',
    id: 'HostForwarder',
    need: 'needsHostForwarder',
    eventType: VIEWER_REQUEST,
    // Pages no flag can move run this one: it never reads the store.
    readsStore: false,
    comment: (site) => `viewer-request: ${site.forwardViewerHost ? 'viewer host as x-forwarded-host, ' : ''}edge headers dropped, Authorization copied`,
    code: ({ site }) => generateRouterCode({ forwardViewerHost: site.forwardViewerHost }),
  },
  {
    kind: 'image-accept',
    id: 'ImageAccept',
    need: 'needsImageAccept',
    eventType: VIEWER_REQUEST,
    readsStore: false,
    comment: () => 'viewer-request: Accept reduced to its image formats for next/image',
    code: () => IMAGE_ACCEPT_CODE,
  },
  {
    kind: 'speculation-rules',
    id: 'SpeculationRules',
    need: 'needsSpeculationRules',
    eventType: VIEWER_REQUEST,
    readsStore: false,
    comment: () => `viewer-request: answers ${SPECULATION_RULES_PATH}`,
    // The plan has the rules behavior only with the rules.
    code: ({ site }) => site.prefetch!.code,
  },
  {
    kind: 'visitor-cookie',
    id: 'VisitorCookie',
    need: 'needsVisitorCookie',
    runsOn: (b) => b.setsVisitorCookie,
    eventType: cloudfront.FunctionEventType.VIEWER_RESPONSE,
    readsStore: false,
    comment: () => `viewer-response: sets the ${VISITOR_COOKIE} visitor cookie`,
    code: () => generateVisitorCookieCode(),
  },
];

/** The patterns of a zone's routes of one kind. */
function fixedPatterns(site: SitePlan, zone: string, kind: 'asset' | 'image'): string[] {
  return site.routingTable.routes.filter((r) => r.zone === zone && r.kind === kind).map((r) => r.pattern);
}

/** One function made: its kind, and its zone when it is made per zone. */
interface MadeFunction {
  readonly spec: EdgeFunctionSpec;
  readonly zone?: string;
  readonly fn: cloudfront.Function;
}

/** The CloudFront Functions the plan asks for, each made once (or once per zone) and associated with the behaviors that run it. */
export class EdgeFunctions {
  /** Whether a function the plan asks for reads the KeyValueStore, so the site needs one. */
  public static needStore(plan: BehaviorPlan): boolean {
    return EDGE_FUNCTION_KINDS.some((k) => k.readsStore && plan[k.need]);
  }

  private readonly made: MadeFunction[] = [];
  private routerCode?: { plain?: string; releases?: string };
  private readonly releases: ReleaseCodeOptions;

  /** `store` must be given when `needStore(site.behaviorPlan)`. */
  constructor(scope: Construct, private readonly site: SitePlan, store: cloudfront.IKeyValueStore | undefined) {
    const releases = { keyPrefix: releaseKeyPrefix(siteKeyId(scope)), zones: site.releaseZones };
    this.releases = releases;
    for (const spec of EDGE_FUNCTION_KINDS.filter((k) => site.behaviorPlan[k.need])) {
      for (const zone of spec.perZone ? site.behaviorPlan.zoneReleaseZones : [undefined]) {
        const inputs: CodeInputs = { site, releases, zone, routerCode: (withReleases) => (withReleases ? this.routerCode?.releases : this.routerCode?.plain) };
        const fn = new cloudfront.Function(scope, spec.id + (zone === undefined ? '' : pascalCase(zone)), {
          comment: `MultiZoneDistribution ${spec.comment(site, zone)}`,
          runtime: cloudfront.FunctionRuntime.JS_2_0,
          keyValueStore: spec.readsStore ? store : undefined,
          code: cloudfront.FunctionCode.fromInline(spec.code(inputs)),
        });
        this.made.push({ spec, zone, fn });
      }
    }
  }

  /** The function of a kind (of a zone's, for one made per zone), when the plan asked for it. */
  public get(kind: EdgeFunctionKind, zone?: string): cloudfront.Function | undefined {
    return this.made.find((m) => m.spec.kind === kind && m.zone === zone)?.fn;
  }

  /** The functions that read the store: they may only go live once the table and flags they read are in it. */
  public get readingStore(): cloudfront.Function[] {
    return this.made.filter((m) => m.spec.readsStore).map((m) => m.fn);
  }

  /** The functions a behavior runs, at most one per event type. */
  public associations(b: PlannedBehavior): cloudfront.FunctionAssociation[] | undefined {
    const runs = (m: MadeFunction) => (m.spec.runsOn ? m.spec.runsOn(b) : b.edgeFunction === m.spec.kind && (m.zone === undefined || m.zone === b.zone));
    const associations = this.made.filter(runs).map((m) => ({ function: m.fn, eventType: m.spec.eventType }));
    return associations.length > 0 ? associations : undefined;
  }

  /** Gives the router the routing table it reads from the store, and the default zone's origin. */
  public route(table: KvsRoutingTable, defaultZone: BoundZone): void {
    if (!this.get('router') && !this.get('release-router')) return;
    const options = {
      forwardViewerHost: this.site.forwardViewerHost,
      routes: {
        ...this.site.decisions,
        defaultZone: [defaultZone.name, defaultZone.originId] as [string, string],
        keyPrefix: table.keyPrefix,
        bucketCount: table.bucketCount,
        maxReads: table.maxReads,
      },
    };
    // Only the routers the plan made: each generation checks its code against the size limit.
    this.routerCode = {
      plain: this.get('router') ? generateRouterCode(options) : undefined,
      releases: this.get('release-router') ? generateRouterCode({ ...options, releases: this.releases }) : undefined,
    };
  }
}

/** `blog-v2` as `BlogV2`: a construct id from a zone name. */
function pascalCase(name: string): string {
  return name.split('-').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}
