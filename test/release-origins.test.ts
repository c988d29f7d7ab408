/**
 * Release origins in the tools: `cf.updateRequestOrigin` in the function
 * sandbox (what it records, what it refuses), the origin SynthesizedSite
 * reports, the local edge proxying to the origin the function chose, and
 * the local release records file it reads on every request.
 *
 * The construct's release routing is not used here: the functions are
 * small sources of this file, put in a synthesized template in place of
 * the blog pages' function, so what is under test is the tools' running of
 * whatever function the template carries.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { App, Stack, Stage } from 'aws-cdk-lib';
import { FunctionUrlOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { MultiZoneDistribution } from '../lib';
import { METADATA_KEY } from '../lib/metadata-key';
import { explainText } from '../packages/multizone-cli/src/cli/describe';
import { FunctionSandbox, viewerRequestEvent } from '../packages/multizone-cli/src/edge-function/sandbox';
import { loadEdgeSite } from '../packages/multizone-cli/src/local-edge/edge-site';
import { originRequest } from '../packages/multizone-cli/src/local-edge/origin-request';
import { originRequestLambdaStep } from '../packages/multizone-cli/src/local-edge/origin-request-lambda';
import { readLocalReleases, releasesFileBeside, writeLocalRelease } from '../packages/multizone-cli/src/local-edge/releases-file';
import { LocalEdge, startLocalEdge } from '../packages/multizone-cli/src/local-edge/server';
import { Routed, viewerRequestStep } from '../packages/multizone-cli/src/local-edge/viewer-request';
import { SynthesizedSite } from '../packages/multizone-cli/src/synthesized-site';
import { origin, seedZones, synth } from './support/sites';
import { incoming } from './support/requests';

jest.setTimeout(60_000);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'multizone-release-origins-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A viewer-request function calling `cf.updateRequestOrigin` with the given JavaScript expressions, in order. */
const updating = (...calls: string[]) => `import cf from 'cloudfront';
async function handler(event) {
${calls.map((c) => `  ${c};`).join('\n')}
  return event.request;
}`;

const run = (code: string, options: { loopback?: boolean; headers?: Record<string, string> } = {}) =>
  new FunctionSandbox(code).run(viewerRequestEvent('/blog/x', { headers: options.headers }), undefined, { loopback: options.loopback });

const FULL = {
  domainName: 'v2.blog.example.com',
  originPath: '/v2',
  customOriginConfig: { port: 8443, protocol: 'https', sslProtocols: ['TLSv1.2'] },
  originAccessControlConfig: { enabled: false },
};

describe('cf.updateRequestOrigin in the function sandbox', () => {
  test('records what the function passed, and no origin id', async () => {
    const r = await run(updating(`cf.updateRequestOrigin(${JSON.stringify(FULL)})`));
    expect([r.updatedOrigin, r.selectedOriginId]).toEqual([FULL, undefined]);
  });

  test('a function that does not call it records none', async () => {
    expect((await run(updating('cf.selectRequestOriginById("zone-blog")'))).updatedOrigin).toBeUndefined();
  });

  test('select then update: the update applies to the selected origin; update then select: the selection replaces it', async () => {
    const selectThenUpdate = await run(updating('cf.selectRequestOriginById("zone-blog")', 'cf.updateRequestOrigin({ domainName: "v2.example.com" })'));
    expect([selectThenUpdate.selectedOriginId, selectThenUpdate.updatedOrigin]).toEqual(['zone-blog', { domainName: 'v2.example.com' }]);
    const updateThenSelect = await run(updating('cf.updateRequestOrigin({ domainName: "v2.example.com" })', 'cf.selectRequestOriginById("zone-home")'));
    expect([updateThenSelect.selectedOriginId, updateThenSelect.updatedOrigin]).toEqual(['zone-home', undefined]);
  });

  test('two updates: each property as the later call gives it, the others as the earlier', async () => {
    const r = await run(updating('cf.updateRequestOrigin({ domainName: "a.example.com", originPath: "/a" })', 'cf.updateRequestOrigin({ domainName: "b.example.com" })'));
    expect(r.updatedOrigin).toEqual({ domainName: 'b.example.com', originPath: '/a' });
  });

  test('no domainName is allowed: CloudFront keeps the assigned origin\'s', async () => {
    expect((await run(updating('cf.updateRequestOrigin({ originPath: "/v2" })'))).updatedOrigin).toEqual({ originPath: '/v2' });
  });

  test.each([
    ['no object', 'undefined', 'takes one object of origin properties'],
    ['an IP address', '{ domainName: "192.0.2.1" }', 'domainName "192.0.2.1" is an IP address'],
    ['a port in the domain', '{ domainName: "v2.example.com:8080" }', 'domainName "v2.example.com:8080" must not include a colon'],
    ['a domain past 253 characters', `{ domainName: "${'a'.repeat(254)}" }`, 'domainName is 254 characters, past 253'],
    ['an origin path ending in /', '{ originPath: "/v2/" }', 'originPath "/v2/" must not end with "/"'],
    ['an origin path without its leading /', '{ originPath: "v2" }', 'originPath must start with "/"'],
    ['customOriginConfig without sslProtocols', '{ domainName: "a.example.com", customOriginConfig: { port: 443, protocol: "https" } }', 'customOriginConfig.sslProtocols is required'],
    ['an unknown protocol', '{ customOriginConfig: { port: 443, protocol: "ftp", sslProtocols: ["TLSv1.2"] } }', 'customOriginConfig.protocol is required: http or https'],
    ['ipAddressType without domainName', '{ customOriginConfig: { port: 443, protocol: "https", sslProtocols: ["TLSv1.2"], ipAddressType: "ipv6" } }', 'customOriginConfig.ipAddressType changes only together with domainName'],
    ['OAC enabled without originType', '{ originAccessControlConfig: { enabled: true, signingBehavior: "always", signingProtocol: "sigv4" } }', 'originAccessControlConfig.originType must be s3, mediapackagev2, mediastore or lambda'],
    ['OAC without enabled', '{ originAccessControlConfig: { originType: "lambda" } }', 'originAccessControlConfig.enabled must be true or false'],
    ['four connection attempts', '{ connectionAttempts: 4 }', 'connectionAttempts must be 1 to 3'],
    ['a connection timeout of 11 s', '{ timeouts: { connectionTimeout: 11 } }', 'timeouts.connectionTimeout must be 1 to 10 seconds'],
    ['a Host custom header', '{ customHeaders: { host: "x" } }', 'customHeaders "host" is a header CloudFront does not let an origin add'],
    ['an upper-case custom header', '{ customHeaders: { "X-Stage": "x" } }', 'customHeaders "X-Stage": header names must be lower case'],
    ['Origin Shield without its region', '{ originShield: { enabled: true } }', 'originShield.region is required'],
  ])('refuses %s, failing the function', async (_name, params, message) => {
    await expect(run(updating(`cf.updateRequestOrigin(${params})`))).rejects.toThrow(`cf.updateRequestOrigin: ${message}`);
  });

  test('a custom header the request has too fails the function', async () => {
    await expect(run(updating('cf.updateRequestOrigin({ customHeaders: { "x-stage": "prod" } })'), { headers: { 'x-stage': 'viewer' } })).rejects.toThrow(
      'cf.updateRequestOrigin: customHeaders "x-stage" is also a header of the request',
    );
  });

  test('127.0.0.1 only where the local edge allows this machine; localhost is a name, allowed anywhere', async () => {
    const loopback = updating('cf.updateRequestOrigin({ domainName: "127.0.0.1" })');
    await expect(run(loopback)).rejects.toThrow('domainName "127.0.0.1" is an IP address');
    expect((await run(loopback, { loopback: true })).updatedOrigin).toEqual({ domainName: '127.0.0.1' });
    expect((await run(updating('cf.updateRequestOrigin({ domainName: "localhost" })'))).updatedOrigin).toEqual({ domainName: 'localhost' });
  });
});

const RELEASE_KEY = 'mz-site:0123456789:@release:blog';

/**
 * Release routing the way the spec has the edge do it, reduced to what the
 * tools must run: the blog zone's record (current release `c`, origins in
 * `r`) read from the store, and the origin updated when `r[c]` is a URL.
 */
const RELEASE_FUNCTION = `import cf from 'cloudfront';
async function handler(event) {
  var request = event.request;
  if (request.uri.indexOf('/blog') !== 0) return request;
  var rec;
  try { rec = await cf.kvs().get('${RELEASE_KEY}', { format: 'json' }); } catch (e) { return request; }
  var m = /^(https?):\\/\\/([^/:]+)(?::(\\d+))?(\\/.*)?$/.exec(rec.r[rec.c] || '');
  if (!m) return request;
  var lambda = /\\.lambda-url\\.[a-z0-9-]+\\.on\\.aws$/.test(m[2]);
  var params = {
    domainName: m[2],
    customOriginConfig: { port: m[3] ? Number(m[3]) : (m[1] === 'https' ? 443 : 80), protocol: m[1], sslProtocols: ['TLSv1.2'] },
    originAccessControlConfig: lambda ? { enabled: true, signingBehavior: 'always', signingProtocol: 'sigv4', originType: 'lambda' } : { enabled: false }
  };
  if (m[4]) params.originPath = m[4];
  cf.updateRequestOrigin(params);
  return request;
}`;

/** A synthesized stack's template with the blog pages' function replaced by `code`, and the metadata naming the blog's release record. */
function withReleaseFunction(stack: Stack, code = RELEASE_FUNCTION): SynthesizedSite {
  const assembly = Stage.of(stack)!.synth();
  const template = structuredClone(assembly.getStackArtifact(stack.artifactId).template);
  const original = SynthesizedSite.fromTemplate(template, { assetDirectory: assembly.directory });
  template.Resources[original.behaviorFor('/blog/x').behavior.viewerRequestFunction!].Properties.FunctionCode = code;
  template.Resources[original.logicalId].Metadata[METADATA_KEY].releases = { blog: { deploymentId: 'v1', key: RELEASE_KEY, maxAgeSeconds: 86400 } };
  return SynthesizedSite.fromTemplate(template, { assetDirectory: assembly.directory });
}

const record = (current: string, origins: Record<string, string>) => JSON.stringify({ v: 1, t: 'v1', c: current, r: { v1: '', ...origins } });

describe('SynthesizedSite.serve: the origin the function updated', () => {
  const site = withReleaseFunction(synth().stack);

  test('the site metadata\'s release record keys are read', () => {
    expect(site.releases).toEqual({ blog: { deploymentId: 'v1', key: RELEASE_KEY, maxAgeSeconds: 86400 } });
  });

  test('a URL release: protocol, host, port and origin path, next to the zone the behavior chose', async () => {
    const served = await site.serve('/blog/post', { flags: { [RELEASE_KEY]: record('v2', { v2: 'http://v2.blog.example.com:8080/base' }) } });
    expect(served.zone).toBe('blog');
    expect(served.updatedOrigin).toMatchObject({ url: 'http://v2.blog.example.com:8080/base', protocol: 'http', domainName: 'v2.blog.example.com', port: 8080, originPath: '/base', signing: undefined });
  });

  test('a function URL release is signed (OAC, lambda); the template origin\'s path is inherited when the call gives none', async () => {
    const served = await site.serve('/blog/post', { flags: { [RELEASE_KEY]: record('v2', { v2: 'https://abc123.lambda-url.us-east-1.on.aws' }) } });
    expect(served.updatedOrigin).toMatchObject({ url: 'https://abc123.lambda-url.us-east-1.on.aws', signing: 'always', originType: 'lambda', originPath: '' });
  });

  test('the template origin\'s release ("") and no record: no updated origin', async () => {
    expect((await site.serve('/blog/post', { flags: { [RELEASE_KEY]: record('v1', {}) } })).updatedOrigin).toBeUndefined();
    expect((await site.serve('/blog/post')).updatedOrigin).toBeUndefined();
  });

  test('explain says where the function sent the request, only when it updated the origin', async () => {
    const released = await site.serve('/blog/post', { flags: { [RELEASE_KEY]: record('v2', { v2: 'https://abc123.lambda-url.us-east-1.on.aws' }) } });
    expect(explainText(site, '/blog/post', 'GET', released, {})).toContain(
      '\n  release    the function sent it to https://abc123.lambda-url.us-east-1.on.aws (cf.updateRequestOrigin), signed always for lambda\n',
    );
    expect(explainText(site, '/blog/post', 'GET', await site.serve('/blog/post'), {})).not.toContain('release');
  });

  test('a release on 127.0.0.1 fails the function, as on CloudFront, unless loopback origins are allowed', async () => {
    const flags = { [RELEASE_KEY]: record('v2', { v2: 'http://127.0.0.1:4002' }) };
    await expect(site.serve('/blog/post', { flags })).rejects.toThrow('is an IP address');
    expect((await site.serve('/blog/post', { flags, loopbackOrigins: true })).updatedOrigin?.url).toBe('http://127.0.0.1:4002');
  });
});

/** What a test server saw of one request. */
interface Seen {
  readonly server: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
}

function testServer(name: string, seen: Seen[]): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    seen.push({ server: name, url: req.url ?? '', headers: req.headers });
    res.end(`${name} ${req.url}`);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const portOf = (s: http.Server) => (s.address() as AddressInfo).port;
const closeServer = (s: http.Server) => new Promise<void>((resolve) => {
  s.closeAllConnections();
  s.close(() => resolve());
});

describe('the local edge proxies to the origin the function chose, from the releases file read on every request', () => {
  const site = withReleaseFunction(synth().stack);
  const seen: Seen[] = [];
  const lines: string[] = [];
  const flagsFile = path.join(tmp, 'edge', 'flags.json');
  const releasesFile = releasesFileBeside(flagsFile);
  let template: http.Server;
  let release: http.Server;
  let edge: LocalEdge;

  beforeAll(async () => {
    template = await testServer('template', seen);
    release = await testServer('release', seen);
    const zoneUrls = { blog: `http://127.0.0.1:${portOf(template)}`, home: `http://127.0.0.1:${portOf(template)}` };
    edge = await startLocalEdge({ site, zoneUrls, flagsFile, host: '127.0.0.1', originHeaders: { 'x-origin-verify': 's3cret' }, log: (l) => lines.push(l) });
  });
  afterAll(async () => {
    await edge.close();
    await closeServer(template);
    await closeServer(release);
  });

  const get = async (uri: string) => {
    seen.length = 0;
    const res = await fetch(`${edge.url}${uri}`, { headers: { cookie: 'session=abc', 'x-custom': 'yes' } });
    return { status: res.status, route: res.headers.get('x-multizone-route'), body: await res.text(), seen: seen[0] };
  };

  test('no releases file: the zone\'s own URL answers', async () => {
    const r = await get('/blog/post-1');
    expect([r.status, r.seen?.server, r.route]).toEqual([200, 'template', 'zone=blog; behavior=/blog/*; function']);
  });

  test('a release written with writeLocalRelease answers the next request: its path prefixed, the behavior\'s forwarding kept, the origin\'s custom header inherited', async () => {
    writeLocalRelease('blog', record('v2', { v2: `http://127.0.0.1:${portOf(release)}/base` }), releasesFile);
    const r = await get('/blog/post-1?b=2&a=1');
    const releaseUrl = `http://127.0.0.1:${portOf(release)}/base`;
    expect([r.status, r.seen?.server, r.seen?.url, r.route]).toEqual([200, 'release', '/base/blog/post-1?b=2&a=1', `zone=blog; behavior=/blog/*; function; origin=${releaseUrl}`]);
    expect(r.seen?.headers).toMatchObject({ 'host': `127.0.0.1:${portOf(release)}`, 'cookie': 'session=abc', 'x-custom': 'yes', 'x-origin-verify': 's3cret', 'via': '1.1 multizone-local-edge' });
    expect(lines).toContain(`releases from ${releasesFile}: blog`);
  });

  test('assets and other zones keep their origins', async () => {
    writeLocalRelease('blog', record('v2', { v2: `http://127.0.0.1:${portOf(release)}` }), releasesFile);
    expect((await get('/blog-static/_next/static/a.js')).seen?.server).toBe('template');
    expect((await get('/about')).seen?.server).toBe('template');
  });

  test('back to the template origin ("") on the next request', async () => {
    writeLocalRelease('blog', record('v1', { v2: `http://127.0.0.1:${portOf(release)}` }), releasesFile);
    expect((await get('/blog/post-1')).seen?.server).toBe('template');
  });

  test('a damaged file: the template origin, and one clear log line, never a crash', async () => {
    fs.writeFileSync(releasesFile, '{ "blog": ');
    expect((await get('/blog/post-1')).seen?.server).toBe('template');
    expect((await get('/blog/post-2')).status).toBe(200);
    const errors = lines.filter((l) => l.startsWith(`error: Releases file ${releasesFile}: not valid JSON`));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('no release records apply');
  });
});

describe('the local releases file', () => {
  const file = path.join(tmp, 'store', 'releases.json');

  test('absent: no records; written: each zone\'s record kept beside the others, no temporary file left', () => {
    expect(readLocalReleases(file)).toEqual({});
    writeLocalRelease('blog', record('v2', { v2: 'https://v2.example.com' }), file);
    writeLocalRelease('shop', record('v1', {}), file);
    expect(Object.keys(readLocalReleases(file))).toEqual(['blog', 'shop']);
    expect(readLocalReleases(file).blog).toMatchObject({ c: 'v2', r: { v2: 'https://v2.example.com' } });
    expect(fs.readdirSync(path.dirname(file))).toEqual(['releases.json']);
  });

  test('a record that is not a JSON object is refused, naming the zone, and nothing is written', () => {
    const before = fs.readFileSync(file, 'utf8');
    expect(() => writeLocalRelease('blog', '[1]', file)).toThrow('Zone "blog": the release record must be a JSON object');
    expect(() => writeLocalRelease('blog', '{', file)).toThrow('Zone "blog": the release record is not valid JSON');
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
  });

  test('a damaged file is a one-line error naming it', () => {
    const damaged = path.join(tmp, 'damaged.json');
    fs.writeFileSync(damaged, '{ "blog": 3 }');
    expect(() => readLocalReleases(damaged)).toThrow(`Releases file ${damaged}: zone "blog": its release record must be a JSON object`);
    expect(() => writeLocalRelease('shop', '{}', damaged)).toThrow(`Releases file ${damaged}`);
  });

  test('the default file is .multizone/releases.json, beside the default flag file', () => {
    expect(releasesFileBeside()).toBe(path.join('.multizone', 'releases.json'));
  });
});

describe('a function URL release of a function URL zone: signed, and the body hash still runs', () => {
  const stack = new Stack(new App(), 'ReleaseStepsStack', { env: { account: '123456789012', region: 'us-east-1' } });
  const fn = new lambda.Function(stack, 'BlogFn', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => ({})') });
  const blog = { ...seedZones()[0], origin: FunctionUrlOrigin.withOriginAccessControl(fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM })) };
  new MultiZoneDistribution(stack, 'Site', { defaultZone: { name: 'home', origin: origin('home') }, zones: [blog, seedZones()[1]] });
  const site = withReleaseFunction(stack);
  const flagsFile = path.join(tmp, 'lambda', 'flags.json');
  const edge = loadEdgeSite({ site, zoneUrls: { blog: 'http://localhost:3001', home: 'http://localhost:3000' }, flagsFile });

  test('a POST goes to the release\'s function URL with the body\'s SHA-256, without the viewer\'s Authorization', async () => {
    writeLocalRelease('blog', record('v2', { v2: 'https://abc123.lambda-url.us-east-1.on.aws' }), releasesFileBeside(flagsFile));
    const body = '{"title":"hello"}';
    const req = incoming('POST', '/blog/comments', { 'content-type': 'application/json', 'content-length': String(body.length), 'authorization': 'Bearer viewer' }, body);
    const r = (await viewerRequestStep(edge, req)) as Routed;
    expect([r.served.zone, r.target?.url, r.target?.source, r.target?.signing]).toEqual(['blog', 'https://abc123.lambda-url.us-east-1.on.aws', 'function', 'always']);
    const outgoing = originRequest(r, r.target!.url!, false);
    expect([outgoing.headers.host, outgoing.headers.authorization]).toEqual(['abc123.lambda-url.us-east-1.on.aws', undefined]);
    const after = await originRequestLambdaStep(site, r.served, req, outgoing, r.target!);
    if ('status' in after) throw new Error(`expected the request to go on, got ${after.status}`);
    expect([after.outcome.ran, after.outcome.headers['x-amz-content-sha256']]).toEqual([true, createHash('sha256').update(body).digest('hex')]);
  });

  test('an HTTP release of that zone is not signed: the viewer\'s Authorization on a POST goes on', async () => {
    writeLocalRelease('blog', record('v2', { v2: 'http://localhost:4002' }), releasesFileBeside(flagsFile));
    const req = incoming('POST', '/blog/comments', { 'content-length': '2', 'authorization': 'Bearer viewer' }, '{}');
    const r = (await viewerRequestStep(edge, req)) as Routed;
    expect([r.target?.url, r.target?.signing]).toEqual(['http://localhost:4002', undefined]);
    expect(originRequest(r, r.target!.url!, false).headers.authorization).toBe('Bearer viewer');
  });
});
