import * as http from 'http';
import type { AddressInfo } from 'net';
import { EdgeSiteOptions, loadEdgeSite } from './edge-site';
import { escapeHtml, failure, sendPage } from './pages';
import { RequestHandler } from './request-handler';
import { ZoneProxy } from './zone-proxy';
import type { ZoneTarget } from './zones';

/** Options of {@link startLocalEdge}: the site and its zones, and where to listen. */
export interface LocalEdgeOptions extends EdgeSiteOptions {
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
}

/** A running local edge. */
export interface LocalEdge {
  /** `http://localhost:<port>`. */
  readonly url: string;
  readonly port: number;
  readonly server: http.Server;
  /** Where each zone is proxied to. */
  readonly zones: ZoneTarget[];
  /** Stops listening and closes every connection, upstream ones included; resolves once the port is free. */
  close(): Promise<void>;
}

/**
 * Serves a synthesized MultiZoneDistribution on a local port, the way
 * CloudFront serves the template: the first behavior whose path pattern
 * matches, that behavior's viewer-request function run on its own code
 * (reading flags from the flag file, re-read whenever it changes), its
 * origin-request Lambda@Edge function if it has one, then the chosen
 * zone's local URL with the behavior's origin request policy applied
 * (Host replaced by the zone's host unless the policy forwards it,
 * `x-forwarded-host` as the function left it), and the zone's response
 * through the behavior's viewer-response function. Bodies stream both ways
 * and websockets are proxied too (Next.js dev mode HMR).
 *
 * It does not cache, compress, or redirect http to https.
 */
export async function startLocalEdge(options: LocalEdgeOptions): Promise<LocalEdge> {
  const edge = loadEdgeSite(options);
  const proxy = new ZoneProxy(edge.site, edge.log);
  const server = edgeServer(new RequestHandler(edge, proxy), edge.log);
  await listen(server, options.port ?? 0, options.host);
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://localhost:${port}`,
    port,
    server,
    zones: edge.zones,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        proxy.close();
      }),
  };
}

/** The HTTP server in front of the handler: an unexpected error is logged and ends its request, never the process. */
function edgeServer(handler: RequestHandler, log: (line: string) => void): http.Server {
  const server = http.createServer((req, res) => {
    handler.request(req, res).catch((e) => {
      log(`internal error: ${(e as Error).stack ?? e}`);
      if (!res.headersSent) sendPage(res, failure(500, 'Local edge error', `<p>${escapeHtml(String((e as Error).message ?? e))}</p>`));
      else res.destroy();
    });
  });
  server.on('upgrade', (req, socket, head) => {
    handler.upgrade(req, socket, head).catch((e) => {
      log(`internal error: ${(e as Error).stack ?? e}`);
      socket.destroy();
    });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  return server;
}

function listen(server: http.Server, port: number, host: string | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
