/**
 * The generated viewer-request function, run by a second engine: Debian's
 * `njs`, the closest free stand-in for CloudFront's (it refuses
 * destructuring, spread, classes... as CloudFront does; it lacks
 * `replaceAll` and has `process`, which CloudFront does not: the mock
 * module below removes `process`).
 *
 * The function's source is taken verbatim from a synthesized template,
 * with its store entries (routing table and initial flags), and run under
 * `njs -t module -s -u` (module mode for its `import`, sandbox: no file
 * system, safe: no Function constructor) against a mock `cloudfront`
 * module. Every case must choose the same origin, and leave the same
 * headers, as the Node sandbox (FunctionSandbox / SynthesizedSite.serve).
 *
 * Without `njs` on the PATH the suite is skipped, except in CI (`CI` set),
 * where it fails: install it with `apt-get install -y njs`.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FunctionSandbox, SynthesizedSite, ViewerRequestEvent, ViewerResponseEvent, setCookieHeaders, viewerRequestEvent, viewerResponseEvent } from 'multizone-cli';
import { PREVIEW_COOKIE, PREVIEW_SECRET_KEY, previewEntry } from '../lib/preview';
import { flagIsOnFor, rolloutBucket } from '../lib/flags';
import { VIEWER_AUTHORIZATION_HEADER } from '../lib/edge-function/router-source';
import { VISITOR_COOKIE, ZONE_FLAGS_HEADER } from '../lib/zone-flags';
import { ReleaseRecord, addRelease, encodeRecord, initialRecord, releasePreviewEntry } from '../lib/releases/record';
import { origin, seedZones, synth } from './support/sites';

function njsVersion(): string | undefined {
  const r = spawnSync('njs', ['-v'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

const NJS = njsVersion();
const NJS_FLAGS = ['-t', 'module', '-s', '-u'];

/** The mock `cloudfront` module (an njs ES module; njs resolves `import ... from 'cloudfront'` to this file name under `-p`). */
const CLOUDFRONT_MODULE = `
// CloudFront Functions have no process object; njs has one.
delete globalThis.process;
var BASE = __BASE__;
var current = BASE;
var selected = [];
var updated = [];
var swallowed = [];
var caseName = '';
function has(key) { return Object.prototype.hasOwnProperty.call(current, key); }
function kvs() {
  return {
    get: function (key, options) {
      if (typeof key !== 'string' || !has(key)) return Promise.reject(new Error('KVS key not found: ' + key));
      var format = options && options.format ? options.format : 'string';
      var value = current[key];
      if (format === 'json') {
        try { return Promise.resolve(JSON.parse(value)); } catch (e) { return Promise.reject(e); }
      }
      if (format === 'bytes') return Promise.resolve(new TextEncoder().encode(value));
      return Promise.resolve(value);
    },
    exists: function (key) { return Promise.resolve(has(key)); },
    meta: function () { return Promise.resolve({ creationDateTime: '', lastUpdatedDateTime: '', keyCount: Object.keys(current).length }); }
  };
}
function selectRequestOriginById(id) { selected.push(id); }
// Recorded as given (a copy), in call order; the Node sandbox checks them as CloudFront does.
function updateRequestOrigin(params) { updated.push(JSON.parse(JSON.stringify(params))); }
// Test hooks, not part of CloudFront's module.
function __case(name, overlay) {
  caseName = name;
  selected = [];
  updated = [];
  current = Object.assign({}, BASE);
  Object.keys(overlay).forEach(function (k) {
    if (overlay[k] === null) delete current[k];
    else current[k] = overlay[k];
  });
}
function __take() { var s = selected; selected = []; return s; }
function __takeUpdated() { var u = updated; updated = []; return u; }
function __swallow(e) { swallowed.push({ case: caseName, error: String(e), stack: e && e.stack ? String(e.stack) : '' }); }
function __swallowed() { return swallowed; }
export default { kvs: kvs, selectRequestOriginById: selectRequestOriginById, updateRequestOrigin: updateRequestOrigin, __case: __case, __take: __take, __takeUpdated: __takeUpdated, __swallow: __swallow, __swallowed: __swallowed };
`;

/** Runs every case through the verbatim function and through a copy whose empty catch blocks report what they swallow. */
const DRIVER = `
import handler from 'router.js';
import diagnosticHandler from 'router-diagnostic.js';
import cf from 'cloudfront';
var CASES = __CASES__;
var results = [];
function runOne(h, c) {
  cf.__case(c.name, c.overlay);
  var event = JSON.parse(JSON.stringify(c.event));
  // The handler may be sync (no routing) or async.
  return Promise.resolve().then(function () { return h(event); }).then(
    function (returned) { return { selected: cf.__take(), updated: cf.__takeUpdated(), returned: returned }; },
    function (e) { cf.__take(); cf.__takeUpdated(); return { thrown: String(e) + (e && e.stack ? '\\n' + e.stack : '') }; }
  );
}
function step(i) {
  if (i >= CASES.length) {
    // njs's console.log cuts lines at about 2 KB: the report goes out in 1000-character pieces.
    var report = JSON.stringify({ results: results, swallowed: cf.__swallowed() });
    for (var k = 0; k < report.length; k += 1000) console.log('R ' + report.slice(k, k + 1000));
    console.log('END');
    return;
  }
  var c = CASES[i];
  var out = { name: c.name };
  return runOne(handler, c)
    .then(function (r) { out.verbatim = r; return runOne(diagnosticHandler, c); })
    .then(function (r) { out.diagnostic = r; results.push(out); return step(i + 1); });
}
step(0);
`;

interface NjsCase {
  readonly name: string;
  readonly uri: string;
  /** Store changes: flag values, `null` to delete a key. */
  readonly overlay: Record<string, string | null>;
  readonly ip?: string;
  readonly cookies?: Record<string, string>;
  readonly headers?: Record<string, string>;
  readonly querystring?: Record<string, string>;
  /** The zone the request must end up in. */
  readonly zone: string;
  /** The request id of the event (both engines get the same); by default one named for the case. */
  readonly requestId?: string;
  /** Run as the viewer-response event of the request (a 200 without cookies), for viewer-response functions. */
  readonly response?: boolean;
}

interface EngineOutcome {
  readonly selected?: string[];
  /** The params of each `cf.updateRequestOrigin` call, in order. */
  readonly updated?: Array<Record<string, unknown>>;
  readonly returned?: ViewerRequestEvent['request'];
  readonly thrown?: string;
}

interface NjsReport {
  readonly results: Array<{ name: string; verbatim: EngineOutcome; diagnostic: EngineOutcome }>;
  readonly swallowed: Array<{ case: string; error: string; stack: string }>;
}

const FEATURE_PAGES = 40;

/** A viewer's Authorization, and its own copies of every header the edge sets. */
const SPOOFED_WITH_AUTHORIZATION = {
  authorization: 'Basic dXNlcjpwdw==',
  [VIEWER_AUTHORIZATION_HEADER]: 'Basic Zm9yZ2Vk',
  [ZONE_FLAGS_HEADER]: 'forged=on',
  'x-multizone-zone': 'blog',
};

/**
 * A site that sends nearly everything through the function: overrides of
 * every kind, a bucket split into deeper buckets, a bucket chunked over
 * several values, the wildcard bucket, assets past the behavior quota.
 */
function overrideSite(): SynthesizedSite {
  const { stack } = synth({
    zones: [...seedZones(), { name: 'shop', origin: origin('shop'), assetPrefix: '/shop-static' }],
    overrides: [
      { flag: 'new-checkout', pathPatterns: ['/checkout', '/checkout/*'], zone: 'shop', preview: true },
      { flag: 'blog-beta', pathPatterns: ['/news/*'], zone: 'blog' },
      { flag: 'promo', pathPatterns: ['/promo*'], zone: 'dashboard' },
      { flag: 'ghost', pathPatterns: ['/ghost/*'], zone: 'dashboard' },
      { flag: 'bulk', pathPatterns: Array.from({ length: FEATURE_PAGES }, (_, i) => `/feature/page-${i}/*`), zone: 'shop' },
      { flag: 'feeds', pathPatterns: Array.from({ length: FEATURE_PAGES }, (_, i) => `/feature/*-${i}.xml`), zone: 'blog' },
    ],
    flags: { 'new-checkout': 'on', 'blog-beta': '50%', promo: 'on', ghost: 'on', bulk: 'on', feeds: 'on' },
    bucketCookie: 'sid',
    maxCacheBehaviors: 6,
  });
  return SynthesizedSite.fromStack(stack);
}

/** A viewer key whose rollout bucket for `flag` is inside (or outside) `percent`. */
function viewerKey(flag: string, inside: boolean, percent: number, make: (i: number) => string): string {
  for (let i = 1; i < 10000; i++) {
    const key = make(i);
    if (rolloutBucket(flag, key) < percent === inside) return key;
  }
  throw new Error(`no viewer key ${inside ? 'inside' : 'outside'} ${percent}% of ${flag}`);
}

function cases(site: SynthesizedSite): NjsCase[] {
  const ipIn = viewerKey('blog-beta', true, 50, (i) => `198.51.100.${i}`);
  const ipOut = viewerKey('blog-beta', false, 50, (i) => `198.51.100.${i}`);
  const ipOut2 = viewerKey('blog-beta', false, 50, (i) => `203.0.113.${i}`);
  const ipIn2 = viewerKey('blog-beta', true, 50, (i) => `203.0.113.${i}`);
  const sidIn = viewerKey('blog-beta', true, 50, (i) => `session-${i}`);
  const tableKeys = Object.keys(site.storeEntries).filter((k) => k.startsWith('mz-site:'));
  const secret = 'c'.repeat(64);
  const expiry = Math.floor(Date.now() / 1000) + 3600;
  const preview = (flag: string, value: 'on' | 'off', key = secret) => ({ [PREVIEW_COOKIE]: previewEntry(flag, value, expiry, key) });
  const withSecret = (flags: Record<string, string>) => ({ ...flags, [PREVIEW_SECRET_KEY]: secret });
  return [
    { name: 'preview cookie on, flag off', uri: '/checkout/pay', overlay: withSecret({ 'new-checkout': 'off' }), cookies: preview('new-checkout', 'on'), zone: 'shop' },
    { name: 'preview cookie off, flag on', uri: '/checkout', overlay: withSecret({}), cookies: preview('new-checkout', 'off'), zone: 'home' },
    {
      name: 'preview cookie with two entries',
      uri: '/checkout',
      overlay: withSecret({ 'new-checkout': 'off' }),
      cookies: { [PREVIEW_COOKIE]: `${preview('promo', 'on')[PREVIEW_COOKIE]},${preview('new-checkout', 'on')[PREVIEW_COOKIE]}` },
      zone: 'shop',
    },
    { name: 'preview cookie, other secret', uri: '/checkout', overlay: withSecret({ 'new-checkout': 'off' }), cookies: preview('new-checkout', 'on', 'd'.repeat(64)), zone: 'home' },
    { name: 'preview cookie, no secret in the store', uri: '/checkout', overlay: { 'new-checkout': 'off' }, cookies: preview('new-checkout', 'on'), zone: 'home' },
    { name: 'preview cookie, flag not previewable', uri: '/promo-summer', overlay: withSecret({ promo: 'off' }), cookies: preview('promo', 'on'), zone: 'home' },
    { name: 'preview cookie, garbage', uri: '/checkout', overlay: withSecret({ 'new-checkout': 'off' }), cookies: { [PREVIEW_COOKIE]: 'new-checkout.on.1.x,,%2C.' }, zone: 'home' },
    { name: 'preview cookie, asset path', uri: '/shop-static/_next/static/css/a.css', overlay: withSecret({}), cookies: preview('new-checkout', 'off'), zone: 'shop' },
    { name: 'flag on', uri: '/checkout', overlay: {}, zone: 'shop' },
    { name: 'flag on, below the pattern', uri: '/checkout/pay', overlay: {}, zone: 'shop' },
    { name: 'flag off', uri: '/checkout/pay', overlay: { 'new-checkout': 'off' }, zone: 'home' },
    { name: 'flag 0%', uri: '/checkout/pay', overlay: { 'new-checkout': '0%' }, zone: 'home' },
    { name: 'flag 100%', uri: '/checkout/pay', overlay: { 'new-checkout': '100%' }, zone: 'shop' },
    { name: `50%, IP ${ipIn} inside`, uri: '/news/a', overlay: {}, ip: ipIn, zone: 'blog' },
    { name: `50%, IP ${ipOut} outside`, uri: '/news/a', overlay: {}, ip: ipOut, zone: 'home' },
    { name: `50%, IP ${ipIn2} inside`, uri: '/news/b/c', overlay: {}, ip: ipIn2, zone: 'blog' },
    { name: `50%, IP ${ipOut2} outside`, uri: '/news/b/c', overlay: {}, ip: ipOut2, zone: 'home' },
    { name: '50%, bucket cookie inside, IP outside', uri: '/news/a', overlay: {}, ip: ipOut, cookies: { sid: sidIn }, zone: 'blog' },
    { name: 'missing flag key', uri: '/ghost/x', overlay: { ghost: null }, zone: 'home' },
    { name: 'garbage flag value "yes"', uri: '/checkout/pay', overlay: { 'new-checkout': 'yes' }, zone: 'home' },
    { name: 'garbage flag value "150%"', uri: '/checkout', overlay: { 'new-checkout': '150%' }, zone: 'home' },
    { name: 'garbage flag value "ON"', uri: '/checkout', overlay: { 'new-checkout': 'ON' }, zone: 'home' },
    { name: 'garbage flag value ""', uri: '/checkout', overlay: { 'new-checkout': '' }, zone: 'home' },
    { name: 'wildcard-bucket override', uri: '/promo-summer', overlay: {}, zone: 'dashboard' },
    { name: 'wildcard-bucket override, off', uri: '/promotion/x', overlay: { promo: 'off' }, zone: 'home' },
    { name: 'deeper bucket, last pattern', uri: `/feature/page-${FEATURE_PAGES - 1}/x`, overlay: {}, zone: 'shop' },
    { name: 'deeper bucket, flag off', uri: '/feature/page-0/x', overlay: { bulk: 'off' }, zone: 'home' },
    { name: 'chunked bucket, last pattern', uri: `/feature/summer-${FEATURE_PAGES - 1}.xml`, overlay: {}, zone: 'blog' },
    { name: 'chunked bucket, flag off', uri: '/feature/summer-0.xml', overlay: { feeds: 'off' }, zone: 'home' },
    { name: 'asset path of a zone, flags on', uri: '/blog-static/_next/static/chunks/a.js', overlay: {}, zone: 'blog' },
    { name: 'asset path of the default zone', uri: '/_next/static/chunks/main.js', overlay: {}, zone: 'home' },
    { name: 'asset path of an override-only zone', uri: '/shop-static/_next/static/css/a.css', overlay: {}, zone: 'shop' },
    { name: 'zone page', uri: '/dashboard/settings', overlay: {}, zone: 'dashboard' },
    { name: 'zone page, exact', uri: '/blog', overlay: {}, zone: 'blog' },
    { name: 'unrelated path', uri: '/about', overlay: {}, zone: 'home' },
    { name: 'unrelated path, prefix of a zone', uri: '/blogger', overlay: {}, zone: 'home' },
    { name: 'root', uri: '/', overlay: {}, zone: 'home' },
    { name: 'Authorization copied, edge headers spoofed', uri: '/checkout', overlay: {}, headers: SPOOFED_WITH_AUTHORIZATION, zone: 'shop' },
    { name: 'routing table unreachable', uri: '/checkout', overlay: Object.fromEntries(tableKeys.map((k) => [k, null])), zone: '(no selection)' },
  ];
}

function eventFor(c: NjsCase): ViewerRequestEvent | ViewerResponseEvent {
  const request = viewerRequestEvent(c.uri, { ip: c.ip, cookies: c.cookies, headers: c.headers, querystring: c.querystring, host: 'www.example.com', requestId: c.requestId ?? `njs-${c.name}` });
  return c.response ? viewerResponseEvent(request) : request;
}

/** The same source, with its empty catch blocks reporting what they swallow (the handler's catch-all hides runtime errors). */
function withReportingCatches(code: string): string {
  return code.replace(/catch \((\w+)\) \{\s*\}/g, 'catch ($1) { cf.__swallow($1); }');
}

function runNjs(code: string, store: Record<string, string>, all: NjsCase[]): { report: NjsReport; stderr: string; status: number | null } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-njs-'));
  try {
    fs.writeFileSync(path.join(dir, 'cloudfront'), CLOUDFRONT_MODULE.replace('__BASE__', () => JSON.stringify(store)));
    // The function file is the template's code, byte for byte, plus an export so the driver can call it.
    fs.writeFileSync(path.join(dir, 'router.js'), `${code}\nexport default handler;\n`);
    fs.writeFileSync(path.join(dir, 'router-diagnostic.js'), `${withReportingCatches(code)}\nexport default handler;\n`);
    const payload = all.map((c) => ({ name: c.name, overlay: c.overlay, event: eventFor(c) }));
    fs.writeFileSync(path.join(dir, 'driver.js'), DRIVER.replace('__CASES__', () => JSON.stringify(payload)));
    const r = spawnSync('njs', [...NJS_FLAGS, '-p', dir, path.join(dir, 'driver.js')], { encoding: 'utf8', timeout: 30_000 });
    const lines = r.stdout.split('\n');
    let report: NjsReport;
    try {
      if (!lines.includes('END')) throw new Error('no end marker');
      report = JSON.parse(lines.filter((l) => l.startsWith('R ')).map((l) => l.slice(2)).join(''));
    } catch {
      throw new Error(`njs printed no report (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
    }
    return { report, stderr: r.stderr, status: r.status };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (!NJS) {
  if (process.env.CI) {
    test('njs is installed (CI)', () => {
      throw new Error('njs not found on PATH: CI must install it (apt-get install -y njs) to run the generated function under a second engine');
    });
  } else {
    console.warn('njs is not installed: test/njs.test.ts is skipped (apt-get install -y njs to run the generated function under njs)');
    test.skip('njs is not installed: skipped running the generated function under njs (apt-get install -y njs)', () => undefined);
  }
} else {
  describe(`the generated functions under ${NJS.startsWith('0.') ? `njs ${NJS}` : NJS}`, () => {
    const site = overrideSite();
    const functionIds = [...new Set(site.behaviors.map((b) => b.viewerRequestFunction).filter((id): id is string => id !== undefined))];
    // The router reads the store; any other function (a host forwarder) only prepares headers.
    const routerId = functionIds.find((id) => site.functionCode(id).startsWith("import cf from 'cloudfront';\n"));
    const code = routerId ? site.functionCode(routerId) : '';
    const store = site.storeEntries;
    const all = cases(site);
    const runs = new Map<string, ReturnType<typeof runNjs>>();

    beforeAll(() => {
      for (const id of functionIds) runs.set(id, runNjs(site.functionCode(id), store, all));
    });

    /** What the Node sandbox makes of a case, with the same store as njs. */
    const inNode = (fnCode: string, c: NjsCase) =>
      new FunctionSandbox(fnCode).run(eventFor(c), (key) => {
        if (Object.prototype.hasOwnProperty.call(c.overlay, key)) return c.overlay[key] ?? undefined;
        return store[key];
      });

    test('the site routes with a function, deeper and chunked buckets and overflowed routes', () => {
      expect(routerId).toBeDefined();
      // A bucket chunked over two values (`|1`), and /feature's deeper rows in buckets of their own.
      expect(Object.keys(store).some((k) => /^mz-site:[0-9a-f]{10}:[0-9a-f]{8}:b[0-9]+\|1$/.test(k))).toBe(true);
      expect(Object.keys(store).some((k) => /^mz-site:[0-9a-f]{10}:[0-9a-f]{8}:s:feature#[0-9]+$/.test(k))).toBe(true);
      expect(site.behaviors.length).toBeLessThanOrEqual(6);
    });

    test('njs runs every function of the template without any error, thrown or swallowed', () => {
      for (const id of functionIds) {
        const run = runs.get(id)!;
        expect({ id, stderr: run.stderr, status: run.status }).toEqual({ id, stderr: '', status: 0 });
        expect(run.report.results.filter((r) => r.verbatim.thrown || r.diagnostic.thrown)).toEqual([]);
        expect(run.report.swallowed).toEqual([]);
        expect(run.report.results.map((r) => r.name)).toEqual(all.map((c) => c.name));
      }
    });

    test.each(all.map((c, i) => [c.name, i] as const))('router, %s: njs chooses the same origin as the Node sandbox', async (_name, i) => {
      const c = all[i];
      const njs = runs.get(routerId!)!.report.results[i];
      const node = await inNode(code, c);
      const njsSelected = njs.verbatim.selected ?? [];
      expect(njsSelected.length).toBeLessThanOrEqual(1);
      const zoneOf = (id: string | undefined) => (id === undefined ? '(no selection)' : site.zoneOfOrigin(id));
      expect({ case: c.name, zone: zoneOf(njsSelected[0]) }).toEqual({ case: c.name, zone: c.zone });
      expect(njsSelected[0]).toBe(node.selectedOriginId);
      // The request as each engine returns it: same URI, same headers (zone header, x-forwarded-host).
      expect(njs.verbatim.returned).toEqual(JSON.parse(JSON.stringify(node.result)));
      expect(njs.diagnostic).toEqual(njs.verbatim);

      // And as CloudFront serves it (behavior first, then its function), where the flags can say it.
      const expressible = Object.values(c.overlay).every((v) => v !== null);
      if (expressible) {
        const served = await site.serve(c.uri, { flags: c.overlay as Record<string, string>, ip: c.ip, cookies: c.cookies, host: 'www.example.com' });
        if (served.behavior.viewerRequestFunction === routerId) expect(served.originId).toBe(njsSelected[0] ?? served.behavior.targetOriginId);
        expect(served.zone).toBe(c.zone);
      }
    });
  });

  describe('release routing under njs: the zone release function and the release router of the template', () => {
    // The blog has releases; /shop/* moves to it while its flag is on (the release router there).
    const site = SynthesizedSite.fromStack(
      synth({ zones: seedZones().map((z) => (z.name === 'blog' ? { ...z, releases: { deploymentId: 'v1' } } : z)), overrides: [{ flag: 'shop-on-blog', pathPatterns: ['/shop/*'], zone: 'blog' }], flags: { 'shop-on-blog': 'on' } }).stack,
    );
    const key = site.releases.blog.key;
    const now = Math.floor(Date.now() / 1000);
    const current = addRelease(initialRecord('v1'), { zone: 'blog', id: 'v2', origin: 'https://v2.blog.example.com/app' }, now - 60, 86400);
    const full = addRelease(addRelease(current, { zone: 'blog', id: 'v3', origin: 'https://abc123.lambda-url.eu-west-1.on.aws', canary: 50 }, now, 86400), { zone: 'blog', id: 'pr7', origin: 'https://pr7.example.com:8443', preview: true }, now, 86400);
    const record = (rec: ReleaseRecord | string) => ({ [key]: typeof rec === 'string' ? rec : encodeRecord(rec) });
    const canaryViewer = (inside: boolean) => ({ [VISITOR_COOKIE]: viewerKey('mz-release|blog|v3', inside, 50, (i) => i.toString(16).padStart(32, '0')) });
    const previewCookie = (id: string, secret = full.s!) => ({ 'mz-release': releasePreviewEntry('blog', id, now + 3600, secret) });
    const all: NjsCase[] = [
      { name: 'no record', uri: '/blog/post', overlay: {}, zone: 'blog' },
      { name: 'current release, with an origin path', uri: '/blog/post', overlay: record(current), zone: 'blog' },
      { name: 'pinned template build by x-deployment-id', uri: '/blog/post', overlay: record(current), headers: { 'x-deployment-id': 'v1' }, zone: 'blog' },
      { name: 'pinned template build by ?dpl= on an asset', uri: '/blog-static/_next/static/chunks/a.js', querystring: { dpl: 'v1' }, overlay: record(full), zone: 'blog' },
      { name: 'canary share: inside', uri: '/blog/post', overlay: record(full), cookies: canaryViewer(true), zone: 'blog' },
      { name: 'canary share: outside', uri: '/blog/post', overlay: record(full), cookies: canaryViewer(false), zone: 'blog' },
      { name: 'preview cookie, valid', uri: '/blog/post', overlay: record(full), cookies: previewCookie('pr7'), zone: 'blog' },
      { name: 'preview cookie, other secret', uri: '/blog/post', overlay: record(full), cookies: previewCookie('pr7', 'e'.repeat(64)), zone: 'blog' },
      { name: 'preview id alone', uri: '/blog/post', overlay: record(full), headers: { 'x-deployment-id': 'pr7' }, zone: 'blog' },
      { name: 'hostile id', uri: '/blog/post', overlay: record(full), headers: { 'x-deployment-id': '__proto__' }, zone: 'blog' },
      { name: 'damaged record', uri: '/blog/post', overlay: record('{"v":1,"c":"v2","r":{"v2":7}}'), zone: 'blog' },
      { name: 'image route, Accept reduced', uri: '/blog-static/_next/image', overlay: record(current), headers: { accept: 'image/avif,image/webp,*/*' }, zone: 'blog' },
      { name: 'release router: moved to the blog', uri: '/shop/cart', overlay: record(current), zone: 'blog' },
      { name: 'release router: flag off, the default zone', uri: '/shop/cart', overlay: { ...record(current), 'shop-on-blog': 'off' }, zone: 'home' },
    ];
    const store = site.storeEntries;
    const functionOf = (c: NjsCase) => site.behaviorFor(c.uri).behavior.viewerRequestFunction!;
    let runs: Map<string, ReturnType<typeof runNjs>>;
    beforeAll(() => {
      runs = new Map([...new Set(all.map(functionOf))].map((id) => [id, runNjs(site.functionCode(id), store, all.filter((c) => functionOf(c) === id))]));
    });

    test('the blog runs its zone release function, /shop/* the release router', () => {
      expect([...new Set(all.map(functionOf))].map((id) => id.replace(/[0-9A-F]{8}$/, ''))).toEqual(['SiteZoneReleaseBlog', 'SiteReleaseRouter']);
    });

    test.each(all.map((c) => [c.name, c] as const))('%s: njs chooses the origin Node does, and leaves the same request', async (_name, c) => {
      const id = functionOf(c);
      const run = runs.get(id)!;
      expect({ stderr: run.stderr, status: run.status, swallowed: run.report.swallowed }).toEqual({ stderr: '', status: 0, swallowed: [] });
      const njs = run.report.results.find((r) => r.name === c.name)!.verbatim;
      const node = await new FunctionSandbox(site.functionCode(id)).run(eventFor(c), (k) => (k in c.overlay ? c.overlay[k] ?? undefined : store[k]));
      expect(njs.thrown).toBeUndefined();
      expect((njs.updated ?? []).length > 0 ? Object.assign({}, ...njs.updated!) : undefined).toEqual(node.updatedOrigin);
      expect(njs.selected ?? []).toEqual(node.selectedOriginId === undefined ? [] : [node.selectedOriginId]);
      expect(njs.returned).toEqual(JSON.parse(JSON.stringify(node.result)));
    });

    test('the picks are the ones the rules give', () => {
      const picked = (name: string) => runs.get(functionOf(all.find((c) => c.name === name)!))!.report.results.find((r) => r.name === name)!.verbatim;
      const release = (name: string) => picked(name).returned?.headers['x-multizone-release']?.value;
      expect(all.map((c) => [c.name, release(c.name)])).toEqual([
        ['no record', undefined],
        ['current release, with an origin path', 'v2'],
        ['pinned template build by x-deployment-id', 'v1'],
        ['pinned template build by ?dpl= on an asset', 'v1'],
        ['canary share: inside', 'v3'],
        ['canary share: outside', 'v2'],
        ['preview cookie, valid', 'pr7'],
        ['preview cookie, other secret', expect.stringMatching(/^v[23]$/)],
        ['preview id alone', expect.stringMatching(/^v[23]$/)],
        ['hostile id', expect.stringMatching(/^v[23]$/)],
        ['damaged record', undefined],
        ['image route, Accept reduced', 'v2'],
        ['release router: moved to the blog', 'v2'],
        ['release router: flag off, the default zone', undefined],
      ]);
      expect(picked('current release, with an origin path').updated).toEqual([
        { domainName: 'v2.blog.example.com', customOriginConfig: { port: 443, protocol: 'https', sslProtocols: ['TLSv1.2'] }, originAccessControlConfig: { enabled: false }, originPath: '/app' },
      ]);
      expect(picked('canary share: inside').updated![0].originAccessControlConfig).toEqual({ enabled: true, signingBehavior: 'always', signingProtocol: 'sigv4', originType: 'lambda' });
      expect(picked('preview cookie, valid').updated![0].customOriginConfig).toEqual({ port: 8443, protocol: 'https', sslProtocols: ['TLSv1.2'] });
      expect(picked('image route, Accept reduced').returned!.headers.accept).toEqual({ value: 'image/avif,image/webp' });
    });
  });

  describe('the router under njs', () => {
    test('copies Authorization and writes the zone header over the viewer\'s copies', () => {
      const site = overrideSite();
      const c = cases(site);
      const i = c.findIndex((x) => x.name === 'Authorization copied, edge headers spoofed');
      const routerId = site.behaviorFor('/checkout').behavior.viewerRequestFunction!;
      const headers = runNjs(site.functionCode(routerId), site.storeEntries, [c[i]]).report.results[0].verbatim.returned!.headers;
      expect(headers[VIEWER_AUTHORIZATION_HEADER]).toEqual({ value: SPOOFED_WITH_AUTHORIZATION.authorization });
      expect(headers['x-multizone-zone']).toEqual({ value: 'shop' });
    });
  });

  describe('a site without overrides', () => {
    const site = SynthesizedSite.fromStack(synth().stack);
    const functionIds = [...new Set(site.behaviors.map((b) => b.viewerRequestFunction).filter((id): id is string => id !== undefined))];
    const plain: NjsCase[] = [
      ...['/', '/about', '/blog/post', '/dashboard', '/checkout'].map((uri) => ({ name: uri, uri, overlay: {}, zone: '(no selection)' })),
      // The next/image Accept reducer's cases: a header to reduce, one with no image format, one with weights.
      ...[
        'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8',
        'image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5',
        'image/webp;q=0.9, IMAGE/AVIF ;q=0.5',
      ].map((accept) => ({ name: `/_next/image, Accept ${accept}`, uri: '/_next/image', overlay: {}, headers: { accept }, zone: '(no selection)' })),
      { name: '/blog/post, Authorization and spoofed edge headers', uri: '/blog/post', overlay: {}, headers: SPOOFED_WITH_AUTHORIZATION, zone: '(no selection)' },
    ];

    test('has functions that read no store: the host forwarder, the next/image Accept reducer and the Speculation Rules answer', () => {
      expect(functionIds).toHaveLength(3);
    });

    test('the host forwarder under njs: the edge\'s headers only as the edge writes them, Authorization copied', () => {
      const id = site.behaviorFor('/blog/post').behavior.viewerRequestFunction!;
      const run = runNjs(site.functionCode(id), site.storeEntries, plain);
      const headers = run.report.results[plain.length - 1].verbatim.returned!.headers;
      expect(headers[VIEWER_AUTHORIZATION_HEADER]).toEqual({ value: SPOOFED_WITH_AUTHORIZATION.authorization });
      expect(headers[ZONE_FLAGS_HEADER]).toBeUndefined();
      expect(headers['x-multizone-zone']).toBeUndefined();
    });

    test.each(functionIds)('%s: njs leaves the same request as Node, without error or origin choice', async (id) => {
      const fnCode = site.functionCode(id);
      const run = runNjs(fnCode, site.storeEntries, plain);
      expect({ stderr: run.stderr, status: run.status, swallowed: run.report.swallowed }).toEqual({ stderr: '', status: 0, swallowed: [] });
      for (let i = 0; i < plain.length; i++) {
        const node = await new FunctionSandbox(fnCode).run(eventFor(plain[i]), (key) => site.storeEntries[key]);
        const njs = run.report.results[i];
        expect(njs.verbatim.thrown).toBeUndefined();
        expect(njs.verbatim.selected ?? []).toEqual(node.selectedOriginId === undefined ? [] : [node.selectedOriginId]);
        expect(njs.verbatim.returned).toEqual(JSON.parse(JSON.stringify(node.result)));
      }
    });
  });

  describe('zone flags and the visitor cookie', () => {
    const site = SynthesizedSite.fromStack(
      synth({
        zones: [...seedZones(), { name: 'shop', origin: origin('shop'), assetPrefix: '/shop-static' }],
        overrides: [{ flag: 'new-checkout', pathPatterns: ['/checkout', '/checkout/*'], zone: 'shop' }],
        flags: { 'new-checkout': '50%', 'new-nav': '20%', beta: 'on', legacy: 'off' },
        zoneFlags: ['new-nav', 'new-checkout', 'beta', 'legacy'],
      }).stack,
    );
    const store = site.storeEntries;
    const idOf = (i: number) => i.toString(16).padStart(32, '0');
    const idIn = (flag: string, percent: number, inside: boolean) => viewerKey(flag, inside, percent, idOf);
    const expected = (id: string, values: Record<string, string | null> = {}) => {
      const value = (f: string) => (f in values ? (values[f] ?? undefined) : store[f]);
      return ['beta', 'legacy', 'new-checkout', 'new-nav'].map((f) => `${f}=${flagIsOnFor(f, value(f), id) ? 'on' : 'off'}`).join(',');
    };
    const vid = (id: string) => ({ [VISITOR_COOKIE]: id });
    const requestCases = (uri: string, zone: (id: string, values?: Record<string, string | null>) => string): Array<NjsCase & { header: string }> => {
      const inNav = idIn('new-nav', 20, true);
      const outNav = idIn('new-nav', 20, false);
      const inCheckout = idIn('new-checkout', 50, true);
      const outCheckout = idIn('new-checkout', 50, false);
      const all: Array<[string, string, Record<string, string | null>, Record<string, string>?]> = [
        ['store values, viewer inside new-nav', inNav, {}],
        ['store values, viewer outside new-nav', outNav, {}],
        ['viewer inside new-checkout', inCheckout, {}],
        ['viewer outside new-checkout', outCheckout, {}],
        ['on and off flipped', inNav, { beta: 'off', legacy: 'on' }],
        ['missing values', inNav, { beta: null, 'new-nav': null }],
        ['garbage values', inNav, { beta: 'yes', legacy: '150%', 'new-nav': 'ON', 'new-checkout': '' }],
        ['spoofed header', outNav, {}, { [ZONE_FLAGS_HEADER]: 'beta=off,new-nav=on' }],
      ];
      return all.map(([name, id, overlay, headers]) => ({
        name: `${uri}: ${name}`,
        uri,
        overlay,
        cookies: vid(id),
        headers,
        zone: zone(id, overlay),
        header: expected(id, overlay),
      }));
    };
    const routed = requestCases('/checkout/pay', (id, values = {}) => (flagIsOnFor('new-checkout', 'new-checkout' in values ? (values['new-checkout'] ?? undefined) : store['new-checkout'], id) ? 'shop' : 'home'));
    const decided = requestCases('/blog/post', () => '(no selection)');
    const functionOf = (uri: string) => site.behaviorFor(uri).behavior;

    test.each([
      ['router', '/checkout/pay', routed],
      ['zone-flag decider', '/blog/post', decided],
    ] as const)('%s: njs forwards the same decisions as Node, the ones the viewer\'s bucket gives', async (_role, uri, all) => {
      const code = site.functionCode(functionOf(uri).viewerRequestFunction!);
      const run = runNjs(code, store, all);
      expect({ stderr: run.stderr, status: run.status, swallowed: run.report.swallowed }).toEqual({ stderr: '', status: 0, swallowed: [] });
      for (let i = 0; i < all.length; i++) {
        const c = all[i];
        const njs = run.report.results[i].verbatim;
        const node = await new FunctionSandbox(code).run(eventFor(c), (key) => (Object.prototype.hasOwnProperty.call(c.overlay, key) ? (c.overlay[key] ?? undefined) : store[key]));
        expect({ case: c.name, header: njs.returned?.headers[ZONE_FLAGS_HEADER]?.value }).toEqual({ case: c.name, header: c.header });
        expect(njs.returned).toEqual(JSON.parse(JSON.stringify(node.result)));
        const zoneOf = (id: string | undefined) => (id === undefined ? '(no selection)' : site.zoneOfOrigin(id));
        expect({ case: c.name, zone: zoneOf((njs.selected ?? [])[0]) }).toEqual({ case: c.name, zone: c.zone });
      }
    });

    test('a new visitor: njs decides with the id the viewer-response function sets, once', async () => {
      const requestIds = Array.from({ length: 12 }, (_, i) => `new-visitor-request-${i}`);
      const firstRequests: NjsCase[] = requestIds.map((requestId) => ({ name: `first request ${requestId}`, uri: '/blog/post', overlay: {}, zone: '(no selection)', requestId }));
      const responses: NjsCase[] = [
        ...requestIds.map((requestId) => ({ name: `response ${requestId}`, uri: '/blog/post', overlay: {}, zone: '(no selection)', requestId, response: true })),
        { name: 'response, valid cookie', uri: '/blog/post', overlay: {}, zone: '(no selection)', cookies: vid(idOf(5)), response: true },
        { name: 'response, foreign cookie', uri: '/blog/post', overlay: {}, zone: '(no selection)', cookies: vid('not-ours'), response: true },
      ];
      const decider = runNjs(site.functionCode(functionOf('/blog/post').viewerRequestFunction!), store, firstRequests);
      const cookieCode = site.functionCode(functionOf('/blog/post').viewerResponseFunction!);
      const cookie = runNjs(cookieCode, store, responses);
      for (const run of [decider, cookie]) expect({ stderr: run.stderr, status: run.status, swallowed: run.report.swallowed }).toEqual({ stderr: '', status: 0, swallowed: [] });
      const seen = new Set<string>();
      for (let i = 0; i < requestIds.length; i++) {
        const set = setCookieHeaders(cookie.report.results[i].verbatim.returned as any);
        expect(set).toHaveLength(1);
        const id = /^mz-vid=([0-9a-f]{32}); Secure; HttpOnly; SameSite=Lax; Path=\/; Max-Age=34560000$/.exec(set[0])![1];
        expect(decider.report.results[i].verbatim.returned?.headers[ZONE_FLAGS_HEADER]?.value).toBe(expected(id));
        seen.add(id);
        const node = await new FunctionSandbox(cookieCode).run(eventFor(responses[i]));
        expect(cookie.report.results[i].verbatim.returned).toEqual(JSON.parse(JSON.stringify(node.result)));
      }
      // Every new visitor got an id of its own.
      expect(seen.size).toBe(requestIds.length);
      // A valid cookie is re-sent unchanged (its lifetime starts again); a foreign one is replaced.
      expect(setCookieHeaders(cookie.report.results[requestIds.length].verbatim.returned as any)).toEqual([`${VISITOR_COOKIE}=${idOf(5)}; Secure; HttpOnly; SameSite=Lax; Path=/; Max-Age=34560000`]);
      const replaced = setCookieHeaders(cookie.report.results[requestIds.length + 1].verbatim.returned as any);
      expect(replaced).toEqual([expect.stringMatching(/^mz-vid=[0-9a-f]{32}; /)]);
      for (const i of [requestIds.length, requestIds.length + 1]) {
        const node = await new FunctionSandbox(cookieCode).run(eventFor(responses[i]));
        expect(cookie.report.results[i].verbatim.returned).toEqual(JSON.parse(JSON.stringify(node.result)));
      }
    });
  });
}
