/**
 * Edge function benchmark: `npm run bench:function`.
 *
 * Synth: times building a MultiZoneDistribution (planning, table encoding)
 * and synthesizing its template, with 1, 1000, 3000 and 5000 overrides,
 * after one warm-up synth (module loading is not the construct's cost).
 *
 * Per request: synthesizes a site with 1, 10, 100 and 1000 overrides
 * (distinct first segments `/feature-<i>/*`, five zones), reads the router
 * function's code and the store entries back from each template
 * (SynthesizedSite), and times the generated function on a fixed request
 * mix in a lean vm harness: the code is compiled and instantiated once,
 * `kvs.get` resolves from the in-memory store (parsing JSON values as the
 * runtime does) and counts its reads. Beside them, interleaved round by
 * round so machine noise hits all alike: a plain linear-scan router over
 * the same 1000 routes; 1000 overrides under one shared first segment;
 * the worst case the construct accepts (the largest table of wildcard-first
 * patterns `*.x<i>`, all copied into the one bucket each request reads);
 * and a MODEL of SST's Router function, written by us from its documented
 * behavior (one read of the route list, chunked past 1 KB, a longest-prefix
 * scan, then one read of the matched route's metadata), over the same
 * routes. The project's FunctionSandbox (which re-instantiates the code on
 * every request) is timed too, for reference; and, when Debian's `njs` is
 * installed (an interpreter like CloudFront's engine, without a JIT), the
 * same code runs there as well (mean time per request, and memory
 * allocated per request: njs never frees memory within a run, so growth
 * divided by requests is what one invocation allocates, harness included).
 *
 * Zone flags: page requests with 0 (today's host forwarder and router), 1
 * and 10 zone flags, on untouched pages (the zone-flag decider) and on a
 * page a flag can move (the router), timed in the same interleaved rounds,
 * with their store reads.
 *
 * Zone releases: the blog zone's requests on a site without releases and
 * on one where the blog has them, its release record (current, canary at
 * 25%, three pinned, a preview; made with the record module's own steps)
 * in the store under the key the site metadata names: its pages for each
 * kind of viewer (no deployment id, the current id, a pinned id, an
 * unknown or hostile id, canary viewers, a preview cookie holder), a page
 * an override moves to it (router vs release router), its assets (no
 * function vs its release function) and images (image Accept vs its
 * release function). Every request is first checked to go to the release
 * it should (header, origin passed to updateRequestOrigin, zone); then
 * timed in their own interleaved rounds and under njs, with their store
 * reads (table + flags + release records). Bounds: at most one more read
 * a request on the zone with releases, the same function and reads on
 * other zones, the plain router's size unchanged, release functions
 * within 10 KB.
 *
 * Targets are reported as PASS/FAIL; the process does not fail on them.
 * Bounded to a few minutes (MEASURE_MS of interleaved rounds, twice, and njs).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import { FunctionSandbox, SynthesizedSite, ViewerRequestEvent, viewerRequestEvent } from 'multizone-cli';
import { MAX_FUNCTION_CODE_BYTES } from '../lib/edge-function/generate';
import { MAX_TABLE_READS, encodeRoutingTable } from '../lib/edge-function/kvs-table';
import { METADATA_KEY } from '../lib/metadata-key';
import { NewRelease, RELEASE_HEADER, RELEASE_PREVIEW_COOKIE, ReleaseRecord, addRelease, encodeRecord, initialRecord, releasePreviewEntry } from '../lib/releases/record';
import { SiteMetadata } from '../lib/site-metadata';
import { DEFAULT_SKEW_PROTECTION_MAX_AGE } from '../lib/zone-releases';
import { MultiZoneDistribution, MultiZoneValidationError, ZoneDefinition } from '../lib';
import { RoutingTable, buildRoutingTable } from '../lib/routing-plan';
import { cloudfrontModule, compileFunction, requireRuntimeModule } from '../packages/multizone-cli/src/edge-function/sandbox';

const OVERRIDE_COUNTS = [1, 10, 100, 1000];
const SYNTH_COUNTS = [1, 1000, 3000, 5000];
const ZONES = ['blog', 'dashboard', 'shop', 'docs'];
const MIX_SIZE = 200;
const WARMUP_ROUNDS = 30;
const MEASURE_MS = Number(process.env.BENCH_MEASURE_MS ?? 12_000);
const MAX_ROUNDS = 2000;
// The router's code without previewable flags or zone flags: 4 KB of routing, and about 1 KB of shared flag decisions (zone flags, the visitor id).
const MAX_CODE_BYTES = 5120;
const ZONE_FLAG_COUNTS = [1, 10];
/** What every zone release record key holds (releaseKeyPrefix): its reads are counted apart from the table's. */
const RELEASE_KEY_MARK = ':@release:';

/** One request of the mix: the event, and the flag values the store holds while it runs. */
export interface MixRequest {
  readonly kind: string;
  readonly event: ViewerRequestEvent;
  readonly flags: Record<string, string>;
  /** On the release rows: the releases the edge may send the request to ('' for none), and the zone a router must pick. */
  readonly expect?: { readonly releases: readonly string[]; readonly zone?: string };
}

/** A handler bound to a store, the origin it selected last, and the store reads it made. */
export interface Harness {
  run(req: MixRequest): Promise<unknown>;
  lastSelected(): string | undefined;
  /** What the last request passed to `cf.updateRequestOrigin`, if it called it. */
  lastOrigin(): ReleaseOrigin | undefined;
  /** Store reads since the harness was made: table values (or SST's route list and metadata), flags, and release records. */
  reads(): StoreReads;
}

/** Store reads: routing table values, flags, zone release records (`:@release:` keys), and the requests they were made for. */
export interface StoreReads {
  table: number;
  flags: number;
  releases: number;
  requests: number;
}

/** The argument of `cf.updateRequestOrigin`, the parts the release functions set. */
export interface ReleaseOrigin {
  readonly domainName: string;
  readonly originPath?: string;
  readonly customOriginConfig?: { readonly port: number; readonly protocol: string };
  readonly originAccessControlConfig?: { readonly enabled: boolean };
}

// ---------------------------------------------------------------- the sites

/** Override i's pattern: its own first segment (the common case), all under one shared first segment, or wildcard-first. */
type Shape = 'own' | 'shared' | 'wildcard';
const overridePattern = (i: number, shape: Shape) => (shape === 'own' ? `/feature-${i}/*` : shape === 'shared' ? `/features/f-${i}/*` : `*.x${i}`);
/** A page path an override of each shape matches. */
const overridePage = (i: number, k: number, shape: Shape) => (shape === 'own' ? `/feature-${i}/page-${k}` : shape === 'shared' ? `/features/f-${i}/page-${k}` : `/files/page-${k}.x${i}`);

const origin = (zone: string) => new origins.HttpOrigin(`${zone}.example.com`);
const zoneDefinitions = (): ZoneDefinition[] => ZONES.map((name) => ({ name, origin: origin(name), pathPatterns: [`/${name}`, `/${name}/*`], assetPrefix: `/${name}-static` }));
const overrideDefinitions = (overrides: number, shape: Shape) =>
  Array.from({ length: overrides }, (_, i) => ({ flag: `flag-${i}`, pathPatterns: [overridePattern(i, shape)], zone: ZONES[i % ZONES.length] }));

/** Builds the construct, then its template: milliseconds for each. */
export function synthesize(overrides: number, shape: Shape = 'own'): { site: SynthesizedSite; routerCode: string; constructMs: number; templateMs: number } {
  const app = new App();
  const stack = new Stack(app, 'Bench', { env: { account: '123456789012', region: 'us-east-1' } });
  const defs = overrideDefinitions(overrides, shape);
  const t0 = process.hrtime.bigint();
  new MultiZoneDistribution(stack, 'Site', {
    defaultZone: { name: 'home', origin: origin('home') },
    zones: zoneDefinitions(),
    overrides: defs,
    flags: Object.fromEntries(defs.map((d) => [d.flag, 'off'])),
    // Buckets by IP, as the linear-scan baseline does, so both give the same answers; the zone-flag rows keep the visitor cookie.
    visitorCookie: false,
  });
  const t1 = process.hrtime.bigint();
  // Synthesizes the app, then reads the template with its assets.
  const site = SynthesizedSite.fromStack(stack);
  const t2 = process.hrtime.bigint();
  const ids = [...new Set(site.behaviors.map((b) => b.viewerRequestFunction).filter((id): id is string => id !== undefined))];
  const router = ids.map((id) => site.functionCode(id)).find((code) => code.startsWith("import cf from 'cloudfront';\n"));
  if (!router) throw new Error(`no routing function in the template with ${overrides} overrides`);
  return { site, routerCode: router, constructMs: Number(t1 - t0) / 1e6, templateMs: Number(t2 - t1) / 1e6 };
}

/** The most wildcard-first overrides the construct accepts (it refuses past MAX_TABLE_READS reads a request), by bisection on the encoder. */
function largestWildcardTable(): number {
  const accepts = (n: number) => {
    const table = buildRoutingTable({ defaultZone: { name: 'home', origin: origin('home') }, zones: zoneDefinitions(), overrides: overrideDefinitions(n, 'wildcard'), flags: {} });
    try {
      encodeRoutingTable(table, table.zones.map((name) => ({ name, originId: `zone-${name}` })), '0123456789');
      return true;
    } catch (e) {
      if (e instanceof MultiZoneValidationError) return false;
      throw e;
    }
  };
  let lo = 1;
  let hi = 3000;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (accepts(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * A site for the zone-flags rows: one override (`flag-0`, on `/feature-0/*`)
 * and `zoneFlags` zone flags (`flag-0` among them when there are several,
 * so routing and the header share its read), values cycling on, off, 50%.
 * Returns the page functions' code: the host forwarder (no zone flags) or
 * the zone-flag decider, and the router.
 */
export function zoneFlagSite(zoneFlags: number): { pageCode: string; routerCode: string; store: Record<string, string> } {
  const app = new App();
  const stack = new Stack(app, 'Bench', { env: { account: '123456789012', region: 'us-east-1' } });
  const names = Array.from({ length: zoneFlags }, (_, i) => (i === 0 && zoneFlags > 1 ? 'flag-0' : `zone-flag-${i}`));
  const values = ['on', 'off', '50%'];
  new MultiZoneDistribution(stack, 'Site', {
    defaultZone: { name: 'home', origin: origin('home') },
    zones: zoneDefinitions(),
    overrides: overrideDefinitions(1, 'own'),
    flags: { 'flag-0': '50%', ...Object.fromEntries(names.map((f, i) => [f, f === 'flag-0' ? '50%' : values[i % values.length]])) },
    zoneFlags: names,
  });
  const site = SynthesizedSite.fromStack(stack);
  const code = (uri: string) => site.functionCode(site.behaviorFor(uri).behavior.viewerRequestFunction!);
  return { pageCode: code('/blog/post'), routerCode: code('/feature-0/page'), store: site.storeEntries };
}

/** Page requests of new and returning viewers (a visitor id cookie on half): untouched pages, or pages `flag-0` can move. */
export function pageMix(moved: boolean): MixRequest[] {
  const rnd = prng(7);
  const hex = () => Array.from({ length: 32 }, () => Math.floor(rnd() * 16).toString(16)).join('');
  return Array.from({ length: MIX_SIZE }, (_, n) => {
    const k = Math.floor(rnd() * 1000);
    const uri = moved ? `/feature-0/page-${k}` : ['/', `/blog/post-${k}`, `/dashboard/settings`, `/pricing/${k}`][n % 4];
    const cookies: Record<string, string> = rnd() < 0.5 ? { 'mz-vid': hex() } : {};
    return { kind: moved ? 'moved page' : 'page', event: viewerRequestEvent(uri, { ip: `198.51.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`, cookies, requestId: hex() }), flags: {} };
  });
}

// ---------------------------------------------------------------- the request mix

/** Deterministic PRNG (mulberry32), so every run and every count draws the same mix shape. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 30% override paths with their flag on, 20% off, 10% at 50%, 20% asset paths, 20% unrelated paths. */
export function requestMix(overrides: number, shape: Shape = 'own'): MixRequest[] {
  const rnd = prng(42);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const ip = () => `198.51.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`;
  const mix: MixRequest[] = [];
  for (let n = 0; n < MIX_SIZE; n++) {
    const r = rnd();
    const i = Math.floor(rnd() * overrides);
    const k = Math.floor(rnd() * 1000);
    const add = (kind: string, uri: string, flags: Record<string, string> = {}) => mix.push({ kind, event: viewerRequestEvent(uri, { ip: ip() }), flags });
    const page = overridePage(i, k, shape);
    if (r < 0.3) add('override, flag on', page, { [`flag-${i}`]: 'on' });
    else if (r < 0.5) add('override, flag off', page, { [`flag-${i}`]: 'off' });
    else if (r < 0.6) add('override, flag 50%', page, { [`flag-${i}`]: '50%' });
    else if (r < 0.8) add('asset', pick([`/_next/static/chunks/main-${k}.js`, ...ZONES.map((z) => `/${z}-static/_next/static/chunks/${k}.js`)]));
    else add('unrelated', pick(['/', `/about`, `/pricing/${k}`, `/blogger`, `/blog/post-${k}`, `/dashboard/settings`, `/shop`, `/docs/guide-${k}`]));
  }
  return mix;
}

// ---------------------------------------------------------------- harnesses

/**
 * The function's own code, compiled and instantiated once in a fresh V8
 * context, with a `cloudfront` module whose store is `store` plus the
 * request's flag values.
 */
export function leanHarness(code: string, store: Record<string, string>, isTable: (key: string) => boolean = (key) => key.startsWith('mz-site:')): Harness {
  let flags: Record<string, string> = {};
  let selected: string | undefined;
  let updated: ReleaseOrigin | undefined;
  const count: StoreReads = { table: 0, flags: 0, releases: 0, requests: 0 };
  const lookup = (key: string) => {
    if (key.includes(RELEASE_KEY_MARK)) count.releases++;
    else if (isTable(key)) count.table++;
    else count.flags++;
    return Object.prototype.hasOwnProperty.call(flags, key) ? flags[key] : store[key];
  };
  const cf = {
    ...cloudfrontModule(lookup, (id) => {
      selected = id;
    }),
    // The SST model picks its origin by domain name; the release functions pass a release's whole origin, kept for the pick check.
    updateRequestOrigin: (o: ReleaseOrigin) => {
      selected = o.domainName;
      updated = o;
    },
  };
  const handler = compileFunction(code)(cf, requireRuntimeModule);
  return {
    run: (req) => {
      flags = req.flags;
      selected = undefined;
      updated = undefined;
      count.requests++;
      return handler(req.event) as Promise<unknown>;
    },
    lastSelected: () => selected,
    lastOrigin: () => updated,
    reads: () => ({ ...count }),
  };
}

/** The project's FunctionSandbox, as SynthesizedSite.serve uses it. */
function sandboxHarness(code: string, store: Record<string, string>): Harness {
  const sandbox = new FunctionSandbox(code);
  let selected: string | undefined;
  return {
    run: async (req) => {
      const outcome = await sandbox.run(req.event, (key) => (Object.prototype.hasOwnProperty.call(req.flags, key) ? req.flags[key] : store[key]));
      selected = outcome.selectedOriginId;
    },
    lastSelected: () => selected,
    lastOrigin: () => undefined,
    reads: () => ({ table: 0, flags: 0, releases: 0, requests: 0 }),
  };
}

/**
 * A MODEL of SST's Router function (sst/sst, platform/src/components/aws/
 * router.ts), written by us from its documented behavior, not its code:
 * routes are path prefixes; the function reads one store value holding the
 * route list (`<ns>:routes`, a JSON list of `type,namespace,host,prefix`
 * strings; past the 1 KB value limit it holds `{"parts": n}` and the list
 * sits in n chunk values, read together), scans every route for the
 * longest matching prefix, then reads the winner's `<ns>:metadata` (its
 * host) and points the request there with updateRequestOrigin. No flags.
 */
export function sstModel(prefixes: Array<[string, string]>): { code: string; store: Record<string, string> } {
  const list = JSON.stringify(prefixes.map(([prefix], i) => `url,r${i},,${prefix}`));
  const store: Record<string, string> = {};
  const chunks = Math.ceil(Buffer.byteLength(list) / 1000);
  if (chunks <= 1) store['sst:routes'] = list;
  else {
    store['sst:routes'] = JSON.stringify({ parts: chunks });
    for (let i = 0; i < chunks; i++) store[`sst:routes:${i}`] = list.slice(i * 1000, (i + 1) * 1000);
  }
  prefixes.forEach(([, host], i) => {
    store[`r${i}:metadata`] = JSON.stringify({ host });
  });
  const code = `import cf from 'cloudfront';
var kvs = cf.kvs();
async function routes() {
  var v, parts, i, pending = [];
  try {
    v = await kvs.get('sst:routes');
    v = JSON.parse(v);
    if (v.parts) {
      for (i = 0; i < v.parts; i++) pending.push(kvs.get('sst:routes:' + i));
      parts = await Promise.all(pending);
      v = JSON.parse(parts.join(''));
    }
  } catch (e) {
    return [];
  }
  return v;
}
async function handler(event) {
  var req = event.request, list = await routes(), best = null, i, f, meta;
  for (i = 0; i < list.length; i++) {
    f = list[i].split(',');
    if (req.uri.indexOf(f[3]) === 0 && (!best || f[3].length > best[3].length)) best = f;
  }
  if (!best) return req;
  try {
    meta = await kvs.get(best[1] + ':metadata');
    meta = JSON.parse(meta);
  } catch (e) {
    return req;
  }
  req.headers['x-forwarded-host'] = req.headers.host;
  cf.updateRequestOrigin({ domainName: meta.host, customOriginConfig: { port: 443, protocol: 'https', sslProtocols: ['TLSv1.2'] }, originAccessControlConfig: { enabled: false } });
  return req;
}
`;
  return { code, store };
}

/** The routes of the benchmark site as path prefixes, for the SST model: zone paths and asset prefixes, and each override's path. */
function sstPrefixes(overrides: number): Array<[string, string]> {
  return [
    ['/', 'home.example.com'],
    ['/_next/static/', 'home.example.com'],
    ...ZONES.flatMap((z): Array<[string, string]> => [
      [`/${z}`, `${z}.example.com`],
      [`/${z}-static/`, `${z}.example.com`],
    ]),
    ...Array.from({ length: overrides }, (_, i): [string, string] => [`/feature-${i}/`, `${ZONES[i % ZONES.length]}.example.com`]),
  ];
}

/**
 * The baseline: a router with every route in its code, scanning all of
 * them with regular expressions on every request (zone routes first match,
 * then each matching override's flag read from the store), with the same
 * semantics as the generated function.
 */
export function linearScanCode(table: RoutingTable, originIds: Record<string, string>): string {
  const glob = (p: string) => `^${p.replace(/[.+^${}()|[\]\\/]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`;
  const zone = (name: string) => table.zones.indexOf(name);
  const routes = table.routes.map((r) => `[/${glob(r.pattern)}/,${zone(r.zone)},${r.kind === 'asset' ? 1 : 0}]`);
  const overrides = table.overrides.map((o) => `[/${glob(o.pattern)}/,${zone(o.zone)},${JSON.stringify(o.flag)}]`);
  const zones = table.zones.map((z) => [z, originIds[z]]);
  return `import cf from 'cloudfront';
var crypto = require('crypto');
var kvs = cf.kvs();
var Z = ${JSON.stringify(zones)};
var R = [${routes.join(',\n')}];
var O = [${overrides.join(',\n')}];
async function flagOn(flag, ip) {
  var v;
  try { v = await kvs.get(flag, { format: 'string' }); } catch (e) { return false; }
  if (v === 'on') return true;
  var m = /^(100|[1-9]?[0-9])%$/.exec(v);
  return m ? parseInt(crypto.createHash('sha1').update(flag + '|' + ip).digest('hex').slice(0, 8), 16) % 100 < +m[1] : false;
}
async function handler(event) {
  var req = event.request, uri = req.uri, ip = event.viewer ? event.viewer.ip : '', z = 0, asset = false, i, on;
  req.headers['x-forwarded-host'] = { value: req.headers.host.value };
  for (i = 0; i < R.length; i++) {
    if (R[i][0].test(uri)) { z = R[i][1]; asset = R[i][2] === 1; break; }
  }
  if (!asset) {
    for (i = 0; i < O.length; i++) {
      if (O[i][0].test(uri)) {
        on = await flagOn(O[i][2], ip);
        if (on) { z = O[i][1]; break; }
      }
    }
  }
  cf.selectRequestOriginById(Z[z][1]);
  req.headers['x-multizone-zone'] = { value: Z[z][0] };
  return req;
}
`;
}

// ---------------------------------------------------------------- njs (optional)

const NJS_CLOUDFRONT = `
var STORE = __STORE__;
var flags = {};
function has(o, k) { return Object.prototype.hasOwnProperty.call(o, k); }
export default {
  kvs: function () {
    return {
      get: function (key, options) {
        var v = has(flags, key) ? flags[key] : has(STORE, key) ? STORE[key] : undefined;
        if (v === undefined) return Promise.reject(new Error('KVS key not found: ' + key));
        return Promise.resolve(options && options.format === 'json' ? JSON.parse(v) : v);
      }
    };
  },
  selectRequestOriginById: function (id) {},
  updateRequestOrigin: function (o) {},
  __flags: function (f) { flags = f; }
};
`;

const NJS_DRIVER = `
import handler from 'router.js';
import cf from 'cloudfront';
var MIX = __MIX__;
// njs frees nothing until the process ends: stop at a request count, a time budget or a memory cap.
var MAX_REQUESTS = 5000, BUDGET_MS = 1000, MAX_BYTES = 256 * 1024 * 1024, WARMUP = 20;
var done = 0, mem0 = 0, t0 = 0;
function one(i) {
  var r = MIX[i % MIX.length];
  cf.__flags(r.flags);
  return Promise.resolve().then(function () { return handler(r.event); });
}
function warm(i) {
  if (i >= WARMUP) { mem0 = njs.memoryStats.size; t0 = Date.now(); return timed(0); }
  return one(i).then(function () { return warm(i + 1); });
}
function timed(i) {
  // memoryStats walks the heap: read it only every few requests (and once more at the end, untimed).
  var check = i % 10 === 0 || i >= MAX_REQUESTS;
  if (check) {
    var ms = Date.now() - t0;
    if (i >= MAX_REQUESTS || ms >= BUDGET_MS || njs.memoryStats.size - mem0 >= MAX_BYTES) {
      console.log(JSON.stringify({ requests: i, ms: ms, bytes: njs.memoryStats.size - mem0 }));
      return;
    }
  }
  return one(i).then(function () { return timed(i + 1); });
}
warm(0);
`;

const NJS_AVAILABLE = spawnSync('njs', ['-v'], { encoding: 'utf8' }).status === 0;

/** Mean µs and bytes allocated per request of `code` under njs, or undefined without njs. */
export function njsTiming(code: string, store: Record<string, string>, mix: MixRequest[]): { us: number; kb: number; requests: number } | undefined {
  if (!NJS_AVAILABLE) return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-bench-njs-'));
  try {
    fs.writeFileSync(path.join(dir, 'cloudfront'), NJS_CLOUDFRONT.replace('__STORE__', () => JSON.stringify(store)));
    fs.writeFileSync(path.join(dir, 'router.js'), `${code}\nexport default handler;\n`);
    fs.writeFileSync(path.join(dir, 'driver.js'), NJS_DRIVER.replace('__MIX__', () => JSON.stringify(mix.map((r) => ({ event: r.event, flags: r.flags })))));
    const r = spawnSync('njs', ['-t', 'module', '-s', '-u', '-p', dir, path.join(dir, 'driver.js')], { encoding: 'utf8', timeout: 20_000 });
    const last = r.stdout.trim().split('\n').pop() ?? '';
    if (r.status !== 0 || !last.startsWith('{')) throw new Error(`njs failed (exit ${r.status}): ${r.stdout}${r.stderr}`);
    const out = JSON.parse(last) as { requests: number; ms: number; bytes: number };
    return { us: (out.ms * 1000) / out.requests, kb: out.bytes / out.requests / 1024, requests: out.requests };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- measuring

/** Warm-up rounds, then interleaved rounds of every subject's mix until MEASURE_MS (or MAX_ROUNDS) passes; returns the rounds. */
async function measure(subjects: Subject[]): Promise<number> {
  for (let i = 0; i < WARMUP_ROUNDS; i++) for (const s of subjects) await batch(s.harness, s.mix);
  const t0 = Date.now();
  let rounds = 0;
  while (rounds < MAX_ROUNDS && Date.now() - t0 < MEASURE_MS) {
    // Interleaved, in a rotating order: drift and background load hit every subject alike.
    for (let j = 0; j < subjects.length; j++) {
      const s = subjects[(j + rounds) % subjects.length];
      s.samples.push(await batch(s.harness, s.mix));
    }
    rounds++;
  }
  return rounds;
}

type NjsSubject = Pick<Subject, 'code' | 'store' | 'mix'>;
const njsCell = (t: { us: number; kb: number } | undefined) => (t ? `${t.us.toFixed(1)} µs, ${t.kb.toFixed(1)} KB` : 'n/a');
type NjsResult = { us: number; kb: number; requests: number } | undefined;

/** njs time and memory of each subject: three passes over all of them, median per subject, so that a burst of background load skews one pass only. */
function njsMedians(subjects: NjsSubject[]): NjsResult[] {
  const passes = NJS_AVAILABLE ? [0, 1, 2].map(() => subjects.map((s) => njsTiming(s.code, s.store, s.mix)!)) : [];
  return subjects.map((_, i) =>
    NJS_AVAILABLE ? { us: median(passes.map((p) => p[i].us)), kb: median(passes.map((p) => p[i].kb)), requests: median(passes.map((p) => p[i].requests)) } : undefined,
  );
}

export async function batch(h: Harness, mix: MixRequest[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < mix.length; i++) await h.run(mix[i]);
  return Number(process.hrtime.bigint() - t0) / mix.length;
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

interface Subject {
  readonly name: string;
  readonly harness: Harness;
  readonly mix: MixRequest[];
  readonly samples: number[];
  /** Code and store, for njs. */
  readonly code: string;
  readonly store: Record<string, string>;
  readonly bytes: number;
}

const subject = (name: string, code: string, store: Record<string, string>, mix: MixRequest[], isTable?: (key: string) => boolean): Subject => ({
  name,
  harness: leanHarness(code, store, isTable),
  mix,
  samples: [],
  code,
  store,
  bytes: Buffer.byteLength(code),
});

/** Mean store reads per request over one pass of the mix (table values, flags, release records), and the most table values one request read, from a fresh harness. */
async function readsPerRequest(s: Subject, isTable?: (key: string) => boolean): Promise<{ table: number; flags: number; releases: number; max: number }> {
  const each = await readsEach(s.code, s.store, s.mix, isTable);
  const mean = (f: (r: StoreReads) => number) => each.reduce((n, r) => n + f(r), 0) / each.length;
  return { table: mean((r) => r.table), flags: mean((r) => r.flags), releases: mean((r) => r.releases), max: Math.max(...each.map((r) => r.table)) };
}

/** The store reads of each request of the mix, in order, from a fresh harness; none at all where no function runs (`code` undefined). */
async function readsEach(code: string | undefined, store: Record<string, string>, mix: MixRequest[], isTable?: (key: string) => boolean): Promise<StoreReads[]> {
  if (code === undefined) return mix.map(() => ({ table: 0, flags: 0, releases: 0, requests: 1 }));
  const h = leanHarness(code, store, isTable);
  const out: StoreReads[] = [];
  for (const req of mix) {
    const before = h.reads();
    await h.run(req);
    const after = h.reads();
    out.push({ table: after.table - before.table, flags: after.flags - before.flags, releases: after.releases - before.releases, requests: 1 });
  }
  return out;
}

// ---------------------------------------------------------------- releases

/** The zone with releases (flag-0's override moves `/feature-0/*` to it), and one without beside it (flag-1's, `/feature-1/*`). */
const RELEASE_ZONE = ZONES[0];
const OTHER_ZONE = ZONES[1];
/** The deployment id of the build behind the zone's template origin. */
const TEMPLATE_ID = '3f9c2a1';
const CANARY_SHARE = 25;
/** The function kinds by logical id in the template: a row names the function it expects, and the template must agree. */
const FUNCTION_KINDS: Array<[RegExp, string]> = [
  [/^SiteRouter[0-9A-F]{8}$/, 'router'],
  [/^SiteReleaseRouter[0-9A-F]{8}$/, 'release router'],
  [/^SiteZoneRelease[A-Za-z0-9]*[0-9A-F]{8}$/, 'zone release'],
  [/^SiteFlagDecider[0-9A-F]{8}$/, 'zone-flag decider'],
  [/^SiteHostForwarder[0-9A-F]{8}$/, 'host forwarder'],
  [/^SiteImageAccept[0-9A-F]{8}$/, 'image Accept'],
];

/**
 * A realistic record, made with the record module's own steps an hour
 * apart: the template's build, three releases each replacing the last
 * (so three are pinned, the template's build among them), a 25% canary
 * and a preview. Origins: a host per build, one under a path.
 */
export function benchRecord(templateId: string, now: number, maxAge: number): ReleaseRecord {
  const steps: NewRelease[] = [
    { zone: RELEASE_ZONE, id: '8d41e07', origin: 'https://8d41e07.blog.example.com' },
    { zone: RELEASE_ZONE, id: 'c2b95f4', origin: 'https://releases.example.com/blog/c2b95f4' },
    { zone: RELEASE_ZONE, id: 'e71a3d9', origin: 'https://e71a3d9.blog.example.com' },
    { zone: RELEASE_ZONE, id: 'a05f6b2', origin: 'https://a05f6b2.blog.example.com', canary: CANARY_SHARE },
    { zone: RELEASE_ZONE, id: 'pr-1234', origin: 'https://pr-1234.preview.example.com', preview: true },
  ];
  return steps.reduce((rec, step, i) => addRelease(rec, step, now - (steps.length - i) * 3600, maxAge), initialRecord(templateId));
}

/** A synthesized site of the release rows, its store as the edge holds it, and its functions by path. */
export interface ReleaseSite {
  readonly site: SynthesizedSite;
  /** The table and flag values, and the zone's release record under the key the site metadata names. */
  readonly store: Record<string, string>;
  readonly record?: ReleaseRecord;
  /** The code of the viewer-request function at `uri` (undefined where none runs), after checking it is of `kind`. */
  code(uri: string, kind: string): string | undefined;
}

/**
 * The benchmark's zones, with overrides flag-0 (to the zone with releases)
 * and flag-1 (to the other zone), and `zoneFlags` zone flags at 50%; with
 * `record`, the blog zone has releases (its template's build the record's)
 * and the record is in the store, under the key the site metadata names.
 */
export function releaseSite(zoneFlags: number, record?: ReleaseRecord): ReleaseSite {
  const app = new App();
  const stack = new Stack(app, 'Bench', { env: { account: '123456789012', region: 'us-east-1' } });
  const zoneFlagValues = Object.fromEntries(Array.from({ length: zoneFlags }, (_, i) => [`zone-flag-${i}`, '50%']));
  new MultiZoneDistribution(stack, 'Site', {
    defaultZone: { name: 'home', origin: origin('home') },
    zones: zoneDefinitions().map((z) => (record && z.name === RELEASE_ZONE ? { ...z, releases: { deploymentId: record.t } } : z)),
    overrides: overrideDefinitions(2, 'own'),
    flags: { 'flag-0': 'on', 'flag-1': 'on', ...zoneFlagValues },
    ...(zoneFlags ? { zoneFlags: Object.keys(zoneFlagValues) } : {}),
  });
  const site = SynthesizedSite.fromStack(stack);
  const metadata: SiteMetadata = site.resource(site.logicalId)!.Metadata[METADATA_KEY];
  const store = { ...site.storeEntries };
  const meta = metadata.releases?.[RELEASE_ZONE];
  if (record && meta?.deploymentId !== record.t) throw new Error(`the site metadata names no release record of ${RELEASE_ZONE} for template build ${record.t}`);
  if (record) store[meta!.key] = encodeRecord(record);
  const code = (uri: string, kind: string) => {
    const id = site.behaviorFor(uri).behavior.viewerRequestFunction;
    const found = id === undefined ? 'no function' : (FUNCTION_KINDS.find(([re]) => re.test(id))?.[1] ?? id);
    if (found !== kind) throw new Error(`${uri} runs ${found}, not ${kind}, on the site ${record ? 'with' : 'without'} releases`);
    return id === undefined ? undefined : site.functionCode(id);
  };
  return { site, store, record, code };
}

/** The viewers of the release rows. */
const VIEWERS = ['no id', 'current id', 'pinned id', 'unknown id', 'canary', 'preview'] as const;
type Viewers = (typeof VIEWERS)[number];
/** Deployment ids no release has: one well formed, then hostile ones (too long, unicode, a path, an injection, markup). */
const UNKNOWN_IDS = ['0badf00', 'x'.repeat(200), 'e71a3d9\u00e9', '../e71a3d9', "e71a3d9' OR '1'='1", '<script>alert(1)</script>'];

/**
 * What one viewer of a kind sends, and the releases it may get: no id (a
 * first visit); the current id in `x-deployment-id`; a pinned id in
 * `?dpl=`; an unknown or hostile id; a returning or new viewer (half with
 * an `mz-vid` cookie), whom the canary takes in its share; a preview
 * cookie holder.
 */
interface ReleaseViewer {
  readonly options: { headers?: Record<string, string>; querystring?: Record<string, string>; cookies?: Record<string, string> };
  readonly releases: string[];
}

function releaseViewer(kind: Viewers, n: number, rec: ReleaseRecord, now: number, vid: string): ReleaseViewer {
  const canary = rec.k![0];
  const pinned = Object.keys(rec.u ?? {});
  switch (kind) {
    case 'no id':
      return { options: {}, releases: [rec.c, canary] };
    case 'current id':
      return { options: { headers: { 'x-deployment-id': rec.c } }, releases: [rec.c] };
    case 'pinned id':
      return { options: { querystring: { dpl: pinned[n % pinned.length] } }, releases: [pinned[n % pinned.length]] };
    case 'unknown id':
      return { options: { headers: { 'x-deployment-id': UNKNOWN_IDS[n % UNKNOWN_IDS.length] } }, releases: [rec.c, canary] };
    case 'canary':
      return { options: { cookies: n % 2 ? { 'mz-vid': vid } : {} }, releases: [rec.c, canary] };
    case 'preview':
      return { options: { cookies: { [RELEASE_PREVIEW_COOKIE]: releasePreviewEntry(RELEASE_ZONE, rec.p![0], now + 3600, rec.s!) } }, releases: [rec.p![0]] };
  }
}

/** What a request of a release mix asks for: its path, and headers and query parameters of its kind (an image's Accept, its url, w, q). */
interface ReleaseRequestShape {
  readonly uri: (k: number) => string;
  readonly headers?: Record<string, string>;
  readonly querystring?: Record<string, string>;
}

/** MIX_SIZE requests of the given viewers in turn, each expecting the releases its kind may get (of `rec`, the record on the site with releases). */
export function releaseMix(viewers: readonly Viewers[], shape: ReleaseRequestShape, rec: ReleaseRecord, now: number): MixRequest[] {
  const rnd = prng(18);
  const hex = () => Array.from({ length: 32 }, () => Math.floor(rnd() * 16).toString(16)).join('');
  return Array.from({ length: MIX_SIZE }, (_, n) => {
    const kind = viewers[n % viewers.length];
    const v = releaseViewer(kind, Math.floor(n / viewers.length), rec, now, hex());
    const o = v.options;
    const event = viewerRequestEvent(shape.uri(Math.floor(rnd() * 1000)), {
      ip: `198.51.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`,
      requestId: hex(),
      headers: { ...shape.headers, ...o.headers },
      querystring: { ...shape.querystring, ...o.querystring },
      cookies: o.cookies,
    });
    return { kind, event, flags: {}, expect: { releases: v.releases } };
  });
}

/** The mix on a page `flag` can move to `zone`: the flag on for about half of the requests (the zone's releases expected), off for the rest (the default zone, no release). */
function movedMix(mix: MixRequest[], flag: string, zone: string): MixRequest[] {
  const rnd = prng(23);
  return mix.map((r) => (rnd() < 0.5 ? { ...r, flags: { [flag]: 'on' }, expect: { ...r.expect!, zone } } : { ...r, flags: { [flag]: 'off' }, expect: { releases: [''], zone: 'home' } }));
}

/** Whether the function passed the origin of the release URL `url` to updateRequestOrigin, or none for '' (the template origin). */
function sameOrigin(url: string, o: ReleaseOrigin | undefined): boolean {
  if (url === '') return o === undefined;
  const u = new URL(url);
  const protocol = u.protocol.slice(0, -1);
  return (
    o !== undefined &&
    o.domainName === u.hostname &&
    (o.originPath ?? '') === u.pathname.replace(/\/$/, '') &&
    o.customOriginConfig?.protocol === protocol &&
    o.customOriginConfig.port === (u.port ? +u.port : protocol === 'https' ? 443 : 80) &&
    o.originAccessControlConfig?.enabled === false
  );
}

/** The release each request of the mix was sent to ('' for none), each checked against what it expects: the release header, the origin passed for it, the zone. */
async function releasePicks(code: string, store: Record<string, string>, rec: ReleaseRecord, mix: MixRequest[]): Promise<{ picks: string[]; wrong: number }> {
  const h = leanHarness(code, store);
  const picks: string[] = [];
  let wrong = 0;
  for (const req of mix) {
    const out = (await h.run(req)) as ViewerRequestEvent['request'];
    const picked = out.headers[RELEASE_HEADER]?.value ?? '';
    const zone = out.headers['x-multizone-zone']?.value;
    picks.push(picked);
    const ok = req.expect!.releases.includes(picked) && sameOrigin(picked ? rec.r[picked] : '', h.lastOrigin()) && (req.expect!.zone === undefined || zone === req.expect!.zone);
    if (!ok) wrong++;
  }
  return { picks, wrong };
}

/** The canary mix's viewers with a visitor id, asked again with that id (new request id and address): how many got another release. */
async function canaryDrift(code: string, store: Record<string, string>, mix: MixRequest[], picks: string[]): Promise<{ holders: number; moved: number }> {
  const h = leanHarness(code, store);
  let holders = 0;
  let moved = 0;
  for (let i = 0; i < mix.length; i++) {
    const vid = mix[i].event.request.cookies['mz-vid']?.value;
    if (!vid) continue;
    holders++;
    const again = viewerRequestEvent(mix[i].event.request.uri, { ip: '203.0.113.7', cookies: { 'mz-vid': vid }, requestId: `again-${i}` });
    const out = (await h.run({ ...mix[i], event: again })) as ViewerRequestEvent['request'];
    if ((out.headers[RELEASE_HEADER]?.value ?? '') !== picks[i]) moved++;
  }
  return { holders, moved };
}

/** One row of the release table: a request of the zone, and the function that runs it without releases (none: undefined) and with them. */
interface ReleaseRow {
  readonly request: string;
  readonly viewers: string;
  readonly without?: Subject;
  readonly with: Subject;
}

/** The release rows: the zone's pages for each kind of viewer and for all of them with a zone flag, a page an override moves there, its assets and images. */
export function releaseRows(now: number) {
  // One record for both sites with releases, so a preview cookie signed with its secret is valid on both.
  const rec = benchRecord(TEMPLATE_ID, now, DEFAULT_SKEW_PROTECTION_MAX_AGE.toSeconds());
  const [plain, released, plain1, released1] = [releaseSite(0), releaseSite(0, rec), releaseSite(1), releaseSite(1, rec)];
  const mix = (viewers: readonly Viewers[], shape: ReleaseRequestShape) => releaseMix(viewers, shape, rec, now);
  /** The request at `uri` on both sites: checks each runs the function of the kind named, without releases and with them. */
  const row = (request: string, viewers: string, m: MixRequest[], uri: string, kinds: [string, string], [before, after] = [plain, released]): ReleaseRow => {
    const code = [before.code(uri, kinds[0]), after.code(uri, kinds[1])];
    return { request, viewers, without: code[0] === undefined ? undefined : subject(kinds[0], code[0], before.store, m), with: subject(kinds[1], code[1]!, after.store, m) };
  };
  const page = { uri: (k: number) => `/${RELEASE_ZONE}/post-${k}` };
  const asset = { uri: (k: number) => `/${RELEASE_ZONE}-static/_next/static/chunks/${k}.js` };
  const image = { uri: () => `/${RELEASE_ZONE}-static/_next/image`, headers: { accept: 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8' }, querystring: { url: `/${RELEASE_ZONE}-static/cover.png`, w: '640', q: '75' } };
  const all = 'all six in turn';
  const rows: ReleaseRow[] = [
    ...VIEWERS.map((v) => row('zone page', v, mix([v], page), page.uri(0), ['host forwarder', 'zone release'])),
    row('zone page, 1 zone flag', all, mix(VIEWERS, page), page.uri(0), ['zone-flag decider', 'zone release'], [plain1, released1]),
    row('page flag-0 moves to the zone, on for half', all, movedMix(mix(VIEWERS, { uri: (k) => `/feature-0/page-${k}` }), 'flag-0', RELEASE_ZONE), '/feature-0/page', ['router', 'release router']),
    row('zone asset', all, mix(VIEWERS, asset), asset.uri(0), ['no function', 'zone release']),
    row('zone image', all, mix(VIEWERS, image), image.uri(), ['image Accept', 'zone release']),
  ];
  return { rows, plain, released, rec, mix };
}

/**
 * Requests of the zone without releases and of the default zone, with the
 * same viewers: the function each runs on both sites, its size, and the
 * store reads of each request there.
 */
async function otherZoneCosts(plain: ReleaseSite, released: ReleaseSite, mix: (viewers: readonly Viewers[], shape: ReleaseRequestShape) => MixRequest[]) {
  const cases: Array<[string, string, MixRequest[]]> = [
    [`${OTHER_ZONE} page`, 'host forwarder', mix(VIEWERS, { uri: (k) => `/${OTHER_ZONE}/page-${k}` })],
    ['default zone page', 'host forwarder', mix(VIEWERS, { uri: (k) => `/pricing/${k}` })],
    [`page flag-1 moves to ${OTHER_ZONE}`, 'router', movedMix(mix(VIEWERS, { uri: (k) => `/feature-1/page-${k}` }), 'flag-1', OTHER_ZONE)],
    [`${OTHER_ZONE} asset`, 'no function', mix(VIEWERS, { uri: (k) => `/${OTHER_ZONE}-static/_next/static/chunks/${k}.js` })],
    [`${OTHER_ZONE} image`, 'image Accept', mix(VIEWERS, { uri: () => `/${OTHER_ZONE}-static/_next/image`, querystring: { url: '/a.png', w: '640', q: '75' } })],
  ];
  const out = [];
  for (const [request, kind, m] of cases) {
    const uri = m[0].event.request.uri;
    const code = [plain.code(uri, kind), released.code(uri, kind)];
    const reads = [await readsEach(code[0], plain.store, m), await readsEach(code[1], released.store, m)];
    out.push({ request, kind, bytes: code.map((c) => (c === undefined ? 0 : Buffer.byteLength(c))), same: JSON.stringify(reads[0]) === JSON.stringify(reads[1]), reads: reads[1] });
  }
  return out;
}

/** Per request of a release row: the release function's reads against the function's without releases (none where no function ran). */
async function extraReads(r: ReleaseRow): Promise<{ maxRelease: number; otherDiffs: number; awayReads: number }> {
  const before = await readsEach(r.without?.code, r.without?.store ?? {}, r.with.mix);
  const after = await readsEach(r.with.code, r.with.store, r.with.mix);
  let maxRelease = 0;
  let otherDiffs = 0;
  let awayReads = 0;
  after.forEach((a, i) => {
    maxRelease = Math.max(maxRelease, a.releases);
    if (a.table !== before[i].table || a.flags !== before[i].flags) otherDiffs++;
    // Sent to a zone without releases (flag off): no release record read.
    if (r.with.mix[i].expect!.releases.length === 1 && r.with.mix[i].expect!.releases[0] === '' && a.releases > 0) awayReads++;
  });
  return { maxRelease, otherDiffs, awayReads };
}

/** Checks every release row routes as expected (a bench of functions that route wrongly measures nothing), then times and prints them, and the bounds. */
async function releaseSection(): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  const { rows, plain, released, rec, mix } = releaseRows(now);
  let wrong = 0;
  let checked = 0;
  const canaryRow = rows.find((r) => r.viewers === 'canary')!;
  let canary = { on: 0, holders: 0, moved: 0 };
  for (const r of rows) {
    const p = await releasePicks(r.with.code, r.with.store, rec, r.with.mix);
    wrong += p.wrong;
    checked += p.picks.length;
    if (r === canaryRow) canary = { on: p.picks.filter((id) => id === rec.k![0]).length, ...(await canaryDrift(r.with.code, r.with.store, r.with.mix, p.picks)) };
  }
  const others = await otherZoneCosts(plain, released, mix);
  const extra = await Promise.all(rows.map(extraReads));

  const subjects = rows.flatMap((r) => (r.without ? [r.without, r.with] : [r.with]));
  const rounds = await measure(subjects);
  const njs = njsMedians(subjects);
  const njsOf = (s: Subject | undefined) => (s ? njsCell(njs[subjects.indexOf(s)]) : 'no function');
  const readCell = async (s: Subject | undefined) => {
    if (!s) return '0 + 0 + 0';
    const r = await readsPerRequest(s);
    return `${r.table.toFixed(2)} + ${r.flags.toFixed(2)} + ${r.releases.toFixed(2)}`;
  };
  const usOf = (s: Subject | undefined) => (s ? (median(s.samples) / 1000).toFixed(2) : '0');

  console.log(
    `\nZone releases: the ${RELEASE_ZONE} zone's requests without releases and with them (its record: current ${rec.c}, canary ${rec.k![0]} at ${rec.k![1]}%, ` +
      `pinned ${Object.keys(rec.u ?? {}).join(', ')}, preview ${rec.p![0]}; ${Buffer.byteLength(encodeRecord(rec))} bytes), ` +
      `${rounds} interleaved rounds of ${MIX_SIZE} requests per subject after ${WARMUP_ROUNDS} warm-up rounds; njs as above. ` +
      'Viewers: no id (a first visit), the current id in x-deployment-id, a pinned id in ?dpl=, an unknown or hostile id, returning and new viewers (half with mz-vid: the canary takes its share), a preview cookie holder\n',
  );
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  const reads = 'store reads/request: table + flags + release';
  console.log(line(['request', 'viewers', 'without releases', 'code bytes', 'µs/request', reads, 'njs per request', 'with releases', 'code bytes', 'µs/request', reads, 'njs per request']));
  console.log(line(['---', '---', '---', '---:', '---:', '---:', '---:', '---', '---:', '---:', '---:', '---:']));
  for (const r of rows) {
    const without = [r.without?.name ?? 'no function', r.without?.bytes ?? 0, usOf(r.without), await readCell(r.without), njsOf(r.without)];
    console.log(line([r.request, r.viewers, ...without, r.with.name, r.with.bytes, usOf(r.with), await readCell(r.with), njsOf(r.with)]));
  }
  printReleaseBounds(rows, extra, others, { wrong, checked, ...canary, share: rec.k![1], of: canaryRow.with.mix.length });
}

function printReleaseBounds(
  rows: ReleaseRow[],
  extra: Array<{ maxRelease: number; otherDiffs: number; awayReads: number }>,
  others: Array<{ request: string; kind: string; bytes: number[]; same: boolean; reads: StoreReads[] }>,
  picks: { wrong: number; checked: number; on: number; of: number; share: number; holders: number; moved: number },
): void {
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  const routers = [rows.find((r) => r.without?.name === 'router')!.without!.bytes, others.find((o) => o.kind === 'router')!.bytes[1]];
  const releaseFns = rows.map((r) => r.with.bytes);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const mean = (rs: StoreReads[], f: (r: StoreReads) => number) => (sum(rs.map(f)) / rs.length).toFixed(2);
  console.log(`\nrelease picks: ${picks.on} of ${picks.of} viewers of the canary row on the canary (${picks.share}% set); ${picks.moved} of ${picks.holders} with a visitor id got another release on a second request`);
  console.log(`\n${verdict(picks.wrong === 0)}  every request sent where it should be (the release header, the origin passed to updateRequestOrigin, the zone): ${picks.wrong} of ${picks.checked} wrong`);
  console.log(`${verdict(picks.moved === 0 && Math.abs((100 * picks.on) / picks.of - picks.share) <= 10)}  the canary takes about its share (within 10 points) and keeps its viewers: ${((100 * picks.on) / picks.of).toFixed(1)}%, ${picks.moved} moved`);
  console.log(
    `${verdict(extra.every((e) => e.maxRelease <= 1 && e.otherDiffs === 0 && e.awayReads === 0))}  at most one more store read per request on the zone with releases (its record), table and flag reads unchanged, none when a request goes elsewhere: ` +
      `max ${Math.max(...extra.map((e) => e.maxRelease))} release read, ${sum(extra.map((e) => e.otherDiffs))} requests with other reads changed, ${sum(extra.map((e) => e.awayReads))} record reads off the zone`,
  );
  console.log(
    `${verdict(others.every((o) => o.same && o.bytes[0] === o.bytes[1]))}  other zones: the same function and the same reads per request as on a site without releases: ` +
      others.map((o) => `${o.request} (${o.kind}${o.bytes[1] ? `, ${o.bytes[1]} bytes` : ''}) ${mean(o.reads, (r) => r.table)} + ${mean(o.reads, (r) => r.flags)} + ${mean(o.reads, (r) => r.releases)}${o.same ? '' : ' DIFFERENT'}`).join('; '),
  );
  console.log(`${verdict(routers[0] === routers[1] && routers[1] <= MAX_CODE_BYTES)}  the plain router the same size with releases, at most ${MAX_CODE_BYTES} bytes: ${routers[0]} without, ${routers[1]} with`);
  console.log(`${verdict(releaseFns.every((b) => b <= MAX_FUNCTION_CODE_BYTES))}  every release function within ${MAX_FUNCTION_CODE_BYTES} bytes: largest ${Math.max(...releaseFns)}`);
}

/** Synthesizes with aws-cdk-lib's built-in CloudFormation validation on (its default) or off (`CDK_VALIDATION=false`). */
function synthesizeWith(validation: boolean, overrides: number): { constructMs: number; templateMs: number } {
  const before = process.env.CDK_VALIDATION;
  process.env.CDK_VALIDATION = validation ? 'true' : 'false';
  try {
    return synthesize(overrides);
  } finally {
    if (before === undefined) delete process.env.CDK_VALIDATION;
    else process.env.CDK_VALIDATION = before;
  }
}

async function synthTimings(): Promise<void> {
  // Warm-up: module loading and the JIT are not the construct's cost.
  synthesizeWith(true, 1);
  synthesizeWith(true, 1000);
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  console.log(
    '\nWhere synth time goes, in process after warm-up synths, best of two runs: building the construct (planning, table encoding), then the template, ' +
      "with aws-cdk-lib's built-in CloudFormation validation (its default; it grows with the cache behaviors, which more overrides fill up to the quota) and without it (CDK_VALIDATION=false)\n",
  );
  console.log(line(['overrides', 'construct ms', 'template ms', 'total ms', 'total vs 1 override', 'template ms, no validation', 'total vs 1, no validation']));
  console.log(line(['---:', '---:', '---:', '---:', '---:', '---:', '---:']));
  let base: { total: number; bare: number } | undefined;
  const best = (validation: boolean, n: number) => {
    const runs = [synthesizeWith(validation, n), synthesizeWith(validation, n)];
    return { constructMs: Math.min(...runs.map((r) => r.constructMs)), templateMs: Math.min(...runs.map((r) => r.templateMs)) };
  };
  for (const n of SYNTH_COUNTS) {
    const validated = best(true, n);
    const plain = best(false, n);
    const constructMs = Math.min(validated.constructMs, plain.constructMs);
    const total = constructMs + validated.templateMs;
    const bare = constructMs + plain.templateMs;
    base ??= { total, bare };
    console.log(line([n, constructMs.toFixed(0), validated.templateMs.toFixed(0), total.toFixed(0), `${(total / base.total).toFixed(2)}x`, plain.templateMs.toFixed(0), `${(bare / base.bare).toFixed(2)}x`]));
  }
}

/** CPU time of `bench/synth-process.ts` (a fresh process, as `cdk synth` runs the app), median of three runs. */
function synthProcessMs(overrides: number): number {
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const child = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', path.join(__dirname, 'synth-process.ts'), String(overrides)], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`synth of ${overrides} overrides failed: ${child.stderr}`);
    runs.push(JSON.parse(child.stdout.trim().split('\n').pop()!).cpuMs);
  }
  return runs.sort((a, b) => a - b)[1];
}

function synthProcessTimings(): void {
  console.log('\nSynth as a process (what `cdk synth` costs: load the library, build the site, synthesize the app), CPU ms, median of three runs\n');
  console.log('| overrides | CPU ms | vs 1 override |');
  console.log('| ---: | ---: | ---: |');
  const base = synthProcessMs(1);
  const at: Record<number, number> = {};
  for (const n of SYNTH_COUNTS) {
    at[n] = n === 1 ? base : synthProcessMs(n);
    console.log(`| ${n} | ${at[n].toFixed(0)} | ${(at[n] / base).toFixed(2)}x |`);
  }
  console.log(`\n${at[1000] <= 1.5 * base ? 'PASS' : 'FAIL'}  synth process with 1000 overrides within 1.5x of one: ${(at[1000] / base).toFixed(2)}x`);
}

async function main(): Promise<void> {
  const started = Date.now();
  console.log(`Edge function benchmark: Node ${process.version}, ${os.cpus().length} CPU(s), ${process.platform}/${process.arch}`);
  synthProcessTimings();
  await synthTimings();

  const rows: Array<{ overrides: number; keys: number; lean: Subject; sandbox: Subject; sst: Subject }> = [];
  let baseline: Subject | undefined;
  const sstKey = (key: string) => key.startsWith('sst:') || key.endsWith(':metadata');
  for (const n of OVERRIDE_COUNTS) {
    const { site, routerCode } = synthesize(n);
    const mix = requestMix(n);
    const store = site.storeEntries;
    const lean = subject(`function, ${n}`, routerCode, store, mix);
    const sandbox: Subject = { ...subject(`sandbox, ${n}`, routerCode, store, mix), harness: sandboxHarness(routerCode, store) };
    const model = sstModel(sstPrefixes(n));
    const sst = subject(`SST model, ${n}`, model.code, model.store, mix, sstKey);
    rows.push({ overrides: n, keys: Object.keys(store).filter((k) => k.startsWith('mz-site:')).length, lean, sandbox, sst });
    if (n === 1000) {
      const originIds = Object.fromEntries(site.zones.map((z) => [z.name, z.originId]));
      baseline = subject('linear scan, 1000', linearScanCode(site.table, originIds), store, mix);
      // Same answers as the generated function, or the comparison means nothing.
      let mismatches = 0;
      for (const req of mix) {
        await lean.harness.run(req);
        await baseline.harness.run(req);
        if (lean.harness.lastSelected() !== baseline.harness.lastSelected()) mismatches++;
      }
      console.log(`\nbaseline check: ${mismatches} of ${mix.length} requests routed differently from the generated function`);
    }
  }

  // 1000 overrides under one first segment: the bucket splits by second segment, so a request reads two values.
  const shared = synthesize(1000, 'shared');
  const sharedSubject = subject('function, 1000 in one segment', shared.routerCode, shared.site.storeEntries, requestMix(1000, 'shared'));
  // The worst table accepted: wildcard-first patterns, copied into every bucket.
  const worstCount = largestWildcardTable();
  const worst = synthesize(worstCount, 'wildcard');
  const worstSubject = subject(`function, ${worstCount} wildcard-first`, worst.routerCode, worst.site.storeEntries, requestMix(worstCount, 'wildcard'));

  // Zone flags: page requests with 0 (today's forwarder and router), 1 and 10 zone flags.
  const untouched = pageMix(false);
  const moved = pageMix(true);
  const zoneFlagSubjects: Array<{ zoneFlags: number; page: Subject; router: Subject }> = [0, ...ZONE_FLAG_COUNTS].map((k) => {
    const z = zoneFlagSite(k);
    return {
      zoneFlags: k,
      page: subject(k === 0 ? 'host forwarder' : `zone-flag decider, ${k}`, z.pageCode, z.store, untouched),
      router: subject(`router, ${k} zone flags`, z.routerCode, z.store, moved),
    };
  });

  const subjects: Subject[] = [
    ...rows.flatMap((r) => [r.lean, r.sandbox, r.sst]),
    baseline!,
    sharedSubject,
    worstSubject,
    ...zoneFlagSubjects.flatMap((z) => [z.page, z.router]),
  ];
  const rounds = await measure(subjects);

  // njs last, one process at a time, so it never competes with the Node measurement.
  const njsSubjects: NjsSubject[] = [
    ...[...rows.flatMap((r) => [r.lean, r.sst]), baseline!, sharedSubject, worstSubject],
    { code: 'async function handler(event) { return event.request; }\n', store: {}, mix: baseline!.mix },
    ...zoneFlagSubjects.flatMap((z) => [z.page, z.router]),
  ];
  const njsResults = njsMedians(njsSubjects);
  const njsOf = (k: number) => njsResults[k];
  const njsRow = (i: number) => ({ fn: njsOf(2 * i), sst: njsOf(2 * i + 1) });
  const [njsBaseline, njsShared, njsWorst, njsHarness, ...njsZoneFlags] = njsResults.slice(2 * rows.length);

  const us = (ns: number) => (ns / 1000).toFixed(2);
  const base1 = median(rows[0].lean.samples);
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  console.log(`\n${rounds} interleaved rounds of ${MIX_SIZE} requests per subject (median per-request time of a round), after ${WARMUP_ROUNDS} warm-up rounds`);
  console.log(
    NJS_AVAILABLE
      ? `njs ${spawnSync('njs', ['-v'], { encoding: 'utf8' }).stdout.trim()}: mean over up to 5000 requests (1 s, 256 MB) after 20 warm-up requests, one process per row, median of 3 passes; memory is what the run allocated per request (njs frees nothing), harness included: an empty async handler costs ${njsCell(njsHarness)}\n`
      : 'njs: not installed (apt-get install -y njs)\n',
  );
  const readCell = (r: { table: number; flags: number; max: number }) => `${r.table.toFixed(2)} + ${r.flags.toFixed(2)} (max ${r.max})`;
  console.log(
    line(['overrides', 'code bytes', 'µs/request', 'ratio vs 1 override', 'store reads/request: table + flags', 'njs per request', 'SST model µs/request', 'SST model reads/request', 'SST model njs', 'FunctionSandbox µs/request', 'table keys']),
  );
  console.log(line(['---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']));
  const fnReads: Array<{ table: number; flags: number; max: number }> = [];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const m = median(r.lean.samples);
    const reads = await readsPerRequest(r.lean);
    fnReads.push(reads);
    const sstReads = await readsPerRequest(r.sst, sstKey);
    const n = njsRow(i);
    console.log(
      line([r.overrides, r.lean.bytes, us(m), `${(m / base1).toFixed(2)}x`, readCell(reads), njsCell(n.fn), us(median(r.sst.samples)), readCell(sstReads), njsCell(n.sst), us(median(r.sandbox.samples)), r.keys]),
    );
  }
  const lin = median(baseline!.samples);
  const at1000 = median(rows[rows.length - 1].lean.samples);
  console.log(`\nlinear scan over the same 1000 overrides and zone routes: ${us(lin)} µs/request (njs: ${njsCell(njsBaseline)}), code ${baseline!.bytes} bytes`);
  const sh = median(sharedSubject.samples);
  console.log(
    `1000 overrides under one first segment (/features/f-<i>/*): ${us(sh)} µs/request, ${(sh / base1).toFixed(2)}x of 1 override (njs: ${njsCell(njsShared)}); store reads ${readCell(await readsPerRequest(sharedSubject))}`,
  );
  const w = median(worstSubject.samples);
  const worstReads = await readsPerRequest(worstSubject);
  console.log(
    `worst case accepted: ${worstCount} wildcard-first overrides (*.x<i>; ${worstCount + 1} are refused at synth): ${us(w)} µs/request, ${(w / base1).toFixed(2)}x of 1 override (njs: ${njsCell(njsWorst)}); store reads ${readCell(worstReads)}`,
  );
  console.log(`function / linear scan at 1000 overrides: ${(at1000 / lin).toFixed(2)}x\n`);

  console.log(
    'Zone flags: a page request with 0, 1 and 10 zone flags (values on, off, 50%; half the viewers with a visitor id cookie), ' +
      'on a page no flag moves (the host forwarder without zone flags, else the zone-flag decider) and on a page flag-0 can move (the router; flag-0 is one of the 10 zone flags)\n',
  );
  console.log(line(['zone flags', 'page', 'function', 'code bytes', 'µs/request', 'store reads/request: table + flags', 'njs per request']));
  console.log(line(['---:', '---', '---', '---:', '---:', '---:', '---:']));
  const zoneFlagReads: Array<{ zoneFlags: number; page: number; router: number; routerBound: number }> = [];
  for (let i = 0; i < zoneFlagSubjects.length; i++) {
    const z = zoneFlagSubjects[i];
    const pageReads = await readsPerRequest(z.page);
    const routerReads = await readsPerRequest(z.router);
    // The router also reads flag-0, its override's flag, unless flag-0 is one of the zone flags (10): then the read is shared.
    zoneFlagReads.push({ zoneFlags: z.zoneFlags, page: pageReads.table + pageReads.flags, router: routerReads.flags, routerBound: z.zoneFlags + (z.zoneFlags > 1 ? 0 : 1) });
    const fnName = (s: Subject) => s.name.replace(/, \d+( zone flags)?$/, '');
    console.log(line([z.zoneFlags, 'untouched', fnName(z.page), z.page.bytes, us(median(z.page.samples)), readCell(pageReads), njsCell(njsZoneFlags[2 * i])]));
    console.log(line([z.zoneFlags, 'movable', fnName(z.router), z.router.bytes, us(median(z.router.samples)), readCell(routerReads), njsCell(njsZoneFlags[2 * i + 1])]));
  }
  console.log(
    `\n${zoneFlagReads.every((r) => r.page <= r.zoneFlags && r.router <= r.routerBound) ? 'PASS' : 'FAIL'}  at most one store read per zone flag a request, the routing flag's shared: ` +
      zoneFlagReads.map((r) => `${r.zoneFlags} zone flags: page ${r.page.toFixed(2)}, moved page ${r.router.toFixed(2)} flag reads`).join('; ') +
      '\n',
  );

  const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  const maxBytes = Math.max(...rows.map((r) => r.lean.bytes));
  const n1 = njsRow(0).fn;
  const n1000 = njsRow(rows.length - 1).fn;
  console.log(`${verdict(at1000 <= 1.2 * base1)}  time at 1000 overrides within 1.2x of time at 1: ${(at1000 / base1).toFixed(2)}x`);
  if (n1 && n1000) console.log(`${verdict(n1.us <= n1000.us * 1.05)}  njs: time at 1 override no higher than at 1000 (5% noise allowed): ${n1.us.toFixed(1)} µs vs ${n1000.us.toFixed(1)} µs`);
  console.log(`${verdict(fnReads.every((r) => r.max === 1))}  one table read per request at every count: max ${Math.max(...fnReads.map((r) => r.max))}`);
  console.log(`${verdict(worstReads.max <= MAX_TABLE_READS)}  worst accepted table within ${MAX_TABLE_READS} table reads a request: ${worstReads.max}`);
  console.log(`${verdict(at1000 <= 0.5 * lin)}  time at 1000 overrides at most 0.5x of the linear scan: ${(at1000 / lin).toFixed(2)}x`);
  console.log(`${verdict(maxBytes <= MAX_CODE_BYTES)}  code at most ${MAX_CODE_BYTES} bytes for every count: largest ${maxBytes} bytes`);

  await releaseSection();
  console.log(`\ntotal ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
