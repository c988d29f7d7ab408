import type * as http from 'http';
import { selects } from './policies';
import { Pair, pairs } from '../edge-function/sandbox';
import type { Routed } from './viewer-request';

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

/** The request as it leaves for the zone. */
export interface OutgoingRequest {
  /** Path and query string. */
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
}

/** The request the zone receives: path and query as the function left them, headers as the policies forward them. */
export function originRequest(routed: Routed, zoneUrl: string, websocket: boolean): OutgoingRequest {
  const { served, viewer, policy } = routed;
  const req = served.request;
  const headers: http.IncomingHttpHeaders = {};
  for (const [name, h] of Object.entries(req.headers)) {
    const value = h.multiValue && h.multiValue.length > 0 ? h.multiValue.map((m) => m.value).join(', ') : h.value;
    if (name === 'host' || name === 'cookie' || name === 'authorization') continue;
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
  const authorization = forwardedAuthorization(routed);
  if (authorization !== undefined) headers.authorization = authorization;
  // CloudFront replaces the User-Agent it does not forward.
  if (!selects(policy.headers, 'user-agent', true)) headers['user-agent'] = 'Amazon CloudFront';
  // An updated origin's domain (or hostHeader) is its Host even where the policy forwards the viewer's ("Helper methods for origin modification").
  headers.host = routed.target?.hostHeader ?? (policy.viewerHost ? (req.headers.host?.value ?? viewer.host) : new URL(zoneUrl).host);

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

/** Methods on which CloudFront drops the viewer's Authorization unless the cache key holds it. */
const AUTHORIZATION_KEYED_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The viewer's Authorization as CloudFront passes it on: dropped on GET,
 * HEAD and OPTIONS unless the cache key holds it, and overwritten by the
 * signature of an origin access control that signs always (locally: not
 * sent, since nothing here signs).
 */
function forwardedAuthorization(routed: Routed): string | undefined {
  const value = routed.served.request.headers.authorization?.value;
  if (value === undefined || routed.target?.signing === 'always') return undefined;
  const method = routed.served.request.method.toUpperCase();
  return AUTHORIZATION_KEYED_METHODS.has(method) && !routed.policy.authorizationInKey ? undefined : value;
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
