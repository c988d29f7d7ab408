import * as fc from 'fast-check';
import {
  compareSpecificity,
  normalizePathPattern,
  pathPatternMatches,
  pathPatternCovers,
  pathPatternProblems,
  pathPatternsIntersect,
} from '../lib/path-patterns';

describe('CloudFront path pattern semantics', () => {
  test.each([
    ['/blog', '/blog', true],
    ['/blog', '/blogger', false],
    ['/blog', '/blog/', false],
    ['/blog/*', '/blog', false],
    ['/blog/*', '/blog/', true],
    ['/blog/*', '/blog/a/b/c', true],
    ['/blog*', '/blogger', true],
    ['blog/*', '/blog/post', true],
    ['/images/*.jpg', '/images/a/b.jpg', true],
    ['/images/*.jpg', '/images/a.png', false],
    ['/a?c', '/abc', true],
    ['/a?c', '/ac', false],
    ['/Blog/*', '/blog/x', false],
    ['/v1.0/*', '/v1x0/a', false],
  ])('%s matches %s: %s', (pattern, uri, expected) => {
    expect(pathPatternMatches(pattern, uri)).toBe(expected);
  });

  test('the leading slash is optional', () => {
    expect(normalizePathPattern('blog/*')).toBe('/blog/*');
    expect(normalizePathPattern('*.png')).toBe('*.png');
  });

  test.each([
    ['', /must not be empty/],
    ['/blog/<script>', /characters CloudFront refuses: "<", ">"/],
    ['/a b', /characters CloudFront refuses: " "/],
    [`/${'a'.repeat(255)}`, /256 characters, CloudFront allows at most 255/],
    ['*', /matches everything/],
  ])('pattern %j is refused', (pattern, message) => {
    expect(pathPatternProblems(pattern).join('\n')).toMatch(message);
  });

  test('every character CloudFront allows is accepted', () => {
    expect(pathPatternProblems(`/AZaz09_-.*$/~"'@:+&?`)).toEqual([]);
  });
});

const patternArb = fc
  .array(fc.constantFrom('a', 'b', '/', '*', '?', '.'), { minLength: 1, maxLength: 3 })
  .map((chars) => `/${chars.join('')}`);
const pathArb = fc.array(fc.constantFrom('a', 'b', '/', '.'), { maxLength: 8 }).map((chars) => `/${chars.join('')}`);

describe('pattern intersection', () => {
  test('two patterns intersect exactly when some path matches both', () => {
    // Exhaustive over short paths: two patterns of at most four symbols that
    // intersect always share a path of at most seven characters.
    const paths: string[] = ['/'];
    for (let len = 1; len <= 6; len++) {
      const prev = paths.filter((p) => p.length === len);
      for (const p of prev) for (const c of ['a', 'b', '/', '.']) paths.push(p + c);
    }
    fc.assert(
      fc.property(patternArb, patternArb, (a, b) => {
        const witness = paths.some((p) => pathPatternMatches(a, p) && pathPatternMatches(b, p));
        expect(pathPatternsIntersect(a, b)).toBe(witness);
      }),
      { numRuns: 400 },
    );
  });
});

describe('pattern covering', () => {
  test.each([
    ['/_next/static/*', '/_next/static/*', true],
    ['/_next/static/*', '/_next/static/chunks/*.js', true],
    ['/blog-static/*', '/blog-static/_next/image', true],
    ['/blog/*', '/blog', false],
    ['/blog/*', '/blog*', false],
    ['/blog*', '/blog/*', true],
    ['*', '/anything?', true],
    ['/a?c', '/abc', true],
    ['/abc', '/a?c', false],
    ['/a?*', '/a*?', true],
    ['/a*?', '/a?*', true],
    ['/a?', '/a*', false],
    ['*.js', '/_next/static/*', false],
    ['/_next/static/*', '*.js', false],
  ])('%s covers %s: %s', (a, b, expected) => {
    expect(pathPatternCovers(a, b)).toBe(expected);
  });

  test('a covers b exactly when no path matches b but not a', () => {
    // Exhaustive over short paths: for patterns of at most four symbols, a
    // path that b matches and a does not, when there is one, is short.
    const paths: string[] = ['/'];
    for (let len = 1; len <= 6; len++) {
      const prev = paths.filter((p) => p.length === len);
      for (const p of prev) for (const c of ['a', 'b', '/', '.']) paths.push(p + c);
    }
    fc.assert(
      fc.property(patternArb, patternArb, (a, b) => {
        const counterexample = paths.some((p) => pathPatternMatches(b, p) && !pathPatternMatches(a, p));
        expect(pathPatternCovers(a, b)).toBe(!counterexample);
      }),
      { numRuns: 400 },
    );
  });
});

describe('specificity order', () => {
  test('a nested pattern comes before the pattern it nests in', () => {
    const sorted = ['/blog/*', '/blog/admin/*', '/blog', '/blog*', '*.png', '/blog/*.json'].sort(compareSpecificity);
    expect(sorted).toEqual(['/blog/admin/*', '/blog/*.json', '/blog/*', '/blog', '/blog*', '*.png']);
  });

  test('the order never depends on the input order', () => {
    fc.assert(
      fc.property(fc.uniqueArray(patternArb, { minLength: 2, maxLength: 8 }), (patterns) => {
        const reversed = [...patterns].reverse().sort(compareSpecificity);
        expect([...patterns].sort(compareSpecificity)).toEqual(reversed);
      }),
    );
  });

  test('an exact path always beats a wildcard pattern that matches it', () => {
    fc.assert(
      fc.property(patternArb, pathArb, (pattern, path) => {
        fc.pre(/[*?]/.test(pattern) && pathPatternMatches(pattern, path));
        expect(compareSpecificity(path, pattern)).toBeLessThan(0);
      }),
    );
  });
});
