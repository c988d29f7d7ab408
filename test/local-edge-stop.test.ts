/**
 * Stopping `multizone dev` from a script: the real bin, serving the
 * example stack synthesized with localhost zones, stops on SIGTERM or
 * SIGINT with exit code 0, promptly, even with a connection kept open and
 * a request still waiting on its zone, and leaves its port free.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { ExampleSiteStack } from '../bin/example-stack';

jest.setTimeout(120_000);

const BIN = path.resolve(__dirname, '..', 'packages', 'multizone-cli', 'bin', 'multizone.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'multizone-edge-stop-'));

/** A zone answering with its name; `/slow` never answers. */
function zoneServer(zone: string): http.Server {
  return http.createServer((req, res) => {
    if (req.url !== '/slow') res.writeHead(200, { 'x-zone': zone }).end(zone);
  });
}

function listen(server: http.Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  const port = await listen(s);
  await close(s);
  return port;
}

const zones = { home: zoneServer('home'), blog: zoneServer('blog'), dashboard: zoneServer('dashboard') };
let templateFile: string;

beforeAll(async () => {
  const urls: Record<string, string> = {};
  for (const [name, server] of Object.entries(zones)) urls[name] = `http://127.0.0.1:${await listen(server)}`;
  const app = new App({ outdir: path.join(tmp, 'cdk.out') });
  const stack = new ExampleSiteStack(app, 'MultiZoneExample', { zoneOrigins: { home: urls.home, blog: urls.blog, dashboard: urls.dashboard } });
  templateFile = path.join(app.synth().directory, stack.templateFile);
});

afterAll(async () => {
  for (const server of Object.values(zones)) await close(server);
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Starts `multizone dev` on the template's own (localhost) origins and waits for its banner. */
async function startDev(port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, 'dev', '--template', templateFile, '--port', String(port), '--host', '127.0.0.1', '--flags-file', path.join(tmp, 'flags.json'), '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const deadline = Date.now() + 90_000;
  // The banner's last line is its flags line.
  while (!out.includes('  flags: ') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  expect(out).toContain(`http://localhost:${port}`);
  return child;
}

test.each(['SIGTERM', 'SIGINT'] as const)('on %s, dev closes its connections, exits 0 promptly and frees its port', async (signal) => {
  const port = await freePort();
  const child = await startDev(port);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const agent = new http.Agent({ keepAlive: true });
  try {
    const served = await new Promise<http.IncomingMessage>((resolve, reject) => http.get(`http://127.0.0.1:${port}/blog/post-1`, { agent }, resolve).on('error', reject));
    served.resume();
    expect(served.headers['x-zone']).toBe('blog');
    // A request the zone never answers: the edge must not wait for it.
    http.get(`http://127.0.0.1:${port}/slow`, { agent: false }).on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 300));

    const sent = Date.now();
    child.kill(signal);
    expect(await exited).toBe(0);
    expect(Date.now() - sent).toBeLessThan(5_000);
    // The port is free again: a new server can listen on it.
    const next = http.createServer();
    expect(await listen(next, port)).toBe(port);
    await close(next);
  } finally {
    agent.destroy();
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
