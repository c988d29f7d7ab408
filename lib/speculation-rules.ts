/**
 * Speculation Rules for the whole site, planned from the routing table:
 * which links Chromium may fetch before the click, and which never.
 *
 * One rules file serves every zone (one header value, so one response
 * headers policy whatever the number of zones). It names page paths, not
 * zones: a prefetch goes through the same edge as the click, so an override
 * that moves a path at runtime moves its prefetch along with it, and rules
 * written at synth never go stale when a flag flips.
 */
import { CrossZonePrefetch, excludePatterns } from './cross-zone-prefetch';
import { normalizePathPattern } from './path-patterns';
import { RoutingTable } from './routing-plan';
import { RESERVED_PATH_PREFIX } from './zones';

/** The path the distribution answers with the rules file. */
export const SPECULATION_RULES_PATH = `${RESERVED_PATH_PREFIX}speculation-rules.json`;

/** The rules file's media type; Chromium ignores a rules file served as anything else. */
export const SPECULATION_RULES_CONTENT_TYPE = 'application/speculationrules+json';

/** The response header naming the rules file, and its value (a structured-field string). */
export const SPECULATION_RULES_HEADER = 'Speculation-Rules';
export const SPECULATION_RULES_HEADER_VALUE = `"${SPECULATION_RULES_PATH}"`;

/**
 * Paths no link may be fetched ahead for, whatever the routes say: Next.js
 * internals (static assets, `next/image`, Pages Router data) and the
 * construct's own paths.
 */
const NEVER_PREFETCHED = ['/_next/*', `${RESERVED_PATH_PREFIX}*`];

/** The planned rules: what is fetched ahead, what never is, and the file's body. */
export interface SpeculationRulesPlan {
  /** `prefetch` or `prerender`. */
  readonly action: string;
  /** When Chromium acts on a matching link. */
  readonly eagerness: string;
  /** The user's exclude patterns, normalized. */
  readonly excluded: string[];
  /** What is never matched whatever the user says: Next.js internals (assets, images, data), reserved paths, zones' asset prefixes. */
  readonly neverMatched: string[];
  /** The rules file's JSON. */
  readonly body: Record<string, unknown>;
}

/** The links that reach one zone with every flag off. */
export interface ZonePrefetchTargets {
  /** The zone. */
  readonly zone: string;
  /** Its page patterns; `/*` for the default zone, which has whatever no other zone's patterns claim. */
  readonly patterns: string[];
}

/**
 * A CloudFront path pattern as a URL pattern pathname. `*` means the same
 * in both; `?` (exactly one character in CloudFront, "optional" in URL
 * patterns) widens to `*`, and `:` and `+` are escaped. Widening is safe in
 * every place a pattern sits here: every page path is prefetchable through
 * some rule, and the `not` lists only grow.
 */
export function urlPatternPathname(pattern: string): string {
  return normalizePathPattern(pattern).replace(/\?/g, '*').replace(/[:+]/g, (c) => `\\${c}`);
}

const matches = (patterns: string[]) => ({ href_matches: patterns.map((p) => ({ pathname: urlPatternPathname(p) })) });

/** Next.js internals and the construct's paths, and the routes under them. */
const isInternal = (pattern: string) => NEVER_PREFETCHED.some((n) => pattern.startsWith(n.slice(0, -1)));

/**
 * The rules for a routing table, or undefined when nothing is to be
 * fetched ahead (`CrossZonePrefetch.none()`, or a site of one zone: no link
 * crosses zones).
 *
 * One rule: every same-origin link but the never-matched and excluded
 * ones. The zones' page patterns together with the default zone's "all
 * the rest" cover every path, so listing them would only repeat `/*` at a
 * size growing with the zones, while the function's code (which holds the
 * file) has 10 KB. Only the zones' asset prefixes are listed (their
 * `next/image` paths lie below them).
 */
export function planSpeculationRules(table: RoutingTable, prefetch: CrossZonePrefetch): SpeculationRulesPlan | undefined {
  if (prefetch.action === 'none' || table.zones.length < 2) return undefined;
  const prefixes = table.routes.filter((r) => r.kind === 'asset' && !isInternal(r.pattern)).map((r) => r.pattern);
  const neverMatched = [...NEVER_PREFETCHED, ...prefixes];
  const excluded = excludePatterns(prefetch);
  const rule = {
    source: 'document',
    where: { and: [matches(['/*']), { not: matches([...neverMatched, ...excluded]) }] },
    eagerness: prefetch.eagerness,
  };
  return { action: prefetch.action, eagerness: prefetch.eagerness, excluded, neverMatched, body: { [prefetch.action]: [rule] } };
}

/** The links the rules cover, by the zone they reach with every flag off: each zone's page patterns, the default zone's "all the rest". */
export function prefetchTargets(table: RoutingTable): ZonePrefetchTargets[] {
  const pages = table.routes.filter((r) => r.kind === 'page' && !isInternal(r.pattern));
  return [
    ...table.zones
      .filter((z) => z !== table.defaultZone)
      .map((zone) => ({ zone, patterns: pages.filter((r) => r.zone === zone).map((r) => r.pattern) }))
      .filter((t) => t.patterns.length > 0),
    { zone: table.defaultZone, patterns: ['/*'] },
  ];
}
