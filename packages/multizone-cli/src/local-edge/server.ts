import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import type { AddressInfo, Socket } from 'net';
import type { Duplex } from 'stream';
import httpProxy from 'http-proxy';
import { flagNameProblem, PREVIEW_SECRET_KEY } from 'multizone-distribution/internal';
import type { ServedRequest, SynthesizedSite, TemplateBehavior } from '../synthesized-site';
import { DEFAULT_FLAG_FILE, readFlagFile, readLocalPreviewSecret } from './flag-file';
import { Routed, originRequest } from './origin-request';
import { AfterOriginRequest, throughOriginRequestLambda } from './origin-request-lambda';
import { Failure, escapeHtml, failure, noUrlPage, sendFunctionResponse, sendLambdaResponse, sendPage, unreachablePage, writeRawPage } from './pages';
import { forwardPolicy } from './policies';
import { ResponseHeadersPolicy, applyResponseHeaders, responseHeadersPolicy } from './response-headers';
import { viewerRequest } from './viewer-request';
import { afterViewerResponse, functionResponse, runsOnStatus } from './viewer-response';
import { ZoneTarget, zoneTargets } from './zones';

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
  const flagsFile = options.flagsFile ?? DEFAULT_FLAG_FILE;
  const flags = new FlagSource(flagsFile, log);
  // Preview cookies are signed with the local secret (`multizone flags preview --local` creates it), read only when a flag is previewable.
  const previews = (site.table.previewFlags ?? []).length > 0;
  // Each behavior's policies are read from the template at its first request, and what the local edge leaves out of them logged then.
  const perBehavior = <P extends { readonly note?: string }>(read: (site: SynthesizedSite, behavior: TemplateBehavior) => P) => {
    const cache = new Map<TemplateBehavior, P>();
    return (b: TemplateBehavior): P => {
      let p = cache.get(b);
      if (!p) {
        p = read(site, b);
        if (p.note) log(`note: behavior ${b.pathPattern}: ${p.note}`);
        cache.set(b, p);
      }
      return p;
    };
  };
  const policyOf = perBehavior(forwardPolicy);
  const responsePolicyOf = perBehavior(responseHeadersPolicy);
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  const proxy = httpProxy.createProxyServer({ xfwd: false, changeOrigin: false, prependPath: true });
  // Errors are handled per request (callbacks below); this keeps a stray one from crashing the process.
  proxy.on('error', (err) => log(`proxy error: ${err.message}`));
  const routeOf = new WeakMap<http.IncomingMessage, ProxiedRoute>();
  /**
   * Sends the zone's response through the behavior's viewer-response
   * function (when its status lets CloudFront run it), then streams the
   * body: the function decides the status and headers the viewer gets.
   */
  const throughViewerResponse = async (proxyRes: http.IncomingMessage, res: http.ServerResponse, call: ProxiedRoute) => {
    proxyRes.on('error', () => res.destroy());
    let statusCode = proxyRes.statusCode ?? 502;
    let message = proxyRes.statusMessage;
    let headers: http.OutgoingHttpHeaders = proxyRes.headers;
    if (runsOnStatus(statusCode)) {
      try {
        const returned = await site.respond(call.served, functionResponse(statusCode, message, proxyRes.headers));
        headers = afterViewerResponse(proxyRes.headers, returned);
        if (Number(returned.statusCode) !== statusCode) {
          statusCode = Number(returned.statusCode);
          message = returned.statusDescription;
        }
      } catch (e) {
        proxyRes.resume();
        sendPage(res, failure(503, 'Function error', `<p>The viewer-response function of behavior <code>${escapeHtml(call.served.behavior.pathPattern)}</code> failed: ${escapeHtml((e as Error).message)}</p>`));
        return;
      }
    }
    res.writeHead(statusCode, message, headers);
    proxyRes.pipe(res);
  };
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
    if (route.viewerResponse) void throughViewerResponse(proxyRes, res, route);
  });

  /** Routes one request: the outcome, or an error page already sent. */
  const route = async (req: http.IncomingMessage): Promise<Routed | Failure> => {
    let currentFlags: Record<string, string>;
    try {
      currentFlags = flags.current();
      const secret = previews ? readLocalPreviewSecret(flagsFile) : undefined;
      if (secret) currentFlags = { ...currentFlags, [PREVIEW_SECRET_KEY]: secret };
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
        // The viewer-response function runs once, on the zone's response (throughViewerResponse).
        skipViewerResponse: true,
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
    const after = await originRequestStep(served, req, originRequest(routed, target.url, false), target);
    if ('status' in after) {
      sendPage(res, after);
      return;
    }
    const { outcome, body } = after;
    if (outcome.response) {
      sendLambdaResponse(res, outcome.response);
      return;
    }
    req.url = outcome.path;
    req.headers = outcome.headers;
    const viewerResponse = served.behavior.viewerResponseFunction !== undefined;
    routeOf.set(req, { header: routeHeader(served), policy: responsePolicyOf(served.behavior), served, viewerResponse });
    const url = target.url;
    // With a viewer-response function, the headers wait for it: this server writes them (throughViewerResponse).
    proxy.web(req, res, { target: url, agent: url.startsWith('https:') ? agents.https : agents.http, selfHandleResponse: viewerResponse, buffer: body }, (err) => {
      log(`zone ${served.zone} at ${url}: ${err.message}`);
      if (res.headersSent) {
        res.destroy();
      } else {
        sendPage(res, unreachablePage(served.zone, url, err));
      }
    });
  };

  /** The behavior's origin-request Lambda@Edge function on the outgoing request; a 502 page when it fails, as CloudFront answers a Lambda error. */
  const originRequestStep = async (served: ServedRequest, req: http.IncomingMessage, outgoing: ReturnType<typeof originRequest>, target: ZoneTarget): Promise<AfterOriginRequest | Failure> => {
    try {
      return await throughOriginRequestLambda(site, served, req, outgoing, target);
    } catch (e) {
      const name = site.edgeFunctionName(served.behavior.originRequestLambda!);
      return failure(502, 'Lambda function error', `<p>The origin-request Lambda@Edge function ${escapeHtml(name)} of behavior <code>${escapeHtml(served.behavior.pathPattern)}</code> failed: ${escapeHtml((e as Error).message)}</p>`);
    }
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
    // An upgrade is a GET without a body, which the body hash (the only origin-request function) passes untouched.
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

/** What the proxy's response handler needs to know of a request it forwarded. */
interface ProxiedRoute {
  /** The `x-multizone-route` header. */
  readonly header: string;
  readonly policy: ResponseHeadersPolicy;
  readonly served: ServedRequest;
  /** Whether the behavior has a viewer-response function, which the response waits for. */
  readonly viewerResponse: boolean;
}

/** `blog (/blog/*, function)`: for log lines. */
function describeRoute(s: ServedRequest): string {
  return `${s.zone} (${s.behavior.pathPattern}${s.functionRan ? ', function' : ''}${s.response ? ', answered by the function' : ''})`;
}

/** The `x-multizone-route` response header: which zone answered, through which behavior. */
function routeHeader(s: ServedRequest): string {
  return `zone=${s.zone}; behavior=${s.behavior.pathPattern}${s.functionRan ? '; function' : ''}`;
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
