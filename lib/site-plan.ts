import { Annotations } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { BehaviorPlan, planBehaviors } from './behaviors';
import { speculationRulesFunctionCode } from './edge-function/speculation-rules-function';
import { FlagDecisionOptions } from './edge-function/generate';
import { MultiZoneValidationError } from './errors';
import { limitValue } from './limits';
import { pagePolicyProblem } from './page-response-headers';
import { MultiZoneDistributionProps, crossZonePrefetchOf, zoneModelOf } from './props';
import { RoutingTable, buildRoutingTable } from './routing-plan';
import { SPECULATION_RULES_PATH, SpeculationRulesPlan, planSpeculationRules } from './speculation-rules';
import { releaseZones } from './zones';

/** The Speculation Rules of a site that prefetches across zones, and the code of the function that answers them. */
export interface PrefetchPlan {
  readonly rules: SpeculationRulesPlan;
  readonly code: string;
}

/** What the construct builds, decided before anything is built: the routing table, the behaviors, the edge's options. */
export interface SitePlan {
  readonly routingTable: RoutingTable;
  readonly behaviorPlan: BehaviorPlan;
  /** Present when the site prefetches across zones. */
  readonly prefetch?: PrefetchPlan;
  /** Whether the viewer's Host reaches zones as x-forwarded-host. */
  readonly forwardViewerHost: boolean;
  /** The zone flags, sorted by name (empty: none). */
  readonly zoneFlags: string[];
  /** How the functions that read flags decide them. */
  readonly decisions: FlagDecisionOptions;
  /** The zones with releases, sorted by name (empty: none). */
  readonly releaseZones: string[];
}

/** The plan of a site from its props (already refused when bad); warns on `scope` when the default prefetch turns off. */
export function planSite(scope: Construct, props: MultiZoneDistributionProps): SitePlan {
  const model = zoneModelOf(props);
  const routingTable = buildRoutingTable(model);
  const withReleases = releaseZones(model);
  const zoneFlags = routingTable.zoneFlags ?? [];
  const visitorCookie = (props.visitorCookie ?? true) && props.bucketCookie === undefined;
  const plan = (speculationRules: boolean) =>
    planBehaviors(routingTable, {
      maxCacheBehaviors: props.maxCacheBehaviors ?? limitValue('cache-behaviors-per-distribution'),
      overflowToFunction: props.overflowToFunction ?? true,
      zoneFlags: zoneFlags.length > 0,
      visitorCookie,
      speculationRules,
      releaseZones: withReleases,
    });
  const prefetching = planPrefetch(scope, routingTable, props, plan);
  return {
    routingTable,
    behaviorPlan: prefetching?.behaviorPlan ?? plan(false),
    prefetch: prefetching && { rules: prefetching.rules, code: prefetching.code },
    forwardViewerHost: props.forwardViewerHost ?? true,
    zoneFlags,
    decisions: { bucketCookie: props.bucketCookie ?? '', visitorCookie, previewFlags: routingTable.previewFlags, zoneFlags },
    releaseZones: withReleases,
  };
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
function planPrefetch(
  scope: Construct,
  table: RoutingTable,
  props: MultiZoneDistributionProps,
  plan: (speculationRules: boolean) => BehaviorPlan,
): (PrefetchPlan & { behaviorPlan: BehaviorPlan }) | undefined {
  const rules = planSpeculationRules(table, crossZonePrefetchOf(props));
  if (!rules) return undefined;
  const asked = props.crossZonePrefetch !== undefined;
  const turnedOff = (why: string) => {
    Annotations.of(scope).addWarningV2('multizone:prefetchOff', `crossZonePrefetch is off: ${why}; set crossZonePrefetch: CrossZonePrefetch.none() to silence this`);
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
