/**
 * The code reads as named steps: no function of the checked folders is
 * longer than MAX_FUNCTION_LINES (the CloudFront Functions' source
 * templates, `*-source.ts`, left out).
 */
import * as fs from 'fs';
import * as path from 'path';
import { LongFunction, MAX_FUNCTION_LINES, longFunctionsIn, sourceFiles } from '../scripts/long-functions';

const ROOT = path.join(__dirname, '..');

/** Folders held to MAX_FUNCTION_LINES, relative to the repository root: the construct and the local edge. */
const SHORT_FUNCTION_FOLDERS = ['lib', 'packages/multizone-cli/src/local-edge'];

const described = (f: LongFunction) => `${f.where} ${f.name}: ${f.lines} lines`;

describe('function length', () => {
  test.each(SHORT_FUNCTION_FOLDERS)(`no function in %s is longer than ${MAX_FUNCTION_LINES} lines`, (folder) => {
    const files = sourceFiles(path.join(ROOT, folder));
    expect(files.length).toBeGreaterThan(0);
    const long = files.flatMap((file) => longFunctionsIn(path.relative(ROOT, file), fs.readFileSync(file, 'utf8')));
    expect(long.map(described)).toEqual([]);
  });

  /** A file whose one function, `name`, spans `lines` lines, starting on line 3. */
  const fileWith = (name: string, lines: number) =>
    ['// a file', '', `export function ${name}(): number {`, ...Array.from({ length: lines - 3 }, (_, i) => `  const v${i} = ${i};`), '  return 0;', '}', ''].join('\n');

  test(`finds a function of ${MAX_FUNCTION_LINES + 1} lines, with its file, line and name, and passes one of ${MAX_FUNCTION_LINES}`, () => {
    expect(longFunctionsIn('long.ts', fileWith('tooLong', MAX_FUNCTION_LINES + 1))).toEqual([
      { where: 'long.ts:3', name: 'tooLong', lines: MAX_FUNCTION_LINES + 1 },
    ]);
    expect(longFunctionsIn('short.ts', fileWith('justRight', MAX_FUNCTION_LINES))).toEqual([]);
  });
});
