/**
 * Local edge benchmark: `npm run bench:edge`.
 *
 * What the local edge (`multizone dev`) adds over hitting a zone directly:
 * autocannon against a tiny local http zone (a fixed 1 KiB HTML page),
 * first directly, then through the edge serving the example stack's
 * synthesized template (origins pointed at that zone) for a page (its
 * behavior runs a viewer-request function) and for an asset (no
 * function). The zone, the edge and autocannon each run in their own
 * process, as they would in development. Prints, for each, throughput
 * under load (requests/s, and the mean latency that implies) and the
 * latency of one request at a time (p50, p99, mean, timed to the
 * microsecond), then the edge/direct ratios.
 *
 * BENCH_EDGE_SECONDS (default 5) per autocannon run, BENCH_EDGE_CONNECTIONS
 * (10), BENCH_EDGE_PROBES (2000 sequential requests); `--json` prints the
 * figures as one JSON object as well.
 */
import { ChildProcess, fork } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import autocannon from 'autocannon';

const SECONDS = Number(process.env.BENCH_EDGE_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_EDGE_CONNECTIONS ?? 10);
const PAGE_HEAD = '<!doctype html><html><head><title>Post | blog</title></head><body><main data-zone="blog">';
const PAGE_TAIL = '</main></body></html>';
const PAGE = `${PAGE_HEAD}${'x'.repeat(1024 - PAGE_HEAD.length - PAGE_TAIL.length)}${PAGE_TAIL}`;
const PROBES = Number(process.env.BENCH_EDGE_PROBES ?? 2000);

type Role = 'zone' | 'edge';

/** In a child: serves the zone or the edge, and reports its port to the parent. */
async function serve(role: Role, template?: string, flagsFile?: string): Promise<void> {
  let port: number;
  if (role === 'zone') {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(PAGE) });
      res.end(PAGE);
    });
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  } else {
    const { SynthesizedSite } = await import('../packages/multizone-cli/src/synthesized-site');
    const { startLocalEdge } = await import('../packages/multizone-cli/src/local-edge/server');
    const site = SynthesizedSite.fromTemplate(JSON.parse(fs.readFileSync(template!, 'utf8')), { assetDirectory: path.dirname(template!) });
    const edge = await startLocalEdge({ site, flagsFile, host: '127.0.0.1' });
    edge.server.keepAliveTimeout = 30_000;
    port = edge.port;
  }
  process.send!({ port });
}

/** Starts this script as a child in a role; resolves with the port it listens on. */
function spawnRole(role: Role, args: string[] = []): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, ['--role', role, ...args], { execArgv: ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (m: any) => resolve({ child, port: m.port }));
    child.once('exit', (code) => reject(new Error(`${role} process exited (${code}) before listening`)));
  });
}

/** The example stack's template, its three zones all pointed at `zoneUrl`, synthesized into `dir` with its assets. */
async function exampleTemplate(zoneUrl: string, dir: string): Promise<string> {
  const { App } = await import('aws-cdk-lib');
  const { ExampleSiteStack } = await import('../bin/example-stack');
  const app = new App({ outdir: dir });
  const stack = new ExampleSiteStack(app, 'MultiZoneExample', { zoneOrigins: { home: zoneUrl, blog: zoneUrl, dashboard: zoneUrl } });
  return path.join(app.synth().directory, stack.templateFile);
}

interface Figures {
  readonly name: string;
  /** Throughput under load (autocannon). */
  readonly requestsPerSecond: number;
  /** Mean latency under load, ms: connections / throughput (Little's law; autocannon's own figures are whole milliseconds). */
  readonly loadedMeanMs: number;
  /** Latency of one request at a time over a kept-alive connection, ms (microsecond timer). */
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly errors: number;
}

/** Sequential requests on one kept-alive connection, timed one by one. */
async function probe(url: string, count: number): Promise<{ p50: number; p99: number; mean: number; errors: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  let errors = 0;
  for (let i = 0; i < count; i++) {
    const t = process.hrtime.bigint();
    const status = await new Promise<number>((resolve) => {
      http
        .get(url, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
        .on('error', () => resolve(0));
    });
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (status !== 200) errors++;
  }
  agent.destroy();
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  return { p50: at(0.5), p99: at(0.99), mean: times.reduce((a, b) => a + b, 0) / times.length, errors };
}

async function measure(name: string, url: string): Promise<Figures> {
  // Warm up connections, JIT and the function sandbox first.
  await autocannon({ url, connections: CONNECTIONS, duration: 1 });
  const r = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS });
  const p = await probe(url, PROBES);
  return {
    name,
    requestsPerSecond: r.requests.average,
    loadedMeanMs: r.requests.average > 0 ? CONNECTIONS / r.requests.average * 1000 : NaN,
    ...p,
    errors: r.errors + r.timeouts + r.non2xx + p.errors,
  };
}

async function main(): Promise<void> {
  const roleAt = process.argv.indexOf('--role');
  if (roleAt >= 0) {
    const role = process.argv[roleAt + 1] as Role;
    await serve(role, process.argv[roleAt + 2], process.argv[roleAt + 3]);
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'multizone-bench-edge-'));
  const children: ChildProcess[] = [];
  try {
    const zone = await spawnRole('zone');
    children.push(zone.child);
    const zoneUrl = `http://127.0.0.1:${zone.port}`;
    const template = await exampleTemplate(zoneUrl, dir);
    const edge = await spawnRole('edge', [template, path.join(dir, 'flags.json')]);
    children.push(edge.child);
    const edgeUrl = `http://127.0.0.1:${edge.port}`;

    console.log(`local edge vs direct: autocannon, ${CONNECTIONS} connections, ${SECONDS} s per run, a ${Buffer.byteLength(PAGE)} B page, ${os.cpus().length} CPUs`);
    const direct = await measure('direct to the zone', `${zoneUrl}/blog/post-1`);
    const page = await measure('edge, page (function runs)', `${edgeUrl}/blog/post-1`);
    const asset = await measure('edge, asset (no function)', `${edgeUrl}/blog-static/_next/static/chunks/a.js`);
    const rows = [direct, page, asset];

    const width = Math.max(...rows.map((r) => r.name.length));
    console.log(`${''.padEnd(width)}  under load: ${'req/s'.padStart(7)} ${'mean ms'.padStart(8)}  | one at a time: ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'mean ms'.padStart(8)}  errors`);
    for (const r of rows) {
      console.log(
        `${r.name.padEnd(width)}              ${r.requestsPerSecond.toFixed(0).padStart(7)} ${r.loadedMeanMs.toFixed(3).padStart(8)}  |                ${r.p50.toFixed(3).padStart(7)} ${r.p99.toFixed(3).padStart(7)} ${r.mean.toFixed(3).padStart(8)}  ${r.errors}`,
      );
    }
    const ratio = (a: number, b: number) => (b > 0 ? a / b : NaN);
    const summary = {
      pageThroughputRatio: ratio(page.requestsPerSecond, direct.requestsPerSecond),
      pageLatencyRatio: ratio(page.mean, direct.mean),
      pageAddedMs: page.mean - direct.mean,
      assetThroughputRatio: ratio(asset.requestsPerSecond, direct.requestsPerSecond),
      assetLatencyRatio: ratio(asset.mean, direct.mean),
      assetAddedMs: asset.mean - direct.mean,
    };
    console.log(
      `ratio edge/direct: page ${summary.pageThroughputRatio.toFixed(2)}x throughput, ${summary.pageLatencyRatio.toFixed(2)}x latency (+${summary.pageAddedMs.toFixed(3)} ms a request); ` +
        `asset ${summary.assetThroughputRatio.toFixed(2)}x throughput, ${summary.assetLatencyRatio.toFixed(2)}x latency (+${summary.assetAddedMs.toFixed(3)} ms)`,
    );
    if (rows.some((r) => r.errors > 0)) console.log('WARNING: some requests failed; the figures are not comparable');
    if (process.argv.includes('--json')) console.log(JSON.stringify({ connections: CONNECTIONS, seconds: SECONDS, runs: rows, ...summary }));
  } finally {
    for (const c of children) c.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`bench:edge: ${(e as Error).message}`);
  process.exitCode = 1;
});
