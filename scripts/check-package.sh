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
npm run build --silent
tarball="$(npm pack --silent --pack-destination "$work" | tail -1)"
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
echo "package check passed: $tarball"
