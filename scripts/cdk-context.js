#!/usr/bin/env node
/**
 * Writes the example app's feature flags into cdk.json's `context`: the
 * flags `cdk init` writes for a new app, read from the installed
 * aws-cdk-lib (its recommended-feature-flags.json, the list the aws-cdk
 * CLI copies into its init templates), sorted as `cdk init` sorts them.
 * Other context keys are kept. Without them every synth warns that the
 * flags are not configured. Run it after upgrading aws-cdk-lib:
 * `npm run cdk:context`; test/example-app.test.ts fails while cdk.json
 * lags behind the installed aws-cdk-lib.
 */
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const cdkJson = path.join(root, 'cdk.json');

/** aws-cdk-lib's recommended flags (the file is not in its package exports: read by path). */
function recommendedFlags() {
  const lib = path.dirname(require.resolve('aws-cdk-lib/package.json', { paths: [root] }));
  const flags = JSON.parse(fs.readFileSync(path.join(lib, 'recommended-feature-flags.json'), 'utf8'));
  return Object.fromEntries(Object.keys(flags).sort().map((k) => [k, flags[k]]));
}

const config = JSON.parse(fs.readFileSync(cdkJson, 'utf8'));
const flags = recommendedFlags();
// Every '@aws-cdk...' key is a flag: one aws-cdk-lib no longer recommends goes too.
const others = Object.fromEntries(Object.entries(config.context ?? {}).filter(([k]) => !k.startsWith('@aws-cdk')));
config.context = { ...others, ...flags };
fs.writeFileSync(cdkJson, `${JSON.stringify(config, null, 2)}\n`);
const version = require(require.resolve('aws-cdk-lib/package.json', { paths: [root] })).version;
process.stderr.write(`cdk.json: ${Object.keys(flags).length} feature flags of aws-cdk-lib ${version}\n`);
