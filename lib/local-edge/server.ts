import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import type { AddressInfo, Socket } from 'net';
import type { Duplex } from 'stream';
import httpProxy from 'http-proxy';
import { MultiZoneValidationError } from '../errors';
import { flagNameProblem } from '../flags';
import { ServedRequest, SynthesizedSite, TemplateBehavior } from '../synthesized-site';
import { DEFAULT_FLAG_FILE, readFlagFile } from './flag-file';

/** Where one zone runs locally. */
export interface ZoneTarget {
  /** The zone's name. */
  readonly zone: string;
  /** Its origin id in the template. */
  readonly originId: string;
  /** The URL the local edge proxies to; undefined when neither the template nor an option gives one. */
  readonly url?: string;
  /** Where the URL came from. */
  readonly source: 'option' | 'template' | 'none';
  /** Why there is no URL, when there is none. */
  readonly problem?: string;
  /** Headers sent to the zone on every request: the origin's custom headers the template states literally, and those given as options. */
  readonly originHeaders: Record<string, string>;
  /** Custom headers of the origin whose value is a CloudFormation reference (a secret, say): not sent unless given as options. */
  readonly unresolvedOriginHeaders: string[];
}

/** Options of {@link startLocalEdge}. */
export interface LocalEdgeOptions {
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
   * Port to listen on; 0 picks a free one.
   *
   * @default 0
   */
  readonly port?: number;
  /**
   * Address to listen on.
   *
   * @default - every interface, like `next dev`
   */
  readonly host?: string;
  /**
   * Receives one line per request and per problem.
   *
   * @default - nothing is logged
   */
  readonly log?: (line: string) => void;
}

/** A running local edge. */
export interface LocalEdge {
  /** `http://localhost:<port>`. */
  readonly url: string;
  readonly port: number;
  readonly server: http.Server;
  /** Where each zone is proxied to. */
  readonly zones: ZoneTarget[];
  /** Stops listening and closes every connection, upstream ones included. */
  close(): Promise<void>;
}

/**
 * The zone URLs the template's origins state (a custom origin with
 * `http-only` gives `http://<domain>:<HTTPPort>`, otherwise https), with
 * `overrides` (zone name to URL) taking precedence. Throws on a zone name
 * the template does not have, or a URL that is not http(s).
 */
export function zoneTargets(site: SynthesizedSite, overrides: Record<string, string> = {}, originHeaders: Record<string, string> = {}): ZoneTarget[] {
  const names = site.zones.map((z) => z.name);
  for (const [zone, url] of Object.entries(overrides)) {
    if (!names.includes(zone)) {
      throw new MultiZoneValidationError(`Zone "${zone}": the template has no such zone (its zones: ${names.join(', ')})`);
    }
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      throw new MultiZoneValidationError(`Zone "${zone}": "${url}" is not an http:// or https:// URL`);
    }
  }
  const given = Object.fromEntries(Object.entries(originHeaders).map(([k, v]) => [k.toLowerCase(), v]));
  return site.zones.map((z) => {
    const headers: Record<string, string> = {};
    const unresolved: string[] = [];
    for (const h of site.originConfigs[z.originId]?.OriginCustomHeaders ?? []) {
      const name = String(h.HeaderName).toLowerCase();
      if (typeof h.HeaderValue === 'string') headers[name] = h.HeaderValue;
      else if (!(name in given)) unresolved.push(name);
    }
    const common = { zone: z.name, originId: z.originId, originHeaders: { ...headers, ...given }, unresolvedOriginHeaders: unresolved };
    const url = overrides[z.name];
    if (url) return { ...common, url: url.replace(/\/+$/, ''), source: 'option' as const };
    const fromTemplate = templateOriginUrl(site.originConfigs[z.originId]);
    return typeof fromTemplate === 'string'
      ? { ...common, url: fromTemplate, source: 'template' as const }
      : { ...common, source: 'none' as const, problem: fromTemplate.problem };
  });
}

/** The URL a CloudFormation origin points at, or why it has none that can be read offline. */
export function templateOriginUrl(origin: Record<string, any> | undefined): string | { problem: string } {
  if (!origin) return { problem: 'the template has no origin for it' };
  if (typeof origin.DomainName !== 'string') {
    return { problem: 'its origin domain is a CloudFormation reference, known only after deploy' };
  }
  const custom = origin.CustomOriginConfig;
  const http = custom?.OriginProtocolPolicy === 'http-only';
  const port = http ? custom?.HTTPPort : custom?.HTTPSPort;
  const defaultPort = http ? 80 : 443;
  const originPath = typeof origin.OriginPath === 'string' ? origin.OriginPath.replace(/\/+$/, '') : '';
  return `${http ? 'http' : 'https'}://${origin.DomainName}${port && port !== defaultPort ? `:${port}` : ''}${originPath}`;
}

/**
 * Serves a synthesized MultiZoneDistribution on a local port, the way
 * CloudFront serves the template: the first behavior whose path pattern
 * matches, that behavior's viewer-request function run on its own code
 * (reading flags from the flag file, re-read whenever it changes), then
 * the chosen zone's local URL with the behavior's origin request policy
 * applied (Host replaced by the zone's host unless the policy forwards it,
 * `x-forwarded-host` as the function left it). Bodies stream both ways
 * and websockets are proxied too (Next.js dev mode HMR).
 *
 * It does not cache, compress, or redirect http to https.
 */
export async function startLocalEdge(options: LocalEdgeOptions): Promise<LocalEdge> {
  const site = options.site;
  const zones = zoneTargets(site, options.zoneUrls, options.originHeaders);
  const log = options.log ?? (() => undefined);
  const flags = new FlagSource(options.flagsFile ?? DEFAULT_FLAG_FILE, log);
  const policies = new Map<TemplateBehavior, ForwardPolicy>();
  const policyOf = (b: TemplateBehavior) => {
    let p = policies.get(b);
    if (!p) {
      p = forwardPolicy(site, b);
      if (p.note) log(`note: behavior ${b.pathPattern}: ${p.note}`);
      policies.set(b, p);
    }
    return p;
  };
  const responsePolicies = new Map<TemplateBehavior, ResponseHeadersPolicy>();
  const responsePolicyOf = (b: TemplateBehavior) => {
    let p = responsePolicies.get(b);
    if (!p) {
      p = responseHeadersPolicy(site, b);
      if (p.note) log(`note: behavior ${b.pathPattern}: ${p.note}`);
      responsePolicies.set(b, p);
    }
    return p;
  };
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  const proxy = httpProxy.createProxyServer({ xfwd: false, changeOrigin: false, prependPath: true });
  // Errors are handled per request (callbacks below); this keeps a stray one from crashing the process.
  proxy.on('error', (err) => log(`proxy error: ${err.message}`));
  const routeOf = new WeakMap<http.IncomingMessage, { header: string; policy: ResponseHeadersPolicy }>();
  // Upgraded sockets leave the server's books: track them, and tie each to its upstream so neither outlives the other.
  const upgraded = new Set<Duplex>();
  proxy.on('proxyReqWs', (proxyReq, _req, socket) => {
    proxyReq.on('upgrade', (_res, upstream) => {
      socket.once('close', () => upstream.destroy());
      upstream.once('close', () => socket.destroy());
      upstream.on('error', () => socket.destroy());
    });
  });
  proxy.on('proxyRes', (proxyRes, req, res) => {
    const route = routeOf.get(req);
    if (!route || res.headersSent) return;
    // The behavior's response headers policy, applied to the zone's headers before they are copied to the viewer.
    applyResponseHeaders(proxyRes.headers, route.policy);
    res.setHeader('x-multizone-route', route.header);
  });

  /** Routes one request: the outcome, or an error page already sent. */
  const route = async (req: http.IncomingMessage): Promise<Routed | Failure> => {
    let currentFlags: Record<string, string>;
    try {
      currentFlags = flags.current();
    } catch (e) {
      return failure(500, 'Flag file unreadable', `<p>${escapeHtml((e as Error).message)}</p>`);
    }
    const viewer = viewerRequest(req);
    const { behavior } = site.behaviorFor(viewer.path);
    const allowed: string[] = behavior.raw.AllowedMethods ?? ['GET', 'HEAD'];
    if (!allowed.includes(viewer.method)) {
      return failure(
        403,
        'Method not allowed',
        `<p>This distribution is not configured to allow the HTTP request method that was used for this request: behavior <code>${escapeHtml(behavior.pathPattern)}</code> allows ${escapeHtml(allowed.join(', '))}.</p>`,
      );
    }
    let served: ServedRequest;
    try {
      served = await site.serve(viewer.path, {
        flags: currentFlags,
        ip: viewer.ip,
        host: viewer.host,
        method: viewer.method,
        headers: viewer.headers,
        cookies: viewer.cookieMap,
        querystring: viewer.queryMap,
      });
    } catch (e) {
      // CloudFront answers 503 when a function throws or exceeds its compute.
      return failure(503, 'Function error', `<p>The viewer-request function of behavior <code>${escapeHtml(behavior.pathPattern)}</code> failed: ${escapeHtml((e as Error).message)}</p>`);
    }
    const target = zones.find((z) => z.zone === served.zone);
    return { served, viewer, target, policy: policyOf(served.behavior) };
  };

  const onRequest = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const started = process.hrtime.bigint();
    let label = '-';
    res.on('close', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log(`${req.method} ${req.url} -> ${label} ${res.statusCode} ${ms.toFixed(0)} ms`);
    });
    const routed = await route(req);
    if ('status' in routed) {
      sendPage(res, routed);
      return;
    }
    const { served, target } = routed;
    label = describeRoute(served);
    if (served.response) {
      sendFunctionResponse(res, served.response);
      return;
    }
    if (!target?.url) {
      sendPage(res, noUrlPage(served.zone, target));
      return;
    }
    const outgoing = originRequest(routed, target.url, false);
    req.url = outgoing.path;
    req.headers = outgoing.headers;
    routeOf.set(req, { header: routeHeader(served), policy: responsePolicyOf(served.behavior) });
    const url = target.url;
    proxy.web(req, res, { target: url, agent: url.startsWith('https:') ? agents.https : agents.http }, (err) => {
      log(`zone ${served.zone} at ${url}: ${err.message}`);
      if (res.headersSent) {
        res.destroy();
      } else {
        sendPage(res, unreachablePage(served.zone, url, err));
      }
    });
  };

  const onUpgrade = async (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    const routed = await route(req);
    if ('status' in routed) {
      writeRawPage(socket, routed);
      return;
    }
    const { served, target } = routed;
    if (served.response || !target?.url) {
      writeRawPage(socket, served.response ? failure(Number(served.response.statusCode) || 502, 'Answered by the function', '') : noUrlPage(served.zone, target));
      return;
    }
    const outgoing = originRequest(routed, target.url, true);
    req.url = outgoing.path;
    req.headers = outgoing.headers;
    const url = target.url;
    log(`${req.method} ${outgoing.path} (websocket) -> ${describeRoute(served)}`);
    // No pooled agent: the upgraded socket belongs to this connection alone.
    proxy.ws(req, socket as Socket, head, { target: url }, (err) => {
      log(`zone ${served.zone} at ${url} (websocket): ${err.message}`);
      writeRawPage(socket, unreachablePage(served.zone, url, err));
    });
  };

  const server = http.createServer((req, res) => {
    onRequest(req, res).catch((e) => {
      log(`internal error: ${(e as Error).stack ?? e}`);
      if (!res.headersSent) sendPage(res, failure(500, 'Local edge error', `<p>${escapeHtml(String((e as Error).message ?? e))}</p>`));
      else res.destroy();
    });
  });
  server.on('upgrade', (req, socket, head) => {
    onUpgrade(req, socket, head).catch((e) => {
      log(`internal error: ${(e as Error).stack ?? e}`);
      socket.destroy();
    });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://localhost:${port}`,
    port,
    server,
    zones,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of upgraded) socket.destroy();
        proxy.close();
        agents.http.destroy();
        agents.https.destroy();
      }),
  };
}

/** The request as the viewer sent it, in the shapes the function event wants. */
interface ViewerRequest {
  readonly method: string;
  readonly path: string;
  /** The raw query string, without `?` ('' when none). */
  readonly query: string;
  readonly host: string;
  readonly ip: string;
  /** Lower-case names; repeated headers joined with ", "; no host, no cookie. */
  readonly headers: Record<string, string>;
  /** The raw `cookie` header. */
  readonly cookieHeader: string;
  readonly cookieMap: Record<string, string>;
  readonly queryMap: Record<string, string>;
}

function viewerRequest(req: http.IncomingMessage): ViewerRequest {
  const raw = req.url ?? '/';
  const at = raw.indexOf('?');
  const path = at < 0 ? raw : raw.slice(0, at);
  const query = at < 0 ? '' : raw.slice(at + 1);
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (name === 'host' || name === 'cookie' || !values) continue;
    headers[name] = values.join(', ');
  }
  const cookieHeader = (req.headersDistinct.cookie ?? []).join('; ');
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    path: path.startsWith('/') ? path : `/${path}`,
    query,
    host: req.headers.host ?? 'localhost',
    ip: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
    headers,
    cookieHeader,
    cookieMap: firstOfEach(pairs(cookieHeader, ';')),
    queryMap: firstOfEach(pairs(query, '&')),
  };
}

/** One `name=value` of a cookie header or query string, undecoded, with its text as sent. */
interface Pair {
  readonly name: string;
  readonly value: string;
  readonly raw: string;
}

/** The pairs of a cookie header or query string, in order. */
function pairs(text: string, separator: string): Pair[] {
  const out: Pair[] = [];
  for (const part of text.split(separator)) {
    const raw = separator === ';' ? part.trim() : part;
    if (!raw) continue;
    const eq = raw.indexOf('=');
    out.push(eq < 0 ? { name: raw, value: '', raw } : { name: raw.slice(0, eq), value: raw.slice(eq + 1), raw });
  }
  return out;
}

/** Name to value, the first of each name winning (as the function event shows them). */
function firstOfEach(list: Pair[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of list) if (!(p.name in out)) out[p.name] = p.value;
  return out;
}

interface Routed {
  readonly served: ServedRequest;
  readonly viewer: ViewerRequest;
  readonly target?: ZoneTarget;
  readonly policy: ForwardPolicy;
}

/** `blog (/blog/*, function)`: for log lines. */
function describeRoute(s: ServedRequest): string {
  return `${s.zone} (${s.behavior.pathPattern}${s.functionRan ? ', function' : ''}${s.response ? ', answered by the function' : ''})`;
}

/** The `x-multizone-route` response header: which zone answered, through which behavior. */
function routeHeader(s: ServedRequest): string {
  return `zone=${s.zone}; behavior=${s.behavior.pathPattern}${s.functionRan ? '; function' : ''}`;
}

interface Failure {
  readonly status: number;
  readonly title: string;
  readonly html: string;
}

function failure(status: number, title: string, html: string): Failure {
  return { status, title, html };
}

/** Which viewer headers, cookies and query strings reach the origin. */
type Selection = { readonly mode: 'all' | 'none' } | { readonly mode: 'only' | 'except'; readonly names: Set<string> };

interface ForwardPolicy {
  /** Viewer headers other than Host. */
  readonly headers: Selection;
  /** Whether the viewer's Host reaches the origin (else the origin's own host). */
  readonly viewerHost: boolean;
  readonly cookies: Selection;
  readonly query: Selection;
  /** Whether Accept-Encoding is passed on. */
  readonly acceptEncoding: boolean;
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
function forwardPolicy(site: SynthesizedSite, behavior: TemplateBehavior): ForwardPolicy {
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
    return { headers: ALL, viewerHost: false, cookies: ALL, query: ALL, acceptEncoding: true, note: `${notes.join('; ')}: forwarding every viewer header but Host, every cookie and query string` };
  }
  return parts.reduce<ForwardPolicy>(
    (acc, p) => ({
      headers: union(acc.headers, p.headers),
      viewerHost: acc.viewerHost || p.viewerHost,
      cookies: union(acc.cookies, p.cookies),
      query: union(acc.query, p.query),
      acceptEncoding: acc.acceptEncoding || (p.acceptEncoding ?? false),
    }),
    { headers: NONE, viewerHost: false, cookies: NONE, query: NONE, acceptEncoding: false },
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

function selects(s: Selection, name: string, caseInsensitive: boolean): boolean {
  if (!('names' in s)) return s.mode === 'all';
  const has = caseInsensitive ? [...s.names].some((x) => x.toLowerCase() === name) : s.names.has(name);
  return s.mode === 'only' ? has : !has;
}

/** What a response headers policy does to the zone's response headers. */
interface ResponseHeadersPolicy {
  /** Headers to add; `override` replaces the zone's own value, else the zone's wins. */
  readonly add: Array<{ readonly name: string; readonly value: string; readonly override: boolean }>;
  /** Headers removed from the zone's response. */
  readonly remove: string[];
  /** What the local edge leaves out, if anything. */
  readonly note?: string;
}

const SECURITY_HEADERS = [
  { name: 'referrer-policy', value: 'strict-origin-when-cross-origin', override: false },
  { name: 'strict-transport-security', value: 'max-age=31536000', override: false },
  { name: 'x-content-type-options', value: 'nosniff', override: true },
  { name: 'x-frame-options', value: 'SAMEORIGIN', override: false },
  { name: 'x-xss-protection', value: '1; mode=block', override: false },
];
const SIMPLE_CORS = [{ name: 'access-control-allow-origin', value: '*', override: false }];

/** AWS managed response headers policies, by id (CORS only as far as simple requests go). */
const MANAGED_RESPONSE_HEADERS_POLICIES: Record<string, ResponseHeadersPolicy> = {
  // SecurityHeadersPolicy
  '67f7725c-6f97-4210-82d7-5512b31e9d03': { add: SECURITY_HEADERS, remove: [] },
  // SimpleCORS
  '60669652-455b-4ae9-85a4-c4c02393f86c': { add: SIMPLE_CORS, remove: [] },
  // CORS-and-SecurityHeadersPolicy
  'e61eb60c-9c35-4d20-a928-2b84e02af89c': { add: [...SIMPLE_CORS, ...SECURITY_HEADERS], remove: [] },
};

/** The behavior's response headers policy: managed ones by id, the template's own read from the template. */
function responseHeadersPolicy(site: SynthesizedSite, behavior: TemplateBehavior): ResponseHeadersPolicy {
  const ref = behavior.raw.ResponseHeadersPolicyId;
  if (ref === undefined) return { add: [], remove: [] };
  if (typeof ref === 'string') {
    return MANAGED_RESPONSE_HEADERS_POLICIES[ref] ?? { add: [], remove: [], note: `response headers policy ${ref} is not one the local edge knows: its headers are not added` };
  }
  const config = site.resource(ref?.Ref)?.Properties?.ResponseHeadersPolicyConfig;
  if (!config) return { add: [], remove: [], note: `response headers policy ${JSON.stringify(ref)} cannot be read from the template` };
  const add: ResponseHeadersPolicy['add'][number][] = [];
  const literal = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);
  for (const item of config.CustomHeadersConfig?.Items ?? []) {
    const value = literal(item.Value);
    if (value !== undefined) add.push({ name: String(item.Header).toLowerCase(), value, override: Boolean(item.Override) });
  }
  const sec = config.SecurityHeadersConfig ?? {};
  if (sec.ContentSecurityPolicy) add.push({ name: 'content-security-policy', value: String(sec.ContentSecurityPolicy.ContentSecurityPolicy), override: Boolean(sec.ContentSecurityPolicy.Override) });
  if (sec.ContentTypeOptions) add.push({ name: 'x-content-type-options', value: 'nosniff', override: Boolean(sec.ContentTypeOptions.Override) });
  if (sec.FrameOptions) add.push({ name: 'x-frame-options', value: String(sec.FrameOptions.FrameOption), override: Boolean(sec.FrameOptions.Override) });
  if (sec.ReferrerPolicy) add.push({ name: 'referrer-policy', value: String(sec.ReferrerPolicy.ReferrerPolicy), override: Boolean(sec.ReferrerPolicy.Override) });
  if (sec.StrictTransportSecurity) {
    const h = sec.StrictTransportSecurity;
    add.push({
      name: 'strict-transport-security',
      value: `max-age=${h.AccessControlMaxAgeSec}${h.IncludeSubdomains ? '; includeSubDomains' : ''}${h.Preload ? '; preload' : ''}`,
      override: Boolean(h.Override),
    });
  }
  if (sec.XSSProtection) {
    const h = sec.XSSProtection;
    const value = h.Protection ? `1${h.ModeBlock ? '; mode=block' : ''}${h.ReportUri ? `; report=${h.ReportUri}` : ''}` : '0';
    add.push({ name: 'x-xss-protection', value, override: Boolean(h.Override) });
  }
  const remove = (config.RemoveHeadersConfig?.Items ?? []).map((i: any) => String(i.Header).toLowerCase());
  const left = [config.CorsConfig ? 'CORS' : '', config.ServerTimingHeadersConfig?.Enabled ? 'Server-Timing' : ''].filter(Boolean);
  return { add, remove, note: left.length > 0 ? `its response headers policy's ${left.join(' and ')} settings are not emulated` : undefined };
}

function applyResponseHeaders(headers: http.IncomingHttpHeaders, policy: ResponseHeadersPolicy): void {
  for (const name of policy.remove) delete headers[name];
  for (const h of policy.add) if (h.override || headers[h.name] === undefined) headers[h.name] = h.value;
}

/** Headers CloudFront passes on whatever the policies say: the body's, ranges and conditional requests. */
const ALWAYS_FORWARDED = new Set([
  'content-length',
  'content-type',
  'content-encoding',
  'transfer-encoding',
  'expect',
  'range',
  'if-range',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
]);

/** Hop-by-hop headers: never forwarded (except a websocket's upgrade). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);

const WEBSOCKET_HEADERS = new Set(['upgrade', 'connection', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-protocol']);

/** The request the zone receives: path and query as the function left them, headers as the policies forward them. */
function originRequest(routed: Routed, zoneUrl: string, websocket: boolean): { path: string; headers: http.IncomingHttpHeaders } {
  const { served, viewer, policy } = routed;
  const req = served.request;
  const headers: http.IncomingHttpHeaders = {};
  for (const [name, h] of Object.entries(req.headers)) {
    const value = h.multiValue && h.multiValue.length > 0 ? h.multiValue.map((m) => m.value).join(', ') : h.value;
    if (name === 'host' || name === 'cookie') continue;
    if (websocket && WEBSOCKET_HEADERS.has(name)) {
      headers[name] = value;
      continue;
    }
    if (HOP_BY_HOP.has(name)) continue;
    if (name === 'accept-encoding') {
      if (policy.acceptEncoding || selects(policy.headers, name, true)) headers[name] = value;
      continue;
    }
    if (ALWAYS_FORWARDED.has(name) || selects(policy.headers, name, true)) headers[name] = value;
  }
  // CloudFront replaces the User-Agent it does not forward.
  if (!selects(policy.headers, 'user-agent', true)) headers['user-agent'] = 'Amazon CloudFront';
  headers.host = policy.viewerHost ? (req.headers.host?.value ?? viewer.host) : new URL(zoneUrl).host;

  // Cookies: the viewer's header as it came, unless the function changed them.
  const cookiePairs = sameMap(req.cookies, viewer.cookieMap) ? pairs(viewer.cookieHeader, ';') : mapPairs(req.cookies);
  const cookies = cookiePairs.filter((p) => selects(policy.cookies, p.name, false));
  if (cookies.length > 0) headers.cookie = cookies.map((p) => p.raw).join('; ');

  // The query string as the viewer sent it (encoding and order kept), unless the function changed it.
  const queryPairs = sameMap(req.querystring, viewer.queryMap) ? pairs(viewer.query, '&') : mapPairs(req.querystring);
  const queryText = queryPairs
    .filter((p) => selects(policy.query, p.name, false))
    .map((p) => p.raw)
    .join('&');

  const forwardedFor = viewer.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = forwardedFor ? `${forwardedFor}, ${viewer.ip}` : viewer.ip;
  headers.via = '1.1 multizone-local-edge';
  // The origin's custom headers, over any the viewer sent, as CloudFront does.
  for (const [name, value] of Object.entries(routed.target?.originHeaders ?? {})) headers[name] = value;
  return { path: `${req.uri}${queryText ? `?${queryText}` : ''}`, headers };
}

type EventMap = Record<string, { value: string; multiValue?: Array<{ value: string }> }>;

function sameMap(event: EventMap, original: Record<string, string>): boolean {
  const keys = Object.keys(event);
  if (keys.length !== Object.keys(original).length) return false;
  return keys.every((k) => original[k] === event[k].value && !(event[k].multiValue && event[k].multiValue!.length > 1));
}

function mapPairs(map: EventMap): Pair[] {
  const out: Pair[] = [];
  const pair = (name: string, value: string): Pair => ({ name, value, raw: `${name}=${value}` });
  for (const [k, v] of Object.entries(map)) {
    if (v.multiValue && v.multiValue.length > 0) for (const m of v.multiValue) out.push(pair(k, m.value));
    else out.push(pair(k, v.value));
  }
  return out;
}

/** Flag values from the flag file, read again only when the file changes. */
class FlagSource {
  private stamp = '';
  private values: Record<string, string> = {};

  constructor(
    private readonly file: string,
    private readonly log: (line: string) => void,
  ) {}

  public current(): Record<string, string> {
    const s = fs.statSync(this.file, { throwIfNoEntry: false });
    const stamp = s ? `${s.ino}:${s.mtimeMs}:${s.size}` : 'absent';
    if (stamp !== this.stamp) {
      const read = readFlagFile(this.file);
      const values: Record<string, string> = {};
      for (const [name, value] of Object.entries(read)) {
        // Only flag names: the store's internal keys (routing table) are not the flag file's to change.
        if (flagNameProblem(name)) this.log(`flag file ${this.file}: ignoring "${name}" (not a flag name)`);
        else values[name] = value;
      }
      this.values = values;
      this.stamp = stamp;
      const shown = Object.entries(values).map(([k, v]) => `${k}=${v}`);
      this.log(`flags from ${this.file}: ${shown.length > 0 ? shown.join(', ') : '(none set: the template\'s initial values apply)'}`);
    }
    return this.values;
  }
}

function sendFunctionResponse(res: http.ServerResponse, response: Record<string, any>): void {
  res.statusCode = Number(response.statusCode);
  if (typeof response.statusDescription === 'string') res.statusMessage = response.statusDescription;
  for (const [name, h] of Object.entries<any>(response.headers ?? {})) {
    const values = h?.multiValue?.length ? h.multiValue.map((m: any) => String(m.value)) : [String(h?.value ?? '')];
    res.setHeader(name, values.length === 1 ? values[0] : values);
  }
  const setCookies: string[] = [];
  for (const [name, c] of Object.entries<any>(response.cookies ?? {})) {
    const all = c?.multiValue?.length ? c.multiValue : [c];
    for (const one of all) setCookies.push(`${name}=${one?.value ?? ''}${one?.attributes ? `; ${one.attributes}` : ''}`);
  }
  if (setCookies.length > 0) res.setHeader('set-cookie', setCookies);
  const body = response.body;
  if (body === undefined || body === null) res.end();
  else if (typeof body === 'string') res.end(body);
  else res.end(Buffer.from(String(body.data ?? ''), body.encoding === 'base64' ? 'base64' : 'utf8'));
}

function noUrlPage(zone: string, target: ZoneTarget | undefined): Failure {
  const why = target?.problem ?? 'it is not a zone of the template';
  return failure(
    502,
    `Zone ${zone} has no local URL`,
    `<p>This request belongs to zone <b>${escapeHtml(zone)}</b>, which has no local URL: ${escapeHtml(why)}.</p><p>Start it locally and pass <code>--zone ${escapeHtml(zone)}=http://localhost:PORT</code>.</p>`,
  );
}

function unreachablePage(zone: string, url: string, err: Error): Failure {
  return failure(
    502,
    `Zone ${zone} is unreachable`,
    `<p>The local edge could not reach zone <b>${escapeHtml(zone)}</b> at <code>${escapeHtml(url)}</code>: ${escapeHtml(err.message)}.</p>` +
      `<p>Is the zone running? Start it (for example <code>next dev</code>) or point the edge elsewhere with <code>--zone ${escapeHtml(zone)}=URL</code>.</p>`,
  );
}

function pageHtml(f: Failure): string {
  return `<!doctype html>\n<html><head><meta charset="utf-8"><title>${f.status} ${escapeHtml(f.title)} | multizone local edge</title></head>\n<body><h1>${f.status} ${escapeHtml(f.title)}</h1>\n${f.html}\n<hr><p><small>multizone local edge</small></p></body></html>\n`;
}

function sendPage(res: http.ServerResponse, f: Failure): void {
  const body = pageHtml(f);
  res.writeHead(f.status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', 'x-multizone-error': f.title });
  res.end(body);
}

function writeRawPage(socket: Duplex, f: Failure): void {
  if (!socket.writable) return;
  const body = pageHtml(f);
  socket.end(
    `HTTP/1.1 ${f.status} ${http.STATUS_CODES[f.status] ?? 'Error'}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-multizone-error: ${f.title}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
