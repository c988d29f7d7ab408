/**
 * The first two steps of the local edge: load the site (the template read
 * back, its flag values, its behaviors' policies) and resolve the zones
 * (each zone's local URL and the headers it is sent).
 */
import type { SynthesizedSite, TemplateBehavior } from '../synthesized-site';
import { DEFAULT_FLAG_FILE, FlagSource } from './flag-file';
import { ForwardPolicy, forwardPolicy } from './policies';
import { ReleaseSource, releasesFileBeside } from './releases-file';
import { ResponseHeadersPolicy, responseHeadersPolicy } from './response-headers';
import { ZoneTarget, zoneTargets } from './zones';

/** What the local edge serves, and where its zones are. */
export interface EdgeSiteOptions {
  /** The synthesized site to serve. */
  readonly site: SynthesizedSite;
  /**
   * Local URL of each zone (`{ blog: 'http://localhost:3001' }`), over the
   * URLs the template's origins give.
   *
   * @default - the template's origins
   */
  readonly zoneUrls?: Record<string, string>;
  /**
   * Headers to send to every zone over the origins' custom headers
   * (`x-origin-verify`, whose value the template only references).
   *
   * @default - the custom headers the template states literally
   */
  readonly originHeaders?: Record<string, string>;
  /**
   * The flag file, read again whenever it changes (checked on every request).
   *
   * @default .multizone/flags.json
   */
  readonly flagsFile?: string;
  /**
   * The release records file (`{ "<zone>": <record> }`), read on every
   * request of a site with zone releases.
   *
   * @default - releases.json beside the flag file
   */
  readonly releasesFile?: string;
  /**
   * Receives one line per request and per problem.
   *
   * @default - nothing is logged
   */
  readonly log?: (line: string) => void;
}

/** The site as every step of a request reads it. */
export interface EdgeSite {
  readonly site: SynthesizedSite;
  /** Where each zone is proxied to. */
  readonly zones: ZoneTarget[];
  /** The flag file's values, as the functions read them. */
  readonly flags: FlagSource;
  /** The releases file's records, as the functions read them. */
  readonly releases: ReleaseSource;
  readonly policies: PolicyCache;
  readonly log: (line: string) => void;
}

/** Loads the site and resolves its zones; throws on a zone URL option naming no zone of the template, or not http(s). */
export function loadEdgeSite(options: EdgeSiteOptions): EdgeSite {
  const { site } = options;
  const zones = zoneTargets(site, options.zoneUrls, options.originHeaders);
  const log = options.log ?? (() => undefined);
  const flagsFile = options.flagsFile ?? DEFAULT_FLAG_FILE;
  const previews = (site.table.previewFlags ?? []).length > 0;
  const releases = new ReleaseSource(options.releasesFile ?? releasesFileBeside(flagsFile), site.releases, log);
  return { site, zones, flags: new FlagSource(flagsFile, log, previews), releases, policies: new PolicyCache(site, log), log };
}

/**
 * Each behavior's policies, read from the template at its first request;
 * what the local edge leaves out of them is logged then, once.
 */
export class PolicyCache {
  private readonly forwards = new Map<TemplateBehavior, ForwardPolicy>();
  private readonly responses = new Map<TemplateBehavior, ResponseHeadersPolicy>();

  constructor(
    private readonly site: SynthesizedSite,
    private readonly log: (line: string) => void,
  ) {}

  /** What the behavior forwards to its zone. */
  public forward(behavior: TemplateBehavior): ForwardPolicy {
    return this.read(this.forwards, forwardPolicy, behavior);
  }

  /** What the behavior's response headers policy does to the zone's response. */
  public responseHeaders(behavior: TemplateBehavior): ResponseHeadersPolicy {
    return this.read(this.responses, responseHeadersPolicy, behavior);
  }

  private read<P extends { readonly note?: string }>(cache: Map<TemplateBehavior, P>, read: (site: SynthesizedSite, b: TemplateBehavior) => P, behavior: TemplateBehavior): P {
    let policy = cache.get(behavior);
    if (!policy) {
      policy = read(this.site, behavior);
      if (policy.note) this.log(`note: behavior ${behavior.pathPattern}: ${policy.note}`);
      cache.set(behavior, policy);
    }
    return policy;
  }
}
