/**
 * One request through the local edge, in CloudFront's order: viewer
 * request (the behavior and its function) -> origin request (the
 * behavior's Lambda@Edge function) -> origin (the zone) -> viewer response.
 * Each step is a function of its own module; this one chains them and
 * sends what a step answers instead of going on.
 */
import type * as http from 'http';
import type { Duplex } from 'stream';
import type { EdgeSite } from './edge-site';
import { originRequest } from './origin-request';
import { originRequestLambdaStep } from './origin-request-lambda';
import { failure, noUrlPage, sendFunctionResponse, sendLambdaResponse, sendPage, writeRawPage } from './pages';
import { Routed, viewerRequestStep } from './viewer-request';
import type { ZoneProxy } from './zone-proxy';

/** Handles the local edge's requests and websocket upgrades. */
export class RequestHandler {
  constructor(
    private readonly edge: EdgeSite,
    private readonly proxy: ZoneProxy,
  ) {}

  /** Serves one request, logging a line when its response ends. */
  public async request(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    let label = '-';
    res.on('close', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      this.edge.log(`${req.method} ${req.url} -> ${label} ${res.statusCode} ${ms.toFixed(0)} ms`);
    });
    const routed = await viewerRequestStep(this.edge, req);
    if ('status' in routed) {
      sendPage(res, routed);
      return;
    }
    label = describeRoute(routed);
    await this.toZone(req, res, routed);
  }

  /** Proxies one websocket upgrade to its zone: the viewer-request step only, as an upgrade is a GET without a body. */
  public async upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    this.proxy.track(socket);
    const routed = await viewerRequestStep(this.edge, req);
    if ('status' in routed) {
      writeRawPage(socket, routed);
      return;
    }
    const { served, target } = routed;
    if (served.response || !target?.url) {
      writeRawPage(socket, served.response ? failure(Number(served.response.statusCode) || 502, 'Answered by the function', '') : noUrlPage(served.zone, target));
      return;
    }
    // The body hash, the only origin-request function, passes a request without a body untouched.
    const outgoing = originRequest(routed, target.url, true);
    req.url = outgoing.path;
    req.headers = outgoing.headers;
    this.edge.log(`${req.method} ${outgoing.path} (websocket) -> ${describeRoute(routed)}`);
    this.proxy.ws(req, socket, head, served.zone, target.url);
  }

  /** After the viewer-request step: the function's own answer, or the origin-request step, then the zone. */
  private async toZone(req: http.IncomingMessage, res: http.ServerResponse, routed: Routed): Promise<void> {
    const { served, target } = routed;
    if (served.response) {
      sendFunctionResponse(res, served.response);
      return;
    }
    if (!target?.url) {
      sendPage(res, noUrlPage(served.zone, target));
      return;
    }
    const after = await originRequestLambdaStep(this.edge.site, served, req, originRequest(routed, target.url, false), target);
    if ('status' in after) {
      sendPage(res, after);
      return;
    }
    if (after.outcome.response) {
      sendLambdaResponse(res, after.outcome.response);
      return;
    }
    req.url = after.outcome.path;
    req.headers = after.outcome.headers;
    this.proxy.web(req, res, { served, url: target.url, header: routeHeader(routed), policy: this.edge.policies.responseHeaders(served.behavior) }, after.body);
  }
}

/** `blog (/blog/*, function)`, and the origin the function chose for a release: for log lines. */
function describeRoute({ served: s, target }: Routed): string {
  const origin = s.updatedOrigin ? `, origin ${target?.url ?? '?'}` : '';
  return `${s.zone} (${s.behavior.pathPattern}${s.functionRan ? ', function' : ''}${origin}${s.response ? ', answered by the function' : ''})`;
}

/** The `x-multizone-route` response header: which zone answered, through which behavior (and origin, when the function updated it). */
function routeHeader({ served: s, target }: Routed): string {
  return `zone=${s.zone}; behavior=${s.behavior.pathPattern}${s.functionRan ? '; function' : ''}${s.updatedOrigin ? `; origin=${target?.url ?? '?'}` : ''}`;
}
