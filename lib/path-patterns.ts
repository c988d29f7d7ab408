/**
 * CloudFront path patterns: validation, matching and specificity order.
 *
 * Semantics follow CloudFront exactly: `*` matches zero or more characters
 * (slashes included), `?` exactly one, matching is case-sensitive, the
 * leading `/` is optional and nothing else is special.
 */

import { PATH_PATTERN_CHARACTERS, limitValue } from './limits';

/** CloudFront's limit on a path pattern's length (lib/limits.ts). */
export const MAX_PATH_PATTERN_LENGTH = limitValue('path-pattern-length');

const ALLOWED_CHARACTERS = PATH_PATTERN_CHARACTERS;

/** Adds the leading `/` CloudFront treats as implied, so equal patterns compare equal. */
export function normalizePathPattern(pattern: string): string {
  return pattern.startsWith('/') || pattern.startsWith('*') ? pattern : `/${pattern}`;
}

/** Problems with one path pattern, as phrases ready to follow its owner's name. */
export function pathPatternProblems(pattern: string): string[] {
  const problems: string[] = [];
  if (pattern.length === 0) {
    problems.push('path pattern must not be empty');
    return problems;
  }
  if (pattern.length > MAX_PATH_PATTERN_LENGTH) {
    problems.push(`path pattern "${pattern.slice(0, 40)}..." is ${pattern.length} characters, CloudFront allows at most ${MAX_PATH_PATTERN_LENGTH}`);
  }
  if (!ALLOWED_CHARACTERS.test(pattern)) {
    const bad = Array.from(new Set(pattern.split('').filter((c) => !ALLOWED_CHARACTERS.test(c))));
    problems.push(`path pattern "${pattern}" has characters CloudFront refuses: ${bad.map((c) => JSON.stringify(c)).join(', ')}`);
  }
  if (pattern === '*' || pattern === '/*') {
    problems.push(`path pattern "${pattern}" matches everything; that is the default zone's job`);
  }
  return problems;
}

/** The regular expression CloudFront's matching amounts to, anchored at both ends. */
export function pathPatternToRegExpSource(pattern: string): string {
  let source = '^';
  for (const ch of normalizePathPattern(pattern)) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[.+^${}()|[\]\\/]/g, '\\$&');
  }
  return source + '$';
}

/** Compiled patterns: routing asks about the same few patterns many times over. */
const compiledPatterns = new Map<string, RegExp>();

/** True when CloudFront would send `uriPath` to a behavior with this pattern. */
export function pathPatternMatches(pattern: string, uriPath: string): boolean {
  let re = compiledPatterns.get(pattern);
  if (!re) {
    re = new RegExp(pathPatternToRegExpSource(pattern));
    compiledPatterns.set(pattern, re);
  }
  return re.test(uriPath);
}

/** The literal text before the first wildcard. */
export function literalPrefix(pattern: string): string {
  const p = normalizePathPattern(pattern);
  const i = p.search(/[*?]/);
  return i < 0 ? p : p.slice(0, i);
}

/**
 * True when some URI path matches both patterns.
 *
 * Walks both patterns at once: a `*` on either side may match nothing or
 * swallow one symbol of the other side, so the search is over pairs of
 * positions and stays quadratic.
 */
export function pathPatternsIntersect(a: string, b: string): boolean {
  const x = normalizePathPattern(a);
  const y = normalizePathPattern(b);
  const seen = new Set<number>();
  const width = y.length + 1;
  const visit = (i: number, j: number): boolean => {
    const key = i * width + j;
    if (seen.has(key)) return false;
    seen.add(key);
    if (i === x.length && j === y.length) return true;
    const cx = x[i];
    const cy = y[j];
    if (cx === '*') {
      if (visit(i + 1, j)) return true;
      if (j < y.length && cy !== '*' && visit(i, j + 1)) return true;
    }
    if (cy === '*') {
      if (visit(i, j + 1)) return true;
      if (i < x.length && cx !== '*' && visit(i + 1, j)) return true;
    }
    if (cx === '*' || cy === '*' || i === x.length || j === y.length) return false;
    return (cx === '?' || cy === '?' || cx === cy) && visit(i + 1, j + 1);
  };
  return visit(0, 0);
}

/**
 * The pattern with each run of wildcards in one order, `?`s then at most
 * one `*`: `*?` and `?*` both mean "at least one character", and the
 * covering walk below only sees that when they are spelled alike.
 */
function canonicalWildcards(pattern: string): string {
  return normalizePathPattern(pattern).replace(/[*?]+/g, (run) => '?'.repeat(run.split('?').length - 1) + (run.includes('*') ? '*' : ''));
}

/**
 * True when every URI path `b` matches is also matched by `a` (so a
 * behavior `a` listed before `b` leaves `b` nothing).
 *
 * Reads `b` as a string of symbols that `a` must match whatever they
 * stand for: a literal of `a` matches only the same literal; a `*` of `a`
 * any run of `b`'s symbols; a `?` of `a` one literal or `?` of `b`, and a
 * `*` of `b` only if `a` also covers the rest when that `*` is empty and
 * when it is one character longer than the rest of it. Never says "covers"
 * wrongly; polynomial, so it may miss some covers that need case analysis
 * deeper than one `*` (none of the short patterns the tests enumerate).
 */
export function pathPatternCovers(a: string, b: string): boolean {
  const x = canonicalWildcards(a);
  const y = canonicalWildcards(b);
  const memo = new Map<number, boolean>();
  const width = y.length + 1;
  // Every step moves i or j on, so the walk has no cycles and each result can be kept.
  const visit = (i: number, j: number): boolean => {
    const key = i * width + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    if (i === x.length) result = j === y.length;
    else if (x[i] === '*') result = visit(i + 1, j) || (j < y.length && visit(i, j + 1));
    else if (j === y.length) result = false;
    else if (y[j] === '*') result = x[i] === '?' && visit(i, j + 1) && visit(i + 1, j);
    else result = (x[i] === '?' || x[i] === y[j]) && visit(i + 1, j + 1);
    memo.set(key, result);
    return result;
  };
  return visit(0, 0);
}

/**
 * Orders patterns most specific first, so CloudFront's first match is the
 * most specific match: a longer literal prefix first (`/blog/admin/*`
 * before `/blog/*`), exact paths before wildcards, then more literal
 * characters, fewer `*`, longer, and finally by text so the order never
 * depends on the order zones were listed in.
 */
export function compareSpecificity(a: string, b: string): number {
  const ka = specificityKey(a);
  const kb = specificityKey(b);
  const pa = ka.pattern;
  const pb = kb.pattern;
  return (
    kb.prefix - ka.prefix ||
    ka.wild - kb.wild ||
    kb.literals - ka.literals ||
    ka.stars - kb.stars ||
    pb.length - pa.length ||
    (pa < pb ? -1 : pa > pb ? 1 : 0)
  );
}

interface SpecificityKey {
  readonly pattern: string;
  readonly prefix: number;
  readonly wild: number;
  readonly literals: number;
  readonly stars: number;
}

/** The parts of a pattern compareSpecificity weighs, computed once per pattern: sorting compares each many times. */
const specificityKeys = new Map<string, SpecificityKey>();

function specificityKey(pattern: string): SpecificityKey {
  let key = specificityKeys.get(pattern);
  if (!key) {
    const p = normalizePathPattern(pattern);
    key = {
      pattern: p,
      prefix: literalPrefix(p).length,
      wild: Number(/[*?]/.test(p)),
      literals: p.replace(/[*?]/g, '').length,
      stars: p.split('*').length - 1,
    };
    specificityKeys.set(pattern, key);
  }
  return key;
}
