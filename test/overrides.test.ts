import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { KeyValueStore } from 'aws-cdk-lib/aws-cloudfront';
import * as fc from 'fast-check';
import { MultiZoneDistribution, MultiZoneDistributionProps, MultiZoneValidationError, ZoneDefinition } from '../lib';
import { MAX_FUNCTION_CODE_BYTES, ZONE_HEADER } from '../lib/edge-function/generate';
import { flagIsOnFor } from '../lib/flags';
import { resolveRoute } from '../lib/routing-plan';
import { FunctionSandbox, SynthesizedSite, viewerRequestEvent } from 'multizone-cli';
import { origin, seedZones, served, synth } from './support/sites';

const shop: ZoneDefinition = { name: 'shop', origin: origin('shop'), assetPrefix: '/shop-static' };
const blogV2: ZoneDefinition = { name: 'blog-v2', origin: origin('blog-v2'), assetPrefix: '/blog-v2-static' };

const overrideProps = (flags: Record<string, string> = { 'new-checkout': 'off', 'blog-v2': '25%' }): Partial<MultiZoneDistributionProps> => ({
  zones: [...seedZones(), shop, blogV2],
  overrides: [
    { flag: 'new-checkout', pathPatterns: ['/checkout', '/checkout/*'], zone: 'shop' },
    { flag: 'blog-v2', pathPatterns: ['/blog', '/blog/*'], zone: 'blog-v2' },
  ],
  flags,
  // Buckets by viewer IP, which these tests check; test/zone-flags.test.ts checks the visitor cookie's.
  visitorCookie: false,
});

const site = served(overrideProps());

/** Runs the site's function on a URI with a store lookup of our own (missing keys, errors). */
async function runWithStore(uri: string, lookup: (key: string) => string | undefined, ip = '198.51.100.7') {
  const { behavior } = site.behaviorFor(uri);
  const sandbox = new FunctionSandbox(site.functionCode(behavior.viewerRequestFunction!));
  const outcome = await sandbox.run(viewerRequestEvent(uri, { ip }), lookup);
  const originId = outcome.selectedOriginId ?? behavior.targetOriginId;
  return site.zoneOfOrigin(originId);
}

describe('flag overrides at the edge', () => {
  test.each([
    ['/checkout', 'off', 'home'],
    ['/checkout', 'on', 'shop'],
    ['/checkout/pay', 'on', 'shop'],
    ['/checkout/pay', 'off', 'home'],
    ['/checkout/pay', '0%', 'home'],
    ['/checkout/pay', '100%', 'shop'],
    ['/checkoutx', 'on', 'home'],
  ])('%s with new-checkout=%s goes to %s', async (uri, value, zone) => {
    expect((await site.serve(uri, { flags: { 'new-checkout': value } })).zone).toBe(zone);
  });

  test('an override takes paths from a zone, not only from the default zone', async () => {
    expect((await site.serve('/blog/post', { flags: { 'blog-v2': 'on' } })).zone).toBe('blog-v2');
    expect((await site.serve('/blog/post', { flags: { 'blog-v2': 'off' } })).zone).toBe('blog');
  });

  test('asset prefixes keep routing to their own zones, flag on or off', async () => {
    const flags = { 'blog-v2': 'on', 'new-checkout': 'on' };
    expect((await site.serve('/blog-static/_next/static/a.js', { flags })).zone).toBe('blog');
    expect((await site.serve('/blog-v2-static/_next/static/a.js', { flags })).zone).toBe('blog-v2');
    expect((await site.serve('/shop-static/_next/static/a.js', { flags })).zone).toBe('shop');
    expect((await site.serve('/_next/static/a.js', { flags })).zone).toBe('home');
  });

  test('initial values come from flags; a flag left out starts off', () => {
    const s = served({ ...overrideProps({ 'blog-v2': 'on' }) });
    expect(s.storeEntries['blog-v2']).toBe('on');
    expect(s.storeEntries['new-checkout']).toBe('off');
  });

  test('every target zone is in the distribution, even one no plain behavior uses', () => {
    const s = served({ zones: [...seedZones(), { name: 'pay', origin: origin('pay') }], overrides: [{ flag: 'pay', pathPatterns: ['/pay/*'], zone: 'pay' }] });
    expect(Object.keys(s.origins)).toContain('zone-pay');
    expect(s.behaviors.map((b) => b.pathPattern)).toContain('/_multizone/origin/pay');
  });
});

test('a KeyValueStore of the user is used instead of a new one', () => {
  const stack = new Stack(new App(), 'S', { env: { account: '123456789012', region: 'us-east-1' } });
  const store = KeyValueStore.fromKeyValueStoreArn(stack, 'Store', 'arn:aws:cloudfront::123456789012:key-value-store/0d7a2e5e-1111-2222-3333-444455556666');
  new MultiZoneDistribution(stack, 'Site', { defaultZone: { name: 'home', origin: origin('home') }, ...overrideProps(), keyValueStore: store });
  const template = Template.fromStack(stack);
  template.resourceCountIs('AWS::CloudFront::KeyValueStore', 0);
  template.hasResourceProperties('AWS::CloudFront::Function', {
    FunctionConfig: Match.objectLike({ KeyValueStoreAssociations: [{ KeyValueStoreARN: store.keyValueStoreArn }] }),
  });
  template.hasResourceProperties('Custom::MultiZoneKvsSync', { KeyValueStoreArn: store.keyValueStoreArn });
});

describe('percentage rollouts', () => {
  test('are sticky: a viewer lands on the same zone on every request', async () => {
    for (const ip of ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4']) {
      const zones = new Set<string>();
      for (let i = 0; i < 5; i++) zones.add((await site.serve('/blog/a', { ip })).zone);
      expect(zones.size).toBe(1);
    }
  });

  test('send N% of viewers to the new zone', async () => {
    let moved = 0;
    const viewers = 2000;
    for (let i = 0; i < viewers; i++) {
      if ((await site.serve('/blog/a', { ip: `10.${i >> 8}.${i & 255}.1` })).zone === 'blog-v2') moved++;
    }
    expect(moved / viewers).toBeGreaterThan(0.22);
    expect(moved / viewers).toBeLessThan(0.28);
  });

  test('use the bucketing cookie when one is configured', async () => {
    const s = served({ ...overrideProps({ 'blog-v2': '50%' }), bucketCookie: 'sid' });
    const expected = (sid: string) => (flagIsOnFor('blog-v2', '50%', sid) ? 'blog-v2' : 'blog');
    for (const sid of ['a', 'b', 'c', 'd', 'e', 'f']) {
      for (const ip of ['192.0.2.1', '192.0.2.2']) {
        expect((await s.serve('/blog/x', { ip, cookies: { sid } })).zone).toBe(expected(sid));
      }
    }
  });
});

describe('fail safe: the request goes where it would with the flag off', () => {
  const table = (key: string) => site.storeEntries[key];

  test.each(['yes', 'ON', '25', '150%', '-5%', '', '1e2%', '{"on":true}'])('garbage value %j', async (value) => {
    expect((await site.serve('/checkout', { flags: { 'new-checkout': value } })).zone).toBe('home');
    expect((await site.serve('/blog/a', { flags: { 'blog-v2': value } })).zone).toBe('blog');
  });

  test('a missing flag key', async () => {
    const withoutFlags = (key: string) => (key.startsWith('mz-site:') ? table(key) : undefined);
    expect(await runWithStore('/checkout', withoutFlags)).toBe('home');
    expect(await runWithStore('/blog/a', withoutFlags)).toBe('blog');
  });

  test('a store that fails on flag reads', async () => {
    const failing = (key: string) => {
      if (!key.startsWith('mz-site:')) throw new Error('KVS unavailable');
      return table(key);
    };
    expect(await runWithStore('/blog/a', failing)).toBe('blog');
  });

  test('a store that fails altogether leaves the behavior its own origin', async () => {
    const down = () => {
      throw new Error('KVS unavailable');
    };
    expect(await runWithStore('/blog/a', down)).toBe('blog');
    expect(await runWithStore('/checkout', down)).toBe('home');
  });

  test('a corrupt table value', async () => {
    const corrupt = (key: string) => (key.startsWith('mz-site:') ? '{not json' : 'on');
    expect(await runWithStore('/blog/a', corrupt)).toBe('blog');
  });

  test('malformed URIs and cookies never throw', async () => {
    const sandbox = new FunctionSandbox(site.functionCode(site.behaviors[site.behaviors.length - 1].viewerRequestFunction!));
    for (const uri of ['', 'checkout', '//', '/%zz', '/\u0000', `/${'a'.repeat(5000)}`]) {
      const event = viewerRequestEvent(uri, { cookies: { sid: '\u0000;;=' } });
      await expect(sandbox.run(event, table)).resolves.toBeDefined();
    }
    const broken = { request: { uri: '/checkout', headers: {}, cookies: null, querystring: {}, method: 'GET' } } as any;
    await expect(sandbox.run(broken, table)).resolves.toBeDefined();
  });
});

describe('nobody routes themselves', () => {
  test('a viewer cannot pick a zone with the internal header, a cookie or a query string', async () => {
    const attempt = await site.serve('/checkout', {
      flags: { 'new-checkout': 'off' },
      headers: { [ZONE_HEADER]: 'shop', 'x-forwarded-host': 'evil.example' },
      cookies: { 'new-checkout': 'on', [ZONE_HEADER]: 'shop' },
    });
    expect(attempt.zone).toBe('home');
    expect(attempt.request.headers[ZONE_HEADER]).toEqual({ value: 'home' });
    expect(attempt.request.headers['x-forwarded-host']).toEqual({ value: 'www.example.com' });
  });

  test('the internal header is stripped even where no route is decided', async () => {
    const plain = served();
    const attempt = await plain.serve('/blog/a', { headers: { [ZONE_HEADER]: 'shop' } });
    expect(attempt.functionRan).toBe(true);
    expect(attempt.request.headers[ZONE_HEADER]).toBeUndefined();
  });
});

describe('the router runs only where it is needed', () => {
  const quiet = served({ ...overrideProps(), forwardViewerHost: false });
  // Every page runs a function (it drops the edge's own headers); only the router reads the store.
  const runs = (pattern: string) => {
    const id = quiet.behaviors.find((b) => b.pathPattern === pattern)!.viewerRequestFunction;
    return id !== undefined && quiet.functionCode(id).includes('cf.kvs()');
  };

  test('on override patterns and the zone routes they overlap', () => {
    expect(runs('/checkout')).toBe(true);
    expect(runs('/checkout/*')).toBe(true);
    expect(runs('/blog/*')).toBe(true);
    expect(runs('/blog')).toBe(true);
  });

  test('never on assets, nor on paths no override touches', () => {
    for (const p of ['/_next/static/*', '/blog-static/*', '/blog-v2-static/*', '/shop-static/*', '/dashboard-static/*', '/dashboard/*', '/dashboard', '*']) {
      expect([p, runs(p)]).toEqual([p, false]);
    }
  });

  test('with the host forwarded, untouched pages run a function that never reads the store', () => {
    const fn = (pattern: string) => site.behaviors.find((b) => b.pathPattern === pattern)!.viewerRequestFunction!;
    expect(fn('/dashboard/*')).toBe(fn('*'));
    expect(fn('/dashboard/*')).not.toBe(fn('/checkout'));
    expect(site.functionCode(fn('/dashboard/*'))).not.toMatch(/kvs|cloudfront/);
    expect(site.functionCode(fn('/checkout'))).toMatch(/cf\.kvs\(\)/);
  });

  test('override patterns have behaviors of their own', () => {
    expect(quiet.behaviorFor('/checkout').behavior.pathPattern).toBe('/checkout');
    expect(quiet.behaviorFor('/checkout/x').behavior.pathPattern).toBe('/checkout/*');
  });
});

describe('cache safety', () => {
  const synthesized = synth(overrideProps());
  const { template } = synthesized;
  const json = template.toJSON();
  const s = SynthesizedSite.fromTemplate(json, { assetDirectory: synthesized.assemblyDir });
  const keyHeaders = (pattern: string) => {
    const ref = s.behaviors.find((b) => b.pathPattern === pattern)!.raw.CachePolicyId.Ref;
    return json.Resources[ref].Properties.CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin.HeadersConfig.Headers;
  };

  test('paths whose zone can change carry the chosen zone in the cache key', async () => {
    expect(keyHeaders('/checkout')).toContain(ZONE_HEADER);
    expect(keyHeaders('/blog/*')).toContain(ZONE_HEADER);
    const on = await s.serve('/checkout', { flags: { 'new-checkout': 'on' } });
    const off = await s.serve('/checkout', { flags: { 'new-checkout': 'off' } });
    expect(on.request.headers[ZONE_HEADER]).toEqual({ value: 'shop' });
    expect(off.request.headers[ZONE_HEADER]).toEqual({ value: 'home' });
  });

  test('paths whose zone cannot change keep the plain page key', () => {
    expect(keyHeaders('/dashboard/*')).not.toContain(ZONE_HEADER);
  });

  test('three cache policies in all: pages, movable pages, next/image', () => {
    template.resourceCountIs('AWS::CloudFront::CachePolicy', 3);
    expect(new Set(['/checkout', '/dashboard/*', '/_next/image'].map((p) => s.behaviors.find((b) => b.pathPattern === p)!.raw.CachePolicyId.Ref)).size).toBe(3);
  });
});

describe('code size', () => {
  test.each([1, 1000])('stays under 5 KB with %i overrides, the table in the store', (count) => {
    const s = served({
      zones: [...seedZones(), shop],
      overrides: Array.from({ length: count }, (_, i) => ({ flag: `f-${i}`, pathPatterns: [`/feature-${i}`, `/feature-${i}/*`], zone: 'shop' })),
    });
    const fn = s.behaviors.find((b) => b.viewerRequestFunction)!.viewerRequestFunction!;
    expect(Buffer.byteLength(s.functionCode(fn))).toBeLessThan(5120);
    for (const value of Object.values(s.storeEntries)) expect(Buffer.byteLength(value)).toBeLessThanOrEqual(1024);
  });
});

describe('code size does not grow with zones', () => {
  const name = (i: number) => `zone-${String(i).padStart(3, '0')}-${'n'.repeat(55)}`;
  const routerBytes = (zoneCount: number) => {
    const zones: ZoneDefinition[] = Array.from({ length: zoneCount }, (_, i) => ({ name: name(i), origin: origin(name(i)), pathPatterns: [`/z${i}/*`] }));
    const s = served({ zones, overrides: zones.map((_, i) => ({ flag: `f-${i}`, pathPatterns: [`/z${i}/new/*`], zone: name((i + 1) % zoneCount) })) });
    const fn = s.behaviors.map((b) => b.viewerRequestFunction).find((id) => id && s.functionCode(id).includes('cf.kvs()'))!;
    return { bytes: Buffer.byteLength(s.functionCode(fn)), site: s };
  };

  test('74 zones with 64-character names: the same router as with one other zone, within 10 KB', async () => {
    expect(name(0)).toHaveLength(64);
    const many = routerBytes(73);
    expect(many.bytes).toBe(routerBytes(1).bytes);
    expect(many.bytes).toBeLessThanOrEqual(MAX_FUNCTION_CODE_BYTES);
    // Zones still route: their names and origin ids come with the table values.
    const moved = await many.site.serve('/z40/new/page', { flags: { 'f-40': 'on' } });
    expect([moved.zone, moved.request.headers[ZONE_HEADER]]).toEqual([name(41), { value: name(41) }]);
  });

  test('a router past 10 KB is refused at synth, naming what makes it grow', () => {
    const overrides = Array.from({ length: 80 }, (_, i) => ({ flag: `${'f'.repeat(120)}-${i}`, pathPatterns: [`/p${i}/*`], zone: 'blog', preview: true }));
    expect(() => synth({ overrides })).toThrow(MultiZoneValidationError);
    expect(() => synth({ overrides })).toThrow(/^Router function: the generated code is \d+ bytes, CloudFront Functions allow at most 10240 \(10 KB, not adjustable\); .*mark fewer overrides preview: true/);
  });
});

describe('bad overrides are refused at synth', () => {
  test.each<[string, Partial<MultiZoneDistributionProps>, RegExp]>([
    ['an unknown zone', { overrides: [{ flag: 'x', pathPatterns: ['/x/*'], zone: 'nope' }] }, /Override "x": zone "nope" is not a zone of this distribution/],
    ['a flag value that is not on/off/N%', { overrides: [{ flag: 'x', pathPatterns: ['/x/*'], zone: 'blog' }], flags: { x: 'maybe' } }, /Flag "x": value "maybe" must be "on", "off" or a whole percentage/],
    ['a percentage over 100', { flags: { x: '101%' } }, /Flag "x": value "101%"/],
    ['a flag name that cannot be a key', { overrides: [{ flag: 'mz:evil', pathPatterns: ['/x/*'], zone: 'blog' }] }, /Override "mz:evil": flag name "mz:evil" must be 1 to 128 letters/],
    ['a flag no override uses (a typo, say)', { overrides: [{ flag: 'new-checkout', pathPatterns: ['/x/*'], zone: 'blog' }], flags: { 'new-chekout': 'on' } }, /Flag "new-chekout": neither an override nor zoneFlags uses it \(overrides' flags: new-checkout\); remove it, fix its name, or list it in zoneFlags/],
    ['an override with no patterns', { overrides: [{ flag: 'x', pathPatterns: [], zone: 'blog' }] }, /Override "x": pathPatterns must not be empty/],
    ['a pattern CloudFront refuses', { overrides: [{ flag: 'x', pathPatterns: ['/x/[a]'], zone: 'blog' }] }, /Override "x": path pattern "\/x\/\[a\]" has characters CloudFront refuses/],
    ['a pattern inside an asset prefix', { overrides: [{ flag: 'x', pathPatterns: ['/blog-static/*'], zone: 'dashboard' }] }, /Override "x": path pattern "\/blog-static\/\*" can never apply: every path it matches goes to zone "blog"'s asset route "\/blog-static\/\*" first/],
  ])('%s', (_name, props, message) => {
    expect(() => synth(props)).toThrow(MultiZoneValidationError);
    expect(() => synth(props)).toThrow(message);
  });
});

describe('property: the function always agrees with the reference model', () => {
  const segment = fc.constantFrom('checkout', 'blog', 'blog-static', 'blog-v2-static', 'dashboard', '_next', 'static', 'x', '', 'a.png');
  const uriArb = fc.oneof(
    fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => `/${parts.join('/')}`),
    fc.string({ maxLength: 40 }),
  );
  const flagValue = fc.oneof(fc.constantFrom('on', 'off', '0%', '50%', '100%', '7%'), fc.string({ maxLength: 6 }));
  const ipArb = fc.ipV4();

  test('random URIs, flag values, viewers, cookies and headers', async () => {
    await fc.assert(
      fc.asyncProperty(
        uriArb,
        flagValue,
        flagValue,
        ipArb,
        fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })),
        fc.dictionary(fc.constantFrom(ZONE_HEADER, 'x-forwarded-host', 'cookie', 'rsc'), fc.string({ maxLength: 8 })),
        async (uri, checkout, blog, ip, cookies, headers) => {
          const flags = { 'new-checkout': checkout, 'blog-v2': blog };
          const served = await site.serve(uri, { flags, ip, cookies, headers });
          const expected = uri.startsWith('/')
            ? resolveRoute(site.table, uri, (flag) => flagIsOnFor(flag, flags[flag as keyof typeof flags], ip)).zone
            : site.zoneOfOrigin(site.behaviorFor(uri).behavior.targetOriginId);
          expect(served.zone).toBe(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});
