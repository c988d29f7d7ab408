import * as fc from 'fast-check';
import { MAX_KVS_VALUE_BYTES, RoutingTable, encodeRoutingTable, flagIsOnFor, literalSegments, resolveRoute } from '../lib';
import { origin, seedZones, served } from './support/sites';

const table = (overrides: RoutingTable['overrides']): RoutingTable => ({
  defaultZone: 'home',
  zones: ['home', 'shop'],
  routes: [{ pattern: '/_next/static/*', zone: 'home', kind: 'asset' }],
  overrides,
  flags: {},
});

describe('the routing table in the KeyValueStore', () => {
  test('literal segments stop at the first wildcard', () => {
    expect(literalSegments('/blog/admin/*')).toEqual(['blog', 'admin']);
    expect(literalSegments('/blog')).toEqual(['blog']);
    expect(literalSegments('/blog*')).toEqual([]);
    expect(literalSegments('*.png')).toEqual([]);
    expect(literalSegments('/a/b?/c')).toEqual(['a']);
  });

  test('a small table is one value per first segment, plus the wildcard bucket', () => {
    const { entries, keyPrefix } = encodeRoutingTable(table([{ pattern: '/x/*', flag: 'f', zone: 'shop' }]));
    expect(Object.keys(entries).map((k) => k.slice(keyPrefix.length)).sort()).toEqual(['s:_next', 's:x', 'w']);
    expect(JSON.parse(entries[`${keyPrefix}s:x`])).toEqual([0, [0, '/x/*', 1, 'f']]);
  });

  test('a bucket too big for one value hands rows down by their next segment', () => {
    const overrides = Array.from({ length: 200 }, (_, i) => ({ pattern: `/shop/item-${i}/*`, flag: `f${i}`, zone: 'shop' }));
    const { entries, keyPrefix } = encodeRoutingTable(table([...overrides, { pattern: '/shop/*', flag: 'all', zone: 'shop' }]));
    const top = JSON.parse(entries[`${keyPrefix}s:shop`]);
    expect(top).toEqual([2, [200, '/shop/*', 1, 'all']]);
    expect(JSON.parse(entries[`${keyPrefix}s:shop/item-7`])).toEqual([0, [7, '/shop/item-7/*', 1, 'f7']]);
    for (const value of Object.values(entries)) expect(Buffer.byteLength(value)).toBeLessThanOrEqual(MAX_KVS_VALUE_BYTES);
  });

  test('rows that cannot go deeper are chunked over several values', () => {
    const overrides = Array.from({ length: 100 }, (_, i) => ({ pattern: `/shop/*-${i}.json`, flag: `f${i}`, zone: 'shop' }));
    const { entries, keyPrefix } = encodeRoutingTable(table(overrides));
    const chunks = Object.keys(entries).filter((k) => k.startsWith(`${keyPrefix}s:shop`));
    expect(chunks.length).toBeGreaterThan(3);
    const rows = chunks.flatMap((k) => JSON.parse(entries[k]).slice(1));
    expect(rows.map((r: any[]) => r[1]).sort()).toEqual(overrides.map((o) => o.pattern).sort());
  });

  test('the version changes with the table, and only then', () => {
    const a = encodeRoutingTable(table([{ pattern: '/x/*', flag: 'f', zone: 'shop' }]));
    expect(encodeRoutingTable(table([{ pattern: '/x/*', flag: 'f', zone: 'shop' }])).version).toBe(a.version);
    expect(encodeRoutingTable(table([{ pattern: '/y/*', flag: 'f', zone: 'shop' }])).version).not.toBe(a.version);
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
  const site = served({ zones: [...seedZones(), { name: 'shop', origin: origin('shop') }], overrides, forwardViewerHost: false });

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
