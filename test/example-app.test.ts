/**
 * The checkout as a newcomer meets it: the example app's cdk.json and the
 * `multizone` bin run from an npm script, before any build.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, SecretValue } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { siteStack, synth } from './support/sites';

const ROOT = path.resolve(__dirname, '..');
/** The example app's context, as `cdk synth` gives it to the app. */
const cdkContext = () => JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')).context;

describe('cdk.json', () => {
  test('sets every feature flag the installed aws-cdk-lib recommends, at its recommended value (what cdk init writes)', () => {
    const lib = path.dirname(require.resolve('aws-cdk-lib/package.json'));
    const recommended = JSON.parse(fs.readFileSync(path.join(lib, 'recommended-feature-flags.json'), 'utf8'));
    const flags = Object.fromEntries(Object.entries(cdkContext()).filter(([k]) => k.startsWith('@aws-cdk')));
    // Fails after an aws-cdk-lib upgrade until `npm run cdk:context` writes the new list.
    expect(flags).toEqual(recommended);
  });

  // Under @aws-cdk/core:checkSecretUsage, which cdk init turns on, resolving a SecretValue outside a secret-taking property throws.
  test('under its flags, originVerifyHeader takes a Secrets Manager secret and still refuses plain text', () => {
    const app = () => new App({ context: cdkContext() });
    const stack = siteStack({ originVerifyHeader: { value: SecretValue.secretsManager('site/origin-verify') } }, undefined, { app: app() });
    const [dist] = Object.values<any>(Template.fromStack(stack).findResources('AWS::CloudFront::Distribution'));
    const home = dist.Properties.DistributionConfig.Origins.find((o: any) => o.Id === 'zone-home');
    expect(home.OriginCustomHeaders).toEqual([{ HeaderName: 'x-origin-verify', HeaderValue: '{{resolve:secretsmanager:site/origin-verify:SecretString:::}}' }]);
    expect(() => siteStack({ originVerifyHeader: { value: SecretValue.unsafePlainText('hunter2') } }, undefined, { app: app() })).toThrow(/originVerifyHeader.value: is plain text/);
    expect(() => siteStack({ originVerifyHeader: { value: SecretValue.ssmSecure('/site/key') } }, undefined, { app: app() })).toThrow(/do not take ssm-secure/);
  });
});

describe('bin/multizone.js in a checkout', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'multizone-bin-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('runs both packages from their sources under an npm script that sets TS_NODE_PROJECT, never a dist/ build', () => {
    const s = synth();
    const templateFile = path.join(s.assemblyDir, 'site.template.json');
    fs.writeFileSync(templateFile, JSON.stringify(s.template.toJSON()));
    const bin = path.join(ROOT, 'packages', 'multizone-cli', 'bin', 'multizone.js');
    // Lists, at exit, every compiled file of either package the run loaded.
    const probe = path.join(tmp, 'probe.js');
    fs.writeFileSync(
      probe,
      `process.on('exit', () => { for (const f of Object.keys(require.cache)) if (/[\\\\/]dist[\\\\/](lib|cli)[\\\\/]/.test(f)) console.error('loaded ' + f); });
process.argv = [process.argv[0], ${JSON.stringify(bin)}, 'routes', '--template', ${JSON.stringify(templateFile)}];
require(${JSON.stringify(bin)});`,
    );
    // As `npm run test:e2e` sets it for itself, and its child processes inherit: relative to the repository.
    const r = spawnSync(process.execPath, [probe], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, TS_NODE_PROJECT: 'test/tsconfig.json' } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/3 zones, \d+ cache behaviors/);
  });
});
