/**
 * A Chromium that can prerender, for the prerender e2e check and the
 * prefetch benchmark.
 *
 * Chromium refuses to prerender while a DevTools client is attached to the
 * page's target directly rather than through its tab target: every attempt
 * fails with `PrerenderingDisabledByDevTools` (CDP `Preload.prerenderStatusUpdated`),
 * and the click falls back to the prefetch the prerender began with
 * (deliveryType `navigational-prefetch`, `activationStart` 0). Playwright
 * attaches to page targets, so under it prerender never happens; Puppeteer
 * attaches through tab targets, so Chromium prerenders and activates.
 * A CDP session opened on the page (`page.createCDPSession()`) disables it
 * the same way, so nothing here opens one.
 */
import puppeteer, { Browser, Page } from 'puppeteer-core';

/** Starts headless Chromium (CHROMIUM, default /usr/bin/chromium) under Puppeteer. */
export function launchPrerenderingChromium(): Promise<Browser> {
  return puppeteer.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
}

/** What one navigation across zones measured, on the browser's clocks. */
export interface MeasuredNavigation {
  /**
   * From the click to the new page loaded: the old page's clock at the
   * click to the new page's `load` end, or to its activation when a
   * prerendered page had loaded already (it is shown as it is).
   */
  readonly clickToLoadMs: number;
  /** The navigation entry's `deliveryType` ('' for a plain fetch; `navigational-prefetch` for a prefetch, and for a prerender, whose document came from one). */
  readonly deliveryType: string;
  /** The navigation entry's `activationStart`: above 0 only for a prerendered page the click activated. */
  readonly activationStart: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * On `page` (on a page of the site), hovers a link for `hoverMs` as a
 * viewer about to click it would, clicks it and waits for the new page's
 * `load`. Both documents' clocks are read as epoch times
 * (`performance.timeOrigin` plus the entry), so one figure fits a plain
 * navigation and an activation alike.
 */
export async function hoverAndClick(page: Page, selector: string, hoverMs: number): Promise<MeasuredNavigation> {
  await page.hover(selector);
  await sleep(hoverMs);
  const before = page.url();
  const clickedAt = await page.evaluate(() => performance.timeOrigin + performance.now());
  await page.click(selector);
  // Polled in whichever document the page shows (waitForNavigation misses some of these navigations).
  await page.waitForFunction(
    (from) => location.href !== from && ((performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined)?.loadEventEnd ?? 0) > 0,
    { polling: 20 },
    before,
  );
  return page.evaluate((clicked) => {
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming & { deliveryType?: string; activationStart: number };
    const loadedAt = performance.timeOrigin + Math.max(nav.loadEventEnd, nav.activationStart);
    return { clickToLoadMs: loadedAt - clicked, deliveryType: nav.deliveryType ?? '', activationStart: nav.activationStart };
  }, clickedAt);
}
