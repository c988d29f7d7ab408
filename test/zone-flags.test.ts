/**
 * Zone flags and the visitor cookie, tested on the artifact: the
 * synthesized template's behaviors and policies, and its functions run as
 * CloudFront runs them (SynthesizedSite.serve: behavior, viewer-request
 * function, viewer-response function). The header is read back with the
 * zone package's own parser.
 */
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as fc from 'fast-check';
import { MultiZoneDistributionProps, MultiZoneValidationError, ZoneDefinition } from '../lib';
import { FunctionSandbox, ServedRequest, SynthesizedSite, viewerRequestEvent } from 'multizone-cli';
import { flagIsOnFor } from '../lib/flags';
import { templateLimitProblems } from '../lib/limits';
import { SiteMetadata } from '../lib/site-metadata';
import { PREVIEW_COOKIE, PREVIEW_SECRET_KEY, previewEntry } from '../lib/preview';
import { MAX_ZONE_FLAGS_HEADER_LENGTH as PACKAGE_MAX_LENGTH, ZONE_FLAGS_HEADER as PACKAGE_HEADER, parseZoneFlagsHeader } from '../packages/multizone-flags/src/header';
import { MAX_ZONE_FLAGS, MAX_ZONE_FLAGS_HEADER_LENGTH, VISITOR_COOKIE, ZONE_FLAGS_HEADER, isVisitorId } from '../lib/zone-flags';
import { origin, seedZones, served, synth } from './support/sites';

const shop: ZoneDefinition = { name: 'shop', origin: origin('shop'), assetPrefix: '/shop-static' };

/** The example: a rollout, a flag that also moves /checkout, and one that is on. */
const flaggedProps = (extra: Partial<MultiZoneDistributionProps> = {}): Partial<MultiZoneDistributionProps> => ({
  zones: [...seedZones(), shop],
  overrides: [{ flag: 'new-checkout', pathPatterns: ['/checkout', '/checkout/*'], zone: 'shop', preview: true }],
  flags: { 'new-checkout': '50%', 'new-nav': '20%', beta: 'on', legacy: 'off' },
  zoneFlags: ['new-nav', 'new-checkout', 'beta', 'legacy'],
  ...extra,
});

const site = served(flaggedProps());

/** The decisions a served request forwards, read as a zone reads them. */
function decisions(s: ServedRequest): Record<string, boolean> {
  const parsed = parseZoneFlagsHeader(s.forwardedHeaders[ZONE_FLAGS_HEADER]);
  if (parsed.status !== 'ok') throw new Error(`header ${s.forwardedHeaders[ZONE_FLAGS_HEADER]}: ${parsed.status}`);
  return { ...parsed.flags };
}

/** The visitor id a response sets, if it sets one. */
function visitorIdSet(s: ServedRequest): string | undefined {
  const line = s.setCookies.find((c) => c.startsWith(`${VISITOR_COOKIE}=`));
  return line ? line.slice(VISITOR_COOKIE.length + 1).split(';')[0] : undefined;
}

describe('the contract with the zone package', () => {
  test('the header name and length bound are the package\'s, and the longest header the edge can write fits', async () => {
    expect(ZONE_FLAGS_HEADER).toBe(PACKAGE_HEADER);
    expect(MAX_ZONE_FLAGS_HEADER_LENGTH).toBe(PACKAGE_MAX_LENGTH);
    // As many zone flags as allowed, each with the longest name a flag may have.
    const names = Array.from({ length: MAX_ZONE_FLAGS }, (_, i) => `${String(i).padStart(2, '0')}${'n'.repeat(126)}`);
    const s = served({ flags: Object.fromEntries(names.map((f) => [f, 'off'])), zoneFlags: names });
    const header = (await s.serve('/blog/post')).forwardedHeaders[ZONE_FLAGS_HEADER];
    expect(header.length).toBe(MAX_ZONE_FLAGS * (128 + '=off'.length) + MAX_ZONE_FLAGS - 1);
    expect(header.length).toBeLessThanOrEqual(PACKAGE_MAX_LENGTH);
    expect(parseZoneFlagsHeader(header)).toMatchObject({ status: 'ok' });
  });

  test('the header lists every zone flag sorted by name, without spaces', async () => {
    const s = await site.serve('/about', { cookies: { [VISITOR_COOKIE]: 'a'.repeat(32) } });
    expect(s.forwardedHeaders[ZONE_FLAGS_HEADER]).toMatch(/^beta=on,legacy=off,new-checkout=(on|off),new-nav=(on|off)$/);
  });
});

describe('decisions on every page request', () => {
  const vid = (i: number) => i.toString(16).padStart(32, '0');

  test.each(['/', '/about', '/blog/post', '/dashboard', '/checkout/pay', '/shop-static-not-an-asset'])('%s carries every zone flag', async (uri) => {
    const s = await site.serve(uri, { cookies: { [VISITOR_COOKIE]: vid(7) } });
    expect(Object.keys(decisions(s)).sort()).toEqual(['beta', 'legacy', 'new-checkout', 'new-nav']);
  });

  test('on, off and N% by the viewer\'s bucket', async () => {
    const seen = new Set<boolean>();
    for (let i = 0; i < 40; i++) {
      const id = vid(i);
      const d = decisions(await site.serve('/blog/post', { cookies: { [VISITOR_COOKIE]: id } }));
      expect(d).toEqual({ beta: true, legacy: false, 'new-checkout': flagIsOnFor('new-checkout', '50%', id), 'new-nav': flagIsOnFor('new-nav', '20%', id) });
      seen.add(d['new-nav']);
    }
    expect([...seen].sort()).toEqual([false, true]);
  });

  test('a missing value and garbage values are off; the store values are read at request time', async () => {
    const { behavior } = site.behaviorFor('/blog/post');
    const sandbox = new FunctionSandbox(site.functionCode(behavior.viewerRequestFunction!));
    const store: Record<string, string | undefined> = { beta: undefined, legacy: 'yes', 'new-checkout': '150%', 'new-nav': 'ON' };
    const outcome = await sandbox.run(viewerRequestEvent('/blog/post'), (key) => store[key]);
    expect(outcome.result.headers[ZONE_FLAGS_HEADER]).toEqual({ value: 'beta=off,legacy=off,new-checkout=off,new-nav=off' });
    const flipped = await site.serve('/blog/post', { flags: { beta: 'off', legacy: 'on' } });
    expect(decisions(flipped)).toMatchObject({ beta: false, legacy: true });
  });

  test('the viewer\'s own header is removed, on every page and asset behavior, with or without zone flags', async () => {
    const spoof = { headers: { [ZONE_FLAGS_HEADER]: 'beta=off,legacy=on,evil=on' } };
    expect(decisions(await site.serve('/blog/post', spoof))).toMatchObject({ beta: true, legacy: false });
    expect(decisions(await site.serve('/checkout', spoof))).toMatchObject({ beta: true, legacy: false });
    const plain = served();
    for (const uri of ['/', '/blog/post', '/dashboard']) {
      const s = await plain.serve(uri, spoof);
      expect(s.functionRan).toBe(true);
      expect(s.forwardedHeaders).not.toHaveProperty([ZONE_FLAGS_HEADER]);
    }
  });

  test('asset and image requests carry no decisions and set no cookie; no viewer header reaches their zone', async () => {
    for (const uri of ['/_next/static/chunks/a.js', '/blog-static/_next/static/a.css', '/blog-static/_next/image', '/_next/image']) {
      const s = await site.serve(uri);
      expect([uri, s.forwardedHeaders[ZONE_FLAGS_HEADER], s.setCookies]).toEqual([uri, undefined, []]);
      // No origin request policy: the zone gets only the cache key's headers (none, or Accept for images), never a viewer's copy.
      expect([uri, s.behavior.raw.OriginRequestPolicyId]).toEqual([uri, undefined]);
    }
  });

  test('a moved path: the forwarded decision is the one that routed it', async () => {
    const zones = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const s = await site.serve('/checkout/pay', { cookies: { [VISITOR_COOKIE]: vid(1000 + i) } });
      expect(s.zone).toBe(decisions(s)['new-checkout'] ? 'shop' : 'home');
      zones.add(s.zone);
    }
    expect([...zones].sort()).toEqual(['home', 'shop']);
  });

  test('a valid preview cookie decides a previewable flag for routing and for the header alike', async () => {
    const secret = 'e'.repeat(64);
    const expiry = Math.floor(Date.now() / 1000) + 600;
    const cookies = { [PREVIEW_COOKIE]: previewEntry('new-checkout', 'on', expiry, secret) };
    const flags = { 'new-checkout': 'off', [PREVIEW_SECRET_KEY]: secret };
    const moved = await site.serve('/checkout', { cookies, flags });
    expect([moved.zone, decisions(moved)['new-checkout']]).toEqual(['shop', true]);
    expect(decisions(await site.serve('/about', { cookies, flags }))['new-checkout']).toBe(true);
    expect(decisions(await site.serve('/about', { flags }))['new-checkout']).toBe(false);
  });

  test('one store read per zone flag a request, shared with routing', async () => {
    for (const uri of ['/checkout/pay', '/blog/post']) {
      const { behavior } = site.behaviorFor(uri);
      const reads: string[] = [];
      await new FunctionSandbox(site.functionCode(behavior.viewerRequestFunction!)).run(viewerRequestEvent(uri), (key) => {
        reads.push(key);
        return site.storeEntries[key];
      });
      const flagReads = reads.filter((k) => !k.startsWith('mz-site:'));
      expect(flagReads.sort()).toEqual(['beta', 'legacy', 'new-checkout', 'new-nav']);
      // The decider reads no routing table; the router its one bucket.
      expect(reads.filter((k) => k.startsWith('mz-site:')).length).toBe(behavior.viewerRequestFunction!.includes('Router') ? 1 : 0);
    }
  });
});

describe('the visitor cookie', () => {
  test('is created on the first request, which it buckets, and re-sent unchanged on every later one, so its 400 days start again', async () => {
    const outcomes = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const first = await site.serve('/blog/post');
      const id = visitorIdSet(first);
      expect(id && isVisitorId(id)).toBe(true);
      expect(first.setCookies).toEqual([`${VISITOR_COOKIE}=${id}; Secure; HttpOnly; SameSite=Lax; Path=/; Max-Age=34560000`]);
      // The first request was decided with the id it hands out.
      expect(decisions(first)['new-nav']).toBe(flagIsOnFor('new-nav', '20%', id!));
      for (const uri of ['/blog/other', '/dashboard', '/checkout', '/']) {
        const later = await site.serve(uri, { cookies: { [VISITOR_COOKIE]: id! }, ip: `198.51.100.${i}` });
        expect(later.setCookies).toEqual(first.setCookies);
        expect(decisions(later)).toEqual(decisions(first));
      }
      outcomes.add(`${decisions(first)['new-checkout']}`);
    }
    expect([...outcomes].sort()).toEqual(['false', 'true']);
  });

  test('a cookie the edge did not write is replaced', async () => {
    const s = await site.serve('/blog/post', { cookies: { [VISITOR_COOKIE]: 'not-an-id' } });
    expect(isVisitorId(visitorIdSet(s) ?? '')).toBe(true);
  });

  test('the viewer-response function runs on the zone\'s own response too', async () => {
    const first = await site.serve('/blog/post');
    const response = await site.respond(first, { statusCode: 404, headers: { 'content-type': { value: 'text/html' } }, cookies: { theme: { value: 'dark' } } });
    expect(response.statusCode).toBe(404);
    expect(response.cookies.theme).toEqual({ value: 'dark' });
    expect(response.cookies[VISITOR_COOKIE].value).toBe(visitorIdSet(first));
  });

  test('bucketCookie replaces it, and visitorCookie: false turns it off (the viewer IP then)', async () => {
    for (const extra of [{ bucketCookie: 'sid' }, { visitorCookie: false }]) {
      const s = served(flaggedProps(extra));
      expect(s.behaviors.filter((b) => b.viewerResponseFunction)).toEqual([]);
      const first = await s.serve('/blog/post', { ip: '203.0.113.9', cookies: { sid: 'session-1' } });
      expect(first.setCookies).toEqual([]);
      const key = 'bucketCookie' in extra ? 'session-1' : '203.0.113.9';
      expect(decisions(first)['new-nav']).toBe(flagIsOnFor('new-nav', '20%', key));
    }
  });

  test('is set only where a flag is decided: pages a flag can move, without zone flags', async () => {
    const s = served({ ...flaggedProps(), zoneFlags: [], flags: { 'new-checkout': '50%' } });
    const withCookie = s.behaviors.filter((b) => b.viewerResponseFunction).map((b) => b.pathPattern);
    expect(withCookie.sort()).toEqual(['/checkout', '/checkout/*']);
    expect((await s.serve('/blog/post')).setCookies).toEqual([]);
    expect(isVisitorId(visitorIdSet(await s.serve('/checkout')) ?? '')).toBe(true);
  });
});

describe('the template', () => {
  const { template, stack } = synth(flaggedProps());
  const config = template.toJSON().Resources[site.logicalId].Properties.DistributionConfig;
  const behaviors: any[] = [...config.CacheBehaviors, { ...config.DefaultCacheBehavior, PathPattern: '*' }];
  const fnOf = (b: any, type: string) => (b.FunctionAssociations ?? []).filter((a: any) => a.EventType === type).map((a: any) => a.FunctionARN['Fn::GetAtt'][0]);
  const policyHeaders = (id: string) => template.toJSON().Resources[id]?.Properties.CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin.HeadersConfig.Headers;

  test('every page behavior decides the flags (router where a flag moves it, else the decider) and sets the visitor cookie', () => {
    const pages = behaviors.filter((b) => b.AllowedMethods.length === 7);
    expect(pages.map((b) => b.PathPattern).sort()).toEqual(['*', '/blog', '/blog/*', '/checkout', '/checkout/*', '/dashboard', '/dashboard/*']);
    for (const b of pages) {
      const [request] = fnOf(b, 'viewer-request');
      expect([b.PathPattern, request]).toEqual([b.PathPattern, expect.stringMatching(b.PathPattern.startsWith('/checkout') ? /^SiteRouter/ : /^SiteFlagDecider/)]);
      expect(fnOf(b, 'viewer-response')).toEqual([expect.stringMatching(/^SiteVisitorCookie/)]);
    }
    expect(Object.keys(template.findResources('AWS::CloudFront::Function')).filter((id) => id.startsWith('SiteHostForwarder'))).toEqual([]);
  });

  test('page cache keys hold the decisions; asset and image behaviors are unchanged', () => {
    for (const b of behaviors) {
      const keyed = typeof b.CachePolicyId === 'object' ? policyHeaders(b.CachePolicyId.Ref) : undefined;
      if (b.AllowedMethods.length === 7) {
        expect([b.PathPattern, keyed]).toEqual([b.PathPattern, expect.arrayContaining([ZONE_FLAGS_HEADER])]);
        expect(keyed.length).toBeLessThanOrEqual(10);
      } else {
        expect([b.PathPattern, keyed ?? []]).toEqual([b.PathPattern, expect.not.arrayContaining([ZONE_FLAGS_HEADER])]);
        expect([b.PathPattern, fnOf(b, 'viewer-response')]).toEqual([b.PathPattern, []]);
      }
    }
    expect(config.CacheBehaviors.find((b: any) => b.PathPattern === '/blog-static/*').CachePolicyId).toBe(cloudfront.CachePolicy.CACHING_OPTIMIZED.cachePolicyId);
  });

  test('without zone flags, untouched pages keep the store-free host forwarder and no viewer-response function', () => {
    const plain = served();
    for (const b of plain.behaviors.filter((x) => x.raw.AllowedMethods.length === 7)) {
      expect([b.pathPattern, b.viewerRequestFunction, b.viewerResponseFunction]).toEqual([b.pathPattern, expect.stringMatching(/^SiteHostForwarder/), undefined]);
      const fn = plain.resource(b.viewerRequestFunction!)!;
      expect(fn.Properties.FunctionConfig.KeyValueStoreAssociations).toBeUndefined();
    }
  });

  test('a site with zone flags and no override has a store, the flags\' initial values and no router', () => {
    const s = served({ flags: { 'new-nav': '20%' }, zoneFlags: ['new-nav'] });
    expect(s.storeEntries['new-nav']).toBe('20%');
    expect(s.behaviors.some((b) => b.viewerRequestFunction?.startsWith('SiteRouter'))).toBe(false);
    expect(new Set(s.behaviors.filter((b) => b.raw.AllowedMethods.length === 7).map((b) => b.viewerRequestFunction?.replace(/[0-9A-F]{8}$/, '')))).toEqual(new Set(['SiteFlagDecider']));
  });

  test('the metadata names the zone flags and the cookie buckets follow', () => {
    const metadata = (s: SynthesizedSite): SiteMetadata => s.resource(s.logicalId)!.Metadata.MultiZone;
    expect(metadata(site)).toMatchObject({ zoneFlags: ['beta', 'legacy', 'new-checkout', 'new-nav'], bucketCookie: VISITOR_COOKIE, visitorCookie: true });
    expect(metadata(served(flaggedProps({ bucketCookie: 'sid' })))).toMatchObject({ bucketCookie: 'sid', visitorCookie: false });
    const plain = metadata(served());
    expect(plain).toMatchObject({ zoneFlags: [], visitorCookie: false });
    expect(plain.bucketCookie).toBeUndefined();
    expect(site.table.zoneFlags).toEqual(['beta', 'legacy', 'new-checkout', 'new-nav']);
  });

  test('a page cache policy of the user\'s own gets a warning to key on the decisions', () => {
    const { stack: own } = synth(flaggedProps({ pageCachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED }));
    Annotations.fromStack(own).hasWarning('*', Match.stringLikeRegexp(`pageCachePolicy: pages carry the zone flags \\(beta, legacy, new-checkout, new-nav\\) in ${ZONE_FLAGS_HEADER}`));
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('pageCachePolicy'))).toEqual([]);
  });

  test('the template is within every limit of the table, and one more function of an event type on a behavior is not', () => {
    const { template: t, assemblyDir } = synth(flaggedProps());
    const json = t.toJSON();
    expect(templateLimitProblems(json, { assetDirectory: assemblyDir })).toEqual([]);
    const doubled = JSON.parse(JSON.stringify(json));
    const behavior = doubled.Resources[site.logicalId].Properties.DistributionConfig.CacheBehaviors.find((b: any) => b.PathPattern === '/blog/*');
    behavior.FunctionAssociations.push(behavior.FunctionAssociations.find((a: any) => a.EventType === 'viewer-response'));
    expect(templateLimitProblems(doubled, { assetDirectory: assemblyDir }).map((p) => [p.limit, p.where, p.found])).toEqual([
      ['functions-per-event-type-per-behavior', `${site.logicalId} behavior "/blog/*"`, '2 viewer-response functions'],
    ]);
  });

  test('every function is within 10 KB', () => {
    for (const [id, fn] of Object.entries(Template.fromStack(stack).findResources('AWS::CloudFront::Function'))) {
      expect([id, Buffer.byteLength(fn.Properties.FunctionCode) <= 10240]).toEqual([id, true]);
    }
  });
});

describe('bad zone flags are refused at synth', () => {
  const many = Array.from({ length: MAX_ZONE_FLAGS + 1 }, (_, i) => `flag-${i}`);
  test.each<[string, Partial<MultiZoneDistributionProps>, RegExp]>([
    ['a name that is not a flag', { flags: { 'new-nav': 'on' }, zoneFlags: ['new-nav', 'new-naw'] }, /zoneFlags: "new-naw" is not a key of flags; give it an initial value there \(flags: \{ "new-naw": "off" \}\) or fix its name/],
    ['a flag listed twice', { flags: { 'new-nav': 'on' }, zoneFlags: ['new-nav', 'new-nav'] }, /zoneFlags: "new-nav" is listed more than once; list each flag once/],
    [
      'more flags than a request can read',
      { flags: Object.fromEntries(many.map((f) => [f, 'off'])), zoneFlags: many },
      new RegExp(`zoneFlags: ${MAX_ZONE_FLAGS + 1} flags, at most ${MAX_ZONE_FLAGS}: every page request reads each one`),
    ],
    ['a flag neither an override nor zoneFlags uses', { flags: { 'new-nav': 'on', typo: 'on' }, zoneFlags: ['new-nav'] }, /Flag "typo": neither an override nor zoneFlags uses it/],
  ])('%s', (_name, props, message) => {
    expect(() => synth(props)).toThrow(MultiZoneValidationError);
    expect(() => synth(props)).toThrow(message);
  });

  test('a flag only zoneFlags uses is accepted', () => {
    expect(() => synth({ flags: { 'new-nav': 'on' }, zoneFlags: ['new-nav'] })).not.toThrow();
  });
});

describe('property: the forwarded decision of an overridden flag is the routing decision', () => {
  const hex32 = fc.stringMatching(/^[0-9a-f]{32}$/);
  const viewerCookie = fc.oneof(hex32, fc.string({ maxLength: 40 }));
  const flagValue = fc.oneof(fc.constantFrom('on', 'off', '0%', '1%', '50%', '99%', '100%'), fc.string({ maxLength: 5 }));
  const sites = [site, served(flaggedProps({ bucketCookie: 'sid' })), served(flaggedProps({ visitorCookie: false }))];

  test('random viewers (ids, IPs, cookies) and flag values', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(0, 1, 2),
        fc.constantFrom('/checkout', '/checkout/pay', '/checkout/a/b'),
        fc.ipV4(),
        fc.option(viewerCookie, { nil: undefined }),
        fc.option(fc.string({ maxLength: 12 }), { nil: undefined }),
        fc.string({ minLength: 1, maxLength: 60 }),
        flagValue,
        async (which, uri, ip, vid, sid, requestId, value) => {
          const cookies: Record<string, string> = {};
          if (vid !== undefined) cookies[VISITOR_COOKIE] = vid;
          if (sid !== undefined) cookies.sid = sid;
          const s = await sites[which].serve(uri, { ip, cookies, requestId, flags: { 'new-checkout': value } });
          expect(s.zone).toBe(decisions(s)['new-checkout'] ? 'shop' : 'home');
        },
      ),
      { numRuns: 300 },
    );
  });
});
