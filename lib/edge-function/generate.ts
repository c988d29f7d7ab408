import { limitValue } from '../limits';
import { MultiZoneValidationError } from '../errors';
import { PREVIEW_COOKIE, PREVIEW_SECRET_KEY } from '../preview';
import { VISITOR_COOKIE, VISITOR_COOKIE_ATTRIBUTES, ZONE_FLAGS_HEADER } from '../zone-flags';
import { RELEASE_HEADER, RELEASE_PREVIEW_COOKIE } from '../releases/record';
import { ACCEPT } from './image-accept';
import { RELEASES, ZONE_RELEASE } from './release-source';
import { FLAG_DECIDER, FLAG_DECISIONS, HANDLER_WITHOUT_ROUTES, MATCH, PRELUDE, ROUTER, VISITOR_COOKIE as VISITOR_COOKIE_SOURCE } from './router-source';

/** CloudFront Functions' hard limit on code size, in bytes (lib/limits.ts). */
export const MAX_FUNCTION_CODE_BYTES = limitValue('function-code-size');

/** The header the function sets to the chosen zone's name; cache keys of movable paths include it. */
export const ZONE_HEADER = 'x-multizone-zone';

/** How the functions that read flags decide them. */
export interface FlagDecisionOptions {
  /** Cookie that keeps a viewer in the same rollout bucket; '' for the visitor id or the viewer IP. */
  readonly bucketCookie: string;
  /**
   * Bucket by the edge's visitor-id cookie (`mz-vid`) when `bucketCookie` is ''.
   *
   * @default false - the viewer IP
   */
  readonly visitorCookie?: boolean;
  /**
   * Flags a signed preview cookie may set for its holder.
   *
   * @default - none
   */
  readonly previewFlags?: string[];
  /**
   * Flags decided on every page request and forwarded in `x-multizone-flags`, sorted by name.
   *
   * @default - none
   */
  readonly zoneFlags?: string[];
}

/** The routing table a router reads. */
export interface RoutesCodeOptions extends FlagDecisionOptions {
  /** The default zone's `[name, origin id]`; the table values carry the other zones. */
  readonly defaultZone: [string, string];
  /** The key prefix of the table's entries, the site's and the version's (KvsRoutingTable.keyPrefix). */
  readonly keyPrefix: string;
  /** The table's number of first-segment buckets (KvsRoutingTable.bucketCount). */
  readonly bucketCount: number;
  /** The most table values a request may read (KvsRoutingTable.maxReads); reads past it count as an unreachable store. */
  readonly maxReads: number;
}

/** The zones with releases, whose requests the function sends to a release. */
export interface ReleaseCodeOptions {
  /** The prefix of the release record keys, `mz-site:<site>:@release:` (releaseKeyPrefix). */
  readonly keyPrefix: string;
  /** The zones with releases. */
  readonly zones: string[];
}

/** What the generated function needs to know. */
export interface RouterCodeOptions {
  /** Whether the viewer's Host is copied to x-forwarded-host. */
  readonly forwardViewerHost: boolean;
  /** The routing table in the KeyValueStore; leave out when there is nothing to route. */
  readonly routes?: RoutesCodeOptions;
  /**
   * With `routes`: the zones with releases, whose requests the router
   * sends on to a release once it has picked the zone.
   *
   * @default - no zone has releases
   */
  readonly releases?: ReleaseCodeOptions;
  /**
   * Without `routes`: decide the zone flags and forward them, reading no
   * routing table (pages no flag can move, on a site with zone flags).
   *
   * @default - no flag decisions: the host forwarder, which never reads the store
   */
  readonly decideFlags?: FlagDecisionOptions;
}

/**
 * Generates the viewer-request function's code: the router (with
 * `routes`), the zone-flag decider (with `decideFlags`), or the host
 * forwarder. Comment lines and indentation are dropped: the code must stay
 * below CloudFront's 10 KB ("Restrictions on edge functions", not
 * adjustable), and its size grows with neither routes, overrides nor
 * zones, which live in the KeyValueStore; only with the names of
 * previewable flags and zone flags. Throws when it would not fit.
 */
export function generateRouterCode(options: RouterCodeOptions): string {
  const decisions = options.routes ?? options.decideFlags;
  const parts = [PRELUDE];
  if (decisions) parts.unshift("import cf from 'cloudfront';");
  if (decisions) parts.push(flagDecisions(decisions));
  if (options.routes) {
    const r = options.routes;
    parts.push(MATCH);
    if (options.releases) parts.push(releaseSteps(options.releases));
    parts.push(
      ROUTER.replace('__RELEASE_STEP__', options.releases ? 'if (RZ.indexOf(z[0]) >= 0) await release(req, st, z[0]);' : '')
        .replace('__DEFAULT_ZONE__', () => JSON.stringify(r.defaultZone))
        .replace('__PREFIX__', () => JSON.stringify(r.keyPrefix))
        // Padded to a fixed width, so the code's size is the same whatever the table.
        .replace('__BUCKETS__', String(r.bucketCount).padStart(4, ' '))
        .replace('__MAX_READS__', String(r.maxReads)),
    );
  } else {
    parts.push(decisions ? FLAG_DECIDER : HANDLER_WITHOUT_ROUTES);
  }
  const name = options.routes ? 'Router' : decisions ? 'Zone-flag decider' : 'Host forwarder';
  return minified(prepared(parts, options.forwardViewerHost), name);
}

/** What the zone release function of one zone needs to know. */
export interface ZoneReleaseCodeOptions {
  /** Whether the viewer's Host is copied to x-forwarded-host. */
  readonly forwardViewerHost: boolean;
  /** How flags are decided: the canary's share of viewers follows the same identity, and pages get the zone flags. */
  readonly decisions: FlagDecisionOptions;
  readonly releases: ReleaseCodeOptions;
  /** The zone. */
  readonly zone: string;
  /** The patterns of the zone's asset routes: no zone flags are decided there. */
  readonly assetPatterns: string[];
  /** The patterns of the zone's image routes: `Accept` is reduced there, and no zone flags decided. */
  readonly imagePatterns: string[];
}

/**
 * Generates the viewer-request function of one zone with releases, for
 * its behaviors that the router does not run: the page functions' header
 * work and zone flags, the image Accept reduction on its image route, and
 * the release. Its size grows with neither releases nor routes.
 */
export function generateZoneReleaseCode(options: ZoneReleaseCodeOptions): string {
  const parts = ["import cf from 'cloudfront';", PRELUDE, flagDecisions(options.decisions), MATCH, ACCEPT, releaseSteps(options.releases)];
  parts.push(
    ZONE_RELEASE.replace('__ZONE__', () => JSON.stringify(options.zone))
      .replace('__ASSET_PATTERNS__', () => JSON.stringify(options.assetPatterns))
      .replace('__IMAGE_PATTERNS__', () => JSON.stringify(options.imagePatterns)),
  );
  return minified(prepared(parts, options.forwardViewerHost), `Zone "${options.zone}" release`);
}

function releaseSteps(r: ReleaseCodeOptions): string {
  return RELEASES.replace('__RELEASE_PREFIX__', () => JSON.stringify(r.keyPrefix))
    .replace('__RELEASE_ZONES__', () => JSON.stringify(r.zones))
    .replace('__RELEASE_COOKIE__', () => JSON.stringify(RELEASE_PREVIEW_COOKIE));
}

/** The page functions' parts joined, with the headers and options every one of them uses filled in. */
function prepared(parts: string[], forwardViewerHost: boolean): string {
  return parts
    .join('\n')
    .replace('__FLAGS_HEADER__', JSON.stringify(ZONE_FLAGS_HEADER))
    .replace('__RELEASE_HEADER__', JSON.stringify(RELEASE_HEADER))
    .replace('__FORWARD_HOST__', String(forwardViewerHost));
}

/**
 * Generates the viewer-response function that sets the visitor cookie
 * (`mz-vid`) on every response it runs on: the id the viewer-request
 * function bucketed that request with (the viewer's own, or a new one), so
 * a returning viewer's cookie lives on past the 400 days a browser keeps
 * it. It never reads the store.
 */
export function generateVisitorCookieCode(): string {
  return minified(
    VISITOR_COOKIE_SOURCE.replace('__VISITOR_COOKIE__', JSON.stringify(VISITOR_COOKIE)).replace('__VISITOR_COOKIE_ATTRIBUTES__', JSON.stringify(VISITOR_COOKIE_ATTRIBUTES)),
    'Visitor cookie',
  );
}

function flagDecisions(d: FlagDecisionOptions): string {
  return FLAG_DECISIONS.replace('__BUCKET_COOKIE__', () => JSON.stringify(d.bucketCookie))
    .replace('__VISITOR_COOKIE__', () => JSON.stringify(d.visitorCookie && !d.bucketCookie ? VISITOR_COOKIE : ''))
    .replace('__PREVIEW_FLAGS__', () => JSON.stringify(d.previewFlags ?? []))
    .replace('__ZONE_FLAGS__', () => JSON.stringify([...(d.zoneFlags ?? [])].sort()))
    .replace('__PREVIEW_COOKIE__', JSON.stringify(PREVIEW_COOKIE))
    .replace('__PREVIEW_SECRET_KEY__', JSON.stringify(PREVIEW_SECRET_KEY));
}

function minified(source: string, name: string): string {
  const code = source
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('//'))
    .join('\n')
    .concat('\n');
  const bytes = Buffer.byteLength(code);
  if (bytes > MAX_FUNCTION_CODE_BYTES) {
    throw new MultiZoneValidationError(
      `${name} function: the generated code is ${bytes} bytes, CloudFront Functions allow at most ${MAX_FUNCTION_CODE_BYTES} (10 KB, not adjustable); ` +
        'the parts that vary are the names of previewable flags and zone flags, bucketCookie and the default zone\'s name and origin id: mark fewer overrides preview: true, list fewer zoneFlags or shorten those names',
    );
  }
  return code;
}
