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
 * Targets are reported as PASS/FAIL; the process does not fail on them.
 * Bounded to about a minute (MEASURE_MS of interleaved rounds).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import { FunctionSandbox, SynthesizedSite, ViewerRequestEvent, viewerRequestEvent } from 'multizone-cli';
import { MAX_TABLE_READS, encodeRoutingTable } from '../lib/edge-function/kvs-table';
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

/** One request of the mix: the event, and the flag values the store holds while it runs. */
export interface MixRequest {
  readonly kind: string;
  readonly event: ViewerRequestEvent;
  readonly flags: Record<string, string>;
}

/** A handler bound to a store, the origin it selected last, and the store reads it made. */
export interface Harness {
  run(req: MixRequest): Promise<unknown>;
  lastSelected(): string | undefined;
  /** Store reads since the harness was made: table values (or SST's route list and metadata), and flags. */
  reads(): { table: number; flags: number; requests: number };
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
  const count = { table: 0, flags: 0, requests: 0 };
  const lookup = (key: string) => {
    if (isTable(key)) count.table++;
    else count.flags++;
    return Object.prototype.hasOwnProperty.call(flags, key) ? flags[key] : store[key];
  };
  const cf = {
    ...cloudfrontModule(lookup, (id) => {
      selected = id;
    }),
    // The SST model picks its origin by domain name.
    updateRequestOrigin: (o: { domainName: string }) => {
      selected = o.domainName;
    },
  };
  const handler = compileFunction(code)(cf, requireRuntimeModule);
  return {
    run: (req) => {
      flags = req.flags;
      selected = undefined;
      count.requests++;
      return handler(req.event) as Promise<unknown>;
    },
    lastSelected: () => selected,
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
    reads: () => ({ table: 0, flags: 0, requests: 0 }),
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

/** Mean store reads per request over one pass of the mix (table values, flags), from a fresh harness. */
async function readsPerRequest(s: Subject, isTable?: (key: string) => boolean): Promise<{ table: number; flags: number; max: number }> {
  const h = leanHarness(s.code, s.store, isTable);
  let max = 0;
  for (const req of s.mix) {
    const before = h.reads();
    await h.run(req);
    const after = h.reads();
    max = Math.max(max, after.table - before.table);
  }
  const r = h.reads();
  return { table: r.table / r.requests, flags: r.flags / r.requests, max };
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

  // njs last, one process at a time, so it never competes with the Node measurement.
  // Three passes over every subject, median per subject, so that a burst of background load skews one pass only.
  const njsSubjects: Array<[string, Record<string, string>, MixRequest[]]> = [
    ...[...rows.flatMap((r) => [r.lean, r.sst]), baseline!, sharedSubject, worstSubject].map((s): [string, Record<string, string>, MixRequest[]] => [s.code, s.store, s.mix]),
    ['async function handler(event) { return event.request; }\n', {}, baseline!.mix],
    ...zoneFlagSubjects.flatMap((z) => [z.page, z.router]).map((s): [string, Record<string, string>, MixRequest[]] => [s.code, s.store, s.mix]),
  ];
  const passes = NJS_AVAILABLE ? [0, 1, 2].map(() => njsSubjects.map(([code, store, mix]) => njsTiming(code, store, mix)!)) : [];
  const njsResults = njsSubjects.map((_, i) =>
    NJS_AVAILABLE ? { us: median(passes.map((p) => p[i].us)), kb: median(passes.map((p) => p[i].kb)), requests: median(passes.map((p) => p[i].requests)) } : undefined,
  );
  const njsOf = (k: number) => njsResults[k];
  const njsRow = (i: number) => ({ fn: njsOf(2 * i), sst: njsOf(2 * i + 1) });
  const [njsBaseline, njsShared, njsWorst, njsHarness, ...njsZoneFlags] = njsResults.slice(2 * rows.length);
  const njsCell = (t: { us: number; kb: number } | undefined) => (t ? `${t.us.toFixed(1)} µs, ${t.kb.toFixed(1)} KB` : 'n/a');

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
  console.log(`\ntotal ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
