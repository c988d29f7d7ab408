/**
 * How CloudFront forwards a viewer request to a behavior's origin, read
 * from the template: which headers, cookies and query strings its cache
 * policy's key and its origin request policy (or its legacy
 * ForwardedValues) pass on.
 */
import type { SynthesizedSite, TemplateBehavior } from '../synthesized-site';

/** Which viewer headers, cookies and query strings reach the origin. */
export type Selection = { readonly mode: 'all' | 'none' } | { readonly mode: 'only' | 'except'; readonly names: Set<string> };

export interface ForwardPolicy {
  /** Viewer headers other than Host. */
  readonly headers: Selection;
  /** Whether the viewer's Host reaches the origin (else the origin's own host). */
  readonly viewerHost: boolean;
  readonly cookies: Selection;
  readonly query: Selection;
  /** Whether Accept-Encoding is passed on. */
  readonly acceptEncoding: boolean;
  /**
   * Whether the cache key holds Authorization: CloudFront passes the
   * viewer's Authorization on GET, HEAD and OPTIONS only then (an origin
   * request policy cannot forward it), and on other methods always.
   */
  readonly authorizationInKey: boolean;
  /** Set when the policy is not one this server knows; everything is forwarded then. */
  readonly note?: string;
}

const ALL: Selection = { mode: 'all' };
const NONE: Selection = { mode: 'none' };
const only = (...names: string[]): Selection => ({ mode: 'only', names: new Set(names) });

interface PolicyPart {
  readonly headers: Selection;
  readonly viewerHost: boolean;
  readonly cookies: Selection;
  readonly query: Selection;
  readonly acceptEncoding?: boolean;
  readonly authorizationInKey?: boolean;
}

/** AWS managed origin request policies, by id. */
const MANAGED_ORIGIN_REQUEST_POLICIES: Record<string, PolicyPart> = {
  // AllViewer
  '216adef6-5c7f-47e4-b989-5492eafa07d3': { headers: ALL, viewerHost: true, cookies: ALL, query: ALL },
  // AllViewerExceptHostHeader
  'b689b0a8-53d0-40ab-baf2-68738e2966ac': { headers: ALL, viewerHost: false, cookies: ALL, query: ALL },
  // AllViewerAndCloudFrontHeaders-2022-06
  '33f36d7e-f396-46d9-90e0-52428a34d9dc': { headers: ALL, viewerHost: true, cookies: ALL, query: ALL },
  // CORS-S3Origin
  '88a5eaf4-2fd4-4709-b370-b4c650ea3fcf': {
    headers: only('origin', 'access-control-request-headers', 'access-control-request-method'),
    viewerHost: false,
    cookies: NONE,
    query: NONE,
  },
  // CORS-CustomOrigin
  '59781a5b-3903-41f3-afcb-af62929ccde1': { headers: only('origin'), viewerHost: false, cookies: NONE, query: NONE },
};

/** AWS managed cache policies, by id: what their cache key forwards. */
const MANAGED_CACHE_POLICIES: Record<string, PolicyPart> = {
  // CachingOptimized
  '658327ea-f89d-4fab-a63d-7e88639e58f6': { headers: NONE, viewerHost: false, cookies: NONE, query: NONE, acceptEncoding: true },
  // CachingDisabled
  '4135ea2d-6df8-44a3-9df3-4b5a84be39ad': { headers: NONE, viewerHost: false, cookies: NONE, query: NONE, acceptEncoding: false },
  // CachingOptimizedForUncompressedObjects
  'b2884449-e4de-46a7-ac36-70bc7f1ddd6d': { headers: NONE, viewerHost: false, cookies: NONE, query: NONE, acceptEncoding: false },
  // UseOriginCacheControlHeaders
  '83da9c7e-98b4-4e11-a168-04f0df8e2c65': {
    headers: only('origin', 'x-http-method-override', 'x-http-method', 'x-method-override'),
    viewerHost: true,
    cookies: ALL,
    query: NONE,
    acceptEncoding: true,
  },
  // UseOriginCacheControlHeaders-QueryStrings
  '4cc15a8a-d715-48a4-82b8-cc0b614638fe': {
    headers: only('origin', 'x-http-method-override', 'x-http-method', 'x-method-override'),
    viewerHost: true,
    cookies: ALL,
    query: ALL,
    acceptEncoding: true,
  },
};

/** What a behavior forwards to its origin: its cache policy's key plus its origin request policy. */
export function forwardPolicy(site: SynthesizedSite, behavior: TemplateBehavior): ForwardPolicy {
  const raw = behavior.raw;
  const notes: string[] = [];
  const parts: PolicyPart[] = [];
  const read = (ref: unknown, managed: Record<string, PolicyPart>, fromResource: (r: Record<string, any>) => PolicyPart | undefined, what: string) => {
    if (ref === undefined) return;
    if (typeof ref === 'string') {
      const known = managed[ref];
      if (known) parts.push(known);
      else notes.push(`${what} ${ref} is not one the local edge knows`);
      return;
    }
    const logicalId = (ref as any)?.Ref;
    const resource = typeof logicalId === 'string' ? site.resource(logicalId) : undefined;
    const part = resource ? fromResource(resource.Properties ?? {}) : undefined;
    if (part) parts.push(part);
    else notes.push(`${what} ${JSON.stringify(ref)} cannot be read from the template`);
  };
  read(raw.CachePolicyId, MANAGED_CACHE_POLICIES, (p) => cachePolicyPart(p.CachePolicyConfig), 'cache policy');
  read(raw.OriginRequestPolicyId, MANAGED_ORIGIN_REQUEST_POLICIES, (p) => originRequestPolicyPart(p.OriginRequestPolicyConfig), 'origin request policy');
  if (raw.CachePolicyId === undefined && raw.ForwardedValues) parts.push(forwardedValuesPart(raw.ForwardedValues));
  if (notes.length > 0) {
    return { headers: ALL, viewerHost: false, cookies: ALL, query: ALL, acceptEncoding: true, authorizationInKey: true, note: `${notes.join('; ')}: forwarding every viewer header but Host, every cookie and query string` };
  }
  return parts.reduce<ForwardPolicy>(
    (acc, p) => ({
      headers: union(acc.headers, p.headers),
      viewerHost: acc.viewerHost || p.viewerHost,
      cookies: union(acc.cookies, p.cookies),
      query: union(acc.query, p.query),
      acceptEncoding: acc.acceptEncoding || (p.acceptEncoding ?? false),
      authorizationInKey: acc.authorizationInKey || (p.authorizationInKey ?? false),
    }),
    { headers: NONE, viewerHost: false, cookies: NONE, query: NONE, acceptEncoding: false, authorizationInKey: false },
  );
}

function selection(behavior: string | undefined, names: string[] | undefined, allModes: string[]): Selection {
  if (behavior && allModes.includes(behavior)) return ALL;
  if (behavior === 'whitelist') return only(...(names ?? []));
  if (behavior === 'allExcept') return { mode: 'except', names: new Set(names ?? []) };
  return NONE;
}

function withoutHost(s: Selection): { sel: Selection; host: boolean } {
  if (s.mode === 'only' && [...s.names].some((n) => n.toLowerCase() === 'host')) {
    return { sel: { mode: 'only', names: new Set([...s.names].filter((n) => n.toLowerCase() !== 'host')) }, host: true };
  }
  return { sel: s, host: false };
}

function cachePolicyPart(config: Record<string, any> | undefined): PolicyPart | undefined {
  const p = config?.ParametersInCacheKeyAndForwardedToOrigin;
  if (!p) return undefined;
  const h = withoutHost(selection(p.HeadersConfig?.HeaderBehavior, p.HeadersConfig?.Headers, []));
  return {
    headers: h.sel,
    viewerHost: h.host,
    cookies: selection(p.CookiesConfig?.CookieBehavior, p.CookiesConfig?.Cookies, ['all']),
    query: selection(p.QueryStringsConfig?.QueryStringBehavior, p.QueryStringsConfig?.QueryStrings, ['all']),
    acceptEncoding: Boolean(p.EnableAcceptEncodingGzip || p.EnableAcceptEncodingBrotli),
    authorizationInKey: selects(h.sel, 'authorization', true),
  };
}

function originRequestPolicyPart(config: Record<string, any> | undefined): PolicyPart | undefined {
  if (!config) return undefined;
  const hb = config.HeadersConfig?.HeaderBehavior;
  const h = withoutHost(selection(hb, config.HeadersConfig?.Headers, ['allViewer', 'allViewerAndWhitelistCloudFront']));
  return {
    headers: h.sel,
    viewerHost: h.host || hb === 'allViewer' || hb === 'allViewerAndWhitelistCloudFront',
    cookies: selection(config.CookiesConfig?.CookieBehavior, config.CookiesConfig?.Cookies, ['all']),
    query: selection(config.QueryStringsConfig?.QueryStringBehavior, config.QueryStringsConfig?.QueryStrings, ['all']),
  };
}

function forwardedValuesPart(fv: Record<string, any>): PolicyPart {
  const headers: string[] = fv.Headers ?? [];
  const h = headers.includes('*') ? { sel: ALL, host: true } : withoutHost(only(...headers));
  return {
    headers: h.sel,
    viewerHost: h.host,
    cookies: selection(fv.Cookies?.Forward, fv.Cookies?.WhitelistedNames, ['all']),
    query: fv.QueryString ? ALL : NONE,
    acceptEncoding: true,
    authorizationInKey: selects(h.sel, 'authorization', true),
  };
}

function union(a: Selection, b: Selection): Selection {
  if (a.mode === 'all' || b.mode === 'all') return ALL;
  if (a.mode === 'none') return b;
  if (b.mode === 'none') return a;
  if (a.mode === 'only' && b.mode === 'only') return { mode: 'only', names: new Set([...a.names, ...b.names]) };
  if (a.mode === 'except' && b.mode === 'except') return { mode: 'except', names: new Set([...a.names].filter((n) => b.names.has(n))) };
  const except = (a.mode === 'except' ? a : b) as { names: Set<string> };
  const inc = (a.mode === 'only' ? a : b) as { names: Set<string> };
  return { mode: 'except', names: new Set([...except.names].filter((n) => !inc.names.has(n))) };
}

export function selects(s: Selection, name: string, caseInsensitive: boolean): boolean {
  if (!('names' in s)) return s.mode === 'all';
  const has = caseInsensitive ? [...s.names].some((x) => x.toLowerCase() === name) : s.names.has(name);
  return s.mode === 'only' ? has : !has;
}
