#!/usr/bin/env node
/**
 * Bundles each Lambda handler with its dependencies (the AWS SDK clients
 * and the SigV4A signer included; the Lambda@Edge body hasher has none)
 * into one file under dist/handlers/, the
 * asset directory the constructs deploy. Run by `npm run build`, `npm pack`
 * (prepack), before tests and by the example app's synth (cdk.json), since
 * synth reads the bundle. Its one line a handler goes to stderr, so stdout
 * stays the caller's (`npm pack --json`); `--quiet` drops it.
 */
const fs = require('fs');
const path = require('path');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const quiet = process.argv.includes('--quiet');

/** Handler entry point -> asset directory under dist/handlers. */
const HANDLERS = {
  'lib/kvs-sync/handler.ts': 'kvs-sync',
  'lib/body-hash/handler.ts': 'body-hash',
  'lib/release-rollback/handler.ts': 'release-rollback',
};

for (const [entry, name] of Object.entries(HANDLERS)) {
  const outdir = path.join(root, 'dist', 'handlers', name);
  // The whole directory is the asset: clear it so only the bundle ends up in it (and in its hash).
  fs.rmSync(outdir, { recursive: true, force: true });
  esbuild.buildSync({
    absWorkingDir: root,
    entryPoints: [entry],
    outfile: path.join(outdir, 'index.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    // Prefer the SDK's ES module builds, which tree-shake better.
    mainFields: ['module', 'main'],
    logLevel: 'warning',
  });
  if (quiet) continue;
  const { size } = fs.statSync(path.join(outdir, 'index.js'));
  console.error(`bundled ${entry} -> dist/handlers/${name}/index.js (${Math.round(size / 1024)} KiB)`);
}
