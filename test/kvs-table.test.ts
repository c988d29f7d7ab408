import * as fc from 'fast-check';
import { App, Stack } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { FunctionSandbox, SynthesizedSite, viewerRequestEvent } from 'multizone-cli';
import {
  MAX_KVS_VALUE_BYTES,
  MAX_TABLE_READS,
  MAX_TABLE_STORE_BYTES,
  encodeRoutingTable,
  literalSegments,
} from '../lib/edge-function/kvs-table';
import { MultiZoneDistributionProps, MultiZoneValidationError } from '../lib';
import { RoutingTable, resolveRoute } from '../lib/routing-plan';
import { flagIsOnFor } from '../lib/flags';
import { origin, seedZones, served, siteStack, synth } from './support/sites';

const table = (overrides: RoutingTable['overrides']): RoutingTable => ({
  defaultZone: 'home',
  zones: ['home', 'shop'],
  routes: [{ pattern: '/_next/static/*', zone: 'home', kind: 'asset' }],
  overrides,
  flags: {},
});
const SITE = '0123456789';
const zones = [
  { name: 'home', originId: 'zone-home' },
  { name: 'shop', originId: 'my-shop-origin' },
];

describe('the routing table in the KeyValueStore', () => {
  test('literal segments stop at the first wildcard', () => {
    expect(literalSegments('/blog/admin/*')).toEqual(['blog', 'admin']);
    expect(literalSegments('/blog')).toEqual(['blog']);
    expect(literalSegments('/blog*')).toEqual([]);
    expect(literalSegments('*.png')).toEqual([]);
    expect(literalSegments('/a/b?/c')).toEqual(['a']);
  });

  test('a small table is one value, carrying the zones its rows name', () => {
    const { entries, keyPrefix, bucketCount, maxReads } = encodeRoutingTable(table([{ pattern: '/x/*', flag: 'f', zone: 'shop' }]), zones, SITE);
    expect(Object.keys(entries)).toEqual([`${keyPrefix}b0`]);
    expect(JSON.parse(entries[`${keyPrefix}b0`])).toEqual([0, {}, { 1: ['shop', 'my-shop-origin'] }, [0, '/_next/static/*', 0, 1], [0, '/x/*', 1, 'f']]);
    expect([bucketCount, maxReads]).toEqual([1, 1]);
  });

  test('any route kind but page is written as one that never moves', () => {
    // A kind of route the encoder does not know of yet (a next/image route, say) must not become movable.
    const t: RoutingTable = { ...table([]), routes: [{ pattern: '/_next/image', zone: 'shop', kind: 'image' as unknown as 'asset' }] };
    const { entries, keyPrefix } = encodeRoutingTable(t, zones, SITE);
    expect(JSON.parse(entries[`${keyPrefix}b0`]).slice(3)).toEqual([[0, '/_next/image', 1, 1]]);
  });

  test('many first segments spread over buckets, each value within the store limit', () => {
    const overrides = Array.from({ length: 1000 }, (_, i) => ({ pattern: `/feature-${i}/*`, flag: `f${i}`, zone: 'shop' }));
    const { entries, bucketCount, maxReads } = encodeRoutingTable(table(overrides), zones, SITE);
    expect(bucketCount).toBeGreaterThan(16);
    expect(maxReads).toBe(1);
    for (const value of Object.values(entries)) expect(Buffer.byteLength(value)).toBeLessThanOrEqual(MAX_KVS_VALUE_BYTES);
  });

  test('a segment too big for its bucket hands its longer paths down to buckets of their own', () => {
    const overrides = Array.from({ length: 300 }, (_, i) => ({ pattern: `/shop/item-${i}/*`, flag: `f${i}`, zone: 'shop' }));
    const { entries, keyPrefix, maxReads } = encodeRoutingTable(table([...overrides, { pattern: '/shop/*', flag: 'all', zone: 'shop' }]), zones, SITE);
    const top = JSON.parse(entries[`${keyPrefix}b0`]);
    expect(Object.keys(top[1])).toEqual(['shop']);
    expect(top.slice(3).map((r: unknown[]) => r[1])).toEqual(['/_next/static/*', '/shop/*']);
    expect(Object.keys(entries).filter((k) => k.startsWith(`${keyPrefix}s:shop#`))).toHaveLength(top[1].shop);
    expect(maxReads).toBe(2);
  });

  test('the version changes with the table, and only then', () => {
    const a = encodeRoutingTable(table([{ pattern: '/x/*', flag: 'f', zone: 'shop' }]), zones, SITE);
    expect(encodeRoutingTable(table([{ pattern: '/x/*', flag: 'f', zone: 'shop' }]), zones, SITE).version).toBe(a.version);
    expect(encodeRoutingTable(table([{ pattern: '/y/*', flag: 'f', zone: 'shop' }]), zones, SITE).version).not.toBe(a.version);
    expect(encodeRoutingTable(table([{ pattern: '/x/*', flag: 'f', zone: 'shop' }]), [zones[0], { name: 'shop', originId: 'other' }], SITE).version).not.toBe(a.version);
  });

  test('a table too big for its share of the store is refused', () => {
    const long = (i: number) => `/${'p'.repeat(200)}-${i}/*`;
    const overrides = Array.from({ length: 12000 }, (_, i) => ({ pattern: long(i), flag: `f${i}`, zone: 'shop' }));
    expect(() => encodeRoutingTable(table(overrides), zones, SITE)).toThrow(MultiZoneValidationError);
    expect(() => encodeRoutingTable(table(overrides), zones, SITE)).toThrow(`at most ${MAX_TABLE_STORE_BYTES} allowed`);
  });
});

/** Runs the site's router on a URI, counting the store reads: table values and everything else (flags). */
async function reads(site: SynthesizedSite, uri: string, flags: Record<string, string> = {}) {
  const code = site.functionCode(site.behaviors.find((b) => b.viewerRequestFunction && site.functionCode(b.viewerRequestFunction).includes('cf.kvs()'))!.viewerRequestFunction!);
  const keys: string[] = [];
  const outcome = await new FunctionSandbox(code).run(viewerRequestEvent(uri), (key) => {
    keys.push(key);
    return Object.prototype.hasOwnProperty.call(flags, key) ? flags[key] : site.storeEntries[key];
  });
  return { table: keys.filter((k) => k.startsWith('mz-site:')).length, flags: keys.filter((k) => !k.startsWith('mz-site:')), zone: outcome.selectedOriginId && site.zoneOfOrigin(outcome.selectedOriginId) };
}

const featureOverrides = (count: number, pattern: (i: number) => string) =>
  Array.from({ length: count }, (_, i) => ({ flag: `f-${i}`, pathPatterns: [pattern(i)], zone: 'blog' }));

describe('store reads per request: one table value, then one per flag consulted', () => {
  test.each([1, 1000])('with %i override(s)', async (count) => {
    const site = served({ overrides: featureOverrides(count, (i) => `/feature-${i}/*`) });
    const last = count - 1;
    expect(await reads(site, `/feature-${last}/a`, { [`f-${last}`]: 'off' })).toEqual({ table: 1, flags: [`f-${last}`], zone: 'home' });
    expect(await reads(site, `/feature-${last}/a`, { [`f-${last}`]: 'on' })).toEqual({ table: 1, flags: [`f-${last}`], zone: 'blog' });
    // No override matches: no flag is read.
    expect(await reads(site, '/about')).toEqual({ table: 1, flags: [], zone: 'home' });
    expect(await reads(site, '/blog/post')).toEqual({ table: 1, flags: [], zone: 'blog' });
  });

  test('a flag is read once however many of its patterns match, and the next flag only while none is on', async () => {
    const site = served({
      overrides: [
        { flag: 'deep', pathPatterns: ['/x/y/*', '/x/*'], zone: 'dashboard' },
        { flag: 'wide', pathPatterns: ['/x/*'], zone: 'blog' },
      ],
    });
    expect(await reads(site, '/x/y/z', { deep: 'off', wide: 'off' })).toEqual({ table: 1, flags: ['deep', 'wide'], zone: 'home' });
    expect(await reads(site, '/x/y/z', { deep: 'on', wide: 'on' })).toEqual({ table: 1, flags: ['deep'], zone: 'dashboard' });
  });

  test('a small table is spread thin: a value holding rows of several first segments holds at most 256 bytes of them', () => {
    const site = served({ overrides: featureOverrides(1, (i) => `/feature-${i}/*`) });
    const buckets = Object.entries(site.storeEntries).filter(([key]) => /^mz-site:[0-9a-f]{10}:[0-9a-f]{8}:b\d+$/.test(key));
    expect(buckets.length).toBeGreaterThan(1);
    for (const [key, value] of buckets) {
      const rows: Array<[number, string]> = JSON.parse(value).slice(3);
      const own = rows.filter((r) => literalSegments(r[1]).length > 0);
      const segments = new Set(own.map((r) => literalSegments(r[1])[0]));
      if (segments.size > 1) expect([key, own.reduce((n, r) => n + JSON.stringify(r).length, 0) <= 256]).toEqual([key, true]);
    }
  });

  test('1000 overrides under one first segment: its bucket, then the bucket of the second segment', async () => {
    const site = served({ overrides: featureOverrides(1000, (i) => `/features/f-${i}/*`) });
    expect(await reads(site, '/features/f-999/a', { 'f-999': 'on' })).toEqual({ table: 2, flags: ['f-999'], zone: 'blog' });
    expect(await reads(site, '/about')).toEqual({ table: 1, flags: [], zone: 'home' });
  });
});

describe('fail safe: a table value missing or past the read budget leaves the behavior its own origin', () => {
  const site = served({ overrides: featureOverrides(1000, (i) => `/features/f-${i}/*`) });
  const code = site.functionCode(site.behaviors.find((b) => b.pathPattern === '*')!.viewerRequestFunction!);
  const run = async (lookup: (key: string) => string | undefined) => {
    const keys: string[] = [];
    const outcome = await new FunctionSandbox(code).run(viewerRequestEvent('/features/f-7/a'), (key) => {
      keys.push(key);
      return lookup(key);
    });
    return { selected: outcome.selectedOriginId, keys };
  };

  test('a missing deeper bucket', async () => {
    const all = await run((key) => (key === 'f-7' ? 'on' : site.storeEntries[key]));
    expect(site.zoneOfOrigin(all.selected!)).toBe('blog');
    const deeper = all.keys.find((k) => k.includes(':s:features#'))!;
    const without = await run((key) => (key === deeper ? undefined : key === 'f-7' ? 'on' : site.storeEntries[key]));
    expect(without).toEqual({ selected: undefined, keys: all.keys.filter((k) => k !== 'f-7') });
  });

  test('a store whose values never end stops at the read budget', async () => {
    const endless = await run((key) => (key.startsWith('mz-site:') ? '[1,{},{}]' : 'on'));
    expect(endless.selected).toBeUndefined();
    expect(endless.keys.length).toBeLessThanOrEqual(2);
  });
});

describe(`bounded work: no request reads more than ${MAX_TABLE_READS} table values`, () => {
  test('3000 patterns whose wildcard reaches the first segment are refused, named, with the remedy', () => {
    const props: Partial<MultiZoneDistributionProps> = { overrides: featureOverrides(3000, (i) => `*.x${i}`) };
    expect(() => synth(props)).toThrow(MultiZoneValidationError);
    expect(() => synth(props)).toThrow(
      /overrides: 3000 path patterns have a wildcard in their first path segment, so every routed request checks them all \(Override "f-1000" "\*\.x1000", .*, and 2995 more\): \d+ KeyValueStore reads a request, at most 8 allowed .*give them distinct literal leading segments/,
    );
  });

  test('3000 patterns that share all their literal segments are refused too', () => {
    expect(() => synth({ overrides: featureOverrides(3000, (i) => `/files/*.x${i}`) })).toThrow(
      /overrides: 3000 path patterns share their literal path "\/files\/" and nothing more, so a request under it checks them all \(Override "f-1000" "\/files\/\*\.x1000", /,
    );
  });

  test('the largest wildcard-first table accepted stays within the bound', async () => {
    const site = served({ overrides: featureOverrides(200, (i) => `*.x${i}`) });
    const r = await reads(site, '/a/b.x199', { 'f-199': 'on' });
    expect(r.zone).toBe('blog');
    expect(r.table).toBeGreaterThan(1);
    expect(r.table).toBeLessThanOrEqual(MAX_TABLE_READS);
  });
});

describe('property: a large, deeply bucketed table routes like the reference model', () => {
  const sections = ['shop', 'docs'];
  const overrides = sections.flatMap((s, si) =>
    Array.from({ length: 120 }, (_, i) => ({
      flag: `${s}-${i}`,
      pathPatterns: [`/${s}/p${i}/*`, `/${s}/p${i}/deep/q${i % 7}/*`, `/${s}/*-${i}.json`],
      zone: si === 0 ? 'shop' : 'blog',
    })),
  );
  // Viewers bucketed by IP, as the reference model is: with the visitor cookie, each request here would be a new visitor with a random bucket.
  const site = served({ zones: [...seedZones(), { name: 'shop', origin: origin('shop') }], overrides, forwardViewerHost: false, visitorCookie: false });

  test('random paths and flag values', async () => {
    const uri = fc
      .tuple(fc.constantFrom(...sections, 'blog', 'x'), fc.nat(130), fc.constantFrom('', '/deep/q3/z', '/a', '-5.json'), fc.nat(8))
      .map(([s, i, tail, j]) => (tail === '-5.json' ? `/${s}/n${tail.replace('5', String(j))}` : `/${s}/p${i}${tail}`));
    await fc.assert(
      fc.asyncProperty(uri, fc.dictionary(fc.constantFrom(...overrides.slice(0, 40).map((o) => o.flag), 'shop-5', 'docs-3'), fc.constantFrom('on', 'off', '50%', 'junk')), async (path, flags) => {
        const all: Record<string, string> = { ...Object.fromEntries(overrides.map((o) => [o.flag, 'on'])), ...flags };
        const expected = resolveRoute(site.table, path, (flag) => flagIsOnFor(flag, all[flag], '192.0.2.10')).zone;
        expect((await site.serve(path, { flags: all })).zone).toBe(expected);
      }),
      { numRuns: 200 },
    );
  });
});

describe('two sites on one store', () => {
  const STORE_ARN = 'arn:aws:cloudfront::123456789012:key-value-store/0f6a1c2e-0000-4000-8000-000000000000';
  const checkout = (zone: string): Partial<MultiZoneDistributionProps> => ({ overrides: [{ flag: 'new-checkout', pathPatterns: ['/checkout', '/checkout/*'], zone }] });
  const app = new App();
  // The same construct path in two stacks: only the stack name sets them apart.
  const store = (stack: Stack) => ({ keyValueStore: cloudfront.KeyValueStore.fromKeyValueStoreArn(stack, 'Store', STORE_ARN) });
  const stacks = [siteStack(checkout('blog'), store, { app, id: 'ShopA' }), siteStack(checkout('dashboard'), store, { app, id: 'ShopB' })];
  const [a, b] = stacks.map((s) => SynthesizedSite.fromStack(s));
  const tableKeys = (site: SynthesizedSite) => Object.keys(site.storeEntries).filter((k) => k !== 'new-checkout');

  /** Runs a site's router on `uri` against the shared store; the keys it read, and the zone. */
  async function routeIn(site: SynthesizedSite, shared: Record<string, string>, uri: string) {
    const code = site.functionCode(site.behaviors.find((behavior) => behavior.pathPattern === '/checkout/*')!.viewerRequestFunction!);
    const keys: string[] = [];
    const outcome = await new FunctionSandbox(code).run(viewerRequestEvent(uri), (key) => {
      keys.push(key);
      return shared[key];
    });
    return { keys, zone: outcome.selectedOriginId && site.zoneOfOrigin(outcome.selectedOriginId) };
  }

  test('each site writes its table under a prefix of its own, and the tables do not overlap', () => {
    const prefixOf = (site: SynthesizedSite) => new Set(tableKeys(site).map((k) => k.split(':').slice(0, 2).join(':')));
    expect([...prefixOf(a)]).toEqual([expect.stringMatching(/^mz-site:[0-9a-f]{10}$/)]);
    expect([...prefixOf(b)]).toEqual([expect.stringMatching(/^mz-site:[0-9a-f]{10}$/)]);
    expect([...prefixOf(a)][0]).not.toBe([...prefixOf(b)][0]);
    expect(tableKeys(a).filter((k) => tableKeys(b).includes(k))).toEqual([]);
  });

  test("each router reads only its own table and the shared flag, and routes by it with the other site's table beside it", async () => {
    // Both tables, the shared flag, and a table of the earlier layout (`mz:<version>:`) left by an earlier release.
    const shared = { ...a.storeEntries, ...b.storeEntries, 'new-checkout': 'on', 'mz:0badc0de:b0': '[0,{},{},[0,"/checkout/*",0,"new-checkout"]]' };
    const inA = await routeIn(a, shared, '/checkout/pay');
    const inB = await routeIn(b, shared, '/checkout/pay');
    expect(inA.zone).toBe('blog');
    expect(inB.zone).toBe('dashboard');
    expect(inA.keys.filter((k) => k !== 'new-checkout').every((k) => tableKeys(a).includes(k))).toBe(true);
    expect(inB.keys.filter((k) => k !== 'new-checkout').every((k) => tableKeys(b).includes(k))).toBe(true);
    expect(inA.keys).toContain('new-checkout');
    // Without its own table a router leaves the request to its behavior's origin, whatever the other site's table says.
    const withoutA = Object.fromEntries(Object.entries(shared).filter(([k]) => !tableKeys(a).includes(k)));
    expect((await routeIn(a, withoutA, '/checkout/pay')).zone).toBeUndefined();
  });
});
