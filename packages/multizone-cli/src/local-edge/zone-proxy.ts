/**
 * The origin step: the request proxied to its zone's local URL, the
 * response coming back with the behavior's response headers policy
 * applied, through the viewer-response step when the behavior has a
 * viewer-response function. Websockets are proxied too (Next.js dev mode HMR).
 */
import * as http from 'http';
import * as https from 'https';
import type { Socket } from 'net';
import { Readable } from 'stream';
import type { Duplex } from 'stream';
import httpProxy from 'http-proxy';
import type { ServedRequest, SynthesizedSite } from '../synthesized-site';
import { sendPage, unreachablePage, writeRawPage } from './pages';
import { ResponseHeadersPolicy, applyResponseHeaders } from './response-headers';
import { viewerResponseStep } from './viewer-response';

/** A request on its way to its zone: where, and what the response handler needs to know of it. */
export interface ProxiedRoute {
  readonly served: ServedRequest;
  /** The zone's local URL. */
  readonly url: string;
  /** The `x-multizone-route` header. */
  readonly header: string;
  readonly policy: ResponseHeadersPolicy;
}

/** Methods whose requests carry no body: safe to send again. */
const BODILESS_METHODS = ['GET', 'HEAD', 'OPTIONS'];

/** Proxies requests and websockets to the zones, over pooled connections; close() leaves no socket open. */
export class ZoneProxy {
  private readonly agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  private readonly proxy = httpProxy.createProxyServer({ xfwd: false, changeOrigin: false, prependPath: true });
  private readonly routeOf = new WeakMap<http.IncomingMessage, ProxiedRoute>();
  /** Upgraded sockets leave the server's books: tracked here, so close() ends them. */
  private readonly upgraded = new Set<Duplex>();

  constructor(
    private readonly site: SynthesizedSite,
    private readonly log: (line: string) => void,
  ) {
    // Errors are handled per request (the callbacks of web and ws); this keeps a stray one from crashing the process.
    this.proxy.on('error', (err) => log(`proxy error: ${err.message}`));
    // Each upgraded socket is tied to its upstream, so neither outlives the other.
    this.proxy.on('proxyReqWs', (proxyReq, _req, socket) => {
      proxyReq.on('upgrade', (_res, upstream) => {
        socket.once('close', () => upstream.destroy());
        upstream.once('close', () => socket.destroy());
        upstream.on('error', () => socket.destroy());
      });
    });
    this.proxy.on('proxyRes', (zoneRes, req, res) => this.fromZone(zoneRes, req, res));
  }

  /**
   * Sends the request (path and headers as the earlier steps left them;
   * `body` when the origin-request step read it) to the zone. A request
   * without a body whose pooled connection the zone had just closed (a
   * reset before any answer) is sent once more on a new connection, as
   * CloudFront makes more than one connection attempt.
   */
  public web(req: http.IncomingMessage, res: http.ServerResponse, route: ProxiedRoute, body?: Readable, attempt = 1): void {
    this.routeOf.set(req, route);
    const { url, served } = route;
    // With a viewer-response function, the headers wait for it: viewerResponseStep writes them.
    const selfHandleResponse = served.behavior.viewerResponseFunction !== undefined;
    const bodiless = BODILESS_METHODS.includes(req.method ?? '');
    // A request without a body is sent from an empty stream, so that it can be sent again (the viewer's stream ends once).
    const buffer = body ?? (bodiless ? Readable.from([]) : undefined);
    // Attempt 2 takes a connection of its own: another pooled one may be as stale.
    const agent = attempt > 1 ? false : url.startsWith('https:') ? this.agents.https : this.agents.http;
    this.proxy.web(req, res, { target: url, agent: agent as http.Agent, selfHandleResponse, buffer }, (err) => {
      const again = attempt === 1 && bodiless && !res.headersSent && (err as NodeJS.ErrnoException).code === 'ECONNRESET';
      this.log(`zone ${served.zone} at ${url}: ${err.message}${again ? ' (sent again on a new connection)' : ''}`);
      if (again) this.web(req, res, route, body, 2);
      else if (res.headersSent) res.destroy();
      else sendPage(res, unreachablePage(served.zone, url, err));
    });
  }

  /** Takes charge of an upgrade request's socket, which close() ends from then on. */
  public track(socket: Duplex): void {
    socket.on('error', () => undefined);
    this.upgraded.add(socket);
    socket.once('close', () => this.upgraded.delete(socket));
  }

  /** Sends a websocket upgrade to the zone, over a connection of its own (the upgraded socket belongs to it alone). */
  public ws(req: http.IncomingMessage, socket: Duplex, head: Buffer, zone: string, url: string): void {
    this.proxy.ws(req, socket as Socket, head, { target: url }, (err) => {
      this.log(`zone ${zone} at ${url} (websocket): ${err.message}`);
      writeRawPage(socket, unreachablePage(zone, url, err));
    });
  }

  /** Ends every upgraded socket and every pooled connection to the zones. */
  public close(): void {
    for (const socket of this.upgraded) socket.destroy();
    this.proxy.close();
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  /** The zone's response: the behavior's response headers policy on the zone's headers before they are copied to the viewer. */
  private fromZone(zoneRes: http.IncomingMessage, req: http.IncomingMessage, res: http.ServerResponse): void {
    const route = this.routeOf.get(req);
    if (!route || res.headersSent) return;
    applyResponseHeaders(zoneRes.headers, route.policy);
    res.setHeader('x-multizone-route', route.header);
    if (route.served.behavior.viewerResponseFunction !== undefined) void viewerResponseStep(this.site, route.served, zoneRes, res);
  }
}
