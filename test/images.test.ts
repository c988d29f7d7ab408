import { FunctionSandbox, SynthesizedSite, TemplateBehavior, viewerRequestEvent } from 'multizone-cli';
import { IMAGE_OPTIMIZER_PATH } from '../lib/zones';
import { NEXT_IMAGE_QUERY_STRINGS } from '../lib/behavior-policies';
import { ZoneDefinition } from '../lib';
import { origin, seedZones, served, synth } from './support/sites';

const IMAGE_QUERY = '?url=%2Fblog-static%2Fcat.png&w=640&q=75';
const CHROME_ACCEPT = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';

describe('next/image: template', () => {
  const { template, assemblyDir } = synth();
  const json = template.toJSON();
  const site = SynthesizedSite.fromTemplate(json, { assetDirectory: assemblyDir });
  const behavior = (pattern: string): TemplateBehavior | undefined => site.behaviors.find((b) => b.pathPattern === pattern);
  const images = ['/_next/image', '/blog-static/_next/image', '/dashboard-static/_next/image'];

  test('the default zone and every zone with an assetPrefix get an exact next/image behavior to their own origin', () => {
    const owners = images.map((p) => [p, site.zoneOfOrigin(behavior(p)?.targetOriginId ?? '')]);
    expect(owners).toEqual([
      ['/_next/image', 'home'],
      ['/blog-static/_next/image', 'blog'],
      ['/dashboard-static/_next/image', 'dashboard'],
    ]);
  });

  test('each comes before its zone\'s <assetPrefix>/* behavior, which would otherwise take it', () => {
    const position = (p: string) => site.behaviors.findIndex((b) => b.pathPattern === p);
    expect(position('/blog-static/_next/image')).toBeLessThan(position('/blog-static/*'));
    expect(position('/dashboard-static/_next/image')).toBeLessThan(position('/dashboard-static/*'));
  });

  test('a zone without an assetPrefix gets none', () => {
    const plain = served({ zones: [...seedZones(), { name: 'docs', origin: origin('docs'), pathPatterns: ['/docs/*'] }] });
    expect(plain.behaviors.filter((b) => b.pathPattern.endsWith(IMAGE_OPTIMIZER_PATH)).map((b) => b.pathPattern).sort()).toEqual([...images].sort());
  });

  test.each(images)('%s: GET and HEAD only, no origin request policy, no compression', (pattern) => {
    const raw = behavior(pattern)!.raw;
    expect(raw.AllowedMethods).toEqual(['GET', 'HEAD']);
    // Left out: CloudFront caches GET and HEAD.
    expect(raw.CachedMethods).toBeUndefined();
    expect(raw.OriginRequestPolicyId).toBeUndefined();
    expect(raw.Compress).toBe(false);
  });

  test('one image cache policy for every zone: url, w, q and Accept in the key, no cookies, TTLs from the zone', () => {
    const refs = new Set(images.map((p) => JSON.stringify(behavior(p)!.raw.CachePolicyId)));
    expect(refs.size).toBe(1);
    const ref = behavior('/_next/image')!.raw.CachePolicyId.Ref;
    const config = json.Resources[ref].Properties.CachePolicyConfig;
    expect(config).toMatchObject({ MinTTL: 0, DefaultTTL: 86400, MaxTTL: 31536000 });
    const key = config.ParametersInCacheKeyAndForwardedToOrigin;
    expect(key.QueryStringsConfig).toEqual({ QueryStringBehavior: 'whitelist', QueryStrings: ['url', 'w', 'q'] });
    expect(key.HeadersConfig).toEqual({ HeaderBehavior: 'whitelist', Headers: ['Accept'] });
    expect(key.CookiesConfig).toEqual({ CookieBehavior: 'none' });
    expect(key.EnableAcceptEncodingGzip).toBe(false);
    expect(key.EnableAcceptEncodingBrotli).toBe(false);
    expect(NEXT_IMAGE_QUERY_STRINGS).toEqual(['url', 'w', 'q']);
  });

  test('pages keep the page policy: the image policy is not theirs', () => {
    expect(behavior('/blog/*')!.raw.CachePolicyId).not.toEqual(behavior('/_next/image')!.raw.CachePolicyId);
    expect(behavior('*')!.raw.CachePolicyId).not.toEqual(behavior('/_next/image')!.raw.CachePolicyId);
  });
});

describe('next/image: served requests', () => {
  // A flag that moves everything under /_next/ to the dashboard, and is on.
  const site = served({ overrides: [{ flag: 'move-next', pathPatterns: ['/_next/*'], zone: 'dashboard' }], flags: { 'move-next': 'on' } });

  test.each([
    [`/blog-static/_next/image${IMAGE_QUERY}`, 'blog', '/blog-static/_next/image'],
    ['/dashboard-static/_next/image?url=%2Fdashboard-static%2Fa.png&w=64&q=75', 'dashboard', '/dashboard-static/_next/image'],
    ['/_next/image?url=%2Fcat.png&w=640&q=75', 'home', '/_next/image'],
  ])('%s goes to %s on its image behavior, whatever a flag says', async (uri, zone, pattern) => {
    const s = await site.serve(uri, { headers: { accept: CHROME_ACCEPT } });
    expect([s.zone, s.behavior.pathPattern]).toEqual([zone, pattern]);
  });

  test('the query string reaches the function event as sent, and Accept is reduced to its image formats', async () => {
    const s = await site.serve(`/blog-static/_next/image${IMAGE_QUERY}`, { headers: { accept: CHROME_ACCEPT } });
    expect(s.functionRan).toBe(true);
    expect(s.request.querystring).toEqual({ url: { value: '%2Fblog-static%2Fcat.png' }, w: { value: '640' }, q: { value: '75' } });
    expect(s.request.headers.accept).toEqual({ value: 'image/avif,image/webp' });
  });

  test('a flag moves the paths around an image path, never the image path: the router does not run there', async () => {
    const router = site.behaviors.find((b) => b.pathPattern === '/_next/*')!.viewerRequestFunction;
    expect((await site.serve('/_next/other')).zone).toBe('dashboard');
    const image = await site.serve('/_next/image?url=%2Fcat.png&w=640&q=75');
    expect(image.zone).toBe('home');
    expect(image.behavior.viewerRequestFunction).toBeDefined();
    expect(image.behavior.viewerRequestFunction).not.toBe(router);
  });
});

describe('next/image: the Accept reducer', () => {
  const { stack } = synth();
  const site = SynthesizedSite.fromStack(stack);
  const code = site.functionCode(site.behaviors.find((b) => b.pathPattern === '/_next/image')!.viewerRequestFunction!);
  const reduce = async (accept: string | undefined) => {
    const event = viewerRequestEvent('/_next/image', accept === undefined ? {} : { headers: { accept } });
    const { result } = await new FunctionSandbox(code).run(event);
    return result.headers.accept?.value;
  };

  test.each([
    ['Chrome', CHROME_ACCEPT, 'image/avif,image/webp'],
    ['Firefox', 'image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5', 'image/avif,image/webp'],
    ['Safari 17', 'image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5', 'image/webp,image/avif'],
    ['an old Safari', 'image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5', undefined],
    ['weights kept', 'image/webp;q=0.9, IMAGE/AVIF ;q=0.5', 'image/webp;q=0.9,image/avif;q=0.5'],
    ['no Accept', undefined, undefined],
    ['lookalike types', 'image/avifx,image/webp2,text/image/webp', undefined],
  ])('%s', async (_name, accept, expected) => {
    expect(await reduce(accept)).toBe(expected);
  });

  test('Accept sent twice: both values count', async () => {
    const event = viewerRequestEvent('/_next/image');
    event.request.headers.accept = { value: 'text/html', multiValue: [{ value: 'text/html' }, { value: 'image/webp' }] };
    const { result, selectedOriginId } = await new FunctionSandbox(code).run(event);
    expect(result.headers.accept).toEqual({ value: 'image/webp' });
    expect(selectedOriginId).toBeUndefined();
  });

  test('one function for every image behavior, and its code is far below the 10 KB limit', () => {
    const ids = new Set(site.behaviors.filter((b) => b.pathPattern.endsWith(IMAGE_OPTIMIZER_PATH)).map((b) => b.viewerRequestFunction));
    expect(ids.size).toBe(1);
    expect(Buffer.byteLength(code)).toBeLessThan(1024);
  });
});

describe('next/image: the behavior quota', () => {
  test('past the quota, every next/image path keeps its behavior, so no image lands on the default behavior\'s key (no Accept)', async () => {
    const site = served({ maxCacheBehaviors: 4 });
    expect(site.behaviors.map((b) => b.pathPattern)).toEqual(['/dashboard-static/_next/image', '/blog-static/_next/image', '/_next/image', '*']);
    for (const [uri, zone] of [
      ['/_next/image', 'home'],
      ['/blog-static/_next/image', 'blog'],
      ['/blog/a', 'blog'],
      ['/dashboard-static/a.css', 'dashboard'],
      ['/x', 'home'],
    ]) {
      const s = await site.serve(uri);
      expect([uri, s.zone, s.behaviorPosition < site.behaviors.length]).toEqual([uri, zone, uri.endsWith(IMAGE_OPTIMIZER_PATH)]);
    }
  });

  test('image routes count against maxCacheBehaviors: 40 zones with an assetPrefix need 41 of them', () => {
    const zones: ZoneDefinition[] = Array.from({ length: 40 }, (_, i) => ({ name: `z${i}`, origin: origin(`z${i}`), pathPatterns: [`/z${i}/*`], assetPrefix: `/z${i}-static` }));
    const site = served({ zones });
    expect(site.behaviors.filter((b) => b.pathPattern.endsWith(IMAGE_OPTIMIZER_PATH))).toHaveLength(41);
    expect(site.behaviors).toHaveLength(75);
  });
});

describe('next/image: bad input', () => {
  test.each([
    [[{ name: 'blog', origin: origin('blog'), pathPatterns: ['/blog/*', '/_next/image'] }], /Zone "blog": path pattern "\/_next\/image" is zone "home"'s next\/image path/],
    [
      [
        { name: 'blog', origin: origin('blog'), pathPatterns: ['/blog/*'], assetPrefix: '/blog-static' },
        { name: 'media', origin: origin('media'), pathPatterns: ['/blog-static/_next/image'] },
      ],
      /Zone "media": path pattern "\/blog-static\/_next\/image" is zone "blog"'s next\/image path/,
    ],
  ])('a zone claiming another zone\'s next/image path is refused', (zones, message) => {
    expect(() => synth({ zones })).toThrow(message);
  });

  test('an assetPrefix too long for its next/image path is refused, naming the zone', () => {
    const prefix = `/${'a'.repeat(250)}`;
    expect(() => synth({ zones: [{ name: 'blog', origin: origin('blog'), pathPatterns: ['/blog/*'], assetPrefix: prefix }] })).toThrow(
      /Zone "blog": assetPrefix: next\/image path pattern "\/a{39}\.\.\." is 263 characters, CloudFront allows at most 255/,
    );
  });
});
