import { normalizePathPattern, pathPatternProblems } from './path-patterns';

/** Options of {@link CrossZonePrefetch.prefetch} and {@link CrossZonePrefetch.prerender}. */
export interface CrossZonePrefetchOptions {
  /**
   * When Chromium fetches a matching link ahead of the click, as Speculation
   * Rules name it: `conservative` (on pointer or touch down), `moderate` (on
   * hover for 200 ms, or pointer down), `eager` (as soon as the link is
   * seen, or shortly after) or `immediate` (as soon as the rules are read).
   *
   * @default "moderate"
   */
  readonly eagerness?: string;
  /**
   * CloudFront path patterns of links never fetched ahead of the click
   * (`/logout`, `/dashboard/signout*`): pages whose GET has a side effect,
   * or that cost too much to serve for nothing. Same syntax as a zone's
   * `pathPatterns`; the query string plays no part. Assets, `next/image`
   * and the construct's own paths are never matched whatever this says.
   *
   * @default - none besides the assets, images and reserved paths
   */
  readonly exclude?: string[];
}

/** The eagerness values of Speculation Rules, least eager last. */
export const PREFETCH_EAGERNESS = ['immediate', 'eager', 'moderate', 'conservative'];

/** The eagerness used when none is given. */
export const DEFAULT_PREFETCH_EAGERNESS = 'moderate';

/**
 * Whether (and how) the edge tells Chromium to fetch links to pages of the
 * site before the click, through Speculation Rules: every zone's page
 * responses carry a `Speculation-Rules` header naming a rules file the
 * distribution answers itself (`/_multizone/speculation-rules.json`),
 * generated from the routing table. Browsers without Speculation Rules
 * ignore the header.
 */
export class CrossZonePrefetch {
  /**
   * Fetch the document of a matching link ahead of the click (no script
   * runs, no subresource is loaded until the click); the click then shows
   * it without waiting for the zone.
   */
  public static prefetch(options: CrossZonePrefetchOptions = {}): CrossZonePrefetch {
    return new CrossZonePrefetch('prefetch', options.eagerness ?? DEFAULT_PREFETCH_EAGERNESS, options.exclude ?? []);
  }

  /**
   * Load and render the page of a matching link in the background,
   * scripts and subresources included; the click swaps it in. Fastest, but
   * the other zone's scripts run for a page that may never be seen.
   */
  public static prerender(options: CrossZonePrefetchOptions = {}): CrossZonePrefetch {
    return new CrossZonePrefetch('prerender', options.eagerness ?? DEFAULT_PREFETCH_EAGERNESS, options.exclude ?? []);
  }

  /** No Speculation Rules: no rules file, no header, no cache behavior for them. */
  public static none(): CrossZonePrefetch {
    return new CrossZonePrefetch('none', DEFAULT_PREFETCH_EAGERNESS, []);
  }

  private constructor(
    /** `prefetch`, `prerender` or `none`: the Speculation Rules list the rules go in. */
    public readonly action: string,
    /** When Chromium acts on a matching link. */
    public readonly eagerness: string,
    /** Path patterns never matched, as given. */
    public readonly exclude: string[],
  ) {}
}

/** The exclude patterns as routing compares them (leading `/`, duplicates dropped). */
export function excludePatterns(p: CrossZonePrefetch): string[] {
  return [...new Set(p.exclude.map(normalizePathPattern))];
}

type Rule = (p: CrossZonePrefetch) => string[];

const eagernessIsKnown: Rule = (p) =>
  typeof p.eagerness === 'string' && PREFETCH_EAGERNESS.includes(p.eagerness)
    ? []
    : [`crossZonePrefetch: eagerness "${p.eagerness}" must be one of ${PREFETCH_EAGERNESS.map((e) => `"${e}"`).join(', ')}`];

const excludePatternsAreValid: Rule = (p) =>
  p.exclude.flatMap((pattern) => {
    if (typeof pattern === 'string' && (pattern === '*' || pattern === '/*')) {
      return [`crossZonePrefetch: exclude pattern "${pattern}" excludes every link; use CrossZonePrefetch.none() instead`];
    }
    return pathPatternProblems(String(pattern)).map((msg) => `crossZonePrefetch: exclude ${msg}`);
  });

/** Every rule the crossZonePrefetch prop must pass, each with one job. */
export const CROSS_ZONE_PREFETCH_RULES: ReadonlyArray<{ readonly name: string; readonly check: Rule }> = [
  { name: 'prefetch-eagerness-known', check: eagernessIsKnown },
  { name: 'prefetch-exclude-patterns-valid', check: excludePatternsAreValid },
];

/** All problems with a crossZonePrefetch setting; empty when it is sound. */
export function crossZonePrefetchProblems(p: CrossZonePrefetch): string[] {
  return CROSS_ZONE_PREFETCH_RULES.flatMap((rule) => rule.check(p));
}
