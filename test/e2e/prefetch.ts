/**
 * e2e: cross-zone prefetch through Speculation Rules, in Chromium, with
 * every zone behind a simulated 150 ms of latency (test/e2e/latency.ts).
 * A second local edge, started here on a free port over the same template,
 * points at the delaying proxies, so what reached a zone, and when, is on
 * record: hovering a link to another zone fetches its document before the
 * click, the click then shows that prefetched document
 * (`deliveryType` "navigational-prefetch") without asking the zone again,
 * and an excluded link is never fetched early. With
 * CrossZonePrefetch.prerender(), on a third edge, hovering the link
 * prerenders the blog page (its document fetched with `Sec-Purpose:
 * prefetch;prerender`, its assets before the click) and the click activates it; that
 * check drives Chromium through Puppeteer, as Playwright's DevTools
 * sessions stop Chromium from prerendering (test/e2e/prerender-driver.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import type { Browser } from 'playwright-core';
import { ExampleSiteStack } from '../../bin/example-stack';
import { CrossZonePrefetch } from '../../lib/cross-zone-prefetch';
import { startLocalEdge } from '../../packages/multizone-cli/src/local-edge/server';
import { SynthesizedSite } from 'multizone-cli';
import { hoverAndClick, startLatencyProxies } from './latency';
import * as prerendering from './prerender-driver';

/** The zones' latency the harness adds. */
export const ZONE_LATENCY_MS = 150;

/** What the checks need from the harness. */
export interface PrefetchChecksOptions {
  readonly browser: Browser;
  /** The synthesized template (its assets beside it). */
  readonly template: string;
  /** Zone name to its local URL (`next start`). */
  readonly zones: Record<string, string>;
  readonly flagsFile: string;
  /** Runs one named check, recording its outcome. */
  readonly check: (name: string, body: () => Promise<void>) => Promise<void>;
  readonly log: (line: string) => void;
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  return condition();
}

/** Runs the prefetch checks; every server it starts is stopped before it returns. */
export async function prefetchChecks(o: PrefetchChecksOptions): Promise<void> {
  const site = SynthesizedSite.fromTemplate(JSON.parse(fs.readFileSync(o.template, 'utf8')), { assetDirectory: path.dirname(o.template) });
  const proxies = await startLatencyProxies(o.zones, ZONE_LATENCY_MS);
  const edge = await startLocalEdge({ site, zoneUrls: proxies.urls, flagsFile: o.flagsFile, host: '127.0.0.1' });
  const base = `http://localhost:${edge.port}`;
  const prerenderSite = SynthesizedSite.fromStack(
    new ExampleSiteStack(new App(), 'MultiZoneExample', { zoneOrigins: { home: o.zones.home, blog: o.zones.blog, dashboard: o.zones.dashboard }, crossZonePrefetch: CrossZonePrefetch.prerender() }),
  );
  const prerenderEdge = await startLocalEdge({ site: prerenderSite, zoneUrls: proxies.urls, flagsFile: o.flagsFile, host: '127.0.0.1' });
  const reached = (zone: string, url: string) => proxies.requests.filter((r) => r.zone === zone && r.url === url);
  try {
    await o.check('prefetch: pages carry Speculation-Rules; the edge answers the rules file itself, as application/speculationrules+json', async () => {
      const page = await fetch(`${base}/`);
      assert(page.headers.get('speculation-rules') === '"/_multizone/speculation-rules.json"', `Speculation-Rules: ${page.headers.get('speculation-rules')}`);
      const before = proxies.requests.length;
      const rules = await fetch(`${base}/_multizone/speculation-rules.json`);
      assert(rules.status === 200, `rules file: ${rules.status}`);
      assert(rules.headers.get('content-type') === 'application/speculationrules+json', `content-type ${rules.headers.get('content-type')}`);
      const json = await rules.json();
      assert(Array.isArray(json.prefetch) && json.prefetch.length > 0, `no prefetch rules: ${JSON.stringify(json)}`);
      assert(proxies.requests.length === before, 'the rules file reached a zone');
    });

    const context = await o.browser.newContext({ viewport: { width: 1000, height: 700 } });
    context.setDefaultTimeout(15_000);
    try {
      await o.check(`prefetch: hovering a link to the blog fetches its document before the click (zones ${ZONE_LATENCY_MS} ms away); the click shows it, deliveryType navigational-prefetch`, async () => {
        const page = await context.newPage();
        await page.goto(`${base}/`, { waitUntil: 'networkidle' });
        assert(reached('blog', '/blog').length === 0, 'the blog page was fetched before any hover');
        await page.hover('#link-blog');
        const hovered = Date.now();
        assert(await until(() => reached('blog', '/blog').length > 0, 5_000), 'no request for /blog reached the blog zone within 5 s of the hover');
        const early = reached('blog', '/blog')[0];
        assert(early.purpose?.startsWith('prefetch'), `the early request carried Sec-Purpose "${early.purpose}", expected prefetch`);
        o.log(`  /blog prefetched ${early.at - hovered} ms after the hover began`);
        await page.waitForTimeout(2 * ZONE_LATENCY_MS + 200);
        const nav = await hoverAndClick(page, '#link-blog', 0);
        assert(nav.deliveryType === 'navigational-prefetch', `deliveryType "${nav.deliveryType}", expected navigational-prefetch`);
        assert(reached('blog', '/blog').length === 1, `the blog zone was asked for /blog ${reached('blog', '/blog').length} times: the click did not use the prefetch`);
        const zone = await page.locator('main[data-zone]').first().getAttribute('data-zone');
        assert(zone === 'blog', `landed on zone ${zone}`);
        o.log(`  click to load: ${nav.clickToLoadMs.toFixed(0)} ms`);
        await page.close();
      });

      await o.check('prefetch: an excluded link (/dashboard/signout) is never fetched early, while a link beside it is', async () => {
        const page = await context.newPage();
        await page.goto(`${base}/`, { waitUntil: 'networkidle' });
        await page.hover('#link-signout');
        await page.waitForTimeout(1_000);
        await page.hover('#link-dashboard');
        assert(await until(() => reached('dashboard', '/dashboard').some((r) => r.purpose?.startsWith('prefetch')), 5_000), 'the dashboard link beside it was not prefetched either: is prefetching on at all?');
        assert(proxies.requests.every((r) => !r.url.startsWith('/dashboard/signout')), `the excluded link reached the zone: ${JSON.stringify(proxies.requests.filter((r) => r.url.startsWith('/dashboard/signout')))}`);
        await page.close();
      });
    } finally {
      await context.close();
    }

    await o.check('prerender: hovering a link to the blog prerenders it (document with Sec-Purpose prefetch;prerender, then its assets); the click activates it (activationStart > 0) without asking the zone again', async () => {
      const prerenderBase = `http://localhost:${prerenderEdge.port}`;
      const rules = await (await fetch(`${prerenderBase}/_multizone/speculation-rules.json`)).json();
      assert(Array.isArray(rules.prerender) && rules.prerender.length > 0, `no prerender rules: ${JSON.stringify(rules)}`);
      const browser = await prerendering.launchPrerenderingChromium();
      try {
        const page = await browser.newPage();
        const from = proxies.requests.length;
        const blog = () => proxies.requests.slice(from).filter((r) => r.zone === 'blog');
        await page.goto(`${prerenderBase}/`, { waitUntil: 'networkidle2' });
        assert(blog().length === 0, `the blog zone was asked before any hover: ${JSON.stringify(blog())}`);
        await page.hover('#link-blog');
        assert(await until(() => blog().some((r) => r.url === '/blog'), 5_000), 'no request for /blog reached the blog zone within 5 s of the hover');
        const doc = blog().find((r) => r.url === '/blog')!;
        assert(doc.purpose === 'prefetch;prerender', `the early request for /blog carried Sec-Purpose "${doc.purpose}", expected prefetch;prerender`);
        assert(await until(() => blog().some((r) => r.url !== '/blog'), 5_000), `the prerendered page loaded none of its assets from the blog zone: ${JSON.stringify(blog())}`);
        await new Promise((r) => setTimeout(r, 2 * ZONE_LATENCY_MS + 500));
        const nav = await prerendering.hoverAndClick(page, '#link-blog', 0);
        assert(nav.activationStart > 0, `activationStart ${nav.activationStart}: the click did not activate a prerendered page (deliveryType "${nav.deliveryType}")`);
        assert(blog().filter((r) => r.url === '/blog').length === 1, `the blog zone was asked for /blog ${blog().filter((r) => r.url === '/blog').length} times`);
        const zone = await page.$eval('main[data-zone]', (m) => m.getAttribute('data-zone'));
        assert(zone === 'blog', `landed on zone ${zone}`);
        o.log(`  prerendered /blog activated: activationStart ${nav.activationStart.toFixed(0)} ms, click to load ${nav.clickToLoadMs.toFixed(0)} ms`);
      } finally {
        await browser.close();
      }
    });
  } finally {
    await prerenderEdge.close();
    await edge.close();
    await proxies.close();
  }
}
