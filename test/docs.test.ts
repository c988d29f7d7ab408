import * as fs from 'fs';
import * as path from 'path';
import { documentationPages, snippetsOf } from '../scripts/doc-snippets';

const ROOT = path.join(__dirname, '..');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every heading anchor of a Markdown page, outside code blocks, numbered as GitHub numbers repeats. */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let inCode = false;
  for (const line of text.split('\n')) {
    if (/^\s*```/.test(line)) inCode = !inCode;
    const heading = !inCode && /^#{1,6}\s+(.*)$/.exec(line);
    if (!heading) continue;
    const base = anchorOf(heading[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** The relative links of a page (Markdown links and images, outside code), with their lines. */
function relativeLinks(text: string): Array<{ line: number; target: string }> {
  const links: Array<{ line: number; target: string }> = [];
  let inCode = false;
  text.split('\n').forEach((line, i) => {
    if (/^\s*```/.test(line)) inCode = !inCode;
    if (inCode) return;
    for (const m of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      if (!/^[a-z][a-z0-9+.-]*:/i.test(m[1])) links.push({ line: i + 1, target: m[1] });
    }
  });
  return links;
}

/** A link's problem: its file is missing, or its anchor names no heading there. */
function linkProblem(page: string, target: string): string | undefined {
  const [file, anchor] = target.split('#');
  const resolved = file === '' ? path.join(ROOT, page) : path.resolve(path.dirname(path.join(ROOT, page)), decodeURIComponent(file));
  if (!fs.existsSync(resolved)) return `no file ${path.relative(ROOT, resolved)}`;
  if (anchor === undefined || !resolved.endsWith('.md')) return undefined;
  return anchorsOf(fs.readFileSync(resolved, 'utf8')).has(anchor) ? undefined : `no heading #${anchor} in ${path.relative(ROOT, resolved)}`;
}

describe('documentation', () => {
  const pages = documentationPages();

  test.each(pages)('%s: every relative link reaches a file and heading of the repository', (page) => {
    const text = fs.readFileSync(path.join(ROOT, page), 'utf8');
    const broken = relativeLinks(text).flatMap(({ line, target }) => {
      const problem = linkProblem(page, target);
      return problem ? [`${page}:${line}: ${target}: ${problem}`] : [];
    });
    expect(broken).toEqual([]);
  });

  test('a broken link and a broken anchor are found', () => {
    expect(linkProblem('README.md', 'docs/no-such-page.md')).toBe('no file docs/no-such-page.md');
    expect(linkProblem('README.md', '#no-such-heading')).toBe('no heading #no-such-heading in README.md');
    expect(linkProblem('README.md', 'LICENSE')).toBeUndefined();
  });

  test('snippets are read with the hidden prelude and file name their comments give', () => {
    const page = [
      'Text.',
      '<!-- snippet-prelude',
      "declare const stack: import('aws-cdk-lib').Stack;",
      '-->',
      '<!-- snippet-as zone-flags.ts -->',
      '```ts',
      'stack.node;',
      '```',
      '```bash',
      'npm test',
      '```',
      '```tsx',
      'export const x = 1;',
      '```',
    ].join('\n');
    const [first, second, ...rest] = snippetsOf('page.md', page);
    expect(rest).toEqual([]);
    expect(first).toMatchObject({ line: 7, language: 'ts', code: 'stack.node;', fileName: 'zone-flags.ts' });
    expect(first.prelude).toContain("declare const stack: import('aws-cdk-lib').Stack;");
    expect(second).toMatchObject({ line: 13, language: 'tsx', prelude: '', fileName: undefined });
  });
});
