import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { flagNameProblem, flagValueProblem } from './flags';
import { compareSpecificity, normalizePathPattern, pathPatternCovers, pathPatternProblems, pathPatternsIntersect } from './path-patterns';
import { MAX_ZONE_FLAGS } from './zone-flags';
import { ZoneReleases, zoneReleasesProblems } from './zone-releases';

/** The zone that serves every path no other zone (or override) claims. */
export interface DefaultZoneDefinition {
  /** Zone name: lower-case letters, digits and "-", unique among zones; origin and logical ids derive from it. */
  readonly name: string;
  /** Where the zone's application runs: any CloudFront origin (HttpOrigin, FunctionUrlOrigin, S3BucketOrigin, ...). */
  readonly origin: cloudfront.IOrigin;
  /**
   * Whether CloudFront adds `x-amz-content-sha256` (the SHA-256 of the
   * body) to requests with a body, when the zone's origin is a Lambda
   * function URL behind an origin access control that signs: Lambda
   * refuses a signed POST or PUT without it (403), and browsers never send
   * it. An origin-request Lambda@Edge function in us-east-1 adds it on the
   * behaviors that can reach the zone; bodies past the 1 MB it sees get a
   * 413. Set false for zones whose clients send the header themselves.
   *
   * @default true
   */
  readonly hashRequestBodies?: boolean;
  /**
   * The zone's releases: builds routed at the edge by the deployment id
   * Next.js sends, with canaries, previews and rollback, released with
   * `multizone release` rather than a CloudFormation deploy.
   *
   * @default - the zone is its origin alone
   */
  readonly releases?: ZoneReleases;
}

/** One application on the shared domain, serving its own paths and assets. */
export interface ZoneDefinition {
  /** Zone name: lower-case letters, digits and "-", unique among zones; origin and logical ids derive from it. */
  readonly name: string;
  /** Where the zone's application runs: any CloudFront origin (HttpOrigin, FunctionUrlOrigin, S3BucketOrigin, ...). */
  readonly origin: cloudfront.IOrigin;
  /**
   * CloudFront path patterns the zone serves, with CloudFront's semantics
   * verbatim: `/blog` is only `/blog`, `/blog/*` is everything below it.
   *
   * @default - none; allowed only when an override targets the zone
   */
  readonly pathPatterns?: string[];
  /**
   * The zone's Next.js `assetPrefix`, starting with "/": `<assetPrefix>/*`
   * is routed to the zone and cached as immutable, and
   * `<assetPrefix>/_next/image` to its image optimizer, keyed on the query
   * string and `Accept` (set the zone's `images.path` to that path).
   *
   * @default - no asset prefix of its own
   */
  readonly assetPrefix?: string;
  /**
   * Whether the zone uses the Next.js Pages Router with data fetching: its
   * client-side navigations fetch `/_next/data/<buildId>/<path>.json`,
   * which `assetPrefix` does not move, so each path pattern also routes its
   * data pattern to the zone (`/blog/*` brings `/_next/data/*\/blog/*`).
   *
   * @default false
   */
  readonly pagesRouter?: boolean;
  /**
   * Whether CloudFront adds `x-amz-content-sha256` (the SHA-256 of the
   * body) to requests with a body, when the zone's origin is a Lambda
   * function URL behind an origin access control that signs: Lambda
   * refuses a signed POST or PUT without it (403), and browsers never send
   * it. An origin-request Lambda@Edge function in us-east-1 adds it on the
   * behaviors that can reach the zone; bodies past the 1 MB it sees get a
   * 413. Set false for zones whose clients send the header themselves.
   *
   * @default true
   */
  readonly hashRequestBodies?: boolean;
  /**
   * The zone's releases: builds routed at the edge by the deployment id
   * Next.js sends, with canaries, previews and rollback, released with
   * `multizone release` rather than a CloudFormation deploy.
   *
   * @default - the zone is its origin alone
   */
  readonly releases?: ZoneReleases;
}

/** Sends paths to another zone while a feature flag is on for the viewer. */
export interface OverrideDefinition {
  /** The flag that switches the override: its KeyValueStore key. */
  readonly flag: string;
  /** CloudFront path patterns the override moves. */
  readonly pathPatterns: string[];
  /** Name of the zone that serves those paths while the flag is on. */
  readonly zone: string;
  /**
   * Let viewers holding a valid signed preview cookie (`mz-preview`, made
   * by `multizone flags preview`) see this flag at the cookie's value, on
   * or off, whatever the store says. Cookies are signed with a secret the
   * deploy creates in the KeyValueStore, so a guessed or edited cookie does
   * nothing; without this, no cookie or header of a viewer moves a path.
   * Preview is a property of the flag: every override naming the same flag
   * must give the same value.
   *
   * @default false
   */
  readonly preview?: boolean;
}

/** The zones with releases, sorted by name. */
export function releaseZones(model: ZoneModel): string[] {
  return [model.defaultZone, ...model.zones].filter((z) => z.releases !== undefined).map((z) => z.name).sort();
}

/** The zone model after validation: what the planner works from. */
export interface ZoneModel {
  readonly defaultZone: DefaultZoneDefinition;
  readonly zones: ZoneDefinition[];
  readonly overrides: OverrideDefinition[];
  readonly flags: Record<string, string>;
  /** Flags decided at the edge for every page request and forwarded to the zones (`zoneFlags`). */
  readonly zoneFlags?: string[];
}

const ZONE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

/** Paths the construct keeps for itself (anchor behaviors for zones without one). */
export const RESERVED_PATH_PREFIX = '/_multizone/';

/** The pattern under which the default zone's own Next.js assets are served. */
export const DEFAULT_ASSET_PATTERN = '/_next/static/*';

/** The pattern of the Pages Router data requests for a page pattern. */
export function pagesRouterDataPattern(pattern: string): string {
  const p = normalizePathPattern(pattern);
  return `/_next/data/*${p === '/' ? '/index' : p}${/[*?]$/.test(p) ? '' : '.json'}`;
}

/** The behavior pattern of a zone's asset prefix. */
export function assetPattern(assetPrefix: string): string {
  return `${assetPrefix.replace(/\/+$/, '')}/*`;
}

/** The path of the Next.js image optimizer (`next/image`), which `assetPrefix` does not move. */
export const IMAGE_OPTIMIZER_PATH = '/_next/image';

/**
 * The exact path a zone's `next/image` requests take: `/_next/image` for
 * the default zone, `<assetPrefix>/_next/image` for a zone that sets
 * `images.path` to it (so its images never collide with the default zone's).
 */
export function imagePattern(assetPrefix?: string): string {
  return `${assetPrefix ? assetPrefix.replace(/\/+$/, '') : ''}${IMAGE_OPTIMIZER_PATH}`;
}

/** A route no flag can move, and the zone it always goes to. */
export interface FixedRoute {
  readonly pattern: string;
  readonly zone: string;
  /** `asset`: immutable Next.js assets; `image`: the zone's next/image optimizer. */
  readonly kind: 'asset' | 'image';
}

/**
 * Every route that stays with its zone whatever the flags: the default
 * zone's assets and image optimizer, each zone's asset prefix and its
 * image optimizer under it. The routing table and the
 * rules that guard these routes both read this list, so a route added
 * here is routed and guarded alike.
 */
export function fixedRoutes(model: ZoneModel): FixedRoute[] {
  return [
    { pattern: DEFAULT_ASSET_PATTERN, zone: model.defaultZone.name, kind: 'asset' },
    { pattern: imagePattern(), zone: model.defaultZone.name, kind: 'image' },
    ...model.zones
      .filter((z) => z.assetPrefix?.startsWith('/'))
      .flatMap((z): FixedRoute[] => [
        { pattern: assetPattern(z.assetPrefix!), zone: z.name, kind: 'asset' },
        { pattern: imagePattern(z.assetPrefix), zone: z.name, kind: 'image' },
      ]),
  ];
}

/** A zone's page patterns as routed: its path patterns and, for the Pages Router, their data patterns. */
function pagePatterns(z: ZoneDefinition): string[] {
  return (z.pathPatterns ?? []).flatMap((p) => (z.pagesRouter ? [normalizePathPattern(p), pagesRouterDataPattern(p)] : [normalizePathPattern(p)]));
}

type Rule = (model: ZoneModel) => string[];

const allZones = (m: ZoneModel): Array<DefaultZoneDefinition & Partial<ZoneDefinition>> => [m.defaultZone, ...m.zones];

const zoneNamesAreValid: Rule = (m) =>
  allZones(m)
    .filter((z) => !ZONE_NAME.test(z.name ?? ''))
    .map((z) => `Zone "${z.name}": name must be 1 to 64 lower-case letters, digits or "-", not starting or ending with "-"`);

const zoneNamesAreUnique: Rule = (m) => {
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const z of allZones(m)) {
    if (seen.has(z.name)) problems.push(`Zone "${z.name}": name is used by more than one zone`);
    seen.add(z.name);
  }
  return problems;
};

const zonesHaveOrigins: Rule = (m) =>
  allZones(m)
    .filter((z) => !z.origin || typeof z.origin.bind !== 'function')
    .map((z) => `Zone "${z.name}": origin must be a CloudFront IOrigin`);

const hashRequestBodiesIsBoolean: Rule = (m) =>
  allZones(m)
    .filter((z) => z.hashRequestBodies !== undefined && typeof z.hashRequestBodies !== 'boolean')
    .map((z) => `Zone "${z.name}": hashRequestBodies must be true or false`);

const releasesAreValid: Rule = (m) => allZones(m).flatMap((z) => zoneReleasesProblems(z.name, z.releases));

const zonesHavePathsOrOverrides: Rule = (m) =>
  m.zones
    .filter((z) => (z.pathPatterns ?? []).length === 0 && !m.overrides.some((o) => o.zone === z.name))
    .map((z) => `Zone "${z.name}": pathPatterns must not be empty unless an override targets the zone`);

const zonePathPatternsAreValid: Rule = (m) =>
  m.zones.flatMap((z) =>
    (z.pathPatterns ?? []).flatMap((p) => {
      const problems = pathPatternProblems(p);
      if (problems.length === 0 && z.pagesRouter) problems.push(...pathPatternProblems(pagesRouterDataPattern(p)).map((msg) => `pagesRouter data ${msg}`));
      return problems.map((msg) => `Zone "${z.name}": ${msg}`);
    }),
  );

const pathsAvoidReservedPrefix: Rule = (m) =>
  m.zones.flatMap((z) =>
    (z.pathPatterns ?? [])
      .filter((p) => normalizePathPattern(p).startsWith(RESERVED_PATH_PREFIX))
      .map((p) => `Zone "${z.name}": path pattern "${p}" is under ${RESERVED_PATH_PREFIX}, which the construct reserves`),
  );

const pathPatternsBelongToOneZone: Rule = (m) => {
  const owner = new Map<string, string>();
  const problems: string[] = [];
  for (const z of m.zones) {
    for (const p of new Set((z.pathPatterns ?? []).map(normalizePathPattern))) {
      const other = owner.get(p);
      if (other !== undefined) problems.push(`Zone "${z.name}": path pattern "${p}" is also claimed by zone "${other}"`);
      else owner.set(p, z.name);
    }
  }
  return problems;
};

const assetPrefixesAreValid: Rule = (m) =>
  m.zones.flatMap((z) => {
    if (z.assetPrefix === undefined) return [];
    if (!z.assetPrefix.startsWith('/')) return [`Zone "${z.name}": assetPrefix must start with "/"`];
    if (z.assetPrefix.replace(/\/+$/, '') === '') return [`Zone "${z.name}": assetPrefix must not be "/"; leave it out instead`];
    if (/[*?]/.test(z.assetPrefix)) return [`Zone "${z.name}": assetPrefix "${z.assetPrefix}" must not contain wildcards`];
    const problems = pathPatternProblems(assetPattern(z.assetPrefix));
    // The image path is longer than the asset pattern: only its length can fail where the asset pattern passed.
    if (problems.length === 0) problems.push(...pathPatternProblems(imagePattern(z.assetPrefix)).map((msg) => `next/image ${msg}`));
    return problems.map((msg) => `Zone "${z.name}": assetPrefix: ${msg}`);
  });

const pathPatternsAvoidImagePaths: Rule = (m) => {
  const images: Array<[string, string]> = [
    [m.defaultZone.name, imagePattern()],
    ...m.zones.filter((z) => z.assetPrefix?.startsWith('/')).map((z): [string, string] => [z.name, imagePattern(z.assetPrefix)]),
  ];
  return m.zones.flatMap((z) =>
    (z.pathPatterns ?? [])
      .map(normalizePathPattern)
      .flatMap((p) => images.filter(([, image]) => image === p).map(([owner]) => [p, owner]))
      .map(([p, owner]) => `Zone "${z.name}": path pattern "${p}" is zone "${owner}"'s next/image path, which always goes to "${owner}"; remove it from pathPatterns`),
  );
};

const assetPrefixesDoNotCollide: Rule = (m) => {
  const problems: string[] = [];
  for (const z of m.zones) {
    if (!z.assetPrefix?.startsWith('/')) continue;
    const own = assetPattern(z.assetPrefix);
    const claims: Array<[string, string]> = [[m.defaultZone.name, DEFAULT_ASSET_PATTERN]];
    for (const other of m.zones) {
      if (other === z) continue;
      for (const p of other.pathPatterns ?? []) claims.push([other.name, p]);
      if (other.assetPrefix?.startsWith('/')) claims.push([other.name, assetPattern(other.assetPrefix)]);
    }
    for (const [name, pattern] of claims) {
      if (pathPatternsIntersect(own, pattern)) {
        problems.push(`Zone "${z.name}": assetPrefix "${z.assetPrefix}" collides with zone "${name}"'s path pattern "${pattern}"`);
      }
    }
  }
  return problems;
};

/**
 * A zone's asset prefix must not swallow one of its own page patterns.
 * Covering, not overlap, is the fault: `/blog*` or `*.png` beside
 * `/blog-static` keep serving their pages, and the paths they share with
 * `/blog-static/*` are the zone's assets, as the prefix says.
 */
const assetPrefixesAvoidOwnPages: Rule = (m) =>
  m.zones.flatMap((z) => {
    if (!z.assetPrefix?.startsWith('/') || z.assetPrefix.replace(/\/+$/, '') === '') return [];
    const own = assetPattern(z.assetPrefix);
    const remedy = z.assetPrefix.replace(/\/+$/, '') === `/${z.name}-static` ? `/${z.name}-assets` : `/${z.name}-static`;
    return pagePatterns(z)
      .filter((p) => pathPatternCovers(own, p))
      .map(
        (p) =>
          `Zone "${z.name}": assetPrefix "${z.assetPrefix}" covers the zone's own path pattern "${p}": all its paths fall under "${own}", cached as immutable assets ` +
          `without cookies, query string or x-forwarded-host; give the assets a prefix of their own, such as "${remedy}"`,
      );
  });

const overridesTargetKnownZones: Rule = (m) => {
  const names = new Set(allZones(m).map((z) => z.name));
  return m.overrides
    .filter((o) => !names.has(o.zone))
    .map((o) => `Override "${o.flag}": zone "${o.zone}" is not a zone of this distribution (zones: ${[...names].join(', ')})`);
};

const overrideFlagsAreKeys: Rule = (m) =>
  m.overrides.flatMap((o) => {
    const problem = flagNameProblem(o.flag);
    return problem ? [`Override "${o.flag}": ${problem}`] : [];
  });

const overridePathPatternsAreValid: Rule = (m) =>
  m.overrides.flatMap((o) => {
    if ((o.pathPatterns ?? []).length === 0) return [`Override "${o.flag}": pathPatterns must not be empty`];
    return o.pathPatterns.flatMap((p) => [
      ...pathPatternProblems(p).map((msg) => `Override "${o.flag}": ${msg}`),
      ...(normalizePathPattern(p).startsWith(RESERVED_PATH_PREFIX)
        ? [`Override "${o.flag}": path pattern "${p}" is under ${RESERVED_PATH_PREFIX}, which the construct reserves`]
        : []),
    ]);
  });

/**
 * An override pattern that some fixed route covers, with no page route
 * listed before that route to catch any of its paths, can never move a
 * request: the fixed route answers every one of them first.
 */
const overridesCanApply: Rule = (m) => {
  const fixed = fixedRoutes(m);
  const pages = m.zones.flatMap(pagePatterns);
  return m.overrides.flatMap((o) =>
    (o.pathPatterns ?? []).flatMap((p) => {
      const pattern = normalizePathPattern(p);
      const winner = fixed.find((f) => pathPatternCovers(f.pattern, pattern) && !pages.some((q) => compareSpecificity(q, f.pattern) < 0 && pathPatternsIntersect(q, pattern)));
      return winner
        ? [
            `Override "${o.flag}": path pattern "${p}" can never apply: every path it matches goes to zone "${winner.zone}"'s asset route "${winner.pattern}" first, ` +
              'and asset routes always stay with their zone; remove the pattern, or move the pages that use those assets instead',
          ]
        : [];
    }),
  );
};

const previewAgreesPerFlag: Rule = (m) => {
  const problems: string[] = [];
  const seen = new Map<string, boolean>();
  for (const o of m.overrides) {
    const preview = o.preview === true;
    const first = seen.get(o.flag);
    if (first === undefined) seen.set(o.flag, preview);
    else if (first !== preview && !problems.some((p) => p.startsWith(`Override "${o.flag}":`))) {
      problems.push(`Override "${o.flag}": preview must be the same on every override of the flag (some say true, some false); preview is a property of the flag`);
    }
  }
  return problems;
};

const flagValuesAreValid: Rule = (m) =>
  Object.entries(m.flags).flatMap(([name, value]) => {
    const nameProblem = flagNameProblem(name);
    if (nameProblem) return [`Flag "${name}": ${nameProblem}`];
    const valueProblem = flagValueProblem(String(value));
    return valueProblem ? [`Flag "${name}": ${valueProblem}`] : [];
  });

const flagsAreUsed: Rule = (m) =>
  Object.keys(m.flags)
    .filter((name) => !m.overrides.some((o) => o.flag === name) && !(m.zoneFlags ?? []).includes(name))
    .map(
      (name) =>
        `Flag "${name}": neither an override nor zoneFlags uses it (overrides' flags: ${[...new Set(m.overrides.map((o) => o.flag))].join(', ') || 'none'}); ` +
        'remove it, fix its name, or list it in zoneFlags to forward its decision to the zones',
    );

const zoneFlagsAreFlags: Rule = (m) =>
  [...new Set(m.zoneFlags ?? [])]
    .filter((name) => !Object.prototype.hasOwnProperty.call(m.flags, name))
    .map((name) => `zoneFlags: "${name}" is not a key of flags; give it an initial value there (flags: { "${name}": "off" }) or fix its name`);

const zoneFlagsAreUnique: Rule = (m) => {
  const list = m.zoneFlags ?? [];
  return [...new Set(list.filter((name, i) => list.indexOf(name) !== i))].map((name) => `zoneFlags: "${name}" is listed more than once; list each flag once`);
};

/** The count bound also bounds the header: 10 names of at most 128 characters stay far within what zones read (test/zone-flags.test.ts). */
const zoneFlagsFitTheEdge: Rule = (m) => {
  const count = new Set(m.zoneFlags ?? []).size;
  return count > MAX_ZONE_FLAGS
    ? [
        `zoneFlags: ${count} flags, at most ${MAX_ZONE_FLAGS}: every page request reads each one from the KeyValueStore within the function's compute budget; ` +
          'forward fewer flags (a zone can derive several features from one flag)',
      ]
    : [];
};

/**
 * Every rule the zone model must pass, each with one job. Their messages
 * name the zone, override or flag at fault and the field that is wrong.
 */
export const ZONE_RULES: ReadonlyArray<{ readonly name: string; readonly check: Rule }> = [
  { name: 'zone-names-valid', check: zoneNamesAreValid },
  { name: 'zone-names-unique', check: zoneNamesAreUnique },
  { name: 'zones-have-origins', check: zonesHaveOrigins },
  { name: 'hash-request-bodies-boolean', check: hashRequestBodiesIsBoolean },
  { name: 'releases-valid', check: releasesAreValid },
  { name: 'zones-have-paths-or-overrides', check: zonesHavePathsOrOverrides },
  { name: 'zone-path-patterns-valid', check: zonePathPatternsAreValid },
  { name: 'paths-avoid-reserved-prefix', check: pathsAvoidReservedPrefix },
  { name: 'path-patterns-belong-to-one-zone', check: pathPatternsBelongToOneZone },
  { name: 'asset-prefixes-valid', check: assetPrefixesAreValid },
  { name: 'asset-prefixes-do-not-collide', check: assetPrefixesDoNotCollide },
  { name: 'path-patterns-avoid-image-paths', check: pathPatternsAvoidImagePaths },
  { name: 'asset-prefixes-avoid-own-pages', check: assetPrefixesAvoidOwnPages },
  { name: 'overrides-target-known-zones', check: overridesTargetKnownZones },
  { name: 'override-flags-are-keys', check: overrideFlagsAreKeys },
  { name: 'override-path-patterns-valid', check: overridePathPatternsAreValid },
  { name: 'overrides-can-apply', check: overridesCanApply },
  { name: 'override-preview-agrees', check: previewAgreesPerFlag },
  { name: 'flag-values-valid', check: flagValuesAreValid },
  { name: 'flags-are-used', check: flagsAreUsed },
  { name: 'zone-flags-are-flags', check: zoneFlagsAreFlags },
  { name: 'zone-flags-unique', check: zoneFlagsAreUnique },
  { name: 'zone-flags-fit-the-edge', check: zoneFlagsFitTheEdge },
];

/** All problems with a zone model, in rule order; empty when it is sound. */
export function zoneModelProblems(model: ZoneModel): string[] {
  return ZONE_RULES.flatMap((rule) => rule.check(model));
}
