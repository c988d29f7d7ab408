/**
 * Functions of lib/ longer than a screen: each function, method,
 * constructor and function expression, with its length in lines. The
 * CloudFront Functions' sources are templates of JavaScript text, not
 * TypeScript steps, and are left out.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

/** How long a function may be, in lines, before it should be split into the steps it takes. */
export const MAX_FUNCTION_LINES = 60;

/** Source templates: JavaScript text for the edge, measured by its byte budget instead. */
const SOURCE_TEMPLATES = /-source\.ts$/;

export interface LongFunction {
  readonly where: string;
  readonly name: string;
  readonly lines: number;
}

function nameOf(node: ts.Node, file: ts.SourceFile): string {
  if (ts.isConstructorDeclaration(node)) return `${(node.parent as ts.ClassDeclaration).name?.text ?? 'class'} constructor`;
  const named = (node as ts.FunctionDeclaration | ts.MethodDeclaration).name;
  if (named) return named.getText(file);
  if (ts.isVariableDeclaration(node.parent) || ts.isPropertyAssignment(node.parent) || ts.isPropertyDeclaration(node.parent)) return node.parent.name.getText(file);
  return '(anonymous)';
}

/** Every function of one source file longer than `max` lines. */
export function longFunctionsIn(fileName: string, text: string, max = MAX_FUNCTION_LINES): LongFunction[] {
  const file = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true);
  const found: LongFunction[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && (node as ts.FunctionLikeDeclaration).body) {
      const start = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const end = file.getLineAndCharacterOfPosition(node.getEnd()).line;
      if (end - start + 1 > max) found.push({ where: `${fileName}:${start + 1}`, name: nameOf(node, file), lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

/** The TypeScript files of a folder, recursively, source templates left out. */
export function sourceFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !SOURCE_TEMPLATES.test(f))
    .map((f) => path.join(dir, f))
    .sort();
}
