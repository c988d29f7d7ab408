#!/usr/bin/env bash
# Packs the library as npm would publish it, installs the tarball into a
# throwaway consumer app, and synthesizes a stack that has resources of its
# own beside a MultiZoneDistribution.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# Outside the repository, so nothing resolves from the repository's own node_modules.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$root"
# prepack builds (its log goes to stderr): a dry run's stdout is the JSON report alone.
npm pack --dry-run --json > "$work/pack.json"
node -e '
  const [report] = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const files = report.files.map((f) => f.path);
  for (const want of ["LICENSE", "dist/lib/index.js", "dist/handlers/kvs-sync/index.js", "packages/multizone-cli/bin/multizone.js"]) {
    if (!files.includes(want)) throw new Error(`npm pack --dry-run --json: ${want} is not in the package`);
  }
' "$work/pack.json"
tarball="$(npm pack --silent --pack-destination "$work" | tail -1)"
# The shipped JavaScript carries no inline source maps (tsconfig.json emits none).
mkdir "$work/unpacked"
tar -xzf "$work/$tarball" -C "$work/unpacked"
test -f "$work/unpacked/package/LICENSE"
if grep -rl 'sourceMappingURL=data:' "$work/unpacked/package"; then
  echo "package check failed: inline source maps in the files above" >&2
  exit 1
fi
cdk_version="$(node -p "require('aws-cdk-lib/package.json').version")"
constructs_version="$(node -p "require('constructs/package.json').version")"

cd "$work"
echo '{ "name": "consumer-check", "private": true }' > package.json
npm install --silent --no-audit --no-fund "./$tarball" "aws-cdk-lib@$cdk_version" "constructs@$constructs_version"
cat > app.js <<'JS'
const { App, Stack } = require('aws-cdk-lib');
const s3 = require('aws-cdk-lib/aws-s3');
const origins = require('aws-cdk-lib/aws-cloudfront-origins');
const { MultiZoneDistribution } = require('multizone-distribution');

const app = new App({ outdir: 'cdk.out' });
const stack = new Stack(app, 'ConsumerStack');
new s3.Bucket(stack, 'ExistingBucket');
new MultiZoneDistribution(stack, 'Site', {
  defaultZone: { name: 'home', origin: new origins.HttpOrigin('home.example.com') },
  zones: [{ name: 'blog', origin: new origins.HttpOrigin('blog.example.com'), pathPatterns: ['/blog/*'], assetPrefix: '/blog-static' }],
  overrides: [{ flag: 'blog-v2', pathPatterns: ['/blog/new/*'], zone: 'home' }],
});
const template = app.synth().getStackByName('ConsumerStack').template;
const types = Object.values(template.Resources).map((r) => r.Type);
for (const type of ['AWS::S3::Bucket', 'AWS::CloudFront::Distribution', 'AWS::CloudFront::Function', 'AWS::CloudFront::KeyValueStore', 'Custom::MultiZoneKvsSync']) {
  if (!types.includes(type)) throw new Error(`consumer template lacks ${type}`);
}
console.log(`consumer stack synthesized: ${types.length} resources`);
JS
node app.js
test -f "node_modules/multizone-distribution/dist/lib/index.d.ts"
# The CLI ships with the package and runs on its declared dependencies alone.
npx --no-install multizone routes --template cdk.out/ConsumerStack.template.json > routes.txt
grep -q "blog" routes.txt
test "$(npx --no-install multizone --version)" = "$(node -p "require('multizone-distribution/package.json').version")"
echo "package check passed: $tarball"
