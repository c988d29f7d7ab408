import { ZoneDefinition } from '../lib';
import { pathPatternMatches } from '../lib/path-patterns';
import { origin, served, synth } from './support/sites';

/** 40 zones with three patterns each and an asset prefix (assets and next/image): 202 routes for 75 behaviors. */
const fortyZones = (): ZoneDefinition[] =>
  Array.from({ length: 40 }, (_, i) => ({
    name: `zone-${i}`,
    origin: origin(`zone-${i}`),
    pathPatterns: [`/zone-${i}`, `/zone-${i}/*`, `/api/zone-${i}/*`],
    assetPrefix: `/zone-${i}-static`,
  }));

describe('CloudFront quotas', () => {
  test('a fixed, small number of cache policies, whatever the number of zones', () => {
    // Pages and next/image: one policy each for every zone.
    synth({ zones: fortyZones() }).template.resourceCountIs('AWS::CloudFront::CachePolicy', 2);
    synth().template.resourceCountIs('AWS::CloudFront::CachePolicy', 2);
    synth().template.resourceCountIs('AWS::CloudFront::OriginRequestPolicy', 0);
  });

  describe('40 zones with three patterns each', () => {
    const site = served({ zones: fortyZones() });

    test('fit in 75 cache behaviors, default included', () => {
      expect(site.behaviors.length).toBeLessThanOrEqual(75);
      expect(site.behaviors.length).toBe(75);
    });

    test('every zone keeps its origin in the distribution', () => {
      expect(Object.keys(site.origins)).toHaveLength(41);
    });

    test.each(Array.from({ length: 40 }, (_, i) => i))('zone-%i serves its pages, its API and its assets', async (i) => {
      for (const uri of [`/zone-${i}`, `/zone-${i}/page`, `/api/zone-${i}/items`, `/zone-${i}-static/_next/static/a.js`]) {
        expect([uri, (await site.serve(uri)).zone]).toEqual([uri, `zone-${i}`]);
      }
      expect((await site.serve(`/zone-${i}x`)).zone).toBe('home');
    });

    test('routes past the quota are routed by the function at the default behavior', async () => {
      const overflowed = site.behaviors.length < site.table.routes.length + 1;
      expect(site.table.routes).toHaveLength(202);
      expect(overflowed).toBe(true);
      const viaFunction = await site.serve('/zone-39/page');
      expect(viaFunction.behaviorPosition).toBe(site.behaviors.length);
      expect(viaFunction.functionRan).toBe(true);
      expect(viaFunction.zone).toBe('zone-39');
    });

    test('the kept behaviors are the most specific routes, so no overflowed route is shadowed', () => {
      const kept = site.behaviors.slice(0, -1).map((b) => b.pathPattern);
      const overflowed = site.table.routes.map((r) => r.pattern).filter((p) => !kept.includes(p));
      for (const o of overflowed) {
        const representative = o.replace(/\*/g, 'x');
        const shadowing = kept.find((k) => !k.startsWith('/_multizone/') && pathPatternMatches(k, representative));
        expect([o, shadowing]).toEqual([o, undefined]);
      }
    });
  });

  test('a smaller maxCacheBehaviors is honored', async () => {
    const site = served({ maxCacheBehaviors: 4 });
    expect(site.behaviors).toHaveLength(4);
    for (const [uri, zone] of [['/blog/a', 'blog'], ['/dashboard', 'dashboard'], ['/dashboard-static/x.css', 'dashboard'], ['/x', 'home']]) {
      expect((await site.serve(uri)).zone).toBe(zone);
    }
  });

  test('a zone whose routes all overflow keeps an anchor behavior for its origin', () => {
    const zones = [...fortyZones().slice(0, 3), { name: 'tiny', origin: origin('tiny'), pathPatterns: ['/t*'] }];
    const site = served({ zones, maxCacheBehaviors: 6 });
    expect(site.behaviors.map((b) => b.pathPattern)).toContain('/_multizone/origin/tiny');
    expect(Object.keys(site.origins)).toContain('zone-tiny');
  });
});
