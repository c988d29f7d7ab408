import type { UpdatedOrigin } from '../edge-function/origin-update';
import { DEFAULT_VIEWER_IP, EXAMPLE_DISTRIBUTION_DOMAIN, compileFunction, requireRuntimeModule, viewerRequestEvent } from '../edge-function/sandbox';
import { flagPercent, flagValueProblem, rolloutBucket, pathPatternMatches, OverrideRoute, ZoneRoute, routeKindMoves, RESERVED_PATH_PREFIX, METADATA_KEY, SiteMetadata, VISITOR_COOKIE, ZONE_FLAGS_HEADER, SPECULATION_RULES_HEADER, SPECULATION_RULES_PATH, ZonePrefetchTargets, prefetchTargets } from 'multizone-distribution/internal';
import { MAX_INCLUDED_BODY } from '../edge-function/lambda-edge';
import { forwardPolicy, selects } from '../local-edge/policies';
import { templateOriginUrl } from '../local-edge/zones';
import { ServedRequest, SynthesizedSite, TemplateBehavior } from '../synthesized-site';

/** Where a flag value used by a command came from. */
export type FlagSource = 'template' | 'flag file' | '--flag';

/** A flag value and where it came from. */
export interface FlagValue {
  readonly value: string;
  readonly source: FlagSource;
}

/** One row of the routing table as the template states it. */
export interface BehaviorRow {
  /** Position in CloudFront's order, counted from 1, the default behavior last (as SynthesizedSite's `behaviorPosition`). */
  readonly position: number;
  readonly pathPattern: string;
  readonly kind: 'asset' | 'image' | 'page' | 'override' | 'anchor' | 'speculation-rules' | 'default' | 'other';
  readonly zone: string;
  readonly originId: string;
  /** The viewer-request function's logical id, if one runs. */
  readonly function?: string;
  /** The Lambda@Edge function run at origin request (the body hash), if any. */
  readonly originRequestLambda?: OriginRequestLambda;
  /** Overrides the function applies on this behavior's paths. */
  readonly overrides: OverrideRoute[];
  /** Table routes no behavior carries, which the function routes here (the default behavior only). */
  readonly overflow: ZoneRoute[];
}

/** The template's behaviors with what the routing table says about each. */
export function behaviorRows(site: SynthesizedSite): BehaviorRow[] {
  const patterns = new Set(site.behaviors.slice(0, -1).map((b) => b.pathPattern));
  const last = site.behaviors.length - 1;
  // The construct records which routes overflowed to the function.
  const overflowPatterns = new Set(site.overflow);
  return site.behaviors.map((b, i) => {
    const isDefault = i === last;
    const overrides = b.viewerRequestFunction
      ? site.table.overrides.filter((o) => (isDefault ? !patterns.has(o.pattern) : o.pattern === b.pathPattern))
      : [];
    const overflow = isDefault && b.viewerRequestFunction ? site.table.routes.filter((r) => overflowPatterns.has(r.pattern)) : [];
    return {
      position: i + 1,
      pathPattern: b.pathPattern,
      kind: behaviorKind(site, b, isDefault),
      zone: site.zoneOfOrigin(b.targetOriginId) ?? `(origin ${b.targetOriginId})`,
      originId: b.targetOriginId,
      function: b.viewerRequestFunction,
      originRequestLambda: originRequestLambdaOf(site, b),
      overrides,
      overflow,
    };
  });
}

/** A behavior's origin-request Lambda@Edge association, for output. */
export interface OriginRequestLambda {
  /** The function's name (its logical id without CDK's hash). */
  readonly function: string;
  readonly eventType: 'origin-request';
  /** Whether CloudFront hands it the request body. */
  readonly includeBody: boolean;
}

/** The behavior's origin-request Lambda@Edge association, if it has one. */
export function originRequestLambdaOf(site: SynthesizedSite, b: TemplateBehavior): OriginRequestLambda | undefined {
  const a = b.originRequestLambda;
  return a && { function: site.edgeFunctionName(a), eventType: 'origin-request', includeBody: a.includeBody };
}

/** `MultiZoneBodyHashFn (body)`: an origin-request association in a table cell. */
function lambdaCell(l: OriginRequestLambda | undefined): string {
  return l ? `${l.function}${l.includeBody ? ' (body)' : ''}` : '-';
}

function behaviorKind(site: SynthesizedSite, b: TemplateBehavior, isDefault: boolean): BehaviorRow['kind'] {
  if (isDefault) return 'default';
  if (b.pathPattern === SPECULATION_RULES_PATH) return 'speculation-rules';
  if (b.pathPattern.startsWith(RESERVED_PATH_PREFIX)) return 'anchor';
  const route = site.table.routes.find((r) => r.pattern === b.pathPattern);
  if (route) return route.kind;
  if (site.table.overrides.some((o) => o.pattern === b.pathPattern)) return 'override';
  return 'other';
}

/** A function's logical id without CDK's hash suffix: `SiteRouterB0B18398` -> `SiteRouter`. */
export function shortFunctionName(logicalId: string): string {
  return logicalId.replace(/[0-9A-F]{8}$/, '');
}

/** Where an origin points, for humans: `localhost:3002`, or a note when the domain is a reference. */
export function originLocation(site: SynthesizedSite, originId: string): string {
  const url = templateOriginUrl(site.originConfigs[originId]);
  return typeof url === 'string' ? url : '(domain known after deploy)';
}

/** `routes`: every behavior in CloudFront's order, the overrides and overflow, and a picture. */
export function routesText(site: SynthesizedSite, file: string, flags: Record<string, FlagValue>): string {
  const rows = behaviorRows(site);
  const lines: string[] = [];
  lines.push(`${file}: distribution ${site.logicalId}, ${site.zones.length} zones, ${rows.length} cache behaviors (first match wins, default last)`);
  lines.push('');
  // The origin-request column only on sites that run Lambda@Edge (the body hash of a function URL zone).
  const hashing = rows.some((r) => r.originRequestLambda);
  const table = [
    ['#', 'path pattern', 'zone', 'kind', 'viewer-request function', ...(hashing ? ['origin-request Lambda@Edge'] : [])],
    ...rows.map((r) => [
      String(r.position),
      r.pathPattern === '*' ? '* (default)' : r.pathPattern,
      r.zone,
      r.kind,
      r.function ? shortFunctionName(r.function) : '-',
      ...(hashing ? [lambdaCell(r.originRequestLambda)] : []),
    ]),
  ];
  lines.push(...columns(table, [true]).map((l) => `  ${l}`));

  const overrides = site.table.overrides;
  lines.push('');
  if (overrides.length === 0) {
    lines.push('Overrides: none');
  } else {
    lines.push('Overrides (the function sends these paths to another zone while the flag is on; first match whose flag is on wins):');
    lines.push(
      ...columns(
        overrides.map((o) => [o.pattern, `-> ${o.zone}`, `while ${o.flag} is on`, `now: ${flagText(flags[o.flag])}`]),
        [],
      ).map((l) => `  ${l}`),
    );
  }
  const overflow = rows[rows.length - 1].overflow;
  if (overflow.length > 0) {
    lines.push('');
    lines.push(`Overflow (past the behavior quota; the function at the default behavior routes these, most specific first):`);
    lines.push(...columns(overflow.map((r) => [r.pattern, `-> ${r.zone}`, r.kind]), []).map((l) => `  ${l}`));
  }
  lines.push('');
  lines.push(...prefetchText(site));
  lines.push('');
  lines.push('Zones:');
  lines.push(...columns(site.zones.map((z) => [z.name, z.originId, originLocation(site, z.originId)]), []).map((l) => `  ${l}`));
  lines.push('');
  lines.push(`Picture (f = the viewer-request function runs${hashing ? '; h = the origin-request Lambda@Edge runs before the zone is asked' : ''}):`);
  lines.push(...picture(rows).map((l) => `  ${l}`));
  return lines.join('\n') + '\n';
}

function flagText(f: FlagValue | undefined): string {
  if (!f) return 'off (unset)';
  return `${f.value} (${f.source === 'template' ? "template's initial value" : f.source})`;
}

/**
 * The routing table as a tree: each behavior a branch from the viewer to
 * its zone, with the function's alternatives (overrides, overflow) as
 * sub-branches.
 */
function picture(rows: BehaviorRow[]): string[] {
  const label = (r: BehaviorRow) => (r.pathPattern === '*' ? '* (default)' : r.pathPattern);
  const width = Math.max(...rows.map((r) => label(r).length));
  const alternativesOf = (r: BehaviorRow) => [
    ...r.overrides.map((o) => ({ text: `if ${o.flag} is on`, zone: o.zone })),
    ...r.overflow.map((o) => ({ text: o.pattern, zone: o.zone })),
  ];
  const altWidth = Math.max(0, ...rows.flatMap((r) => alternativesOf(r).map((a) => a.text.length)));
  // A column for the origin-request mark, only on sites that have one.
  const lambdaMark = (r: BehaviorRow) => (!rows.some((x) => x.originRequestLambda) ? '' : r.originRequestLambda ? ' h ' : '---');
  // Every "> zone" starts in the same column.
  const run = Math.max(altWidth + 5, 8);
  const out: string[] = [];
  rows.forEach((r, i) => {
    const lastRow = i === rows.length - 1;
    const lead = i === 0 ? 'viewer -+-' : lastRow ? '        `-' : '        +-';
    const head = `${lead} ${label(r).padEnd(width)} --${r.function ? ' f ' : '---'}${lambdaMark(r)}-`;
    const alternatives = alternativesOf(r);
    if (alternatives.length === 0) {
      // The rules file never reaches its behavior's zone: the function answers it.
      out.push(`${head}${'-'.repeat(run)}> ${r.kind === 'speculation-rules' ? 'answered by f, no zone asked' : r.zone}`);
      return;
    }
    out.push(`${head}+${'-'.repeat(run - 1)}> ${r.zone}`);
    const pad = (lastRow ? ' ' : '        |').padEnd(head.length);
    alternatives.forEach((a, j) => {
      const branch = j === alternatives.length - 1 ? '`-' : '+-';
      out.push(`${pad}${branch} ${a.text.padEnd(altWidth)} -> ${a.zone}`);
    });
  });
  return out;
}

/** What the rules file says: which links are fetched ahead (by the zone they reach with every flag off), which never are. */
export interface PrefetchSummary {
  /** `prefetch` or `prerender`. */
  readonly action: string;
  readonly eagerness: string;
  /** The link patterns the rules match (`/*`: every same-origin link), by zone. */
  readonly prefetched: ZonePrefetchTargets[];
  /** Patterns the user excluded. */
  readonly excluded: string[];
  /** Assets, images, Next.js internals, reserved paths and zones' asset prefixes: never matched. */
  readonly never: string[];
}

/**
 * The site's Speculation Rules as the template answers them: the rules
 * behavior's own function run on its path, its JSON read back. Undefined
 * when the template has no rules behavior.
 */
export function prefetchSummary(site: SynthesizedSite): PrefetchSummary | undefined {
  const b = site.behaviors.find((x) => x.pathPattern === SPECULATION_RULES_PATH && x.viewerRequestFunction);
  if (!b) return undefined;
  // The rules function is synchronous and reads no store: its handler runs directly.
  const handler = compileFunction(site.functionCode(b.viewerRequestFunction!))({}, requireRuntimeModule);
  const answer = handler(viewerRequestEvent(SPECULATION_RULES_PATH)) as { body: { data: string } };
  const json = JSON.parse(answer.body.data);
  const action = Object.keys(json)[0];
  const pathnames = (w: any): string[] => (w?.href_matches ?? []).map((m: any) => String(m.pathname).replace(/\\(.)/g, '$1'));
  const [rule] = json[action];
  const [match, not] = rule.where.and;
  const patterns = pathnames(match);
  const prefixes = new Set(site.table.routes.filter((r) => r.kind !== 'page').map((r) => r.pattern));
  const isNever = (p: string) => p.startsWith('/_next/') || p.startsWith(RESERVED_PATH_PREFIX) || prefixes.has(p);
  const unmatched = pathnames(not.not);
  return {
    action,
    eagerness: rule.eagerness,
    prefetched: patterns.length === 1 && patterns[0] === '/*' ? prefetchTargets(site.table) : [{ zone: '?', patterns }],
    excluded: unmatched.filter((p) => !isNever(p)),
    never: unmatched.filter(isNever),
  };
}

function prefetchText(site: SynthesizedSite): string[] {
  const p = prefetchSummary(site);
  if (!p) return ['Prefetch across zones: none (no Speculation Rules)'];
  const lines = [
    `Prefetch across zones (${SPECULATION_RULES_HEADER} on zone pages names ${SPECULATION_RULES_PATH}, answered by the function; ${p.action}, eagerness ${p.eagerness}):`,
  ];
  const rows = p.prefetched.map((t, i) => [
    i === 0 ? (p.action === 'prerender' ? 'prerendered' : 'prefetched') : '',
    t.patterns.join(', '),
    `-> ${t.zone}${t.zone === site.table.defaultZone ? '  (every other path)' : ''}`,
  ]);
  rows.push(['excluded', p.excluded.join(', ') || 'none', '']);
  rows.push(['never', p.never.join(', '), '(assets, images, Next.js internals, reserved paths)']);
  lines.push(...columns(rows, []).map((l) => `  ${l}`));
  return lines;
}

/** Aligns rows of cells into columns; `rightAligned[i]` right-aligns column i. */
function columns(rows: string[][], rightAligned: boolean[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((row) =>
    row
      .map((c, i) => (i === row.length - 1 ? c : rightAligned[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}

/**
 * The Host a viewer sends by default: the distribution's first alias, else
 * its cloudfront.net domain (unknown until deploy: an example one).
 */
export function defaultViewerHost(site: SynthesizedSite): string {
  const aliases = site.resource(site.logicalId)?.Properties?.DistributionConfig?.Aliases;
  // An alias that is a CloudFormation reference is only known at deploy.
  return Array.isArray(aliases) && typeof aliases[0] === 'string' ? aliases[0] : EXAMPLE_DISTRIBUTION_DOMAIN;
}

/** Who the viewer of `explain` is: its IP, and the value of the cookie its rollout buckets follow. */
export interface ExplainedViewer {
  readonly ip?: string;
  /** The value of the site's bucket cookie (`bucketCookie`, else the edge's `mz-vid`). */
  readonly visitor?: string;
}

/** The metadata the construct records on the distribution. */
function siteMetadata(site: SynthesizedSite): Partial<SiteMetadata> {
  return site.resource(site.logicalId)?.Metadata?.[METADATA_KEY] ?? {};
}

/** The cookie the site's rollout buckets follow (`bucketCookie`, else `mz-vid` when the edge keeps visitor ids); undefined: the viewer IP. */
export function bucketCookieOf(site: SynthesizedSite): string | undefined {
  return siteMetadata(site).bucketCookie;
}

/** The cookies the viewer sends: its bucket cookie, when given. */
export function viewerCookies(site: SynthesizedSite, viewer: ExplainedViewer): Record<string, string> | undefined {
  const cookie = bucketCookieOf(site);
  return cookie && viewer.visitor !== undefined ? { [cookie]: viewer.visitor } : undefined;
}

/**
 * The key a percentage buckets the viewer by, as the function picks it:
 * the bucket cookie's value, else for the edge's own visitor cookie a new
 * random id (no key to show), else the viewer IP.
 */
function bucketKey(site: SynthesizedSite, viewer: ExplainedViewer): { key?: string; who: string } {
  const cookie = bucketCookieOf(site);
  const ip = viewer.ip ?? DEFAULT_VIEWER_IP;
  const byIp = viewer.ip ?? `the default viewer IP ${DEFAULT_VIEWER_IP} (pass --ip)`;
  if (!cookie) return { key: ip, who: byIp };
  if (viewer.visitor !== undefined) return { key: viewer.visitor, who: `${cookie} ${viewer.visitor}` };
  if (cookie === VISITOR_COOKIE) return { who: `a new visitor, whose ${VISITOR_COOKIE} the edge makes up on this request (pass --visitor ID for a returning one)` };
  return { key: ip, who: `${byIp}, without a ${cookie} cookie (pass --visitor VALUE)` };
}

/** A flag's value, and for a percentage the viewer's bucket and what it gives: `25% (--flag), bucket 17 for 192.0.2.1: on`. */
function flagForViewer(site: SynthesizedSite, name: string, f: FlagValue | undefined, viewer: ExplainedViewer): string {
  const text = flagText(f);
  if (!f || flagValueProblem(f.value) || f.value === 'on' || f.value === 'off') return text;
  const { key, who } = bucketKey(site, viewer);
  if (key === undefined) return `${text}, for ${who}: a random bucket`;
  const bucket = rolloutBucket(name, key);
  return `${text}, bucket ${bucket} for ${who}: ${bucket < flagPercent(f.value) ? 'on' : 'off'}`;
}

/** The zone-flag decisions the function set on the request, and whether the behavior's policies pass them to the zone. */
export function zoneFlagDecisions(site: SynthesizedSite, served: ServedRequest): { header?: string; forwarded: boolean } {
  const header = served.forwardedHeaders[ZONE_FLAGS_HEADER];
  return { header, forwarded: header !== undefined && selects(forwardPolicy(site, served.behavior).headers, ZONE_FLAGS_HEADER, true) };
}

/** An origin the function chose: its URL, and its signing when it signs (`https://x.lambda-url.eu-west-1.on.aws (cf.updateRequestOrigin), signed always for lambda`). */
function updatedOriginText(o: UpdatedOrigin): string {
  return `${o.url ?? `${o.protocol}://(the origin's domain)${o.originPath}`} (cf.updateRequestOrigin)${o.signing ? `, signed ${o.signing} for ${o.originType}` : ''}`;
}

/** `explain`: how CloudFront serves one request, and why; `viewer` says who sends it (IP, bucket cookie), as far as given. */
export function explainText(site: SynthesizedSite, uri: string, method: string, served: ServedRequest, flags: Record<string, FlagValue>, viewer: ExplainedViewer = {}): string {
  const path = uri.split('?')[0];
  const total = site.behaviors.length;
  const b = served.behavior;
  const behaviorZone = site.zoneOfOrigin(b.targetOriginId) ?? '?';
  const lines: string[] = [];
  lines.push(`${method} ${uri}`);
  const relevant = site.table.overrides.filter((o) => pathPatternMatches(o.pattern, path));
  const usedFlags = [...new Set(relevant.map((o) => o.flag))];
  if (usedFlags.length > 0) lines.push(`  flags      ${usedFlags.map((f) => `${f}=${flagForViewer(site, f, flags[f], viewer)}`).join('; ')}`);
  lines.push(
    `  behavior   #${served.behaviorPosition} of ${total}: ${b.pathPattern === '*' ? '* (default, no other pattern matches)' : `${b.pathPattern} (first match in CloudFront's order)`} -> origin ${b.targetOriginId} (${behaviorZone})`,
  );
  if (!b.allowedMethods.includes(method)) {
    lines.push(`  refused    403: this behavior allows ${b.allowedMethods.join(', ')} only (CloudFront answers before any function or zone)`);
    return lines.join('\n') + '\n';
  }
  if (served.functionRan) {
    const choice =
      served.response !== undefined
        ? `answered ${served.response.statusCode} itself`
        : served.originId !== b.targetOriginId
          ? `selected origin ${served.originId}`
          : 'kept the behavior\'s origin';
    lines.push(`  function   ${shortFunctionName(b.viewerRequestFunction!)} (viewer-request) ran: ${choice}`);
  } else {
    lines.push('  function   none on this behavior');
  }
  if (served.response) {
    lines.push(`  response   ${served.response.statusCode} from the function, no zone is asked`);
  } else {
    lines.push(`  zone       ${served.zone} (origin ${served.originId}, ${originLocation(site, served.originId)})`);
    if (served.updatedOrigin) lines.push(`  release    the function sent it to ${updatedOriginText(served.updatedOrigin)}`);
    lines.push(...originRequestLines(site, b, method));
  }
  const table = site.table;
  const route = table.routes.find((r) => pathPatternMatches(r.pattern, path));
  const why: string[] = [];
  if (route?.kind === 'asset') why.push(`${route.pattern} is ${route.zone}'s asset route: assets never move`);
  else if (route?.kind === 'image') why.push(`${route.pattern} is ${route.zone}'s next/image route: images never move`);
  else {
    if (route) why.push(`route ${route.pattern} -> ${route.zone}`);
    else why.push(`no zone route matches: the default zone, ${table.defaultZone}`);
    for (const o of relevant) why.push(`override ${o.pattern} -> ${o.zone} while ${o.flag} is on (it is ${flags[o.flag]?.value ?? 'off'})`);
  }
  if (!served.functionRan && relevant.length > 0 && (!route || routeKindMoves(route.kind))) {
    why.push('no function runs on this behavior, so no override can apply');
  }
  lines.push(`  why        ${why.join('\n             ')}`);
  const xfh = served.request.headers['x-forwarded-host'];
  if (!served.response) {
    lines.push(`  headers    Host: the origin's own${xfh ? `; x-forwarded-host: ${xfh.value} (set by the function)` : '; no x-forwarded-host (no function sets it here)'}`);
    lines.push(...zoneFlagLines(site, served, flags, viewer));
  }
  return lines.join('\n') + '\n';
}

/** Methods that carry no body: the body hash passes them untouched. */
const BODYLESS_METHODS = ['GET', 'HEAD', 'OPTIONS'];

/** `explain`'s line on the behavior's origin-request Lambda@Edge function (the body hash), if it has one. */
function originRequestLines(site: SynthesizedSite, b: TemplateBehavior, method: string): string[] {
  const l = originRequestLambdaOf(site, b);
  if (!l) return [];
  const head = `  lambda     ${l.function} (Lambda@Edge, origin-request${l.includeBody ? ', body included' : ''}) runs before the zone is asked: `;
  if (BODYLESS_METHODS.includes(method)) return [`${head}a ${method} has no body and passes untouched`];
  const limit = MAX_INCLUDED_BODY.toLocaleString('en-US');
  return [
    `${head}the body's SHA-256 goes in x-amz-content-sha256, which the zone's function URL signature requires`,
    `             a body past 1 MB (${limit} bytes, all the function sees) is refused with 413 Payload Too Large, unless the viewer sent its own x-amz-content-sha256`,
  ];
}

/** `explain`'s zone-flag lines: the decisions header the zone gets, and each zone flag's value and bucket. */
function zoneFlagLines(site: SynthesizedSite, served: ServedRequest, flags: Record<string, FlagValue>, viewer: ExplainedViewer): string[] {
  const names = site.table.zoneFlags ?? [];
  if (names.length === 0) return [];
  const { header, forwarded } = zoneFlagDecisions(site, served);
  if (header === undefined) return [`  zone flags none sent: no function decides them on this behavior (assets and images carry no decisions)`];
  const lines = [
    `  zone flags ${ZONE_FLAGS_HEADER}: ${header} (${forwarded ? 'set by the function, forwarded to the zone' : "set by the function, but the behavior's policies do not forward it"})`,
  ];
  for (const name of names) lines.push(`             ${name}=${flagForViewer(site, name, flags[name], viewer)}`);
  return lines;
}
