import { MultiZoneValidationError } from './errors';
import { compareSpecificity, literalPrefix, pathPatternsIntersect } from './path-patterns';
import { OverrideRoute, RouteKind, RoutingTable, ZoneRoute, resolveRoute } from './routing-plan';
import { SPECULATION_RULES_PATH } from './speculation-rules';
import { RESERVED_PATH_PREFIX } from './zones';

/**
 * `page`: a zone's or an override's paths; `asset`: immutable Next.js
 * assets; `image`: a zone's `next/image` optimizer; `anchor`: a reserved
 * exact path that only puts a zone's origin into the distribution, for
 * zones no other behavior carries; `speculation-rules`: the exact path of
 * the Speculation Rules file, answered by its own function.
 */
export type BehaviorKind = 'page' | 'asset' | 'image' | 'anchor' | 'speculation-rules';

/**
 * The viewer-request function a behavior runs: `router` decides the zone
 * (overrides, overflow) from the KeyValueStore, and the zone flags on a
 * site with them; `decide-flags` decides only the zone flags, on pages no
 * flag can move; `forward-host` (the host forwarder) only prepares the
 * headers every page request gets, and never reads the store; every page
 * function drops the viewer's copies of the edge's own headers, copies
 * `Authorization` and passes the viewer's host on (`forwardViewerHost`).
 * `image-accept` reduces `Accept` to the image formats it names, for the
 * image cache key; `speculation-rules` answers with the rules file; `none`
 * runs nothing (assets and anchors, which pass no viewer header on).
 * Where a zone with releases may answer: `release-router` is the router
 * that also picks the release of the zone it routes to, and `zone-release`
 * does for one zone's behaviors what its page, asset or image function
 * would, then picks the release.
 */
export type EdgeFunctionRole = 'router' | 'release-router' | 'zone-release' | 'decide-flags' | 'forward-host' | 'image-accept' | 'speculation-rules' | 'none';

/** One cache behavior as it will be rendered, in CloudFront's order. */
export interface PlannedBehavior {
  /** The behavior's path pattern. */
  readonly pattern: string;
  /** The zone whose origin the behavior points at. */
  readonly zone: string;
  readonly kind: BehaviorKind;
  /** The viewer-request function associated with the behavior. */
  readonly edgeFunction: EdgeFunctionRole;
  /** Whether a flag may move requests of this behavior to another zone, so the zone joins the cache key. */
  readonly zoneMayChange: boolean;
  /** Whether the behavior's function decides the zone flags, so their header joins the cache key. */
  readonly forwardsZoneFlags: boolean;
  /** Whether the behavior's function picks a release of the zone (a page or image), so the release joins the cache key. */
  readonly picksRelease: boolean;
  /**
   * Whether the behavior's viewer-response function sets the visitor
   * cookie: its requests may be bucketed (a flag may move them, or zone
   * flags are decided), and buckets follow the visitor id.
   */
  readonly setsVisitorCookie: boolean;
  /**
   * Every zone that can answer the behavior's requests: its own zone
   * first, then those the function may route them to (flags, overflow).
   */
  readonly servedBy: string[];
}

/** How the table is carried: which behaviors CloudFront gets, and what is left to the function. */
export interface BehaviorPlan {
  /** Additional behaviors, in the order CloudFront must list them. */
  readonly behaviors: PlannedBehavior[];
  /** The default (`*`) behavior, always the default zone's. */
  readonly defaultBehavior: PlannedBehavior;
  /** Zone routes no behavior carries: the function routes them at the default behavior. */
  readonly overflow: ZoneRoute[];
  /** Whether any behavior runs the router (and so the routing table must be in the store). */
  readonly needsRouter: boolean;
  /** Whether any behavior runs the router that also picks releases. */
  readonly needsReleaseRouter: boolean;
  /** Whether any behavior runs a zone release function (one per zone, `zoneReleaseZones`). */
  readonly needsZoneRelease: boolean;
  /** The zones whose behaviors run their zone release function. */
  readonly zoneReleaseZones: string[];
  /** Whether any behavior runs the zone-flag decider. */
  readonly needsFlagDecider: boolean;
  /** Whether any behavior runs the host-forwarding function. */
  readonly needsHostForwarder: boolean;
  /** Whether any behavior runs the viewer-response function that sets the visitor cookie. */
  readonly needsVisitorCookie: boolean;
  /** Whether any behavior runs the image Accept function. */
  readonly needsImageAccept: boolean;
  /** Whether a behavior answers the Speculation Rules file. */
  readonly needsSpeculationRules: boolean;
}

/** Options of behavior planning. */
export interface BehaviorPlanOptions {
  /** Cache behaviors the distribution may have, the default behavior included. */
  readonly maxCacheBehaviors: number;
  /** Whether routes past the quota may be routed by the function instead of refusing to synthesize. */
  readonly overflowToFunction: boolean;
  /**
   * Whether the site has zone flags: every page behavior then decides them.
   *
   * @default false
   */
  readonly zoneFlags?: boolean;
  /**
   * Whether rollout buckets follow the edge's visitor cookie (`visitorCookie`
   * on and no `bucketCookie`), so behaviors that bucket set it.
   *
   * @default false
   */
  readonly visitorCookie?: boolean;
  /**
   * Whether the distribution answers the Speculation Rules file, on a
   * behavior of its own listed first (an exact reserved path no route can
   * claim), which counts against `maxCacheBehaviors`.
   *
   * @default false
   */
  readonly speculationRules?: boolean;
  /**
   * The zones with releases: behaviors that may answer from one pick the
   * release at the edge.
   *
   * @default - none
   */
  readonly releaseZones?: string[];
}

/** The exact path of a zone's anchor behavior. */
export function anchorPath(zone: string): string {
  return `${RESERVED_PATH_PREFIX}origin/${zone}`;
}

interface Candidate {
  readonly pattern: string;
  readonly zone: string;
  readonly kind: RouteKind;
  readonly isOverride: boolean;
}

/**
 * Plans the cache behaviors for a routing table within CloudFront's quota.
 *
 * Zone routes and override patterns are listed most specific first. When
 * they do not all fit, image routes keep behaviors first, then the most
 * specific of the rest, and the others overflow to the function at the
 * default behavior: every route that is kept outranks every overflowed
 * route it could match, so CloudFront's first match and the function
 * together give exactly the table's answer. (An image route is an exact
 * path, the first match for that path whatever else is kept; kept first,
 * its images never land on the default behavior's key, which lacks
 * `Accept`.) Zones left with no behavior get an anchor so their origin
 * stays in the distribution.
 */
export function planBehaviors(table: RoutingTable, options: BehaviorPlanOptions): BehaviorPlan {
  const candidates = orderedCandidates(table);
  const kept = keptCandidates(table, candidates, options);
  const moving = movingOverrides(table, candidates, kept);
  const behaviors: PlannedBehavior[] = [
    ...(options.speculationRules ? [fixedBehavior(SPECULATION_RULES_PATH, table.defaultZone, 'speculation-rules', 'speculation-rules')] : []),
    ...anchoredZones(table, kept).map((zone) => fixedBehavior(anchorPath(zone), zone, 'anchor', 'none')),
    ...candidates.flatMap((c, i) => {
      if (!kept.has(c)) return [];
      const moves = c.kind === 'page' ? moving(i, c.pattern) : [];
      return [routedBehavior(c, moves.length > 0, moves.length > 0, servedBy(c.zone, moves), options)];
    }),
  ];
  const overflow = candidates.filter((c) => !kept.has(c) && !c.isOverride);
  const defaultMoves = moving(Infinity, '*');
  const defaultBehavior = routedBehavior(
    { pattern: '*', zone: table.defaultZone, kind: 'page' },
    defaultMoves.length > 0,
    defaultMoves.length > 0 || overflow.length > 0,
    servedBy(table.defaultZone, defaultMoves, overflow),
    options,
  );
  return {
    behaviors,
    defaultBehavior,
    overflow: overflow.map((c) => ({ pattern: c.pattern, zone: c.zone, kind: c.kind })),
    ...needsOf([...behaviors, defaultBehavior]),
  };
}

/**
 * The candidates that keep a behavior of their own: images first, then the
 * most specific. Refuses a quota that cannot give every zone a behavior,
 * and routes past the quota when they may not overflow to the function.
 */
function keptCandidates(table: RoutingTable, candidates: Candidate[], options: BehaviorPlanOptions): Set<Candidate> {
  const keepOrder = [...candidates.filter((c) => c.kind === 'image'), ...candidates.filter((c) => c.kind !== 'image')];
  const rulesBehaviors = options.speculationRules ? 1 : 0;
  const budget = options.maxCacheBehaviors - 1 - rulesBehaviors;
  const otherZones = table.zones.filter((z) => z !== table.defaultZone);
  const count = mostKept(keepOrder, otherZones, budget);
  const kept = new Set(keepOrder.slice(0, count));
  if (count + anchoredZones(table, kept).length > budget) {
    throw new MultiZoneValidationError(
      `maxCacheBehaviors: ${options.maxCacheBehaviors} leaves room for ${Math.max(budget, 0)} behaviors besides the default${rulesBehaviors ? ' and the Speculation Rules file (crossZonePrefetch)' : ''}, but ${otherZones.length} zones need at least one each`,
    );
  }
  if (count < candidates.length && !options.overflowToFunction) {
    throw new MultiZoneValidationError(
      `maxCacheBehaviors: the zones need ${candidates.length + 1 + rulesBehaviors} cache behaviors (default${rulesBehaviors ? ' and the Speculation Rules file' : ''} included) but only ${options.maxCacheBehaviors} are allowed; ` +
        `raise maxCacheBehaviors (after a quota increase) or enable overflowToFunction${rulesBehaviors ? ', or set crossZonePrefetch: CrossZonePrefetch.none()' : ''}`,
    );
  }
  return kept;
}

/** The zones other than the default that no kept candidate carries: each needs an anchor. */
function anchoredZones(table: RoutingTable, kept: Set<Candidate>): string[] {
  const carried = new Set([...kept].map((c) => c.zone));
  return table.zones.filter((z) => z !== table.defaultZone && !carried.has(z));
}

/**
 * The overrides that can move requests of the behavior at `position` (in
 * candidate order; Infinity for the default behavior): those whose own
 * behavior is listed at or after it, or that have none; an override listed
 * earlier catches its requests first.
 */
function movingOverrides(table: RoutingTable, candidates: Candidate[], kept: Set<Candidate>): (position: number, pattern: string) => OverrideRoute[] {
  const positions = new Map<string, number>();
  candidates.forEach((c, i) => {
    if (kept.has(c) && !positions.has(c.pattern)) positions.set(c.pattern, i);
  });
  const overrides = table.overrides.map((o) => ({ override: o, position: positions.get(o.pattern) ?? Infinity, prefix: literalPrefix(o.pattern) }));
  return (position, pattern) => {
    const prefix = literalPrefix(pattern);
    // Two patterns can only share a path when one's literal prefix starts the other's: a cheap test before the full one.
    return overrides
      .filter((o) => o.position >= position && (o.prefix.startsWith(prefix) || prefix.startsWith(o.prefix)) && pathPatternsIntersect(o.override.pattern, pattern))
      .map((o) => o.override);
  };
}

/** Every zone that can answer a behavior's requests: its own first, then those the function may route them to. */
function servedBy(zone: string, ...routedTo: ReadonlyArray<{ readonly zone: string }>[]): string[] {
  return [...new Set([zone, ...routedTo.flat().map((r) => r.zone)])];
}

/** A behavior of the construct's own (the rules file, an anchor): one zone, no flag, nothing bucketed. */
function fixedBehavior(pattern: string, zone: string, kind: BehaviorKind, edgeFunction: EdgeFunctionRole): PlannedBehavior {
  return { pattern, zone, kind, edgeFunction, zoneMayChange: false, forwardsZoneFlags: false, picksRelease: false, setsVisitorCookie: false, servedBy: [zone] };
}

/** The behavior of a route: `routes` when the router must decide its zone (a flag may move it, or routes overflowed to it). */
function routedBehavior(route: ZoneRoute, zoneMayChange: boolean, routes: boolean, zones: string[], options: BehaviorPlanOptions): PlannedBehavior {
  const zoneFlags = options.zoneFlags === true;
  const page = route.kind === 'page';
  const releases = zones.some((z) => (options.releaseZones ?? []).includes(z));
  const picksRelease = releases && route.kind !== 'asset';
  return {
    pattern: route.pattern,
    zone: route.zone,
    kind: route.kind,
    edgeFunction: releases ? (routes ? 'release-router' : 'zone-release') : edgeFunctionRole(route.kind, routes, zoneFlags),
    zoneMayChange,
    forwardsZoneFlags: zoneFlags && page,
    picksRelease,
    // A request is bucketed only where something is decided for it: a flag that can move it, the zone flags of a page, a canary.
    setsVisitorCookie: options.visitorCookie === true && (zoneMayChange || (zoneFlags && page) || (releases && page)),
    servedBy: zones,
  };
}

function edgeFunctionRole(kind: BehaviorKind, routes: boolean, zoneFlags: boolean): EdgeFunctionRole {
  if (routes) return 'router';
  if (kind === 'image') return 'image-accept';
  if (kind !== 'page') return 'none';
  // Every page request passes viewer headers on (AllViewerExceptHostHeader): a function drops the edge's own.
  return zoneFlags ? 'decide-flags' : 'forward-host';
}

/** Which functions the behaviors run, so each is made only where needed. */
function needsOf(all: PlannedBehavior[]): Omit<BehaviorPlan, 'behaviors' | 'defaultBehavior' | 'overflow'> {
  const runs = (role: EdgeFunctionRole) => all.some((b) => b.edgeFunction === role);
  return {
    needsRouter: runs('router'),
    needsReleaseRouter: runs('release-router'),
    needsZoneRelease: runs('zone-release'),
    zoneReleaseZones: [...new Set(all.filter((b) => b.edgeFunction === 'zone-release').map((b) => b.zone))].sort(),
    needsFlagDecider: runs('decide-flags'),
    needsHostForwarder: runs('forward-host'),
    needsVisitorCookie: all.some((b) => b.setsVisitorCookie),
    needsImageAccept: runs('image-accept'),
    needsSpeculationRules: runs('speculation-rules'),
  };
}

/**
 * The most candidates that keep a behavior within `budget`, counting the
 * anchors the zones left without one need. Keeping one more candidate adds
 * a behavior and removes at most one anchor, so the count only grows with
 * the number kept: one pass finds the largest that fits.
 */
function mostKept(candidates: Candidate[], otherZones: string[], budget: number): number {
  const others = new Set(otherZones);
  const carried = new Set<string>();
  let best = 0;
  for (let kept = 1; kept <= candidates.length; kept++) {
    const zone = candidates[kept - 1].zone;
    if (others.has(zone)) carried.add(zone);
    if (kept + others.size - carried.size <= budget) best = kept;
  }
  return best;
}

/**
 * Zone routes and override patterns in one most-specific-first list. An
 * override pattern that is also a zone route shares its behavior; one that
 * is not gets a behavior of its own, pointed at the zone that serves it
 * with every flag off, so paths no override touches never run the function.
 */
function orderedCandidates(table: RoutingTable): Candidate[] {
  const candidates: Candidate[] = table.routes.map((r) => ({ ...r, isOverride: false }));
  const patterns = new Set(candidates.map((c) => c.pattern));
  for (const o of table.overrides) {
    if (patterns.has(o.pattern)) continue;
    patterns.add(o.pattern);
    const representative = o.pattern.replace(/\*/g, '').replace(/\?/g, 'x');
    candidates.push({ pattern: o.pattern, zone: resolveRoute(table, representative, () => false).zone, kind: 'page', isOverride: true });
  }
  return candidates.sort((a, b) => compareSpecificity(a.pattern, b.pattern));
}
