/**
 * Cross-zone prefetch benchmark: `npm run bench:prefetch`.
 *
 * The e2e zones (test/e2e/zones, built if needed) run with `next start`,
 * each behind a proxy adding 150 ms to every request (test/e2e/latency.ts),
 * and the local edge serves the example stack synthesized three times:
 * with CrossZonePrefetch.none(), with its default Speculation Rules
 * (prefetch on hover) and with CrossZonePrefetch.prerender() (prerender on
 * hover). In headless Chromium under Puppeteer (Playwright's DevTools
 * sessions stop Chromium from prerendering: test/e2e/prerender-driver.ts),
 * a viewer on the home page hovers the link to the blog for
 * BENCH_PREFETCH_HOVER_MS (default 1000) and clicks; the figure is from
 * the click, on the home page's clock, to the blog page's `load` end, or
 * to its activation when a prerendered blog page had loaded already.
 * Median of BENCH_PREFETCH_RUNS (10) navigations, each mode twice: "cold"
 * in a fresh browser context (the blog's assets not cached yet: a first
 * visit) and "warm" with the blog visited once before (its immutable
 * assets cached). Prints the medians and the ratios none / prefetch and
 * none / prerender; `--json` prints them as JSON as well.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import type { Browser } from 'puppeteer-core';
import { ExampleSiteStack } from '../bin/example-stack';
import { CrossZonePrefetch } from '../lib/cross-zone-prefetch';
import { LocalEdge, startLocalEdge } from '../packages/multizone-cli/src/local-edge/server';
import { SynthesizedSite } from 'multizone-cli';
import { ZONES_DIR, buildEnv, buildZones } from '../test/e2e/build-zones';
import { startLatencyProxies } from '../test/e2e/latency';
import { hoverAndClick, launchPrerenderingChromium } from '../test/e2e/prerender-driver';

const ZONES = ['home', 'blog', 'dashboard'];
const LATENCY_MS = 150;
const RUNS = Number(process.env.BENCH_PREFETCH_RUNS ?? 10);
const HOVER_MS = Number(process.env.BENCH_PREFETCH_HOVER_MS ?? 1000);

const children: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function startZone(zone: string): Promise<string> {
  const port = await freePort();
  const child = spawn('npx', ['next', 'start', '-p', String(port), '-H', '127.0.0.1'], {
    cwd: path.join(ZONES_DIR, zone),
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...buildEnv({ zone }) },
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await fetch(`${url}/`);
      return url;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`zone ${zone} did not start on ${url}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function site(crossZonePrefetch?: CrossZonePrefetch): SynthesizedSite {
  const local = { home: 'http://localhost:3000', blog: 'http://localhost:3001', dashboard: 'http://localhost:3002' };
  return SynthesizedSite.fromStack(new ExampleSiteStack(new App(), 'MultiZoneExample', { zoneOrigins: local, crossZonePrefetch }));
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** RUNS navigations home -> blog through one edge; the click-to-load medians, cold and warm, what delivered the documents, and how many of them a prerender activated. */
async function measure(browser: Browser, edge: LocalEdge): Promise<{ cold: number; warm: number; deliveries: string[]; activated: number }> {
  const base = `http://localhost:${edge.port}`;
  const cold: number[] = [];
  const warm: number[] = [];
  const deliveries = new Set<string>();
  let activated = 0;
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.goto(`${base}/`, { waitUntil: 'networkidle2' });
    const first = await hoverAndClick(page, '#link-blog', HOVER_MS);
    cold.push(first.clickToLoadMs);
    await page.goto(`${base}/`, { waitUntil: 'networkidle2' });
    const again = await hoverAndClick(page, '#link-blog', HOVER_MS);
    warm.push(again.clickToLoadMs);
    for (const n of [first, again]) {
      deliveries.add(n.deliveryType || 'network');
      if (n.activationStart > 0) activated++;
    }
    await context.close();
  }
  return { cold: median(cold), warm: median(warm), deliveries: [...deliveries], activated };
}

async function main(): Promise<void> {
  buildZones(ZONES.map((zone) => ({ zone })), (line) => console.error(line));
  const zoneUrls: Record<string, string> = {};
  for (const z of ZONES) zoneUrls[z] = await startZone(z);
  const proxies = await startLatencyProxies(zoneUrls, LATENCY_MS);
  const flagsFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-prefetch-')), 'flags.json');
  const edges = {
    prefetch: await startLocalEdge({ site: site(), zoneUrls: proxies.urls, flagsFile, host: '127.0.0.1' }),
    none: await startLocalEdge({ site: site(CrossZonePrefetch.none()), zoneUrls: proxies.urls, flagsFile, host: '127.0.0.1' }),
    prerender: await startLocalEdge({ site: site(CrossZonePrefetch.prerender()), zoneUrls: proxies.urls, flagsFile, host: '127.0.0.1' }),
  };
  const browser = await launchPrerenderingChromium();
  try {
    const none = await measure(browser, edges.none);
    const prefetch = await measure(browser, edges.prefetch);
    const prerender = await measure(browser, edges.prerender);
    const ratio = (a: number, b: number) => (b > 0 ? a / b : Infinity);
    const figures = {
      latencyMs: LATENCY_MS,
      runs: RUNS,
      hoverMs: HOVER_MS,
      none,
      prefetch,
      prerender,
      ratioCold: ratio(none.cold, prefetch.cold),
      ratioWarm: ratio(none.warm, prefetch.warm),
      prerenderRatioCold: ratio(none.cold, prerender.cold),
      prerenderRatioWarm: ratio(none.warm, prerender.warm),
    };
    process.stdout.write(
      `cross-zone navigation home -> blog, click to load, zones ${LATENCY_MS} ms away, median of ${RUNS} (hover ${HOVER_MS} ms before the click)\n` +
        `  first visit (blog assets not cached):  no prefetch ${none.cold.toFixed(0)} ms; prefetch ${prefetch.cold.toFixed(0)} ms: ${figures.ratioCold.toFixed(2)}x faster; prerender ${prerender.cold.toFixed(0)} ms: ${figures.prerenderRatioCold.toFixed(2)}x faster\n` +
        `  repeat visit (blog assets cached):     no prefetch ${none.warm.toFixed(0)} ms; prefetch ${prefetch.warm.toFixed(0)} ms: ${figures.ratioWarm.toFixed(2)}x faster; prerender ${prerender.warm.toFixed(0)} ms: ${figures.prerenderRatioWarm.toFixed(2)}x faster\n` +
        `  documents delivered by: no prefetch ${none.deliveries.join(', ')}; prefetch ${prefetch.deliveries.join(', ')}; prerender ${prerender.deliveries.join(', ')}, ${prerender.activated} of ${2 * RUNS} activated prerenders\n`,
    );
    if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(figures)}\n`);
  } finally {
    await browser.close();
    await edges.prefetch.close();
    await edges.none.close();
    await edges.prerender.close();
    await proxies.close();
  }
}

function stopZones(): void {
  for (const c of children) {
    try {
      if (c.pid) process.kill(-c.pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  }
}

main()
  .catch((e) => {
    process.stderr.write(`bench:prefetch: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  })
  .finally(stopZones);
