/**
 * What of the viewer's request reaches a zone: the edge's own headers
 * (`x-multizone-zone`, `x-multizone-flags`, `x-viewer-authorization`, and
 * `x-forwarded-host` where the edge sets it) only ever as the edge wrote
 * them, and the viewer's `Authorization` in a header of its own, which an
 * origin access control signing for a Lambda function URL leaves alone.
 * Tested on the artifact: the template's functions run as CloudFront runs
 * them (SynthesizedSite.serve), and the local edge's requests to zones.
 */
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { FunctionUrlOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SynthesizedSite } from 'multizone-cli';
import { MultiZoneDistribution, MultiZoneDistributionProps, ZoneDefinition } from '../lib';
import { ZONE_HEADER } from '../lib/edge-function/generate';
import { VIEWER_AUTHORIZATION_HEADER } from '../lib/edge-function/router-source';
import { ZONE_FLAGS_HEADER } from '../lib/zone-flags';
import { startLocalEdge } from '../packages/multizone-cli/src/local-edge/server';
import { origin, seedZones, served } from './support/sites';

jest.setTimeout(30_000);

/** A viewer trying to set every header the edge sets. */
const SPOOFED: Record<string, string> = { [ZONE_HEADER]: 'blog', [ZONE_FLAGS_HEADER]: 'forged=on', [VIEWER_AUTHORIZATION_HEADER]: 'Basic Zm9yZ2VkOnh4' };
const EDGE_HEADERS = Object.keys(SPOOFED);

/** A site with a zone whose only route overflows to the function: the zone keeps an anchor behavior for its origin. */
const anchoredProps = (): Partial<MultiZoneDistributionProps> => ({
  zones: [...seedZones(), { name: 'tiny', origin: origin('tiny'), pathPatterns: ['/t*'] }],
  maxCacheBehaviors: 6,
});

/** Every page behavior kind: the host forwarder (no flags), the router (a flag moves /checkout), the zone-flag decider. */
const pageSites: Array<[string, Partial<MultiZoneDistributionProps>]> = [
  ['no flags, forwardViewerHost: false', { forwardViewerHost: false }],
  ['no flags', {}],
  ['an override', { overrides: [{ flag: 'new-checkout', pathPatterns: ['/checkout', '/checkout/*'], zone: 'dashboard' }], flags: { 'new-checkout': '50%' } }],
  ['zone flags', { flags: { 'new-nav': '20%' }, zoneFlags: ['new-nav'], forwardViewerHost: false }],
];

describe('no viewer-supplied edge header reaches a zone', () => {
  test.each(pageSites)('pages of a site with %s: the page function drops each one', async (_name, props) => {
    const site = served(props);
    for (const uri of ['/', '/blog/post', '/dashboard', '/checkout/pay']) {
      const s = await site.serve(uri, { headers: SPOOFED });
      // Pages pass every viewer header on: only the function stands between a viewer and the zone.
      expect([uri, s.behavior.raw.OriginRequestPolicyId]).toEqual([uri, cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER.originRequestPolicyId]);
      expect([uri, s.functionRan]).toEqual([uri, true]);
      for (const name of EDGE_HEADERS) expect([uri, name, s.forwardedHeaders[name]]).not.toEqual([uri, name, SPOOFED[name]]);
      expect([uri, s.forwardedHeaders[VIEWER_AUTHORIZATION_HEADER]]).toEqual([uri, undefined]);
    }
  });

  test('the anchor path of a zone without behaviors passes nothing of the viewer\'s on, and caches nothing', async () => {
    const site = served(anchoredProps());
    const anchor = site.behaviorFor('/_multizone/origin/tiny').behavior;
    expect(anchor.pathPattern).toBe('/_multizone/origin/tiny');
    expect(anchor.raw.OriginRequestPolicyId).toBeUndefined();
    expect(anchor.raw.CachePolicyId).toBe(cloudfront.CachePolicy.CACHING_DISABLED.cachePolicyId);
  });

  test('x-forwarded-host is the viewer\'s Host wherever the edge sets it, whatever the viewer sent', async () => {
    const site = served(pageSites[2][1]);
    for (const uri of ['/', '/blog/post', '/checkout']) {
      const s = await site.serve(uri, { host: 'www.shop.example', headers: { 'x-forwarded-host': 'evil.example' } });
      expect([uri, s.forwardedHeaders['x-forwarded-host']]).toEqual([uri, 'www.shop.example']);
    }
  });
});

describe('the viewer\'s Authorization', () => {
  test.each(pageSites)('pages of a site with %s: copied to x-viewer-authorization, over any copy the viewer sent', async (_name, props) => {
    const site = served(props);
    for (const uri of ['/', '/blog/post', '/checkout/pay']) {
      for (const method of ['GET', 'POST']) {
        const s = await site.serve(uri, { method, headers: { authorization: 'Bearer t0k3n', [VIEWER_AUTHORIZATION_HEADER]: 'Bearer forged' } });
        expect([uri, method, s.forwardedHeaders[VIEWER_AUTHORIZATION_HEADER], s.forwardedHeaders.authorization]).toEqual([uri, method, 'Bearer t0k3n', 'Bearer t0k3n']);
      }
    }
  });

  test('assets and images pass no viewer header on: neither Authorization nor its copy reaches their zone', async () => {
    const site = served();
    for (const uri of ['/_next/static/a.js', '/blog-static/_next/static/a.css', '/blog-static/_next/image']) {
      const s = await site.serve(uri, { headers: { authorization: 'Bearer t0k3n' } });
      expect([uri, s.behavior.raw.OriginRequestPolicyId, s.forwardedHeaders[VIEWER_AUTHORIZATION_HEADER]]).toEqual([uri, undefined, undefined]);
    }
  });
});

describe('origin access control signing of a function URL zone', () => {
  function siteWith(authType: lambda.FunctionUrlAuthType, signing?: cloudfront.Signing): Stack {
    const stack = new Stack(new App(), 'SiteStack', { env: { account: '123456789012', region: 'us-east-1' } });
    const fn = new lambda.Function(stack, 'BlogFn', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => ({})') });
    const url = fn.addFunctionUrl({ authType });
    const originAccessControl = signing && new cloudfront.FunctionUrlOriginAccessControl(stack, 'Oac', { signing });
    const blog: ZoneDefinition = { ...seedZones()[0], origin: FunctionUrlOrigin.withOriginAccessControl(url, { originAccessControl }) };
    new MultiZoneDistribution(stack, 'Site', { defaultZone: { name: 'home', origin: origin('home') }, zones: [blog, seedZones()[1]] });
    return stack;
  }
  const warnings = (stack: Stack) =>
    Annotations.fromStack(stack)
      .findWarning('*', Match.stringLikeRegexp('multizone:functionUrlAuthorization'))
      .map((w) => String(w.entry.data));

  test('no-override on an AWS_IAM function URL: a warning naming the zone, the reason and the remedy', () => {
    expect(warnings(siteWith(lambda.FunctionUrlAuthType.AWS_IAM, cloudfront.Signing.SIGV4_NO_OVERRIDE))).toEqual([
      expect.stringMatching(
        /^Zone "blog": its origin access control signs with no-override, so a request carrying Authorization .* reaches the Lambda function URL unsigned, and a function URL of auth type AWS_IAM refuses it \(403\); sign always \(Signing\.SIGV4_ALWAYS, the default\): the zone then reads the viewer's Authorization in x-viewer-authorization/,
      ),
    ]);
  });

  test('never on an AWS_IAM function URL: a warning, every request being refused', () => {
    expect(warnings(siteWith(lambda.FunctionUrlAuthType.AWS_IAM, cloudfront.Signing.NEVER))).toEqual([
      expect.stringMatching(/^Zone "blog": its origin access control never signs, and its function URL of auth type AWS_IAM refuses every unsigned request \(403\)/),
    ]);
  });

  test('signing always (the default), or a function URL of auth type NONE: no warning', () => {
    expect(warnings(siteWith(lambda.FunctionUrlAuthType.AWS_IAM))).toEqual([]);
    expect(warnings(siteWith(lambda.FunctionUrlAuthType.NONE, cloudfront.Signing.SIGV4_NO_OVERRIDE))).toEqual([]);
    expect(warnings(siteWith(lambda.FunctionUrlAuthType.NONE, cloudfront.Signing.NEVER))).toEqual([]);
  });
});

describe('local edge: what reaches the zone', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'multizone-viewer-headers-'));
  const seen: Array<{ url: string; headers: http.IncomingHttpHeaders }> = [];
  const zone = http.createServer((req, res) => {
    seen.push({ url: req.url!, headers: req.headers });
    res.end('ok');
  });
  let zoneUrl = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => zone.listen(0, '127.0.0.1', resolve));
    zoneUrl = `http://127.0.0.1:${(zone.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    zone.closeAllConnections();
    await new Promise((r) => zone.close(r));
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** The request the zone got for one viewer request through a local edge of `site`. */
  async function through(site: SynthesizedSite, uri: string, options: { method?: string; headers?: Record<string, string> } = {}) {
    const edge = await startLocalEdge({ site, zoneUrls: Object.fromEntries(site.zones.map((z) => [z.name, zoneUrl])), flagsFile: path.join(tmp, 'flags.json'), host: '127.0.0.1' });
    try {
      seen.length = 0;
      await new Promise<void>((resolve, reject) => {
        const req = http.request(`${edge.url}${uri}`, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => res.resume().on('end', resolve));
        req.on('error', reject);
        req.end(options.method === 'POST' ? 'a=1' : undefined);
      });
      expect(seen).toHaveLength(1);
      return seen[0];
    } finally {
      await edge.close();
    }
  }

  test('a page of a site with forwardViewerHost: false: no spoofed edge header, the viewer\'s Authorization in its copy', async () => {
    const got = await through(served({ forwardViewerHost: false }), '/blog/post', { headers: { ...SPOOFED, authorization: 'Basic dTpw' } });
    expect(got.headers[ZONE_HEADER]).toBeUndefined();
    expect(got.headers[ZONE_FLAGS_HEADER]).toBeUndefined();
    expect(got.headers[VIEWER_AUTHORIZATION_HEADER]).toBe('Basic dTpw');
    expect(got.headers['x-forwarded-host']).toBeUndefined();
  });

  test('an anchor path: no viewer header, cookie or query string', async () => {
    const got = await through(served(anchoredProps()), '/_multizone/origin/tiny?x=1', { headers: { ...SPOOFED, authorization: 'Basic dTpw', cookie: 'a=b' } });
    expect(got.url).toBe('/_multizone/origin/tiny');
    for (const name of [...EDGE_HEADERS, 'authorization', 'cookie', 'x-forwarded-host']) expect([name, got.headers[name]]).toEqual([name, undefined]);
  });

  test('a function URL zone behind origin access control: the viewer\'s Authorization and host arrive in headers of their own', async () => {
    const stack = new Stack(new App(), 'SiteStack', { env: { account: '123456789012', region: 'us-east-1' } });
    const fn = new lambda.Function(stack, 'BlogFn', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => ({})') });
    const blog: ZoneDefinition = { ...seedZones()[0], origin: FunctionUrlOrigin.withOriginAccessControl(fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM })) };
    new MultiZoneDistribution(stack, 'Site', { defaultZone: { name: 'home', origin: origin('home') }, zones: [blog] });
    const site = SynthesizedSite.fromStack(stack);
    for (const method of ['GET', 'POST']) {
      const got = await through(site, '/blog/post', { method, headers: { host: 'www.shop.example', authorization: 'Bearer t0k3n', [VIEWER_AUTHORIZATION_HEADER]: 'Bearer forged' } });
      expect([method, got.headers[VIEWER_AUTHORIZATION_HEADER], got.headers['x-forwarded-host']]).toEqual([method, 'Bearer t0k3n', 'www.shop.example']);
      // Signing always: CloudFront's signature takes the Authorization header's place, on every method.
      expect([method, got.headers.authorization]).toEqual([method, undefined]);
    }
  });

  test('an HTTP zone, as CloudFront forwards Authorization: dropped on GET and HEAD (not in the page cache key), passed on POST', async () => {
    const site = served({});
    for (const [method, expected] of [['GET', undefined], ['HEAD', undefined], ['POST', 'Basic dTpw']] as const) {
      const got = await through(site, '/blog/post', { method, headers: { authorization: 'Basic dTpw' } });
      expect([method, got.headers.authorization, got.headers[VIEWER_AUTHORIZATION_HEADER]]).toEqual([method, expected, 'Basic dTpw']);
    }
  });
});
