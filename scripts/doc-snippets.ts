/**
 * The TypeScript snippets of README.md and docs/, type-checked as a user's
 * code against the packages: every ```ts and ```tsx block is a module of its
 * own, compiled with the TypeScript compiler against the construct, the CLI
 * and the zone package (their sources), aws-cdk-lib, and Next.js and React
 * from the fixture app in test/doc-snippets/ (which `npm run check:docs`
 * installs).
 *
 * A block may be preceded by HTML comments, invisible on the rendered page:
 * - `<!-- snippet-prelude ... -->`: code put before the block (the imports
 *   and values a fragment needs, declared where the page shows only the part
 *   that matters);
 * - `<!-- snippet-as name.ts -->`: the block's file name, so another block of
 *   the same page can import it (`./zone-flags`).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

const ROOT = path.join(__dirname, '..');
const FIXTURE = path.join(ROOT, 'test', 'doc-snippets');

/** One fenced TypeScript block of a Markdown page. */
export interface DocSnippet {
  /** The page, relative to the repository root. */
  readonly page: string;
  /** The line of the block's first code line (1-based). */
  readonly line: number;
  readonly language: 'ts' | 'tsx';
  readonly code: string;
  /** Hidden code the block needs, from a `snippet-prelude` comment. */
  readonly prelude: string;
  /** Its file name, from a `snippet-as` comment. */
  readonly fileName?: string;
}

/** The pages whose snippets are checked: README.md and every page under docs/. */
export function documentationPages(root = ROOT): string[] {
  const docs = path.join(root, 'docs');
  const pages = fs.existsSync(docs)
    ? fs.readdirSync(docs, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.md')).map((f) => path.join('docs', f))
    : [];
  return ['README.md', ...pages.sort()];
}

const FENCE = /^(\s*)```(\w*)\s*$/;
const DIRECTIVE = /<!--\s*snippet-(prelude|as)\b([\s\S]*?)-->/g;

/** The TypeScript blocks of one page, with the directives in the comments just above each. */
export function snippetsOf(page: string, text: string): DocSnippet[] {
  const lines = text.split('\n');
  const snippets: DocSnippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && l.trim() === '```');
    if (end < 0) throw new Error(`${page}:${i + 1}: a code block that never closes`);
    const language = open[2];
    if (language === 'ts' || language === 'tsx') {
      const indent = open[1].length;
      const code = lines.slice(i + 1, end).map((l) => l.slice(indent)).join('\n');
      snippets.push({ page, line: i + 2, language, code, ...directivesAbove(lines, i) });
    }
    i = end;
  }
  return snippets;
}

/** The snippet comments between a block's fence and the text before it. */
function directivesAbove(lines: string[], fence: number): { prelude: string; fileName?: string } {
  let start = fence;
  while (start > 0 && (lines[start - 1].trim() === '' || isInComment(lines, start - 1))) start--;
  const above = lines.slice(start, fence).join('\n');
  let prelude = '';
  let fileName: string | undefined;
  for (const m of above.matchAll(DIRECTIVE)) {
    if (m[1] === 'prelude') prelude += `${m[2].trim()}\n`;
    else fileName = m[2].trim();
  }
  return { prelude, fileName };
}

/** Whether a line belongs to an HTML comment that ends at or before the next fence. */
function isInComment(lines: string[], index: number): boolean {
  for (let i = index; i >= 0; i--) {
    if (lines[i].includes('-->') && i < index) return false;
    if (lines[i].includes('<!--')) return true;
  }
  return false;
}

/** One compile error, located in the page. */
export interface SnippetProblem {
  readonly where: string;
  readonly message: string;
}

/** The file each snippet is compiled as, under `outDir`: one folder per page, so a page's blocks import each other. */
function snippetFile(snippet: DocSnippet, outDir: string): string {
  const folder = path.join(outDir, snippet.page.replace(/[^A-Za-z0-9]+/g, '_'));
  return path.join(folder, snippet.fileName ?? `line-${snippet.line}.${snippet.language}`);
}

/** The compiler options of a user's app: strict, modern modules, the packages resolved to this checkout's sources. */
function compilerOptions(): ts.CompilerOptions {
  return {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    jsx: ts.JsxEmit.Preserve,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
    // A snippet of a user's jest test uses jest's globals.
    types: ['node', 'jest'],
    typeRoots: [path.join(ROOT, 'node_modules', '@types')],
    esModuleInterop: true,
    skipLibCheck: true,
    experimentalDecorators: true,
    baseUrl: ROOT,
    paths: {
      'multizone-distribution': ['lib/index.ts'],
      'multizone-distribution/internal': ['lib/internal.ts'],
      'multizone-cli': ['packages/multizone-cli/src/index.ts'],
      'multizone-flags': ['packages/multizone-flags/src/index.ts'],
      'multizone-flags/*': ['packages/multizone-flags/src/*'],
      // The fixture app holds what a zone's app has: Next.js and React.
      next: [path.join(FIXTURE, 'node_modules', 'next')],
      'next/*': [path.join(FIXTURE, 'node_modules', 'next', '*')],
      react: [path.join(FIXTURE, 'node_modules', '@types', 'react')],
      'react/*': [path.join(FIXTURE, 'node_modules', '@types', 'react', '*')],
    },
  };
}

/** Compiles every snippet of the pages; returns the errors, each at its page and line. */
export function checkSnippets(snippets: DocSnippet[], outDir = path.join(FIXTURE, '.out')): SnippetProblem[] {
  fs.rmSync(outDir, { recursive: true, force: true });
  const files = new Map<string, { snippet: DocSnippet; preludeLines: number }>();
  for (const snippet of snippets) {
    const file = snippetFile(snippet, outDir);
    if (files.has(file)) throw new Error(`${snippet.page}:${snippet.line}: a second snippet named ${path.basename(file)}`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // `export {}` keeps a block without imports a module of its own.
    fs.writeFileSync(file, `${snippet.prelude}${snippet.code}\nexport {};\n`);
    files.set(file, { snippet, preludeLines: snippet.prelude.split('\n').length - 1 });
  }
  const program = ts.createProgram([...files.keys()], compilerOptions());
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    const source = d.file && files.get(path.resolve(d.file.fileName));
    if (!source || d.start === undefined) return { where: d.file?.fileName ?? 'compiler', message };
    const { line } = d.file!.getLineAndCharacterOfPosition(d.start);
    const inBlock = line - source.preludeLines;
    const where = inBlock < 0 ? `${source.snippet.page}:${source.snippet.line} (prelude)` : `${source.snippet.page}:${source.snippet.line + inBlock}`;
    return { where, message };
  });
}

if (require.main === module) {
  if (!fs.existsSync(path.join(FIXTURE, 'node_modules', 'next'))) {
    console.error(`doc-snippets: ${path.relative(ROOT, FIXTURE)} has no node_modules; run npm ci --prefix ${path.relative(ROOT, FIXTURE)} first (npm run check:docs does)`);
    process.exit(2);
  }
  const snippets = documentationPages().flatMap((page) => snippetsOf(page, fs.readFileSync(path.join(ROOT, page), 'utf8')));
  const problems = checkSnippets(snippets);
  for (const p of problems) console.error(`${p.where}: ${p.message}`);
  console.log(`doc-snippets: ${snippets.length} TypeScript snippets in ${new Set(snippets.map((s) => s.page)).size} pages, ${problems.length} errors`);
  process.exit(problems.length > 0 ? 1 : 0);
}
