/**
 * End-to-end: three real Next.js zones behind the local edge, driven by
 * headless Chromium.
 *
 *   npm run test:e2e
 *
 * Builds the zone apps under test/e2e/zones (npm ci and next build, skipped
 * when already up to date), starts them with `next start` on 3000/3001/3002
 * (the blog as its release v1) and the blog's release v2 on 3003,
 * synthesizes the example stack pointed at them, starts `multizone dev` on
 * 8080 and checks, in Chromium: every page and asset loads with no 4xx/5xx;
 * next/link navigation inside a zone is soft; plain links across zones land
 * on the right app; the dashboard's server action works through the edge;
 * `multizone flags set new-checkout on --local` moves /checkout to the
 * dashboard on the next request; a next/image of the blog (under its
 * assetPrefix) and of home loads from that zone's own optimizer; the zone
 * flag new-nav, at 50%, shows the same state in all three zones for each of
 * 20 fresh contexts (about half on), and `flags set new-nav off --local`
 * turns it off everywhere on the next request; cross-zone prefetch
 * (test/e2e/prefetch.ts); the blog's releases v1 and v2 through
 * `multizone release|rollback --local`: an open v1 tab stays on v1, new tabs
 * follow the current release, a 50% canary is sticky, a preview is seen only
 * with its cookie (test/e2e/releases.ts).
 * Screenshots go to test-artifacts/. Every child process is stopped at
 * the end, pass or fail. The last line is `N passed, N failed`.
 *
 * Environment: CHROMIUM (default /usr/bin/chromium), E2E_EDGE_PORT (8080),
 * E2E_ZONE_PORT (3000: the first of the four zone ports), E2E_TEMPLATE (a
 * template to serve instead of synthesizing the example).
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { Browser, BrowserContext, Page, chromium } from 'playwright-core';
import { rolloutBucket } from '../../lib/flags';
import { ZONES_DIR, buildEnv, buildZones, runLogged } from './build-zones';
import { prefetchChecks } from './prefetch';
import { releaseChecks } from './releases';
import { badResponses, recordTraffic } from './traffic';

const ROOT = path.resolve(__dirname, '..', '..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const CLI = path.join(ROOT, 'packages', 'multizone-cli', 'bin', 'multizone.js');
const EDGE_PORT = Number(process.env.E2E_EDGE_PORT ?? 8080);
const EDGE = `http://localhost:${EDGE_PORT}`;
const ZONE_PORT = Number(process.env.E2E_ZONE_PORT ?? 3000);
/** A running build of a zone app; a deployment id makes it a release. */
interface ZoneServer {
  readonly name: string;
  readonly port: number;
  readonly deploymentId?: string;
}
/** The zones behind the template's origins: the blog's is its release v1, the template's `releases.deploymentId`. */
const ZONES: readonly ZoneServer[] = [
  { name: 'home', port: ZONE_PORT },
  { name: 'blog', port: ZONE_PORT + 1, deploymentId: 'v1' },
  { name: 'dashboard', port: ZONE_PORT + 2 },
];
/** The blog's release v2: another build, in no template, reached through `multizone release`. */
const BLOG_V2: ZoneServer = { name: 'blog', port: ZONE_PORT + 3, deploymentId: 'v2' };
const zoneUrl = (z: ZoneServer) => `http://localhost:${z.port}`;
const BLOG = ZONES.find((z) => z.name === 'blog')!;

const started = Date.now();
const children: ChildProcess[] = [];
const results: Array<{ name: string; ok: boolean; detail?: string }> = [];

function log(line: string): void {
  process.stdout.write(`[e2e ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}\n`);
}

/** Where a started process's output goes. */
const logFile = (name: string) => path.join(ARTIFACTS, `${name}.log`);

/** Starts a long-running process in its own process group, output to a log file. */
function start(name: string, cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): ChildProcess {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const out = fs.openSync(logFile(name), 'w');
  const child = spawn(cmd, args, { cwd, detached: true, stdio: ['ignore', out, out], env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...env } });
  fs.closeSync(out);
  children.push(child);
  return child;
}

/** Stops every child's whole process group: SIGTERM, then SIGKILL for what is left. */
async function stopAll(): Promise<void> {
  const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;
  for (const c of children) if (alive(c) && c.pid) signalGroup(c.pid, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (children.some(alive) && Date.now() < deadline) await sleep(100);
  for (const c of children) if (c.pid) signalGroup(c.pid, 'SIGKILL');
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, () => s.close(() => resolve(true)));
  });
}

/**
 * Polls a URL until it answers (any status), or fails after `ms`, naming
 * the server (`name`, its log in test-artifacts/) and quoting the end of its log.
 */
async function waitForHttp(name: string, url: string, child: ChildProcess, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  const failure = (what: string) => {
    const tail = fs.existsSync(logFile(name)) ? fs.readFileSync(logFile(name), 'utf8').trim().split('\n').slice(-8).join('\n    ') : '';
    return new Error(`${name} did not start: ${what}; the end of ${path.relative(ROOT, logFile(name))}:\n    ${tail || '(empty)'}`);
  };
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw failure(`it exited with code ${child.exitCode} before ${url} answered`);
    try {
      await fetch(url, { redirect: 'manual' });
      return;
    } catch {
      await sleep(200);
    }
  }
  throw failure(`${url} gave no answer within ${ms / 1000} s`);
}

/** The outcome of one check. */
async function check(name: string, body: () => Promise<void>): Promise<void> {
  const t = Date.now();
  try {
    await body();
    results.push({ name, ok: true });
    log(`PASS ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    const detail = (e as Error).message.split('\n').slice(0, 12).join('\n    ');
    results.push({ name, ok: false, detail });
    log(`FAIL ${name}\n    ${detail}`);
  }
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

async function zoneOf(page: Page): Promise<string | null> {
  return page.locator('main[data-zone]').first().getAttribute('data-zone', { timeout: 10_000 });
}

/** The release (deployment id) of the build that rendered the page; the blog's pages name it. */
async function releaseOf(page: Page): Promise<string | null> {
  return page.locator('main[data-release]').first().getAttribute('data-release', { timeout: 10_000 });
}

/** Runs the CLI as a user would (`npx multizone ...`), returning its stdout. */
function cli(args: string[]): string {
  const r = spawnSync('npx', ['--no-install', 'multizone', ...args], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npx multizone ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return r.stdout;
}

/** The pages, one per zone, that render the `new-nav` marker the zone reads through multizone-flags. */
const NEW_NAV_PAGES = ['/', '/blog', '/dashboard'] as const;

/** The `new-nav` state a page renders (`#zone-flag-new-nav[data-state]`), after a hard navigation to `path`. */
async function newNavState(page: Page, path: string): Promise<string | null> {
  const doc = await page.goto(`${EDGE}${path}`, { waitUntil: 'load' });
  assert(doc?.status() === 200, `${path}: document status ${doc?.status()}`);
  return page.locator('#zone-flag-new-nav').getAttribute('data-state', { timeout: 10_000 });
}

/**
 * Flags in unison: at 50%, each of 20 fresh browser contexts (all from one
 * IP, so only the visitor cookie tells them apart) sees the same new-nav
 * state in home, blog and dashboard across hard navigations, and about half
 * see it on. Returns a context that saw it on, left open for the next step.
 */
async function checkZoneFlagsInUnison(browser: Browser, template: string, flagsFile: string): Promise<BrowserContext | undefined> {
  let kept: BrowserContext | undefined;
  await check('zone flag new-nav at 50%: 20 fresh contexts each see one state in home, blog and dashboard; about half see it on', async () => {
    cli(['flags', 'set', 'new-nav', '50%', '--local', '--flags-file', flagsFile, '--template', template]);
    const states: string[] = [];
    for (let i = 0; i < 20; i++) {
      const context = await browser.newContext();
      context.setDefaultTimeout(15_000);
      let keep = false;
      try {
        const page = await context.newPage();
        const seen: string[] = [];
        // home -> blog -> dashboard -> home: a hard navigation each, the first one without any cookie.
        for (const p of [...NEW_NAV_PAGES, NEW_NAV_PAGES[0]]) seen.push(`${p}=${await newNavState(page, p)}`);
        const cookie = (await context.cookies(EDGE)).find((c) => c.name === 'mz-vid');
        assert(cookie, `context ${i}: no mz-vid cookie after ${seen.length} pages`);
        assert(cookie.httpOnly && cookie.secure && cookie.sameSite === 'Lax', `context ${i}: mz-vid is not HttpOnly; Secure; SameSite=Lax: ${JSON.stringify(cookie)}`);
        const distinct = [...new Set(seen.map((s) => s.split('=')[1]))];
        assert(distinct.length === 1 && (distinct[0] === 'on' || distinct[0] === 'off'), `context ${i} (mz-vid ${cookie.value}) saw: ${seen.join(', ')}`);
        const bucket = rolloutBucket('new-nav', cookie.value);
        assert(distinct[0] === (bucket < 50 ? 'on' : 'off'), `context ${i}: new-nav ${distinct[0]}, but its mz-vid ${cookie.value} is in bucket ${bucket} of 50%`);
        states.push(distinct[0]);
        if (distinct[0] === 'on' && !kept) keep = true;
      } finally {
        if (keep) kept = context;
        else await context.close();
      }
    }
    const on = states.filter((s) => s === 'on').length;
    log(`  new-nav at 50%: ${on} of ${states.length} contexts on`);
    // Binomial(20, 0.5): outside 3..17 with probability about 0.03%.
    assert(on >= 3 && on <= 17, `${on} of 20 contexts saw new-nav on; expected 3 to 17 at 50%`);
  });
  return kept;
}

/** `flags set new-nav off --local`: the very next request in every zone reads it off, for a viewer that had it on; a spoofed header changes nothing. */
async function checkZoneFlagOffEverywhere(browser: Browser, template: string, flagsFile: string, onContext: BrowserContext | undefined): Promise<void> {
  await check('flags set new-nav off --local: a viewer who had it on sees it off in every zone on the next request; a spoofed header is ignored', async () => {
    assert(onContext, 'no context saw new-nav on in the previous step');
    const page = await onContext.newPage();
    for (const p of NEW_NAV_PAGES) assert((await newNavState(page, p)) === 'on', `before: ${p} is not on`);
    cli(['flags', 'set', 'new-nav', 'off', '--local', '--flags-file', flagsFile, '--template', template]);
    for (const p of NEW_NAV_PAGES) {
      const state = await newNavState(page, p);
      assert(state === 'off', `after "off": ${p} renders new-nav ${state}`);
    }
    const spoofing = await browser.newContext({ extraHTTPHeaders: { 'x-multizone-flags': 'new-nav=on' } });
    try {
      const spoofed = await spoofing.newPage();
      for (const p of NEW_NAV_PAGES) assert((await newNavState(spoofed, p)) === 'off', `${p}: the viewer's own x-multizone-flags reached the zone`);
    } finally {
      await spoofing.close();
    }
  });
  await onContext?.close();
}

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'multizone-e2e-'));
  const flagsFile = path.join(work, 'flags.json');
  let browser: Browser | undefined;
  try {
    const servers = [...ZONES, BLOG_V2];
    for (const port of [...servers.map((z) => z.port), EDGE_PORT]) {
      assert(await portFree(port), `port ${port} is in use: stop whatever listens there (the e2e needs ${servers.map((z) => z.port).join(', ')} and ${EDGE_PORT})`);
    }
    const builds = servers.map((z) => ({ zone: z.name, deploymentId: z.deploymentId }));
    buildZones(builds, log);

    // The example stack, pointed at the local zones: the origins in the template are what the edge proxies to.
    let template = process.env.E2E_TEMPLATE;
    if (template) {
      log(`using E2E_TEMPLATE=${template} (not synthesizing)`);
    } else {
      const assembly = path.join(work, 'cdk.out');
      runLogged(log, 'npx', ['cdk', 'synth', '--quiet', '-o', assembly], ROOT, {
        HOME_ORIGIN: zoneUrl(ZONES[0]),
        BLOG_ORIGIN: zoneUrl(BLOG),
        DASHBOARD_ORIGIN: zoneUrl(ZONES[2]),
      });
      template = path.join(assembly, 'MultiZoneExample.template.json');
    }

    log('starting the zones (next start) and the local edge');
    const zoneProcs = servers.map((z, i) => {
      const name = z === BLOG_V2 ? `zone-${z.name}-${z.deploymentId}` : `zone-${z.name}`;
      return { z, name, child: start(name, 'npx', ['next', 'start', '-p', String(z.port)], path.join(ZONES_DIR, z.name), buildEnv(builds[i])) };
    });
    const edge = start('local-edge', process.execPath, [CLI, 'dev', '--template', template, '--port', String(EDGE_PORT), '--flags-file', flagsFile], ROOT);
    await Promise.all([...zoneProcs.map(({ z, name, child }) => waitForHttp(name, `${zoneUrl(z)}/`, child)), waitForHttp('local-edge', `${EDGE}/`, edge)]);
    log('zones and edge are up');

    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    context.setDefaultTimeout(15_000);
    fs.mkdirSync(ARTIFACTS, { recursive: true });

    // 1. Every page and every asset it loads, with no 4xx/5xx, from the right zone (the blog's from its release v1).
    const pages: Array<{ path: string; zone: string; title: string; release?: string; screenshot?: string }> = [
      { path: '/', zone: 'home', title: 'Home | home | /', screenshot: 'zone-home.png' },
      { path: '/about', zone: 'home', title: 'About | home | /about' },
      { path: '/checkout', zone: 'home', title: 'Checkout | home | /checkout' },
      { path: '/blog', zone: 'blog', title: 'Blog | blog | /blog', release: 'v1' },
      { path: '/blog/post-1', zone: 'blog', title: 'Post 1 | blog | /blog/post-1', release: 'v1', screenshot: 'zone-blog.png' },
      { path: '/blog/post-2', zone: 'blog', title: 'Post 2 | blog | /blog/post-2', release: 'v1' },
      { path: '/blog/notes/first', zone: 'blog', title: 'First note | blog | /blog/notes/first', release: 'v1' },
      { path: '/dashboard', zone: 'dashboard', title: 'Dashboard | dashboard | /dashboard' },
      { path: '/dashboard/settings', zone: 'dashboard', title: 'Settings | dashboard | /dashboard/settings', screenshot: 'zone-dashboard.png' },
    ];
    for (const p of pages) {
      await check(`${p.path}: the ${p.zone} zone's page and all its assets load with no 4xx/5xx`, async () => {
        const page = await context.newPage();
        const traffic = recordTraffic(page);
        try {
          const doc = await page.goto(`${EDGE}${p.path}`, { waitUntil: 'networkidle' });
          assert(doc?.status() === 200, `document status ${doc?.status()}`);
          assert((await zoneOf(page)) === p.zone, `main[data-zone] is ${await zoneOf(page)}, expected ${p.zone}`);
          assert((await page.title()) === p.title, `title "${await page.title()}", expected "${p.title}"`);
          if (p.release) assert((await releaseOf(page)) === p.release, `main[data-release] is ${await releaseOf(page)}, expected ${p.release}`);
          const bad = badResponses(traffic.responses);
          assert(bad.length === 0, `failed responses:\n${bad.join('\n')}`);
          assert(traffic.failures.length === 0, `failed requests:\n${traffic.failures.join('\n')}`);
          const assets = traffic.responses.filter((r) => new URL(r.url()).pathname.includes('/_next/static/'));
          assert(assets.length > 0, 'no /_next/static asset was loaded');
          for (const a of assets) {
            const route = (await a.headerValue('x-multizone-route')) ?? '';
            assert(route.startsWith(`zone=${p.zone};`), `${new URL(a.url()).pathname} served by "${route}", expected zone ${p.zone}`);
          }
          if (p.screenshot) await page.screenshot({ path: path.join(ARTIFACTS, p.screenshot), fullPage: true });
        } finally {
          await page.close();
        }
      });
    }

    // 1b. next/image: each zone's own optimizer, through its image behavior, with the query string and Accept reaching it.
    const images: Array<{ page: string; img: string; zone: string; path: string }> = [
      { page: '/blog', img: '#blog-cover', zone: 'blog', path: '/blog-static/_next/image' },
      { page: '/about', img: '#home-logo', zone: 'home', path: '/_next/image' },
    ];
    for (const im of images) {
      await check(`${im.page}: next/image loads from ${im.path} (the ${im.zone} zone's optimizer) through the edge`, async () => {
        const page = await context.newPage();
        const traffic = recordTraffic(page);
        try {
          await page.goto(`${EDGE}${im.page}`, { waitUntil: 'networkidle' });
          const loaded = await page
            .waitForFunction((sel) => {
              const el = document.querySelector(sel) as any;
              return el && el.complete && el.naturalWidth > 0 ? { width: el.naturalWidth as number, src: el.currentSrc as string } : false;
            }, im.img)
            .then((h) => h.jsonValue())
            .catch(() => undefined);
          assert(loaded, `${im.img} did not load (naturalWidth 0); image responses: ${traffic.responses.filter((r) => r.url().includes('/_next/image')).map((r) => `${r.status()} ${r.url()}`).join(', ') || 'none'}`);
          const src = new URL(loaded.src);
          assert(src.pathname === im.path && src.searchParams.has('url') && src.searchParams.has('w') && src.searchParams.has('q'), `currentSrc is ${loaded.src}, expected ${im.path}?url=&w=&q=`);
          const response = traffic.responses.find((r) => r.url() === loaded.src);
          assert(response, `no response seen for ${loaded.src}`);
          assert(response.status() === 200, `${loaded.src} answered ${response.status()}`);
          const route = (await response.headerValue('x-multizone-route')) ?? '';
          assert(route.startsWith(`zone=${im.zone}; behavior=${im.path}`), `${src.pathname} served by "${route}", expected zone ${im.zone} on behavior ${im.path}`);
          // Chromium accepts WebP; Next.js answers it only when Accept reached the zone (else the PNG as stored).
          const type = await response.headerValue('content-type');
          assert(type === 'image/webp', `content-type ${type}, expected image/webp (Accept did not reach the optimizer?)`);
          const bad = badResponses(traffic.responses);
          assert(bad.length === 0, `failed responses:\n${bad.join('\n')}`);
          log(`  ${im.img}: naturalWidth ${loaded.width}, ${type}, from ${src.pathname}${src.search}`);
        } finally {
          await page.close();
        }
      });
    }

    // 2. next/link inside a zone: a soft navigation (the window survives).
    const soft: Array<{ from: string; click: string; to: string; zone: string; title: string; fetches?: RegExp }> = [
      { from: '/', click: '#link-about', to: '/about', zone: 'home', title: 'About | home | /about', fetches: /^\/about\?_rsc=/ },
      { from: '/blog', click: '#link-post-1', to: '/blog/post-1', zone: 'blog', title: 'Post 1 | blog | /blog/post-1', fetches: /^\/_next\/data\/[^/]+\/blog\/post-1\.json/ },
      { from: '/blog/post-1', click: '#link-blog', to: '/blog', zone: 'blog', title: 'Blog | blog | /blog' },
      { from: '/blog/notes/first', click: '#link-note-second', to: '/blog/notes/second', zone: 'blog', title: 'Second note | blog | /blog/notes/second', fetches: /^\/blog\/notes\/second\?_rsc=/ },
      { from: '/dashboard', click: '#link-settings', to: '/dashboard/settings', zone: 'dashboard', title: 'Settings | dashboard | /dashboard/settings', fetches: /^\/dashboard\/settings\?_rsc=/ },
    ];
    for (const s of soft) {
      await check(`${s.from} -> ${s.to} (next/link, ${s.zone}): soft navigation`, async () => {
        const page = await context.newPage();
        const traffic = recordTraffic(page);
        try {
          await page.goto(`${EDGE}${s.from}`, { waitUntil: 'networkidle' });
          await page.evaluate(() => ((window as any).__marker = 'kept'));
          await page.click(s.click);
          await page.waitForURL(`${EDGE}${s.to}`);
          await page.waitForFunction((t) => document.title === t, s.title);
          assert((await page.evaluate(() => (window as any).__marker)) === 'kept', 'window.__marker is gone: the document was reloaded (hard navigation)');
          assert((await zoneOf(page)) === s.zone, `landed on zone ${await zoneOf(page)}`);
          if (s.fetches) {
            const fetched = traffic.responses.filter((r) => s.fetches!.test(new URL(r.url()).pathname + new URL(r.url()).search));
            assert(fetched.length > 0, `no request matching ${s.fetches} went through the edge`);
            const bad = fetched.filter((r) => r.status() !== 200);
            assert(bad.length === 0, `${bad.map((r) => `${r.status()} ${r.url()}`).join(', ')}`);
          }
          const bad = badResponses(traffic.responses);
          assert(bad.length === 0, `failed responses:\n${bad.join('\n')}`);
        } finally {
          await page.close();
        }
      });
    }

    // 3. Plain <a> across zones: a hard navigation that lands on the right app.
    const hard: Array<{ from: string; click: string; to: string; zone: string }> = [
      { from: '/', click: '#link-blog', to: '/blog', zone: 'blog' },
      { from: '/', click: '#link-dashboard', to: '/dashboard', zone: 'dashboard' },
      { from: '/blog/post-1', click: '#link-home', to: '/', zone: 'home' },
      { from: '/dashboard/settings', click: '#link-home', to: '/', zone: 'home' },
    ];
    for (const h of hard) {
      await check(`${h.from} -> ${h.to} (plain link across zones): hard navigation to ${h.zone}`, async () => {
        const page = await context.newPage();
        const traffic = recordTraffic(page);
        try {
          await page.goto(`${EDGE}${h.from}`, { waitUntil: 'networkidle' });
          await page.evaluate(() => ((window as any).__marker = 'kept'));
          await Promise.all([page.waitForURL(`${EDGE}${h.to}`, { waitUntil: 'load' }), page.click(h.click)]);
          await page.waitForLoadState('networkidle');
          assert((await zoneOf(page)) === h.zone, `landed on zone ${await zoneOf(page)}, expected ${h.zone}`);
          assert((await page.evaluate(() => (window as any).__marker)) === undefined, 'window.__marker survived: not a document load');
          const bad = badResponses(traffic.responses);
          assert(bad.length === 0, `failed responses:\n${bad.join('\n')}`);
        } finally {
          await page.close();
        }
      });
    }

    // 4. Server actions through the edge (Origin vs x-forwarded-host): the dashboard's, and the blog's, which names its release.
    const actions: Array<{ path: string; zone: string; form: string; expected: string; screenshot?: string }> = [
      { path: '/dashboard/settings', zone: 'dashboard', form: 'echo', expected: 'echo: through the edge', screenshot: 'server-action.png' },
      { path: '/blog/notes/first', zone: 'blog', form: 'release', expected: 'through the edge: ran on release v1' },
    ];
    for (const a of actions) {
      await check(`${a.path}: the ${a.zone} zone's server action succeeds through the edge`, async () => {
        const page = await context.newPage();
        const traffic = recordTraffic(page);
        try {
          await page.goto(`${EDGE}${a.path}`, { waitUntil: 'networkidle' });
          await page.fill(`#${a.form}-input`, 'through the edge');
          const [action] = await Promise.all([
            page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === a.path),
            page.click(`#${a.form}-submit`),
          ]);
          assert(action.status() === 200, `server action answered ${action.status()}`);
          assert((await action.headerValue('x-multizone-route'))?.startsWith(`zone=${a.zone};`), `the action was not served by the ${a.zone} zone`);
          await page.waitForFunction(([sel, text]) => document.querySelector(sel)?.textContent === text, [`#${a.form}-result`, a.expected]);
          const bad = badResponses(traffic.responses);
          assert(bad.length === 0, `failed responses:\n${bad.join('\n')}`);
          if (a.screenshot) await page.screenshot({ path: path.join(ARTIFACTS, a.screenshot), fullPage: true });
        } finally {
          await page.close();
        }
      });
    }

    // 5. A flag moves /checkout to the dashboard on the next request, no restart.
    await check('flags set new-checkout on --local: /checkout moves from home to dashboard on the next request', async () => {
      const page = await context.newPage();
      try {
        await page.goto(`${EDGE}/checkout`, { waitUntil: 'networkidle' });
        assert((await zoneOf(page)) === 'home', `before: zone ${await zoneOf(page)}`);
        cli(['flags', 'set', 'new-checkout', 'on', '--local', '--flags-file', flagsFile]);
        const traffic = recordTraffic(page);
        await page.goto(`${EDGE}/checkout`, { waitUntil: 'networkidle' });
        assert((await zoneOf(page)) === 'dashboard', `after "on": zone ${await zoneOf(page)}`);
        assert((await page.title()) === 'Checkout | dashboard | /checkout', `title "${await page.title()}"`);
        const bad = badResponses(traffic.responses);
        assert(bad.length === 0, `failed responses (the dashboard's assets must load on /checkout):\n${bad.join('\n')}`);
        await page.screenshot({ path: path.join(ARTIFACTS, 'checkout-flag-on.png'), fullPage: true });
        cli(['flags', 'set', 'new-checkout', 'off', '--local', '--flags-file', flagsFile]);
        await page.goto(`${EDGE}/checkout`, { waitUntil: 'networkidle' });
        assert((await zoneOf(page)) === 'home', `after "off": zone ${await zoneOf(page)}`);
      } finally {
        await page.close();
      }
    });

    // 5b. Flags in unison: the edge decides new-nav per viewer, every zone renders the same decision.
    await checkZoneFlagOffEverywhere(browser, template, flagsFile, await checkZoneFlagsInUnison(browser, template, flagsFile));
    // 5b. Cross-zone prefetch, with the zones 150 ms away (test/e2e/prefetch.ts).
    const zoneUrls = Object.fromEntries(ZONES.map((z) => [z.name, zoneUrl(z)]));
    await prefetchChecks({ browser, template, zones: zoneUrls, flagsFile, check, log });

    // 5c. The blog's releases: skew protection, rollback, a canary and a preview (test/e2e/releases.ts).
    await releaseChecks({ browser, edge: EDGE, v1: zoneUrl(BLOG), v2: zoneUrl(BLOG_V2), local: ['--local', '--flags-file', flagsFile, '--template', template], check, log, cli });

    // 6. A zone that is down: a 502 page naming it, and the edge keeps serving the others.
    await check('a stopped zone answers 502 naming it; the other zones keep working', async () => {
      const blog = zoneProcs.find((p) => p.z === BLOG)!.child;
      signalGroup(blog.pid!, 'SIGTERM');
      const deadline = Date.now() + 10_000;
      while (blog.exitCode === null && blog.signalCode === null && Date.now() < deadline) await sleep(100);
      const down = await fetch(`${EDGE}/blog/post-1`);
      const body = await down.text();
      assert(down.status === 502, `status ${down.status}`);
      assert(body.includes('blog') && body.includes(zoneUrl(BLOG)), `the page does not name the zone and URL:\n${body.slice(0, 300)}`);
      const home = await fetch(`${EDGE}/`);
      assert(home.status === 200, `home answered ${home.status} after the blog went down`);
    });
  } catch (e) {
    results.push({ name: 'setup', ok: false, detail: (e as Error).message });
    log(`FAIL setup: ${(e as Error).message}`);
  } finally {
    await browser?.close().catch(() => undefined);
    await stopAll();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    log(`${signal}: stopping the children`);
    void stopAll().finally(() => process.exit(130));
  });
}

main()
  .catch(async (e) => {
    results.push({ name: 'run', ok: false, detail: (e as Error).message });
    await stopAll();
  })
  .then(() => {
    if (interrupted) return;
    const passed = results.filter((r) => r.ok).length;
    const failed = results.length - passed;
    log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots and logs in ${path.relative(ROOT, ARTIFACTS)}/`);
    for (const r of results.filter((x) => !x.ok)) process.stdout.write(`  failed: ${r.name}\n`);
    process.stdout.write(`${passed} passed, ${failed} failed\n`);
    process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
  });
