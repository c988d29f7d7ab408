/**
 * The body hash (origin-request Lambda@Edge, body included) as the tools
 * show and run it: the local edge runs the template's own bundled handler
 * before a function URL zone is asked, routes and explain name the
 * association, and SynthesizedSite runs it for users' tests.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import { App, Stack, Stage } from 'aws-cdk-lib';
import { FunctionUrlOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { MultiZoneDistribution } from '../lib';
import { METADATA_KEY } from '../lib/metadata-key';
import { main } from '../packages/multizone-cli/src/cli';
import { CliIO } from '../packages/multizone-cli/src/cli/io';
import { LocalEdge, startLocalEdge } from '../packages/multizone-cli/src/local-edge/server';
import { SynthesizedSite } from '../packages/multizone-cli/src/synthesized-site';
import { origin, seedZones, synth } from './support/sites';

jest.setTimeout(60_000);

const MB = 1_048_576;
const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** A site whose blog zone is a Lambda function URL behind origin access control; home and dashboard are HTTP. */
function functionUrlSite(region: string): { stack: Stack; templateFile: string; site: SynthesizedSite } {
  const stack = new Stack(new App(), 'HashStack', { env: { account: '123456789012', region } });
  const fn = new lambda.Function(stack, 'BlogFn', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => ({})') });
  const blog = { ...seedZones()[0], origin: FunctionUrlOrigin.withOriginAccessControl(fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM })) };
  new MultiZoneDistribution(stack, 'Site', { defaultZone: { name: 'home', origin: origin('home') }, zones: [blog, seedZones()[1]] });
  const site = SynthesizedSite.fromStack(stack);
  return { stack, site, templateFile: path.join(Stage.of(stack)!.outdir, stack.templateFile) };
}

/** What a zone saw: the headers, and the body's size and hash. */
interface Seen {
  zone: string;
  method: string;
  headers: http.IncomingHttpHeaders;
  size: number;
  sha256: string;
}

/** A zone that reads the whole body and answers what it saw. */
function zoneServer(zone: string): http.Server {
  return http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const seen: Seen = { zone, method: req.method!, headers: req.headers, size: body.length, sha256: sha256(body) };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(seen));
    });
  });
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function request(url: string, method: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const servers: http.Server[] = [];
const edges: LocalEdge[] = [];
const zoneUrls: Record<string, string> = {};

beforeAll(async () => {
  for (const name of ['home', 'blog', 'dashboard']) {
    const server = zoneServer(name);
    servers.push(server);
    zoneUrls[name] = `http://127.0.0.1:${await listen(server)}`;
  }
});

afterAll(async () => {
  for (const e of edges) await e.close();
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function edgeFor(site: SynthesizedSite): Promise<LocalEdge> {
  const edge = await startLocalEdge({ site, zoneUrls, flagsFile: path.join(__dirname, 'no-such-dir', 'flags.json'), host: '127.0.0.1' });
  edges.push(edge);
  return edge;
}

const east = functionUrlSite('us-east-1');

describe('local edge: the body hash of a function URL zone, run from the template\'s own asset', () => {
  let edge: LocalEdge;
  beforeAll(async () => {
    edge = await edgeFor(east.site);
  });

  test('a POST to the function URL zone reaches it with x-amz-content-sha256 of its body, and the whole body', async () => {
    const form = '1_$ACTION_ID_7f3a=&1_title=Hello+w%C3%B6rld';
    const reply = await request(`${edge.url}/blog/new`, 'POST', form, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(reply.status).toBe(200);
    const seen: Seen = JSON.parse(reply.body);
    expect(seen.zone).toBe('blog');
    expect(seen.headers['x-amz-content-sha256']).toBe(sha256(form));
    expect(seen.sha256).toBe(sha256(form));
  });

  test('a hash the viewer sent is replaced by the body\'s own; a GET passes without one', async () => {
    const sent: Seen = JSON.parse((await request(`${edge.url}/blog/new`, 'PUT', 'a=1', { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' })).body);
    expect(sent.headers['x-amz-content-sha256']).toBe(sha256('a=1'));
    const get: Seen = JSON.parse((await request(`${edge.url}/blog/post-1`, 'GET')).body);
    expect(get.zone).toBe('blog');
    expect(get.headers['x-amz-content-sha256']).toBeUndefined();
  });

  test('exactly 1 MB is hashed; 1 MB + 1 byte is answered 413 by the function and never reaches the zone', async () => {
    const full = Buffer.alloc(MB, 0x61);
    const ok: Seen = JSON.parse((await request(`${edge.url}/blog/upload`, 'POST', full)).body);
    expect(ok.headers['x-amz-content-sha256']).toBe(sha256(full));
    expect(ok.size).toBe(MB);
    const over = await request(`${edge.url}/blog/upload`, 'POST', Buffer.alloc(MB + 1, 0x61));
    expect(over.status).toBe(413);
    expect(over.body).toMatch(/at most 1 MB/);
    expect(over.headers['cache-control']).toBe('no-store');
    expect(over.body).not.toContain('"zone"');
  });

  test('past 1 MB with the viewer\'s own hash: the whole body passes, with that hash', async () => {
    const big = Buffer.alloc(3 * MB + 17, 0x62);
    const seen: Seen = JSON.parse((await request(`${edge.url}/blog/upload`, 'POST', big, { 'x-amz-content-sha256': sha256(big) })).body);
    expect(seen.size).toBe(big.length);
    expect(seen.sha256).toBe(sha256(big));
    expect(seen.headers['x-amz-content-sha256']).toBe(sha256(big));
  });

  test('a behavior without the association (the HTTP dashboard zone) gets no hash and no 413', async () => {
    const big = Buffer.alloc(MB + 1, 0x63);
    const seen: Seen = JSON.parse((await request(`${edge.url}/dashboard/save`, 'POST', big)).body);
    expect(seen.zone).toBe('dashboard');
    expect(seen.size).toBe(MB + 1);
    expect(seen.headers['x-amz-content-sha256']).toBeUndefined();
  });
});

describe('local edge: a stack outside us-east-1 (the function in CDK\'s edge-lambda stack)', () => {
  test('the handler is found through the cross-region reader, and a POST gets its hash', async () => {
    const west = functionUrlSite('eu-west-1');
    expect(west.site.behaviorFor('/blog/x').behavior.originRequestLambda).toMatchObject({ includeBody: true });
    const edge = await edgeFor(west.site);
    const seen: Seen = JSON.parse((await request(`${edge.url}/blog/new`, 'POST', 'title=west')).body);
    expect(seen.headers['x-amz-content-sha256']).toBe(sha256('title=west'));
    expect((await request(`${edge.url}/blog/new`, 'POST', Buffer.alloc(MB + 1))).status).toBe(413);
  });
});

describe('SynthesizedSite.originRequest', () => {
  test('runs the behavior\'s function on a body: its hash, or its 413 past 1 MB; a behavior without one is unchanged', async () => {
    const served = await east.site.serve('/blog/new', { method: 'POST' });
    const hashed = await east.site.originRequest(served, { body: 'a=1&b=2' });
    expect(hashed.ran).toBe(true);
    expect(hashed.headers['x-amz-content-sha256']).toBe(sha256('a=1&b=2'));
    expect((await east.site.originRequest(served, { body: Buffer.alloc(MB + 1) })).response?.status).toBe(413);
    const plain = await east.site.originRequest(await east.site.serve('/dashboard/x', { method: 'POST' }), { body: 'a=1' });
    expect(plain.ran).toBe(false);
    expect(plain.headers['x-amz-content-sha256']).toBeUndefined();
  });

  test('read without its cloud assembly (a deployed template, its assets given), the function\'s code is not found: one error naming the function', async () => {
    const template = JSON.parse(fs.readFileSync(east.templateFile, 'utf8'));
    const metadata = template.Resources[east.site.logicalId].Metadata[METADATA_KEY];
    const dir = Stage.of(east.stack)!.outdir;
    const assets = Object.fromEntries([metadata.siteAsset, metadata.storeAsset].filter(Boolean).map((a: any) => [a.path, fs.readFileSync(path.join(dir, a.path), 'utf8')]));
    const site = SynthesizedSite.fromTemplate(template, { assets });
    const served = await site.serve('/blog/new', { method: 'POST' });
    await expect(site.originRequest(served, { body: 'x' })).rejects.toThrow(/^Template: Lambda@Edge function "MultiZoneBodyHashFn": its code is read from the cloud assembly/);
  });
});

/** Runs the CLI in-process, capturing its output. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => (out += t.endsWith('\n') ? t : `${t}\n`), err: (t) => (err += t.endsWith('\n') ? t : `${t}\n`) };
  const code = await main(['node', 'multizone', ...args], io);
  return { code, out, err };
}

const noFlags = path.join(__dirname, 'no-such-dir', 'flags.json');

describe('CLI: the body hash in routes and explain', () => {
  test('routes names the origin-request association on exactly the behaviors that have it', async () => {
    const r = await cli('routes', '--template', east.templateFile, '--flags-file', noFlags);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/origin-request Lambda@Edge/);
    for (const b of east.site.behaviors) {
      const label = b.pathPattern === '*' ? '* (default)' : b.pathPattern;
      const row = r.out.split('\n').find((l) => l.trim().split(/\s{2,}/)[1] === label)!;
      expect(row.trim().split(/\s{2,}/)[5]).toBe(b.originRequestLambda ? 'MultiZoneBodyHashFn (body)' : '-');
    }
    expect(r.out).toMatch(/\/blog\/\* +-- f  h --/);
    expect(r.out).toContain('h = the origin-request Lambda@Edge runs before the zone is asked');
    // A site of HTTP zones runs none: neither the column nor the mark.
    const http = synth();
    const httpFile = path.join(http.assemblyDir, 'http-site.template.json');
    fs.writeFileSync(httpFile, JSON.stringify(http.template.toJSON()));
    const plain = await cli('routes', '--template', httpFile, '--flags-file', noFlags);
    expect(plain.code).toBe(0);
    expect(plain.out).not.toMatch(/Lambda@Edge| h /);
  });

  test('routes --json carries the association per behavior', async () => {
    const rows = JSON.parse((await cli('routes', '--json', '--template', east.templateFile, '--flags-file', noFlags)).out).behaviors;
    expect(rows.find((b: any) => b.pathPattern === '/blog/*').originRequestLambda).toEqual({ function: 'MultiZoneBodyHashFn', eventType: 'origin-request', includeBody: true });
    expect(rows.find((b: any) => b.pathPattern === '/dashboard/*').originRequestLambda).toBeUndefined();
  });

  test('explain POST says the body is hashed into x-amz-content-sha256 and refused with 413 past 1 MB; GET that it passes', async () => {
    const post = await cli('explain', '/blog/x', '--method', 'POST', '--template', east.templateFile, '--flags-file', noFlags);
    expect(post.out).toMatch(/lambda +MultiZoneBodyHashFn \(Lambda@Edge, origin-request, body included\) runs before the zone is asked: the body's SHA-256 goes in x-amz-content-sha256/);
    expect(post.out).toMatch(/a body past 1 MB \(1,048,576 bytes, all the function sees\) is refused with 413 Payload Too Large/);
    const get = await cli('explain', '/blog/x', '--template', east.templateFile, '--flags-file', noFlags);
    expect(get.out).toMatch(/lambda +MultiZoneBodyHashFn .*: a GET has no body and passes untouched/);
    const json = JSON.parse((await cli('explain', '/blog/x', '--method', 'POST', '--json', '--template', east.templateFile, '--flags-file', noFlags)).out);
    expect(json.originRequestLambda).toEqual({ function: 'MultiZoneBodyHashFn', eventType: 'origin-request', includeBody: true });
    const dashboard = await cli('explain', '/dashboard/x', '--method', 'POST', '--template', east.templateFile, '--flags-file', noFlags);
    expect(dashboard.out).not.toContain('lambda');
  });
});
