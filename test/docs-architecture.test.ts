/**
 * docs/architecture.md stays true: every module path it names (`lib/...`,
 * `packages/...`, `scripts/...`, `test/...`) exists in the repository.
 */
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');
const PAGE = path.join(ROOT, 'docs', 'architecture.md');

/** Paths of the repository the text names: from a top-level folder on, up to a space, quote, backtick, bracket or `*`. */
function namedPaths(text: string): string[] {
  const found = text.match(/\b(?:lib|packages|scripts|test)\/[A-Za-z0-9_./-]*[A-Za-z0-9_/]/g) ?? [];
  return [...new Set(found)].sort();
}

describe('docs/architecture.md', () => {
  const named = namedPaths(fs.readFileSync(PAGE, 'utf8'));

  test('names the modules it describes', () => {
    expect(named).toEqual(expect.arrayContaining(['lib/multi-zone-distribution.ts', 'lib/behaviors.ts', 'packages/multizone-cli/src/synthesized-site.ts']));
  });

  test('every module it names exists', () => {
    expect(named.filter((p) => !fs.existsSync(path.join(ROOT, p)))).toEqual([]);
  });

  test('a path that is gone is found', () => {
    const text = 'The plan: `lib/behaviors.ts`, and `lib/gone-module.ts` (see packages/multizone-cli/src/local-edge/).';
    expect(namedPaths(text)).toEqual(['lib/behaviors.ts', 'lib/gone-module.ts', 'packages/multizone-cli/src/local-edge/']);
    expect(namedPaths(text).filter((p) => !fs.existsSync(path.join(ROOT, p)))).toEqual(['lib/gone-module.ts']);
  });
});
