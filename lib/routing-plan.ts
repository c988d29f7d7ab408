import { DEFAULT_FLAG_VALUE } from './flags';
import { compareSpecificity, normalizePathPattern, pathPatternMatches } from './path-patterns';
import { ZoneModel, fixedRoutes, pagesRouterDataPattern } from './zones';

/**
 * `page` routes may be overridden by a flag; `asset` routes (immutable
 * Next.js assets) and `image` routes (a zone's `next/image` optimizer)
 * always stay with their zone.
 */
export type RouteKind = 'page' | 'asset' | 'image';

/** Whether a flag may move requests of a route of this kind to another zone. */
export function routeKindMoves(kind: RouteKind): boolean {
  return kind === 'page';
}

/** One path pattern and the zone that serves it. */
export interface ZoneRoute {
  readonly pattern: string;
  readonly zone: string;
  readonly kind: RouteKind;
}

/** One path pattern an override moves to `zone` while `flag` is on. */
export interface OverrideRoute {
  readonly pattern: string;
  readonly flag: string;
  readonly zone: string;
}

/**
 * The routing table: the single source of truth for where a request goes.
 * The construct, its CloudFront Function, the local edge and the CLI all
 * read this (it is also written into the template's metadata).
 */
export interface RoutingTable {
  /** The zone that serves whatever no route claims. */
  readonly defaultZone: string;
  /** Every zone name, the default zone first. */
  readonly zones: string[];
  /** Zone routes, most specific first: the first match serves the request. */
  readonly routes: ZoneRoute[];
  /** Override routes, most specific first: the first match whose flag is on wins. */
  readonly overrides: OverrideRoute[];
  /** Initial flag values, for every flag an override or zoneFlags names. */
  readonly flags: Record<string, string>;
  /** Flags decided on every page request and forwarded to the zones in `x-multizone-flags`, sorted; absent when none. */
  readonly zoneFlags?: string[];
  /** Flags a signed preview cookie may set (overrides with `preview: true`), sorted; absent when none. */
  readonly previewFlags?: string[];
}

/** Builds the routing table from a validated zone model. */
export function buildRoutingTable(model: ZoneModel): RoutingTable {
  const routes: ZoneRoute[] = [...fixedRoutes(model)];
  for (const z of model.zones) {
    for (const p of new Set((z.pathPatterns ?? []).map(normalizePathPattern))) {
      routes.push({ pattern: p, zone: z.name, kind: 'page' });
      if (z.pagesRouter) routes.push({ pattern: pagesRouterDataPattern(p), zone: z.name, kind: 'page' });
    }
  }
  const overrides: OverrideRoute[] = [];
  const seen = new Set<string>();
  for (const o of model.overrides) {
    for (const p of o.pathPatterns.map(normalizePathPattern)) {
      const key = `${o.flag}\n${p}`;
      if (!seen.has(key)) overrides.push({ pattern: p, flag: o.flag, zone: o.zone });
      seen.add(key);
    }
  }
  const flags: Record<string, string> = {};
  for (const o of model.overrides) flags[o.flag] = model.flags[o.flag] ?? DEFAULT_FLAG_VALUE;
  const zoneFlags = [...new Set(model.zoneFlags ?? [])].sort();
  for (const f of zoneFlags) flags[f] = model.flags[f] ?? DEFAULT_FLAG_VALUE;
  const previewFlags = [...new Set(model.overrides.filter((o) => o.preview === true).map((o) => o.flag))].sort();
  const bySpecificity = (a: { pattern: string }, b: { pattern: string }) => compareSpecificity(a.pattern, b.pattern);
  return {
    defaultZone: model.defaultZone.name,
    // Sorted, so listing zones in another order gives the same table (and template).
    zones: [model.defaultZone.name, ...model.zones.map((z) => z.name).sort()],
    routes: routes.sort(bySpecificity),
    // Stable sort: overrides on the same pattern keep the order they were declared in.
    overrides: overrides.sort(bySpecificity),
    flags,
    ...(previewFlags.length > 0 && { previewFlags }),
    ...(zoneFlags.length > 0 && { zoneFlags }),
  };
}

/** Where one request goes, and why. */
export interface RouteDecision {
  /** The zone that serves the request. */
  readonly zone: string;
  /** The zone route that matched, if any (undefined: the default zone by default). */
  readonly route?: ZoneRoute;
  /** The override that moved the request, if any. */
  readonly override?: OverrideRoute;
}

/**
 * The reference model of routing: the zone a URI path goes to, given
 * which flags are on for this viewer. The first zone route to match gives
 * the base zone; unless that route is an asset or image route, the first
 * override that matches and whose flag is on moves the request to its zone.
 */
export function resolveRoute(table: RoutingTable, uriPath: string, flagIsOn: (flag: string) => boolean): RouteDecision {
  const route = table.routes.find((r) => pathPatternMatches(r.pattern, uriPath));
  if (!route || routeKindMoves(route.kind)) {
    // The flag first: planning asks with every flag off, and then no pattern need be matched.
    const override = table.overrides.find((o) => flagIsOn(o.flag) && pathPatternMatches(o.pattern, uriPath));
    if (override) return { zone: override.zone, route, override };
  }
  return { zone: route ? route.zone : table.defaultZone, route };
}
