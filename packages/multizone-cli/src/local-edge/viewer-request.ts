import type * as http from 'http';
import { firstOfEach, pairs } from '../edge-function/sandbox';
import type { ServedRequest, TemplateBehavior } from '../synthesized-site';
import type { EdgeSite } from './edge-site';
import { Failure, escapeHtml, failure } from './pages';
import type { ForwardPolicy } from './policies';
import type { ZoneTarget } from './zones';
import { UpdatedOrigin, resolveUpdatedOrigin } from '../edge-function/origin-update';

/** A request routed to its zone: the viewer's request, what the behavior's function made of it, and what the behavior forwards. */
export interface Routed {
  readonly served: ServedRequest;
  readonly viewer: ViewerRequest;
  /** The zone to forward to; undefined when the function chose an origin of no zone. */
  readonly target?: ZoneTarget;
  readonly policy: ForwardPolicy;
}

/** The request as the viewer sent it, in the shapes the function event wants. */
export interface ViewerRequest {
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

/** The viewer's request as read from the connection. */
export function viewerRequest(req: http.IncomingMessage): ViewerRequest {
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

/**
 * The viewer-request step: the behavior CloudFront picks for the path,
 * then its viewer-request function on the flag values of the moment. The
 * routed request, or the page CloudFront would answer instead: 403 for a
 * method the behavior does not allow, 503 when the function fails (and
 * 500 when the flag file cannot be read).
 */
export async function viewerRequestStep(edge: EdgeSite, req: http.IncomingMessage): Promise<Routed | Failure> {
  let storeValues: Record<string, string>;
  try {
    storeValues = { ...edge.flags.storeValues(), ...edge.releases.storeValues() };
  } catch (e) {
    return failure(500, 'Flag file unreadable', `<p>${escapeHtml((e as Error).message)}</p>`);
  }
  const viewer = viewerRequest(req);
  const { behavior } = edge.site.behaviorFor(viewer.path);
  const refused = refusedMethod(behavior, viewer.method);
  if (refused) return refused;
  let served: ServedRequest;
  try {
    served = await edge.site.serve(viewer.path, {
      flags: storeValues,
      ip: viewer.ip,
      host: viewer.host,
      method: viewer.method,
      headers: viewer.headers,
      cookies: viewer.cookieMap,
      querystring: viewer.queryMap,
      // The viewer-response function runs once, on the zone's response (viewerResponseStep).
      skipViewerResponse: true,
      // A local release may run on 127.0.0.1 (`multizone release --local`).
      loopbackOrigins: true,
    });
  } catch (e) {
    // CloudFront answers 503 when a function throws or exceeds its compute.
    return failure(503, 'Function error', `<p>The viewer-request function of behavior <code>${escapeHtml(behavior.pathPattern)}</code> failed: ${escapeHtml((e as Error).message)}</p>`);
  }
  const zone = edge.zones.find((z) => z.zone === served.zone);
  return { served, viewer, target: zone && served.updatedOrigin ? updatedTarget(zone, served.updatedOrigin) : zone, policy: edge.policies.forward(served.behavior) };
}

/**
 * The zone's target once the function updated its origin (a release): the
 * call's properties over the zone's local URL, signing and headers, as
 * CloudFront inherits them from the assigned origin.
 */
export function updatedTarget(zone: ZoneTarget, update: UpdatedOrigin): ZoneTarget {
  const origin = resolveUpdatedOrigin(update.params, { url: zone.url, signing: zone.signing, customHeaders: zone.originHeaders });
  const url = origin.url ?? zone.url;
  return {
    ...zone,
    url,
    source: 'function',
    problem: url ? undefined : zone.problem,
    originHeaders: origin.customHeaders,
    signing: origin.signing,
    hostHeader: origin.hostHeader === undefined ? undefined : `${origin.hostHeader}${url && new URL(url).port ? `:${new URL(url).port}` : ''}`,
  };
}

/** CloudFront's 403 for a method the behavior does not allow; undefined when it allows it. */
function refusedMethod(behavior: TemplateBehavior, method: string): Failure | undefined {
  const allowed = behavior.allowedMethods;
  if (allowed.includes(method)) return undefined;
  return failure(
    403,
    'Method not allowed',
    `<p>This distribution is not configured to allow the HTTP request method that was used for this request: behavior <code>${escapeHtml(behavior.pathPattern)}</code> allows ${escapeHtml(allowed.join(', '))}.</p>`,
  );
}
