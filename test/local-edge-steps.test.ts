/**
 * The local edge's steps, each run on its own: no edge listens, and no
 * zone either (a step decides where a request goes and what it carries;
 * sending it is the origin step's job). Requests are real IncomingMessages
 * on an unconnected socket, as the server would hand them over.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import type { Readable } from 'stream';
import { App, Stack } from 'aws-cdk-lib';
import { FunctionUrlOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { MultiZoneDistribution } from '../lib';
import { EdgeSite, loadEdgeSite } from '../packages/multizone-cli/src/local-edge/edge-site';
import { writeFlag } from '../packages/multizone-cli/src/local-edge/flag-file';
import { originRequest } from '../packages/multizone-cli/src/local-edge/origin-request';
import { originRequestLambdaStep } from '../packages/multizone-cli/src/local-edge/origin-request-lambda';
import type { Failure } from '../packages/multizone-cli/src/local-edge/pages';
import { Routed, viewerRequestStep } from '../packages/multizone-cli/src/local-edge/viewer-request';
import { SynthesizedSite } from '../packages/multizone-cli/src/synthesized-site';
import { origin, seedZones, served } from './support/sites';
import { incoming } from './support/requests';

jest.setTimeout(60_000);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'multizone-edge-steps-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The seed's site with the example's override: /checkout moves to the dashboard while new-checkout is on. */
const site = served({ overrides: [{ flag: 'new-checkout', pathPatterns: ['/checkout', '/checkout/*'], zone: 'dashboard' }], flags: { 'new-checkout': 'off' } });
/** Zone URLs nothing listens on: the steps never connect. */
const zoneUrls = { home: 'http://localhost:3000', blog: 'http://localhost:3001/' };

function routed(r: Routed | Failure): Routed {
  if ('status' in r) throw new Error(`expected a routed request, got ${r.status} ${r.title}`);
  return r;
}

function readAll(stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

describe('load the site and resolve the zones', () => {
  test('a zone URL given wins over the template\'s origin; the others keep theirs; a header given reaches every zone', () => {
    const edge = loadEdgeSite({ site, zoneUrls, originHeaders: { 'X-Origin-Verify': 's3cret' }, flagsFile: path.join(tmp, 'none.json') });
    expect(edge.zones.map((z) => [z.zone, z.url, z.source, z.originHeaders['x-origin-verify']])).toEqual([
      ['home', 'http://localhost:3000', 'option', 's3cret'],
      ['blog', 'http://localhost:3001', 'option', 's3cret'],
      ['dashboard', 'https://dashboard.example.com', 'template', 's3cret'],
    ]);
  });

  test('a zone URL for a zone the template lacks is refused, naming it and the template\'s zones', () => {
    expect(() => loadEdgeSite({ site, zoneUrls: { shop: 'http://localhost:3009' } })).toThrow('Zone "shop": the template has no such zone (its zones: home, blog, dashboard)');
  });
});

describe('the viewer-request step', () => {
  const flagsFile = path.join(tmp, 'viewer', 'flags.json');
  const lines: string[] = [];
  const edge: EdgeSite = loadEdgeSite({ site, zoneUrls, flagsFile, log: (l) => lines.push(l) });

  test('a page goes to its zone, and the zone gets its own Host, the viewer\'s as x-forwarded-host, and the headers as sent', async () => {
    const r = routed(await viewerRequestStep(edge, incoming('GET', '/blog/post-1?b=2&a=1', { 'x-custom': 'yes', cookie: 'session=abc' })));
    expect([r.served.zone, r.served.behavior.pathPattern, r.target?.url]).toEqual(['blog', '/blog/*', 'http://localhost:3001']);
    const outgoing = originRequest(r, r.target!.url!, false);
    expect(outgoing.path).toBe('/blog/post-1?b=2&a=1');
    expect(outgoing.headers).toMatchObject({ 'host': 'localhost:3001', 'x-forwarded-host': 'www.example.test', 'x-custom': 'yes', 'cookie': 'session=abc', 'x-forwarded-for': '127.0.0.1' });
  });

  test('an asset goes to its zone without the viewer\'s cookies, query string or headers', async () => {
    const r = routed(await viewerRequestStep(edge, incoming('GET', '/_next/static/a.js?v=1', { 'x-custom': 'yes', cookie: 'session=abc' })));
    expect(r.served.zone).toBe('home');
    const outgoing = originRequest(r, r.target!.url!, false);
    expect(outgoing.path).toBe('/_next/static/a.js');
    expect([outgoing.headers.host, outgoing.headers.cookie, outgoing.headers['x-custom'], outgoing.headers['user-agent']]).toEqual(['localhost:3000', undefined, undefined, 'Amazon CloudFront']);
  });

  test('the flag file decides the override, read again when it changes', async () => {
    const zoneOf = async (uri: string) => routed(await viewerRequestStep(edge, incoming('GET', uri))).served.zone;
    expect(await zoneOf('/checkout')).toBe('home');
    writeFlag('new-checkout', 'on', flagsFile);
    expect(await zoneOf('/checkout')).toBe('dashboard');
    expect(await zoneOf('/blog/x')).toBe('blog');
    expect(lines).toContain(`flags from ${flagsFile}: new-checkout=on`);
  });

  test('the function\'s choice of a zone given no URL goes to that zone\'s origin in the template', async () => {
    writeFlag('new-checkout', 'on', flagsFile);
    const r = routed(await viewerRequestStep(edge, incoming('GET', '/checkout')));
    expect([r.served.zone, r.target?.url, r.target?.source]).toEqual(['dashboard', 'https://dashboard.example.com', 'template']);
  });

  test('a method the behavior does not allow is CloudFront\'s 403, before any function runs', async () => {
    const refused = await viewerRequestStep(edge, incoming('POST', '/blog-static/a.js', {}, 'x'));
    expect(refused).toMatchObject({ status: 403, title: 'Method not allowed' });
    expect((refused as Failure).html).toContain('<code>/blog-static/*</code> allows GET, HEAD, OPTIONS');
  });

  test('a flag file that is not JSON is a 500 naming the file', async () => {
    const badFile = path.join(tmp, 'bad.json');
    fs.writeFileSync(badFile, '{ not json');
    const bad = loadEdgeSite({ site, zoneUrls, flagsFile: badFile });
    expect(await viewerRequestStep(bad, incoming('GET', '/blog/x'))).toMatchObject({ status: 500, title: 'Flag file unreadable', html: expect.stringContaining(badFile) });
  });
});

describe('the origin-request step (the body hash of a function URL zone)', () => {
  const stack = new Stack(new App(), 'StepsStack', { env: { account: '123456789012', region: 'us-east-1' } });
  const fn = new lambda.Function(stack, 'BlogFn', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => ({})') });
  const blog = { ...seedZones()[0], origin: FunctionUrlOrigin.withOriginAccessControl(fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM })) };
  new MultiZoneDistribution(stack, 'Site', { defaultZone: { name: 'home', origin: origin('home') }, zones: [blog, seedZones()[1]] });
  const hashed = SynthesizedSite.fromStack(stack);
  const edge = loadEdgeSite({ site: hashed, zoneUrls: { blog: 'http://localhost:3001', home: 'http://localhost:3000' }, flagsFile: path.join(tmp, 'none.json') });

  /** The viewer-request step, then the origin-request step, on one request. */
  async function throughBoth(req: http.IncomingMessage) {
    const r = routed(await viewerRequestStep(edge, req));
    const after = await originRequestLambdaStep(hashed, r.served, req, originRequest(r, r.target!.url!, false), r.target!);
    if ('status' in after) throw new Error(`expected the request to go on, got ${after.status} ${after.title}`);
    return { zone: r.served.zone, ...after };
  }

  test('a POST to the function URL zone carries the body\'s SHA-256, and the whole body goes on', async () => {
    const body = Buffer.from('{"title":"hello"}');
    const after = await throughBoth(incoming('POST', '/blog/comments', { 'content-type': 'application/json', 'content-length': String(body.length) }, body));
    expect([after.zone, after.outcome.ran]).toEqual(['blog', true]);
    expect(after.outcome.headers['x-amz-content-sha256']).toBe(createHash('sha256').update(body).digest('hex'));
    expect((await readAll(after.body!)).equals(body)).toBe(true);
  });

  test('a POST to an HTTP zone runs no function: no hash, and the viewer\'s body streams as is', async () => {
    const after = await throughBoth(incoming('POST', '/contact', { 'content-length': '1' }, 'x'));
    expect([after.zone, after.outcome.ran, after.outcome.headers['x-amz-content-sha256'], after.body]).toEqual(['home', false, undefined, undefined]);
  });
});
