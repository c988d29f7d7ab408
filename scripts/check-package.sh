#!/usr/bin/env bash
# Packs the three packages with scripts/pack-all.sh (`npm run pack:all`, the
# README's Install section), then checks them the way a user meets them:
#   1. the construct package (repository root) compiles with jsii, no errors
#      or warnings; pacmak generates its Python code; API.md is current;
#   2. the tarballs hold what they must (and no inline source maps);
#   3. the construct tarball ALONE (with aws-cdk-lib and constructs) goes into a
#      fresh CDK app outside the repository, which synthesizes a stack with
#      resources of its own, and its node_modules hold no AWS SDK;
#   4. in a second fresh CDK app, the README's install line (the construct's
#      and the CLI's tarballs in one npm install): `multizone routes` reads
#      that app's cdk.out, and SynthesizedSite answers which zone serves a
#      path with a flag on;
#   5. the zone package's tarball installs alone and reads a flags header.
# Needs the npm registry (aws-cdk-lib, constructs), no AWS account.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# Outside the repository, so nothing resolves from the repository's own node_modules.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# jsii and pacmak warn about node 20 on every run; the node version is the machine's, not the package's.
export JSII_SILENCE_SUPPORT_WARNING=1
step_start=$SECONDS
step() {
  echo "check-package: $1 ($((SECONDS - step_start)) s so far)" >&2
}

cd "$root"
# The construct package declares no runtime dependencies: only its peers.
node -e '
  const pkg = require("./package.json");
  const deps = Object.keys(pkg.dependencies ?? {});
  if (deps.length) throw new Error(`multizone-distribution has runtime dependencies: ${deps.join(", ")}`);
  const peers = Object.keys(pkg.peerDependencies ?? {}).sort().join(",");
  if (peers !== "aws-cdk-lib,constructs") throw new Error(`multizone-distribution peers: ${peers}`);
'

# Packing runs each prepack: jsii --fail-on-warnings (any jsii error or warning fails here), the
# handler bundles, tsc for the CLI and the zone package. Tarball paths on stdout, logs on stderr.
bash scripts/pack-all.sh "$work/packs" > "$work/tarballs"
mapfile -t tarballs < "$work/tarballs"
construct_tgz="${tarballs[0]}"
cli_tgz="${tarballs[1]}"
flags_tgz="${tarballs[2]}"
step "all three packed by scripts/pack-all.sh"
node -e '
  const { execFileSync } = require("child_process");
  const check = (file, want, never) => {
    const files = execFileSync("tar", ["-tzf", file], { encoding: "utf8" }).split("\n").filter(Boolean).map((f) => f.replace(/^package\//, ""));
    const name = require("path").basename(file);
    for (const f of want) if (!files.includes(f)) throw new Error(`${name}: ${f} is not in the package`);
    for (const re of never) for (const f of files) if (re.test(f)) throw new Error(`${name}: ${f} must not be in the package`);
  };
  const [construct, cli, flags] = process.argv.slice(1);
  check(construct, ["LICENSE", ".jsii", "dist/lib/index.js", "dist/lib/index.d.ts", "dist/lib/internal.js", "dist/handlers/kvs-sync/index.js", "dist/handlers/body-hash/index.js", "dist/handlers/release-rollback/index.js"],
    [/^bin\//, /cli|local-edge|operate|sandbox|synthesized-site/, /^dist\/lib\/.*\/handler\.js$/, /^dist\/pacmak/]);
  check(cli, ["LICENSE", "bin/multizone.js", "dist/index.js", "dist/index.d.ts", "dist/cli/index.js", "dist/local-edge/server.js", "dist/synthesized-site.js"], [/^src\//, /\.ts$(?<!\.d\.ts)/]);
  check(flags, ["README.md", "dist/index.js", "dist/index.d.ts", "dist/openfeature.js", "dist/flags-sdk.js"], [/^src\//, /^test\//, /\.ts$(?<!\.d\.ts)/]);
' "$construct_tgz" "$cli_tgz" "$flags_tgz"
mkdir -p "$work/unpacked/construct" "$work/unpacked/cli"
tar -xzf "$construct_tgz" -C "$work/unpacked/construct"
tar -xzf "$cli_tgz" -C "$work/unpacked/cli"
# The CLI reaches the construct through its package entries, never a path into the construct's files.
if grep -rlE "require\(\"(\.\./)+lib/|multizone-distribution/dist" "$work/unpacked/cli/package/dist"; then
  echo "package check failed: the CLI reaches into the construct package's files above" >&2
  exit 1
fi
if grep -rl 'sourceMappingURL=data:' "$work/unpacked"; then
  echo "package check failed: inline source maps in the files above" >&2
  exit 1
fi

# Python: jsii-pacmak generates the package's code from the packed package, what users get (pacmak
# writes an .npmignore into the package it reads: not into the repository). It finds the assemblies of
# aws-cdk-lib and constructs through the node_modules beside the package, and packs the package as it
# is, already built. Building a wheel needs PyPI (setuptools, jsii's runtime), which this machine
# cannot reach, so only the code is generated, and compiled by python3.
ln -s "$root/node_modules" "$work/unpacked/construct/node_modules"
npx jsii-pacmak --targets python --code-only --pack-command 'npm pack --ignore-scripts --silent' -o "$work/python" "$work/unpacked/construct/package" > /dev/null
test -f "$work/python/python/pyproject.toml"
python3 -m py_compile "$work/python/python/src/multizone_distribution/__init__.py"
grep -q '^class MultiZoneDistribution(' "$work/python/python/src/multizone_distribution/__init__.py"
step "pacmak generated the Python code"

# API.md is jsii-docgen's output for the assembly just built.
npx jsii-docgen -o "$work/API.md" > /dev/null
if ! diff -q API.md "$work/API.md" > /dev/null; then
  echo "package check failed: API.md is stale; run npm run docs:api (after npm run build)" >&2
  exit 1
fi
step "API.md is current"

cdk_version="$(node -p "require('aws-cdk-lib/package.json').version")"
constructs_version="$(node -p "require('constructs/package.json').version")"
cli_version="$(node -p "require('./packages/multizone-cli/package.json').version")"

mkdir "$work/app"
cd "$work/app"
echo '{ "name": "consumer-check", "private": true }' > package.json
npm install --silent --no-audit --no-fund "$construct_tgz" "aws-cdk-lib@$cdk_version" "constructs@$constructs_version"
step "construct tarball installed in a fresh app"
# aws-cdk-lib brings no AWS SDK of its own (its dependencies are bundled CDK tooling), so any
# @aws-sdk or @smithy package here, at any depth, would be ours.
sdk="$(find node_modules -type d \( -path '*/node_modules/@aws-sdk' -o -path '*/node_modules/@smithy' -o -path '*/node_modules/commander' -o -path '*/node_modules/http-proxy' \) | head -5)"
if [ -n "$sdk" ]; then
  echo "package check failed: the construct package alone brought $sdk" >&2
  exit 1
fi
echo "check-package: the app's node_modules: $(du -sm node_modules | cut -f1) MB, no @aws-sdk, @smithy, commander or http-proxy" >&2
cat > app.js <<'JS'
const { App, Stack } = require('aws-cdk-lib');
const s3 = require('aws-cdk-lib/aws-s3');
const origins = require('aws-cdk-lib/aws-cloudfront-origins');
const { MultiZoneDistribution } = require('multizone-distribution');

function consumerStack(outdir) {
  const app = new App({ outdir });
  const stack = new Stack(app, 'ConsumerStack');
  new s3.Bucket(stack, 'ExistingBucket');
  new MultiZoneDistribution(stack, 'Site', {
    defaultZone: { name: 'home', origin: new origins.HttpOrigin('home.example.com') },
    zones: [{ name: 'blog', origin: new origins.HttpOrigin('blog.example.com'), pathPatterns: ['/blog/*'], assetPrefix: '/blog-static' }],
    overrides: [{ flag: 'blog-v2', pathPatterns: ['/blog/new/*'], zone: 'home' }],
  });
  return stack;
}
module.exports = { consumerStack };

if (require.main === module) {
  const stack = consumerStack('cdk.out');
  const template = stack.node.root.synth().getStackByName('ConsumerStack').template;
  const types = Object.values(template.Resources).map((r) => r.Type);
  for (const type of ['AWS::S3::Bucket', 'AWS::CloudFront::Distribution', 'AWS::CloudFront::Function', 'AWS::CloudFront::KeyValueStore', 'Custom::MultiZoneKvsSync']) {
    if (!types.includes(type)) throw new Error(`consumer template lacks ${type}`);
  }
  console.log(`consumer stack synthesized: ${types.length} resources`);
}
JS
node app.js
test -f "node_modules/multizone-distribution/dist/lib/index.d.ts"
test -f "node_modules/multizone-distribution/.jsii"
step "the fresh app synthesized"

# A second fresh CDK app, and the README's install line: both tarballs in one command.
mkdir "$work/app2"
cp app.js "$work/app2/"
cd "$work/app2"
echo '{ "name": "consumer-check-cli", "private": true }' > package.json
npm install --silent --no-audit --no-fund "aws-cdk-lib@$cdk_version" "constructs@$constructs_version"
npm install --silent --no-audit --no-fund "$construct_tgz" "$cli_tgz"
step "the construct and CLI tarballs installed together in a second fresh app"
node app.js
npx --no-install multizone routes --template cdk.out/ConsumerStack.template.json > routes.txt
grep -q "blog" routes.txt
test "$(npx --no-install multizone --version)" = "$cli_version"
# The test helper, as a user's test calls it, on the user's own stack.
node -e '
  const { SynthesizedSite } = require("multizone-cli");
  const { consumerStack } = require("./app.js");
  (async () => {
    const site = SynthesizedSite.fromStack(consumerStack(require("fs").mkdtempSync("cdk.out.helper-")));
    const on = await site.serve("/blog/new/x", { flags: { "blog-v2": "on" } });
    const off = await site.serve("/blog/new/x");
    if (on.zone !== "home" || off.zone !== "blog") throw new Error(`SynthesizedSite: /blog/new/x served by ${on.zone} (flag on), ${off.zone} (off)`);
  })().catch((e) => { console.error(e); process.exit(1); });
'
step "multizone routes and SynthesizedSite ran from the CLI tarball"

# The zone package, alone, as a Next.js zone installs it.
mkdir "$work/zone"
cd "$work/zone"
echo '{ "name": "zone-check", "private": true }' > package.json
npm install --silent --no-audit --no-fund "$flags_tgz"
node -e '
  const { isZoneFlagOn } = require("multizone-flags");
  const headers = { "x-multizone-flags": "new-checkout=off,new-nav=on" };
  if (!isZoneFlagOn(headers, "new-nav") || isZoneFlagOn(headers, "new-checkout")) throw new Error("multizone-flags: the header reads wrong");
'
step "the zone package installed alone and read a flags header"
echo "package check passed: $(basename "$construct_tgz"), $(basename "$cli_tgz"), $(basename "$flags_tgz")"
