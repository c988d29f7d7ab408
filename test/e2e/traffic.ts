/** What a Chromium page sent and got, for the e2e checks. */
import type { Page, Response } from 'playwright-core';

/** Every response (and failed request) a page sees. */
export function recordTraffic(page: Page): { responses: Response[]; failures: string[] } {
  const traffic = { responses: [] as Response[], failures: [] as string[] };
  page.on('response', (r) => traffic.responses.push(r));
  page.on('requestfailed', (r) => {
    // A navigation away aborts prefetches in flight: not a failure of the site.
    const reason = r.failure()?.errorText ?? '';
    if (!/ERR_ABORTED/.test(reason)) traffic.failures.push(`${r.method()} ${r.url()}: ${reason}`);
  });
  return traffic;
}

/** The responses with a 4xx or 5xx status, as `status METHOD path?query`. */
export function badResponses(responses: Response[]): string[] {
  return responses.filter((r) => r.status() >= 400).map((r) => `${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}${new URL(r.url()).search}`);
}
