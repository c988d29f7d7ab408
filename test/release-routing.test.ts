/**
 * Release routing, run as CloudFront runs it: the zone release function
 * and the release router taken from a synthesized template and executed
 * (SynthesizedSite.serve), against release records made by the record
 * module's own steps.
 */
import * as fc from 'fast-check';
import { ServedRequest, SynthesizedSite } from 'multizone-cli';
import { ZoneDefinition } from '../lib';
import { ReleaseRecord, addRelease, encodeRecord, initialRecord, promote, releasePreviewEntry, rollback } from '../lib/releases/record';
import { VISITOR_COOKIE } from '../lib/zone-flags';
import { seedZones, served } from './support/sites';

const NOW = Math.floor(Date.now() / 1000);
const DAY = 86400;

/** The seed site, the blog with releases, and an override that may move /shop/* to the blog. */
const site: SynthesizedSite = served({
  zones: seedZones().map((z): ZoneDefinition => (z.name === 'blog' ? { ...z, releases: { deploymentId: 'v1' } } : z)),
  overrides: [{ flag: 'shop-on-blog', pathPatterns: ['/shop/*'], zone: 'blog' }],
});
const KEY = site.releases.blog.key;

/** v1 is the template's build; v2, released later, is current; v1 keeps the viewers that name it for a day. */
const CURRENT_V2 = addRelease(initialRecord('v1'), { zone: 'blog', id: 'v2', origin: 'https://v2.blog.example.com' }, NOW - 60, DAY);

/** Serves `uri` with the blog's record `rec` in the store (a raw value when a string; no record when null). */
function serve(uri: string, rec: ReleaseRecord | string | null, options: Parameters<SynthesizedSite['serve']>[1] = {}): Promise<ServedRequest> {
  const value = rec === null ? undefined : typeof rec === 'string' ? rec : encodeRecord(rec);
  return site.serve(uri, { ...options, flags: { ...options.flags, ...(value !== undefined && { [KEY]: value }) } });
}

/** The release a request went to: its header, and the origin URL it was sent to (the zone's own when the function left it). */
async function releaseOf(uri: string, rec: ReleaseRecord | string | null, options: Parameters<SynthesizedSite['serve']>[1] = {}): Promise<{ release?: string; url: string }> {
  const s = await serve(uri, rec, options);
  return { release: s.request.headers['x-multizone-release']?.value, url: s.updatedOrigin?.url ?? `zone ${s.zone}` };
}

describe('release routing: which release answers', () => {
  test('without a record, the zone\'s own origin answers and no release is named', async () => {
    expect(await releaseOf('/blog/post', null)).toEqual({ release: undefined, url: 'zone blog' });
  });

  test('a request naming no release goes to the current one', async () => {
    expect(await releaseOf('/blog/post', CURRENT_V2)).toEqual({ release: 'v2', url: 'https://v2.blog.example.com' });
  });

  test('a tab of the replaced release keeps it, by x-deployment-id (navigations, actions) or ?dpl= (assets): skew protection', async () => {
    expect(await releaseOf('/blog/post', CURRENT_V2, { headers: { 'x-deployment-id': 'v1' } })).toEqual({ release: 'v1', url: 'zone blog' });
    expect(await releaseOf('/blog-static/_next/static/chunks/app.js', CURRENT_V2, { querystring: { dpl: 'v1' } })).toEqual({ release: 'v1', url: 'zone blog' });
    expect(await releaseOf('/blog-static/_next/image', CURRENT_V2, { querystring: { url: '/blog-static/a.png', w: '64', q: '75', dpl: 'v1' } })).toEqual({ release: 'v1', url: 'zone blog' });
  });

  test('an id past its skew window, unknown, rolled back, or hostile goes to the current release', async () => {
    const expired = addRelease(initialRecord('v1'), { zone: 'blog', id: 'v2', origin: 'https://v2.blog.example.com' }, NOW - DAY - 60, DAY);
    expect(await releaseOf('/blog/post', expired, { headers: { 'x-deployment-id': 'v1' } })).toEqual({ release: 'v2', url: 'https://v2.blog.example.com' });
    const rolledBack = rollback(CURRENT_V2, 'blog', 'cli:test', NOW);
    expect(await releaseOf('/blog/post', rolledBack, { headers: { 'x-deployment-id': 'v2' } })).toEqual({ release: 'v1', url: 'zone blog' });
    for (const id of ['v9', '__proto__', 'constructor', 'toString', 'x'.repeat(65), 'v1 ', 'v1\u00e9', "v1');cf.updateRequestOrigin({domainName:'evil.example'", 'v1,v2']) {
      expect(await releaseOf('/blog/post', CURRENT_V2, { headers: { 'x-deployment-id': id } })).toEqual({ release: 'v2', url: 'https://v2.blog.example.com' });
    }
  });

  test('a damaged record leaves the zone\'s own origin and never fails the request', async () => {
    const damaged = ['', 'not json', '[]', 'null', '{}', '{"v":1,"c":"v2"}', '{"v":1,"c":"v2","r":null}', '{"v":1,"c":"v2","r":{"v2":"ftp://x"}}', '{"v":1,"c":"v2","r":{"v2":7}}', '{"c":"__proto__","r":{}}'];
    for (const value of damaged) {
      const s = await serve('/blog/post', value);
      expect([value, s.zone, s.updatedOrigin, s.response]).toEqual([value, 'blog', undefined, undefined]);
    }
  });

  test('a viewer cannot name the release itself: its x-multizone-release is dropped everywhere', async () => {
    expect(await releaseOf('/blog/post', CURRENT_V2, { headers: { 'x-multizone-release': 'v1' } })).toEqual({ release: 'v2', url: 'https://v2.blog.example.com' });
    expect((await serve('/dashboard/settings', CURRENT_V2, { headers: { 'x-multizone-release': 'v1' } })).request.headers['x-multizone-release']).toBeUndefined();
  });

  test('other zones are not touched by the blog\'s releases', async () => {
    const s = await serve('/dashboard/settings', CURRENT_V2, { headers: { 'x-deployment-id': 'v2' } });
    expect([s.zone, s.updatedOrigin]).toEqual(['dashboard', undefined]);
  });

  test('a path an override moves to the zone gets its release; with the flag off, the default zone, no release', async () => {
    expect(await releaseOf('/shop/cart', CURRENT_V2, { flags: { 'shop-on-blog': 'on' } })).toEqual({ release: 'v2', url: 'https://v2.blog.example.com' });
    expect(await releaseOf('/shop/cart', CURRENT_V2, { flags: { 'shop-on-blog': 'off' } })).toEqual({ release: undefined, url: 'zone home' });
  });

  test('the image route still reduces Accept to its image formats', async () => {
    const s = await serve('/blog-static/_next/image', CURRENT_V2, { querystring: { url: '/blog-static/a.png', w: '64', q: '75' }, headers: { accept: 'image/avif,image/webp,image/apng,*/*;q=0.8' } });
    expect(s.request.headers.accept?.value).toBe('image/avif,image/webp');
    expect(s.request.headers['x-multizone-release']?.value).toBe('v2');
  });

  test('a function URL release is signed for Lambda; another HTTPS release is not signed', async () => {
    const lambdaRelease = addRelease(initialRecord('v1'), { zone: 'blog', id: 'v2', origin: 'https://abc123.lambda-url.us-east-1.on.aws' }, NOW, DAY);
    const s = await serve('/blog/post', lambdaRelease);
    expect([s.updatedOrigin?.url, s.updatedOrigin?.signing, s.updatedOrigin?.originType]).toEqual(['https://abc123.lambda-url.us-east-1.on.aws', 'always', 'lambda']);
    expect((await serve('/blog/post', CURRENT_V2)).updatedOrigin?.signing).toBeUndefined();
  });

  test('a release origin with a port and a path keeps both', async () => {
    const pathed = addRelease(initialRecord('v1'), { zone: 'blog', id: 'v2', origin: 'https://builds.example.com:8443/blog/v2' }, NOW, DAY);
    const s = await serve('/blog/post', pathed);
    expect([s.updatedOrigin?.domainName, s.updatedOrigin?.port, s.updatedOrigin?.originPath]).toEqual(['builds.example.com', 8443, '/blog/v2']);
  });
});

describe('release routing: canary', () => {
  const canary = (share: number) => addRelease(CURRENT_V2, { zone: 'blog', id: 'v3', origin: 'https://v3.blog.example.com', canary: share }, NOW, DAY);
  const visitor = (i: number) => ({ cookies: { [VISITOR_COOKIE]: i.toString(16).padStart(32, '0') } });

  test('about the canary\'s share of viewers get it, each one on every request', async () => {
    const rec = canary(30);
    let onCanary = 0;
    for (let i = 0; i < 300; i++) {
      const first = await releaseOf('/blog/post', rec, visitor(i));
      const again = await releaseOf('/blog/other', rec, visitor(i));
      expect(again).toEqual(first);
      if (first.release === 'v3') onCanary++;
    }
    expect(onCanary).toBeGreaterThan(60);
    expect(onCanary).toBeLessThan(120);
  });

  test('0% sends no one without its id; 100% everyone; its id always reaches it', async () => {
    for (let i = 0; i < 50; i++) {
      expect((await releaseOf('/blog/post', canary(0), visitor(i))).release).toBe('v2');
      expect((await releaseOf('/blog/post', canary(100), visitor(i))).release).toBe('v3');
    }
    expect((await releaseOf('/blog/post', canary(0), { headers: { 'x-deployment-id': 'v3' } })).release).toBe('v3');
  });

  test('after a promote, the canary is current, and tabs of the release it replaced keep theirs', async () => {
    const promoted = promote(canary(50), 'blog', NOW, DAY);
    for (let i = 0; i < 20; i++) expect((await releaseOf('/blog/post', promoted, visitor(i))).release).toBe('v3');
    expect((await releaseOf('/blog/post', promoted, { headers: { 'x-deployment-id': 'v2' } })).release).toBe('v2');
  });

  test('a rollback drops the canary: its tabs go to the current release', async () => {
    const rolledBack = rollback(canary(50), 'blog', 'alarm:blog-5xx', NOW);
    expect((await releaseOf('/blog/post', rolledBack, { headers: { 'x-deployment-id': 'v3' } })).release).toBe('v2');
    for (let i = 0; i < 20; i++) expect((await releaseOf('/blog/post', rolledBack, visitor(i))).release).toBe('v2');
  });
});

describe('release routing: previews', () => {
  const withPreview = addRelease(CURRENT_V2, { zone: 'blog', id: 'pr7', origin: 'https://pr7.blog.example.com', preview: true }, NOW, DAY);
  const secret = withPreview.s!;
  const cookie = (entry: string) => ({ cookies: { 'mz-release': entry } });

  test('only a viewer holding a valid signed cookie for it reaches a preview', async () => {
    expect(await releaseOf('/blog/post', withPreview, cookie(releasePreviewEntry('blog', 'pr7', NOW + 3600, secret)))).toEqual({ release: 'pr7', url: 'https://pr7.blog.example.com' });
    expect((await releaseOf('/blog/post', withPreview)).release).toBe('v2');
  });

  test('its deployment id alone never reaches it', async () => {
    expect((await releaseOf('/blog/post', withPreview, { headers: { 'x-deployment-id': 'pr7' } })).release).toBe('v2');
    expect((await releaseOf('/blog-static/_next/static/a.js', withPreview, { querystring: { dpl: 'pr7' } })).release).toBe('v2');
  });

  test('an expired, forged, re-signed, other-zone or other-release cookie does nothing', async () => {
    const refused = [
      releasePreviewEntry('blog', 'pr7', NOW - 1, secret),
      releasePreviewEntry('blog', 'pr7', NOW + 3600, 'f'.repeat(64)),
      releasePreviewEntry('blog', 'pr7', NOW + 3600, secret).replace(/.$/, (c) => (c === '0' ? '1' : '0')),
      releasePreviewEntry('dashboard', 'pr7', NOW + 3600, secret),
      releasePreviewEntry('blog', 'v3', NOW + 3600, secret),
      'blog.pr7',
      `${'x'.repeat(4000)}`,
    ];
    for (const entry of refused) expect((await releaseOf('/blog/post', withPreview, cookie(entry))).release).toBe('v2');
  });

  test('a cookie with several entries finds its zone\'s', async () => {
    const entry = [releasePreviewEntry('dashboard', 'x', NOW + 3600, secret), releasePreviewEntry('blog', 'pr7', NOW + 3600, secret)].join(',');
    expect((await releaseOf('/blog/post', withPreview, cookie(entry))).release).toBe('pr7');
  });
});

describe('release routing: property', () => {
  test('whatever a viewer sends, the request goes to a release the record names as reachable for it, or the zone\'s own origin', async () => {
    const rec = addRelease(addRelease(CURRENT_V2, { zone: 'blog', id: 'v3', origin: 'https://v3.blog.example.com', canary: 40 }, NOW, DAY), { zone: 'blog', id: 'pr7', origin: 'https://pr7.blog.example.com', preview: true }, NOW, DAY);
    const origins: Record<string, string> = { v1: 'zone blog', v2: 'https://v2.blog.example.com', v3: 'https://v3.blog.example.com' };
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.constantFrom('v1', 'v2', 'v3', 'pr7', 'v9', ''), fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 20 })), fc.boolean(), async (id, asQuery) => {
        const options = id === '' ? {} : asQuery ? { querystring: { dpl: id } } : { headers: { 'x-deployment-id': id } };
        const r = await releaseOf('/blog/post', rec, options);
        expect(Object.keys(origins)).toContain(r.release);
        expect(r.url).toBe(origins[r.release!]);
        if (['v1', 'v2', 'v3'].includes(id)) expect(r.release).toBe(id);
      }),
      { numRuns: 150 },
    );
  });
});
