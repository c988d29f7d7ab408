import { App, Stack } from 'aws-cdk-lib';
import { MultiZoneDistribution, MultiZoneValidationError, ZoneDefinition } from '../lib';
import { origin, synth } from './support/sites';

const zone = (name: string, pathPatterns?: string[], assetPrefix?: string): ZoneDefinition => ({ name, origin: origin(name), pathPatterns, assetPrefix });

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
  ])('%s', (_name, zones, message) => {
    expect(() => synth({ zones })).toThrow(MultiZoneValidationError);
    expect(() => synth({ zones })).toThrow(message);
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
