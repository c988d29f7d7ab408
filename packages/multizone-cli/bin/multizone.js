#!/usr/bin/env node
/*
 * The `multizone` CLI. In the published package it runs the compiled
 * dist/cli; in a checkout of this repository (src/cli/index.ts present
 * and ts-node installed) it runs the TypeScript source, the construct's
 * included, so `npx multizone` works without a build and never runs a stale one.
 */
'use strict';
const fs = require('fs');
const path = require('path');

// Every failure is one line. The AWS SDK's notice that its later versions
// need a newer Node is nine more on stderr: off by the SDK's own switch
// (aws/aws-sdk-js-v3#7983), unless the user set it.
if (process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED === undefined) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
}

const root = path.resolve(__dirname, '..');
const source = path.join(root, 'src', 'cli', 'index.ts');
const built = path.join(root, 'dist', 'cli', 'index.js');

function fromSource() {
  let tsNode, tsConfigPaths;
  try {
    tsNode = require('ts-node');
    tsConfigPaths = require('tsconfig-paths');
  } catch {
    return undefined;
  }
  // The checkout's tsconfig for tests and tooling maps multizone-distribution(/internal) to its sources.
  // Its paths are given explicitly: a lookup would follow a TS_NODE_PROJECT inherited from an npm script
  // (relative to another directory), find nothing and fall back to the unbuilt dist/ without a word.
  const tests = path.join(root, '..', '..', 'test');
  const { compilerOptions } = JSON.parse(fs.readFileSync(path.join(tests, 'tsconfig.json'), 'utf8'));
  tsConfigPaths.register({ baseUrl: path.resolve(tests, compilerOptions.baseUrl), paths: compilerOptions.paths });
  // Transpile only: type checking is the build's job, and would cost seconds on every run.
  tsNode.register({ transpileOnly: true, project: path.join(tests, 'tsconfig.json'), compilerOptions: { inlineSourceMap: false, sourceMap: true } });
  return require(source);
}

/** What to do about a module that did not load: a package to install, or a file missing from an installed one. */
function cannotLoad(request) {
  if (!path.isAbsolute(request) && !request.startsWith('.')) return `cannot load ${request}: install it (npm install ${request})`;
  return `cannot load ${request}: a file of an installed package is missing; reinstall the package (in a checkout of its repository: npm run build)`;
}

let cli;
try {
  cli = fs.existsSync(source) && !process.env.MULTIZONE_USE_DIST ? fromSource() : undefined;
  if (!cli) {
    if (!fs.existsSync(built)) {
      process.stderr.write('multizone: not built (no dist/lib/cli); run `npm run build`\n');
      process.exit(1);
    }
    cli = require(built);
  }
} catch (e) {
  // A missing dependency or a broken install: one line, not a stack trace.
  const missing = e && e.code === 'MODULE_NOT_FOUND' ? / '([^']+)'/.exec(String(e.message)) : null;
  process.stderr.write(`multizone: ${missing ? cannotLoad(missing[1]) : e && e.message ? e.message : e}\n`);
  if (process.env.MULTIZONE_DEBUG) process.stderr.write(`${e && e.stack}\n`);
  process.exit(1);
}
cli.main(process.argv).then(
  (code) => {
    if (code) process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`multizone: ${e && e.message ? e.message : e}\n`);
    process.exitCode = 1;
  },
);
