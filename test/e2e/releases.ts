/**
 * e2e: zone releases in Chromium. The blog runs two real builds, v1 (the
 * template's origin, its `releases.deploymentId`) and v2 (in no template),
 * each naming its release in `main[data-release]` and in its server action's
 * answer. Through `multizone release|rollback --local` and the local edge:
 * an open v1 tab stays on v1 after v2 is released (a soft client navigation,
 * a server action), new tabs get v2; a rollback sends new tabs back to v1 and
 * the retired v2's tab to v1 in full; a 50% canary splits 20 fresh contexts,
 * each sticky across reloads; a preview release reaches only the context
 * holding its signed cookie.
 *
 * What Next.js 15.5 sends with `deploymentId` (seen against the two builds
 * directly, and what the edge's routing relies on):
 * - every script and chunk URL a build emits ends in `?dpl=<id>`; a document
 *   request carries no id, so a reload or a new tab follows the current release;
 * - App Router client navigations (`?_rsc=` fetches), server actions (POSTs
 *   with `Next-Action`) and Pages Router data fetches send `x-deployment-id: <id>`;
 * - no response names the deployment (no `x-nextjs-deployment-id` in 15.5):
 *   a client navigation answered by another build, whose RSC payload has
 *   another build id, becomes a full page load; a server action another build
 *   does not know answers 404 with `x-nextjs-action-not-found: 1`, and the
 *   page fails with "Server Action ... was not found on the server";
 * - two builds of the same source differ in their build id, some chunk names
 *   and the server actions' ids, so a request must reach its own build.
 */
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import { rolloutBucket } from '../../lib/flags';
import { badResponses, recordTraffic } from './traffic';

/** What the checks need from the harness. */
export interface ReleaseChecksOptions {
  readonly browser: Browser;
  /** The local edge's URL. */
  readonly edge: string;
  /** The blog's release v1 (the template's origin) and v2, served by `next start`. */
  readonly v1: string;
  readonly v2: string;
  /** The options that point `multizone ... --local` at the running edge's files and template. */
  readonly local: readonly string[];
  /** Runs the CLI, returning its stdout; throws on a non-zero exit. */
  readonly cli: (args: string[]) => string;
  /** Runs one named check, recording its outcome. */
  readonly check: (name: string, body: () => Promise<void>) => Promise<void>;
  readonly log: (line: string) => void;
}

/** A tab and what it loaded. */
interface Tab {
  readonly page: Page;
  readonly traffic: ReturnType<typeof recordTraffic>;
}

const FIRST = '/blog/notes/first';
const SECOND = '/blog/notes/second';

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

async function releaseOf(page: Page): Promise<string | null> {
  return page.locator('main[data-release]').first().getAttribute('data-release', { timeout: 10_000 });
}

/** A new tab of `context` on `path` through the edge, with what it loaded. */
async function openTab(o: ReleaseChecksOptions, context: BrowserContext, path: string): Promise<Tab> {
  const page = await context.newPage();
  const traffic = recordTraffic(page);
  const doc = await page.goto(`${o.edge}${path}`, { waitUntil: 'networkidle' });
  assert(doc?.status() === 200, `${path}: document status ${doc?.status()}`);
  return { page, traffic };
}

/** The page's blog assets all loaded, from the build `id` names (`?dpl=<id>`), none failing. */
function assertLoadedFrom(responses: Response[], id: string): void {
  const bad = badResponses(responses);
  assert(bad.length === 0, `failed responses:\n${bad.join('\n')}`);
  const assets = responses.filter((r) => new URL(r.url()).pathname.startsWith('/blog-static/_next/static/'));
  assert(assets.length > 0, 'no /blog-static/_next/static asset was loaded');
  const other = assets.filter((r) => new URL(r.url()).searchParams.get('dpl') !== id);
  assert(other.length === 0, `assets not of ${id}: ${other.map((r) => r.url()).join(', ')}`);
}

/** Submits the page's server action; returns the POST's response and the answer the page shows. */
async function runAction(page: Page, note: string): Promise<{ response: Response; answer: string }> {
  await page.fill('#release-input', note);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.request().headers()['next-action'] !== undefined),
    page.click('#release-submit'),
  ]);
  await page.waitForFunction(() => document.querySelector('#release-result')?.textContent, undefined, { timeout: 10_000 }).catch(() => undefined);
  return { response, answer: (await page.locator('#release-result').textContent({ timeout: 1_000 }).catch(() => null)) ?? '(no answer shown)' };
}

/** Clicks a next/link in the page; returns the RSC fetch it made and whether the document survived (a soft navigation). */
async function clientNavigation({ page, traffic }: Tab, click: string, to: string): Promise<{ rsc?: Response; soft: boolean }> {
  await page.evaluate(() => ((window as any).__marker = 'kept'));
  const before = traffic.responses.length;
  await page.click(click);
  await page.waitForURL(`${new URL(page.url()).origin}${to}`);
  await page.waitForFunction((path) => document.title.endsWith(`| ${path}`) && document.querySelector('main[data-release]'), to);
  await page.waitForLoadState('networkidle');
  const rsc = traffic.responses.slice(before).find((r) => new URL(r.url()).pathname === to && new URL(r.url()).searchParams.has('_rsc'));
  return { rsc, soft: (await page.evaluate(() => (window as any).__marker)) === 'kept' };
}

/** Each build names its own release; its assets carry `?dpl=<id>`; some of v1's are unknown to v2 (they are really two builds). */
async function checkTwoBuilds(o: ReleaseChecksOptions): Promise<void> {
  await o.check('the blog\'s builds v1 and v2 (next start, no edge): each names its release, its assets carry ?dpl=<id>, v2 lacks some of v1\'s', async () => {
    const assets: Record<string, string[]> = {};
    for (const [id, url] of [['v1', o.v1], ['v2', o.v2]]) {
      const html = await (await fetch(`${url}${FIRST}`)).text();
      assert(html.includes(`data-release="${id}"`), `${url}${FIRST} does not render data-release="${id}"`);
      assets[id] = [...html.matchAll(/src="(\/blog-static\/_next\/static\/[^"]+)"/g)].map((m) => m[1]);
      assert(assets[id].length > 0 && assets[id].every((a) => a.endsWith(`?dpl=${id}`)), `${id}'s scripts do not all end in ?dpl=${id}: ${assets[id].join(', ')}`);
    }
    const missing: string[] = [];
    for (const a of assets.v1) if ((await fetch(`${o.v2}${a}`)).status === 404) missing.push(a);
    assert(missing.length > 0, 'v2 serves every script of v1: the two builds are not distinct, the release checks would prove nothing');
    o.log(`  ${missing.length} of v1's ${assets.v1.length} scripts are 404 on v2`);
  });
}

/** Step 1: a tab on the blog's v1, through the edge. */
async function checkV1Tab(o: ReleaseChecksOptions, context: BrowserContext): Promise<Tab | undefined> {
  let tab: Tab | undefined;
  await o.check('releases 1: a Chromium tab loads the blog\'s v1 through the edge, every asset from v1', async () => {
    tab = await openTab(o, context, FIRST);
    assert((await releaseOf(tab.page)) === 'v1', `${FIRST} is release ${await releaseOf(tab.page)}`);
    assertLoadedFrom(tab.traffic.responses, 'v1');
  });
  return tab;
}

/**
 * Steps 2 and 3: `release blog <v2> --deployment-id v2 --local`; the v1 tab's
 * client navigation and server action stay on v1; a new tab gets v2. Returns
 * the v2 tab, left open for the rollback.
 */
async function checkRelease(o: ReleaseChecksOptions, context: BrowserContext, v1Tab: Tab | undefined): Promise<Tab | undefined> {
  let v2Tab: Tab | undefined;
  await o.check('releases 2-3: after `release blog <v2> --deployment-id v2 --local`, the v1 tab\'s next/link stays on v1 with no reload and its server action runs on v1; a new tab gets v2', async () => {
    assert(v1Tab, 'no v1 tab from step 1');
    o.log(`  ${o.cli(['release', 'blog', o.v2, '--deployment-id', 'v2', ...o.local]).trim()}`);
    const nav = await clientNavigation(v1Tab, '#link-note-second', SECOND);
    assert(nav.rsc, `no ${SECOND}?_rsc= fetch went through the edge`);
    assert(nav.rsc.request().headers()['x-deployment-id'] === 'v1', `the RSC fetch carried x-deployment-id ${nav.rsc.request().headers()['x-deployment-id']}`);
    assert(nav.rsc.status() === 200, `the RSC fetch answered ${nav.rsc.status()}`);
    assert(nav.soft, 'the document was reloaded: the client navigation was answered by another build');
    assert((await releaseOf(v1Tab.page)) === 'v1', `after the client navigation the tab shows release ${await releaseOf(v1Tab.page)}`);
    const action = await runAction(v1Tab.page, 'old tab');
    assert(action.response.request().headers()['x-deployment-id'] === 'v1', `the action carried x-deployment-id ${action.response.request().headers()['x-deployment-id']}`);
    assert(action.response.status() === 200, `the v1 tab's server action answered ${action.response.status()}`);
    assert(action.answer === 'old tab: ran on release v1', `the v1 tab's server action answered "${action.answer}"`);
    assertLoadedFrom(v1Tab.traffic.responses, 'v1');
    v2Tab = await openTab(o, context, FIRST);
    assert((await releaseOf(v2Tab.page)) === 'v2', `a new tab shows release ${await releaseOf(v2Tab.page)}`);
    assertLoadedFrom(v2Tab.traffic.responses, 'v2');
    const fresh = await runAction(v2Tab.page, 'new tab');
    assert(fresh.answer === 'new tab: ran on release v2', `the new tab's server action answered "${fresh.answer}"`);
  });
  return v2Tab;
}

/** Step 4: `rollback blog --local`: new tabs get v1 again, and v2 (retired) no longer answers its own tab. */
async function checkRollback(o: ReleaseChecksOptions, context: BrowserContext, v2Tab: Tab | undefined): Promise<void> {
  await o.check('releases 4: after `rollback blog --local`, a new tab gets v1; the v2 tab\'s next client navigation is a full load of v1', async () => {
    assert(v2Tab, 'no v2 tab from step 3');
    o.log(`  ${o.cli(['rollback', 'blog', ...o.local]).trim()}`);
    const tab = await openTab(o, context, FIRST);
    assert((await releaseOf(tab.page)) === 'v1', `a new tab shows release ${await releaseOf(tab.page)}`);
    assertLoadedFrom(tab.traffic.responses, 'v1');
    // v2 left the record: its x-deployment-id picks nothing, v1 answers, and Next.js sees another build id.
    const nav = await clientNavigation(v2Tab, '#link-note-second', SECOND);
    assert(!nav.soft, 'the v2 tab navigated softly: a rolled-back release still answered it');
    assert((await releaseOf(v2Tab.page)) === 'v1', `the v2 tab landed on release ${await releaseOf(v2Tab.page)}`);
  });
}

/** Loads the page in a fresh context and reloads it twice; returns the releases seen and the visitor cookie. */
async function releasesAcrossReloads(o: ReleaseChecksOptions, context: BrowserContext): Promise<{ seen: (string | null)[]; vid?: string }> {
  const page = await context.newPage();
  const seen: (string | null)[] = [];
  const doc = await page.goto(`${o.edge}${FIRST}`, { waitUntil: 'load' });
  assert(doc?.status() === 200, `document status ${doc?.status()}`);
  seen.push(await releaseOf(page));
  for (let i = 0; i < 2; i++) {
    await page.reload({ waitUntil: 'load' });
    seen.push(await releaseOf(page));
  }
  return { seen, vid: (await context.cookies(o.edge)).find((c) => c.name === 'mz-vid')?.value };
}

/** Step 5: a 50% canary of v2: 20 fresh contexts split about evenly, each on one release across reloads, by its visitor's share. */
async function checkCanary(o: ReleaseChecksOptions): Promise<void> {
  await o.check('releases 5: `release blog <v2> --deployment-id v2 --canary 50% --local`: 20 fresh contexts, each on one release across reloads, about half on v2', async () => {
    o.log(`  ${o.cli(['release', 'blog', o.v2, '--deployment-id', 'v2', '--canary', '50%', ...o.local]).trim()}`);
    const releases: string[] = [];
    for (let i = 0; i < 20; i++) {
      const context = await o.browser.newContext();
      context.setDefaultTimeout(15_000);
      try {
        const { seen, vid } = await releasesAcrossReloads(o, context);
        assert(new Set(seen).size === 1 && (seen[0] === 'v1' || seen[0] === 'v2'), `context ${i} (mz-vid ${vid}) saw releases ${seen.join(', ')}`);
        assert(vid, `context ${i}: no mz-vid cookie`);
        // The canary's share function is the flags' (the shared design): share('mz-release|<zone>|<canary id>', visitor).
        const expected = rolloutBucket('mz-release|blog|v2', vid) < 50 ? 'v2' : 'v1';
        assert(seen[0] === expected, `context ${i}: release ${seen[0]}, but its mz-vid ${vid} is in bucket ${rolloutBucket('mz-release|blog|v2', vid)} of the 50% canary`);
        releases.push(seen[0]);
      } finally {
        await context.close();
      }
    }
    const onCanary = releases.filter((r) => r === 'v2').length;
    o.log(`  canary v2 at 50%: ${onCanary} of ${releases.length} contexts on v2`);
    // Binomial(20, 0.5): outside 3..17 with probability about 0.03%.
    assert(onCanary >= 3 && onCanary <= 17, `${onCanary} of 20 contexts on the canary; expected 3 to 17 at 50%`);
  });
}

/** Step 6: a preview of v2 reaches only the context holding its signed cookie; its deployment id alone does not. */
async function checkPreview(o: ReleaseChecksOptions): Promise<void> {
  await o.check('releases 6: `release blog <v2> --deployment-id v2 --preview --local`: only the context holding its cookie sees v2; ?dpl=v2 and x-deployment-id: v2 alone do not', async () => {
    o.log(`  ${o.cli(['rollback', 'blog', ...o.local]).trim()}`);
    const out = o.cli(['release', 'blog', o.v2, '--deployment-id', 'v2', '--preview', ...o.local]);
    const cookie = /^mz-release=([^\s;]+)/m.exec(out);
    assert(cookie, `no "mz-release=..." cookie line in the output:\n${out}`);
    const holder = await o.browser.newContext();
    const plain = await o.browser.newContext();
    const naming = await o.browser.newContext({ extraHTTPHeaders: { 'x-deployment-id': 'v2' } });
    try {
      await holder.addCookies([{ name: 'mz-release', value: cookie[1], url: o.edge }]);
      const seen = (await releasesAcrossReloads(o, holder)).seen;
      assert(seen.every((r) => r === 'v2'), `the cookie's holder saw ${seen.join(', ')}`);
      const tab = await openTab(o, holder, FIRST);
      assertLoadedFrom(tab.traffic.responses, 'v2');
      assert((await releasesAcrossReloads(o, plain)).seen.every((r) => r === 'v1'), 'a context without the cookie saw the preview');
      const named = await openTab(o, naming, `${FIRST}?dpl=v2`);
      assert((await releaseOf(named.page)) === 'v1', `?dpl=v2 with x-deployment-id: v2 reached release ${await releaseOf(named.page)}`);
    } finally {
      await Promise.all([holder.close(), plain.close(), naming.close()]);
    }
  });
}

/** Runs the release checks in order (each step builds on the last); every context they open is closed before it returns. */
export async function releaseChecks(o: ReleaseChecksOptions): Promise<void> {
  await checkTwoBuilds(o);
  const context = await o.browser.newContext({ viewport: { width: 1000, height: 700 } });
  context.setDefaultTimeout(15_000);
  try {
    const v1Tab = await checkV1Tab(o, context);
    const v2Tab = await checkRelease(o, context, v1Tab);
    await checkRollback(o, context, v2Tab);
  } finally {
    await context.close();
  }
  await checkCanary(o);
  await checkPreview(o);
}
