import { App, Stack } from 'aws-cdk-lib';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import { MultiZoneDistribution, MultiZoneErrors, MultiZoneValidationError, OverrideDefinition, ZoneDefinition } from '../lib';
import { origin, served, synth, zonesFor } from './support/sites';

const zone = (name: string, pathPatterns?: string[], assetPrefix?: string): ZoneDefinition => ({ name, origin: origin(name), pathPatterns, assetPrefix });

describe('MultiZoneErrors.isValidationError, the jsii way to tell the error', () => {
  const thrownBy = (f: () => unknown): unknown => {
    try {
      f();
    } catch (e) {
      return e;
    }
    throw new Error('nothing thrown');
  };

  test('recognises what bad props throw, and nothing else', () => {
    const bad = thrownBy(() => synth({ zones: [zone('blog', ['/blog/*'], 'blog-static')] }));
    expect(bad).toBeInstanceOf(MultiZoneValidationError);
    expect(MultiZoneErrors.isValidationError(bad)).toBe(true);
    expect(MultiZoneErrors.isValidationError(new Error('Zone "blog": assetPrefix must start with "/"'))).toBe(false);
    expect(MultiZoneErrors.isValidationError(undefined)).toBe(false);
  });
});

describe('bad input is refused at synth, naming the culprit', () => {
  test.each<[string, ZoneDefinition[], RegExp]>([
    ['duplicate zone names', [zone('blog', ['/blog/*']), zone('blog', ['/news/*'])], /Zone "blog": name is used by more than one zone/],
    ['a zone named like the default zone', [zone('home', ['/x/*'])], /Zone "home": name is used by more than one zone/],
    ['an upper-case zone name', [zone('Blog', ['/blog/*'])], /Zone "Blog": name must be 1 to 64 lower-case letters, digits or "-"/],
    ['a zone name with a slash', [zone('blog/x', ['/blog/*'])], /Zone "blog\/x": name must be/],
    ['a zone with no path patterns', [zone('blog')], /Zone "blog": pathPatterns must not be empty unless an override targets the zone/],
    ['a zone with an empty pattern list', [zone('blog', [])], /Zone "blog": pathPatterns must not be empty/],
    [
      'one pattern in two zones',
      [zone('blog', ['/blog/*']), zone('news', ['blog/*'])],
      /Zone "news": path pattern "\/blog\/\*" is also claimed by zone "blog"/,
    ],
    ['a pattern over 255 characters', [zone('blog', [`/${'b'.repeat(300)}`])], /Zone "blog": path pattern .* is 301 characters, CloudFront allows at most 255/],
    ['a pattern with refused characters', [zone('blog', ['/blog/%20*'])], /Zone "blog": path pattern "\/blog\/%20\*" has characters CloudFront refuses: "%"/],
    ['a pattern that matches everything', [zone('blog', ['*'])], /Zone "blog": path pattern "\*" matches everything/],
    ['a pattern under the reserved prefix', [zone('blog', ['/_multizone/*'])], /Zone "blog": path pattern "\/_multizone\/\*" is under \/_multizone\//],
    ['an assetPrefix without a leading slash', [zone('blog', ['/blog/*'], 'blog-static')], /Zone "blog": assetPrefix must start with "\/"/],
    ['an assetPrefix of "/"', [zone('blog', ['/blog/*'], '/')], /Zone "blog": assetPrefix must not be "\/"/],
    ['an assetPrefix with a wildcard', [zone('blog', ['/blog/*'], '/blog-*')], /Zone "blog": assetPrefix "\/blog-\*" must not contain wildcards/],
    [
      "an assetPrefix inside another zone's paths",
      [zone('blog', ['/blog/*']), zone('dash', ['/dash/*'], '/blog/static')],
      /Zone "dash": assetPrefix "\/blog\/static" collides with zone "blog"'s path pattern "\/blog\/\*"/,
    ],
    [
      "an assetPrefix over another zone's wildcard",
      [zone('images', ['*.png']), zone('dash', ['/dash/*'], '/dash-static')],
      /Zone "dash": assetPrefix "\/dash-static" collides with zone "images"'s path pattern "\*.png"/,
    ],
    [
      'two zones on one assetPrefix',
      [zone('a', ['/a/*'], '/static'), zone('b', ['/b/*'], '/static')],
      /Zone "a": assetPrefix "\/static" collides with zone "b"'s path pattern "\/static\/\*"/,
    ],
    ["an assetPrefix over the default zone's assets", [zone('a', ['/a/*'], '/_next')], /Zone "a": assetPrefix "\/_next" collides with zone "home"'s path pattern "\/_next\/static\/\*"/],
    [
      "an assetPrefix equal to the zone's own pages",
      [zone('blog', ['/blog', '/blog/*'], '/blog')],
      /Zone "blog": assetPrefix "\/blog" covers the zone's own path pattern "\/blog\/\*": all its paths fall under "\/blog\/\*", cached as immutable assets without cookies, query string or x-forwarded-host; give the assets a prefix of their own, such as "\/blog-static"/,
    ],
    [
      "an assetPrefix above the zone's own pages",
      [zone('blog', ['/blog/posts/*'], '/blog')],
      /Zone "blog": assetPrefix "\/blog" covers the zone's own path pattern "\/blog\/posts\/\*"/,
    ],
    [
      "an assetPrefix over the zone's own Pages Router data",
      [{ ...zone('blog', ['/blog/*'], '/_next/data'), pagesRouter: true }],
      /Zone "blog": assetPrefix "\/_next\/data" covers the zone's own path pattern "\/_next\/data\/\*\/blog\/\*"/,
    ],
  ])('%s', (_name, zones, message) => {
    expect(() => synth({ zones })).toThrow(MultiZoneValidationError);
    expect(() => synth({ zones })).toThrow(message);
  });

  test.each<[string, ZoneDefinition]>([
    // `/blog/*` does not match `/blog`, so the exact page and the assets never meet.
    ['an exact page beside the prefix', zone('blog', ['/blog'], '/blog')],
    // The paths these patterns share with the prefix are the zone's assets, as the prefix says; the rest stay pages.
    ['a wildcard page pattern reaching into the prefix', zone('blog', ['/blog*'], '/blog-static')],
    ['a prefix inside the page patterns', zone('blog', ['/blog/*'], '/blog/_assets')],
    ['a wildcard-first page pattern', zone('images', ['*.png'], '/images-static')],
  ])("an assetPrefix that shares paths with the zone's pages without covering one is accepted: %s", async (_name, z) => {
    const site = served({ zones: [z] });
    const page = z.pathPatterns![0].replace('*', 'x').replace(/^(?!\/)/, '/');
    expect((await site.serve(page)).behavior.pathPattern).toBe(z.pathPatterns![0]);
    expect((await site.serve(`${z.assetPrefix}/_next/static/a.js`)).behavior.pathPattern).toBe(`${z.assetPrefix}/*`);
  });

  test.each<[string, OverrideDefinition, RegExp]>([
    [
      "the default zone's assets",
      { flag: 'new-assets', pathPatterns: ['/_next/static/*'], zone: 'blog' },
      /Override "new-assets": path pattern "\/_next\/static\/\*" can never apply: every path it matches goes to zone "home"'s asset route "\/_next\/static\/\*" first, and asset routes always stay with their zone; remove the pattern/,
    ],
    [
      "a pattern inside the default zone's assets",
      { flag: 'new-chunks', pathPatterns: ['/checkout', '_next/static/chunks/*.js'], zone: 'dashboard' },
      /Override "new-chunks": path pattern "_next\/static\/chunks\/\*.js" can never apply: every path it matches goes to zone "home"'s asset route "\/_next\/static\/\*" first/,
    ],
    [
      "a single path inside a zone's asset prefix",
      { flag: 'x', pathPatterns: ['/blog-static/_next/image'], zone: 'dashboard' },
      /Override "x": path pattern "\/blog-static\/_next\/image" can never apply: every path it matches goes to zone "blog"'s asset route "\/blog-static\/\*" first/,
    ],
  ])('an override no request can reach: %s', (_name, override, message) => {
    const attempt = () => synth({ zones: [zone('blog', ['/blog', '/blog/*'], '/blog-static'), zone('dashboard', ['/dashboard/*'], '/dashboard-static')], overrides: [override] });
    expect(attempt).toThrow(MultiZoneValidationError);
    expect(attempt).toThrow(message);
  });

  test('an override that assets cover only in part is accepted, and moves the rest', async () => {
    const site = served({ overrides: [{ flag: 'js', pathPatterns: ['*.js'], zone: 'blog' }], flags: { js: 'on' } });
    expect(await zonesFor(site, ['/_next/static/chunks/a.js', '/sw.js'], { js: 'on' })).toEqual({ '/_next/static/chunks/a.js': 'home', '/sw.js': 'blog' });
  });

  test('domainNames without a certificate', () => {
    const attempt = () => synth({ domainNames: ['www.example.com', 'example.com'] });
    expect(attempt).toThrow(MultiZoneValidationError);
    expect(attempt).toThrow(
      'domainNames: "www.example.com", "example.com" need a certificate: CloudFront serves an alternate domain name only with a certificate that covers it; pass certificate (an ACM certificate in us-east-1 whose names cover every domain name)',
    );
  });

  test('a domain name with capitals', () => {
    const stack = new Stack(new App(), 'S', { env: { region: 'us-east-1', account: '123456789012' } });
    const certificate = Certificate.fromCertificateArn(stack, 'C', 'arn:aws:acm:us-east-1:123456789012:certificate/abc');
    expect(() => new MultiZoneDistribution(stack, 'Site', { defaultZone: { name: 'home', origin: origin('home') }, domainNames: ['WWW.example.com'], certificate })).toThrow(
      'domainNames: "WWW.example.com" must be lower case; CloudFront refuses alternate domain names with capitals',
    );
  });

  test('a bad default zone name', () => {
    expect(() => synth({ defaultZone: { name: 'Home Page', origin: origin('home') } })).toThrow(/Zone "Home Page": name must be/);
  });

  test('every problem is reported at once', () => {
    const attempt = () => synth({ zones: [zone('Blog', ['/blog/*'], 'static'), zone('dash', [])] });
    expect(attempt).toThrow(/3 problems:/);
    expect(attempt).toThrow(/Zone "Blog": name must be/);
    expect(attempt).toThrow(/Zone "Blog": assetPrefix must start with "\/"/);
    expect(attempt).toThrow(/Zone "dash": pathPatterns must not be empty/);
  });

  test('more behaviors than allowed with overflow switched off', () => {
    const zones = Array.from({ length: 5 }, (_, i) => zone(`z${i}`, [`/z${i}`, `/z${i}/*`], `/z${i}-static`));
    // Per zone two pages, its assets and its next/image path; the default zone's assets and next/image; the default behavior.
    expect(() => synth({ zones, maxCacheBehaviors: 10, overflowToFunction: false })).toThrow(
      /maxCacheBehaviors: the zones need 23 cache behaviors \(default included\) but only 10 are allowed/,
    );
  });

  test('a maxCacheBehaviors too small for one behavior per zone', () => {
    const zones = Array.from({ length: 5 }, (_, i) => zone(`z${i}`, [`/z${i}/*`]));
    expect(() => synth({ zones, maxCacheBehaviors: 4 })).toThrow(/maxCacheBehaviors: 4 leaves room for 3 behaviors besides the default, but 5 zones need at least one each/);
  });

  test.each([0, 2.5, -1])('maxCacheBehaviors %p', (max) => {
    expect(() => synth({ maxCacheBehaviors: max })).toThrow(`maxCacheBehaviors: ${max} must be a whole number of at least 1`);
  });

  test('nothing is built when validation fails', () => {
    const stack = new Stack(new App(), 'S');
    expect(() => new MultiZoneDistribution(stack, 'Site', { defaultZone: { name: 'home', origin: origin('home') }, zones: [zone('x')] })).toThrow();
    expect(stack.node.findAll().some((c) => c.node.path.includes('Distribution'))).toBe(false);
  });
});
