/**
 * Edge function benchmark: `npm run bench`.
 *
 * Synthesizes a real MultiZoneDistribution with 1, 10, 100 and 1000
 * overrides (distinct first segments `/feature-<i>/*`, five zones), reads
 * the router function's code and the store entries back from each
 * template (SynthesizedSite), and times the generated function on a fixed
 * request mix in a lean vm harness: the code is compiled and instantiated
 * once, `kvs.get` resolves from the in-memory store (parsing JSON values
 * as the runtime does). A plain linear-scan router over the same 1000
 * routes runs in the same harness, interleaved round by round with the
 * others so that machine noise hits all of them alike. The project's
 * FunctionSandbox (which re-instantiates the code on every request) is
 * timed too, for reference; and, when Debian's `njs` is installed (an
 * interpreter like CloudFront's engine, without a JIT), the same code runs
 * there as well (mean time per request, and memory allocated per request:
 * njs never frees memory within a run, so growth divided by requests is
 * what one invocation allocates, harness included). For information, not
 * a target: 1000 overrides under one shared first segment, the case the
 * table's bucketing by first segment does not help.
 *
 * Targets are reported as PASS/FAIL; the process does not fail on them.
 * Bounded to well under a minute (MEASURE_MS of interleaved rounds).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import {
  FunctionSandbox,
  MultiZoneDistribution,
  RoutingTable,
  SynthesizedSite,
  ViewerRequestEvent,
  ZoneDefinition,
  cloudfrontModule,
  compileFunction,
  requireRuntimeModule,
  viewerRequestEvent,
} from '../lib';

const OVERRIDE_COUNTS = [1, 10, 100, 1000];
const ZONES = ['blog', 'dashboard', 'shop', 'docs'];
const MIX_SIZE = 200;
const WARMUP_ROUNDS = 30;
const MEASURE_MS = Number(process.env.BENCH_MEASURE_MS ?? 12_000);
const MAX_ROUNDS = 2000;
const MAX_CODE_BYTES = 4096;

/** One request of the mix: the event, and the flag values the store holds while it runs. */
export interface MixRequest {
  readonly kind: string;
  readonly event: ViewerRequestEvent;
  readonly flags: Record<string, string>;
}

/** A handler bound to a store, and the origin it selected last. */
export interface Harness {
  run(req: MixRequest): Promise<unknown>;
  lastSelected(): string | undefined;
}

// ---------------------------------------------------------------- the sites

/** Override i's pattern: its own first segment (the common case), or all under one shared first segment. */
const overridePrefix = (i: number, shared: boolean) => (shared ? `/features/f-${i}` : `/feature-${i}`);

export function synthesize(overrides: number, shared = false): { site: SynthesizedSite; routerCode: string } {
  const app = new App();
  const stack = new Stack(app, 'Bench', { env: { account: '123456789012', region: 'us-east-1' } });
  const origin = (zone: string) => new origins.HttpOrigin(`${zone}.example.com`);
  const zones: ZoneDefinition[] = ZONES.map((name) => ({ name, origin: origin(name), pathPatterns: [`/${name}`, `/${name}/*`], assetPrefix: `/${name}-static` }));
  const defs = Array.from({ length: overrides }, (_, i) => ({ flag: `flag-${i}`, pathPatterns: [`${overridePrefix(i, shared)}/*`], zone: ZONES[i % ZONES.length] }));
  new MultiZoneDistribution(stack, 'Site', {
    defaultZone: { name: 'home', origin: origin('home') },
    zones,
    overrides: defs,
    flags: Object.fromEntries(defs.map((d) => [d.flag, 'off'])),
  });
  const site = SynthesizedSite.fromStack(stack);
  const ids = [...new Set(site.behaviors.map((b) => b.viewerRequestFunction).filter((id): id is string => id !== undefined))];
  const router = ids.map((id) => site.functionCode(id)).find((code) => code.startsWith("import cf from 'cloudfront';\n"));
  if (!router) throw new Error(`no routing function in the template with ${overrides} overrides`);
  return { site, routerCode: router };
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
export function requestMix(overrides: number, shared = false): MixRequest[] {
  const rnd = prng(42);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const ip = () => `198.51.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`;
  const mix: MixRequest[] = [];
  for (let n = 0; n < MIX_SIZE; n++) {
    const r = rnd();
    const i = Math.floor(rnd() * overrides);
    const k = Math.floor(rnd() * 1000);
    const add = (kind: string, uri: string, flags: Record<string, string> = {}) => mix.push({ kind, event: viewerRequestEvent(uri, { ip: ip() }), flags });
    const page = `${overridePrefix(i, shared)}/page-${k}`;
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
export function leanHarness(code: string, store: Record<string, string>): Harness {
  let flags: Record<string, string> = {};
  let selected: string | undefined;
  const lookup = (key: string) => (Object.prototype.hasOwnProperty.call(flags, key) ? flags[key] : store[key]);
  const cf = cloudfrontModule(lookup, (id) => {
    selected = id;
  });
  const handler = compileFunction(code)(cf, requireRuntimeModule);
  return {
    run: (req) => {
      flags = req.flags;
      selected = undefined;
      return handler(req.event) as Promise<unknown>;
    },
    lastSelected: () => selected,
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
  };
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
}

async function main(): Promise<void> {
  const started = Date.now();
  console.log(`Edge function benchmark: Node ${process.version}, ${os.cpus().length} CPU(s), ${process.platform}/${process.arch}`);

  const rows: Array<{ overrides: number; bytes: number; keys: number; lean: Subject; sandbox: Subject; code: string; store: Record<string, string> }> = [];
  let baseline: Subject | undefined;
  let baselineCode = '';
  let baselineBytes = 0;
  for (const n of OVERRIDE_COUNTS) {
    const t0 = Date.now();
    const { site, routerCode } = synthesize(n);
    const mix = requestMix(n);
    const store = site.storeEntries;
    const lean: Subject = { name: `function, ${n}`, harness: leanHarness(routerCode, store), mix, samples: [] };
    const sandbox: Subject = { name: `sandbox, ${n}`, harness: sandboxHarness(routerCode, store), mix, samples: [] };
    rows.push({ overrides: n, bytes: Buffer.byteLength(routerCode), keys: Object.keys(store).filter((k) => k.startsWith('mz:')).length, lean, sandbox, code: routerCode, store });
    if (n === 1000) {
      const originIds = Object.fromEntries(site.zones.map((z) => [z.name, z.originId]));
      baselineCode = linearScanCode(site.table, originIds);
      baselineBytes = Buffer.byteLength(baselineCode);
      baseline = { name: 'linear scan, 1000', harness: leanHarness(baselineCode, store), mix, samples: [] };
      // Same answers as the generated function, or the comparison means nothing.
      let mismatches = 0;
      for (const req of mix) {
        await lean.harness.run(req);
        await baseline.harness.run(req);
        if (lean.harness.lastSelected() !== baseline.harness.lastSelected()) mismatches++;
      }
      console.log(`baseline check: ${mismatches} of ${mix.length} requests routed differently from the generated function`);
    }
    console.log(`synthesized ${n} override(s) in ${Date.now() - t0} ms: ${site.behaviors.length} behaviors, ${Object.keys(store).length} store keys`);
  }

  // Not a target: 1000 overrides under one first segment: the bucket splits by second segment, so a request reads only its own.
  const t1 = Date.now();
  const shared = synthesize(1000, true);
  const sharedMix = requestMix(1000, true);
  const sharedSubject: Subject = { name: 'function, 1000 in one segment', harness: leanHarness(shared.routerCode, shared.site.storeEntries), mix: sharedMix, samples: [] };
  const sharedChunks = Object.keys(shared.site.storeEntries).filter((k) => k.includes(':s:features')).length;
  console.log(`synthesized 1000 override(s) under one first segment in ${Date.now() - t1} ms: ${sharedChunks} store values under that segment`);

  const subjects: Subject[] = [...rows.flatMap((r) => [r.lean, r.sandbox]), baseline!, sharedSubject];
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
    ...rows.map((r): [string, Record<string, string>, MixRequest[]] => [r.code, r.store, r.lean.mix]),
    [baselineCode, rows[rows.length - 1].store, baseline!.mix],
    [shared.routerCode, shared.site.storeEntries, sharedMix],
    ['async function handler(event) { return event.request; }\n', {}, baseline!.mix],
  ];
  const passes = NJS_AVAILABLE ? [0, 1, 2].map(() => njsSubjects.map(([code, store, mix]) => njsTiming(code, store, mix)!)) : [];
  const njsResults = njsSubjects.map((_, i) =>
    NJS_AVAILABLE ? { us: median(passes.map((p) => p[i].us)), kb: median(passes.map((p) => p[i].kb)), requests: median(passes.map((p) => p[i].requests)) } : undefined,
  );
  const njsRows = njsResults.slice(0, rows.length);
  const [njsBaseline, njsShared, njsHarness] = njsResults.slice(rows.length);
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
  console.log(line(['overrides', 'code bytes', 'µs/request', 'ratio vs 1 override', 'FunctionSandbox µs/request', 'njs per request', 'table keys in store']));
  console.log(line(['---:', '---:', '---:', '---:', '---:', '---:', '---:']));
  rows.forEach((r, i) => {
    const m = median(r.lean.samples);
    console.log(line([r.overrides, r.bytes, us(m), `${(m / base1).toFixed(2)}x`, us(median(r.sandbox.samples)), njsCell(njsRows[i]), r.keys]));
  });
  const lin = median(baseline!.samples);
  const at1000 = median(rows[rows.length - 1].lean.samples);
  console.log(
    `\nlinear scan over the same 1000 overrides and zone routes: ${us(lin)} µs/request (njs: ${njsCell(njsBaseline)}${njsBaseline ? ` over ${njsBaseline.requests} requests` : ''}), code ${baselineBytes} bytes`,
  );
  const sh = median(sharedSubject.samples);
  console.log(
    `1000 overrides under one first segment (/features/f-<i>/*, not a target): ${us(sh)} µs/request, ${(sh / base1).toFixed(2)}x of 1 override (njs: ${njsCell(njsShared)}); ${sharedChunks} store values under that segment, a request reads two of them`,
  );
  console.log(`function / linear scan at 1000 overrides: ${(at1000 / lin).toFixed(2)}x${njsBaseline && njsRows[njsRows.length - 1] ? ` (njs: ${(njsRows[njsRows.length - 1]!.us / njsBaseline.us).toFixed(2)}x)` : ''}\n`);

  const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  const maxBytes = Math.max(...rows.map((r) => r.bytes));
  console.log(`${verdict(at1000 <= 1.2 * base1)}  time at 1000 overrides within 1.2x of time at 1: ${(at1000 / base1).toFixed(2)}x`);
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
