/**
 * Zones behind a simulated network latency, for the prefetch e2e and its
 * benchmark: a proxy in front of each zone holds every request for a fixed
 * time before passing it on (one round trip between the edge and a distant
 * origin), and records what reached the zone, with its `Sec-Purpose`.
 * The local edge is pointed at the proxies, so only what the edge forwards
 * pays the latency; what the edge answers itself (the rules file) does not,
 * as at CloudFront.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import httpProxy from 'http-proxy';
import type { Page } from 'playwright-core';

/** One request that reached a zone through its proxy. */
export interface ZoneRequest {
  readonly zone: string;
  readonly method: string;
  /** Path and query string. */
  readonly url: string;
  /** The `Sec-Purpose` header (`prefetch`, `prefetch;prerender`), if any. */
  readonly purpose?: string;
  /** When the proxy received it (ms since the epoch). */
  readonly at: number;
}

/** The running proxies. */
export interface LatencyProxies {
  /** Zone name to the proxy's URL, to pass as the edge's zone URLs. */
  readonly urls: Record<string, string>;
  /** Every request that reached a zone, in arrival order. */
  readonly requests: ZoneRequest[];
  close(): Promise<void>;
}

/** Starts one delaying proxy per zone (`{ blog: 'http://localhost:3001' }`), on free ports. */
export async function startLatencyProxies(zones: Record<string, string>, delayMs: number): Promise<LatencyProxies> {
  const requests: ZoneRequest[] = [];
  const servers: http.Server[] = [];
  const urls: Record<string, string> = {};
  const agent = new http.Agent({ keepAlive: true });
  const proxy = httpProxy.createProxyServer({ xfwd: false, changeOrigin: false, agent });
  proxy.on('error', (_err, _req, res) => {
    if ('writeHead' in res && !res.headersSent) res.writeHead(502).end();
  });
  for (const [zone, target] of Object.entries(zones)) {
    const server = http.createServer((req, res) => {
      const purpose = req.headers['sec-purpose'];
      requests.push({ zone, method: req.method ?? 'GET', url: req.url ?? '/', purpose: typeof purpose === 'string' ? purpose : undefined, at: Date.now() });
      setTimeout(() => proxy.web(req, res, { target }), delayMs);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    urls[zone] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  return {
    urls,
    requests,
    close: async () => {
      for (const s of servers) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
      proxy.close();
      agent.destroy();
    },
  };
}

/** What one navigation across zones measured. */
export interface CrossZoneNavigation {
  /** From the click to the new document's `load` event end (its navigation entry, whose time origin is the click). */
  readonly clickToLoadMs: number;
  /** `navigational-prefetch` when the document came from a prefetch, '' for a plain fetch. */
  readonly deliveryType: string;
}

/**
 * On `page` (already on a page of the site), hovers a link for `hoverMs`
 * as a viewer about to click it would, clicks it, and waits for the new
 * document to load.
 */
export async function hoverAndClick(page: Page, selector: string, hoverMs: number): Promise<CrossZoneNavigation> {
  const before = page.url();
  await page.hover(selector);
  await page.waitForTimeout(hoverMs);
  await Promise.all([page.waitForURL((u) => u.toString() !== before, { waitUntil: 'load' }), page.click(selector)]);
  return page.evaluate(() => {
    // In the page: the DOM's performance timeline (this file is compiled without DOM types).
    const nav = (globalThis as any).performance.getEntriesByType('navigation')[0] as { loadEventEnd: number; deliveryType?: string };
    return { clickToLoadMs: nav.loadEventEnd, deliveryType: nav.deliveryType ?? '' };
  });
}
