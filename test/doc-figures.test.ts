/**
 * The numbers README.md and docs/ state about what the construct makes are
 * the numbers it makes: sizes of the example's functions, files and cookie,
 * the code sizes of the benchmark's functions, the CLI output the pages
 * quote, and the error a stack without a region gets. Each test reads the
 * page and fails, naming the page, when the code and the text part.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, SecretValue, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import { FunctionUrlOrigin, HttpOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SynthesizedSite } from 'multizone-cli';
import { EXAMPLE_ZONE_ORIGINS, ExampleSiteStack } from '../bin/example-stack';
import { releaseRows, synthesize, zoneFlagSite } from '../bench/run';
import { MultiZoneDistribution } from '../lib';
import { main } from '../packages/multizone-cli/src/cli';

jest.setTimeout(300_000);

const ROOT = path.join(__dirname, '..');
/** A page's text with its line breaks and indentation folded into single spaces, as it reads. */
const page = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8').replace(/\s+/g, ' ');
const bytes = (text: string) => Buffer.byteLength(text);
/** Asserts that a page states a text; a failure names the page and the text, not the whole page. */
const expectStated = (file: string, text: string) => expect({ file, states: text, found: page(file).includes(text) }).toEqual({ file, states: text, found: true });

describe('the example site, as the pages describe it', () => {
  const app = new App();
  const template = Template.fromStack(new ExampleSiteStack(app, 'MultiZoneExample', { zoneOrigins: EXAMPLE_ZONE_ORIGINS })).toJSON();
  const site = SynthesizedSite.fromTemplate(template, { assetDirectory: app.outdir });
  const codeAt = (uri: string) => site.functionCode(site.behaviorFor(uri).behavior.viewerRequestFunction!);

  test('the README\'s table of requests: each path reaches the behavior and zone it gives (flags off)', async () => {
    const rows = fs
      .readFileSync(path.join(ROOT, 'README.md'), 'utf8')
      .split('\n')
      .map((l) => /^\| `([^`]+)` \| `([^`]+)`[^|]* \| (\w+)/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null);
    expect(rows.length).toBeGreaterThan(6);
    for (const [, uri, pattern, zone] of rows.filter(([, uri]) => !uri.includes('...'))) {
      const served = await site.serve(uri);
      expect({ uri, pattern: served.behaviorPosition === site.behaviors.length ? '*' : served.behavior.pathPattern, zone: served.zone }).toEqual({ uri, pattern, zone });
    }
  });

  test('the Speculation Rules file and the function that answers it', async () => {
    const file = bytes((await site.serve('/_multizone/speculation-rules.json')).response!.body.data);
    const fn = bytes(codeAt('/_multizone/speculation-rules.json'));
    expectStated('docs/cross-zone-prefetch.md', `the example's file is ${file} bytes, its function ${fn})`);
    expectStated('docs/limits.md', `holds it (${fn} bytes for the example;`);
  });

  test('the router is about 5.0 KB, the image function under 1 KB', () => {
    // KB of 1,000 bytes, as the pages write sizes of code.
    const kb = (bytes(codeAt('/checkout')) / 1000).toFixed(1);
    expectStated('docs/flag-overrides.md', `code is about ${kb} KB whatever the number of zones or overrides`);
    expectStated('docs/limits.md', `the router (about ${kb} KB)`);
    expect(bytes(codeAt('/_next/image'))).toBeLessThan(1024);
    expectStated('docs/next-image.md', '(`ImageAccept`, under 1 KB, no store read)');
  });

  test('the visitor cookie costs one Set-Cookie of the size stated', async () => {
    const [cookie, ...more] = (await site.serve('/blog/post-1')).setCookies;
    expect(more).toEqual([]);
    expectStated('docs/flags-in-unison.md', `It costs one \`Set-Cookie\` of ${bytes(cookie)} bytes`);
  });

  test('the table keys start with a prefix of the size the limits page states', () => {
    const prefixes = new Set(Object.keys(site.storeEntries).flatMap((k) => /^mz-site:[^:]+:[^:]+:/.exec(k) ?? []));
    expect(prefixes.size).toBe(1);
    expectStated('docs/limits.md', `Table keys are \`mz-site:<site>:<version>:\` (${bytes([...prefixes][0])} bytes)`);
  });

  test('the sync resource properties are the size stated', () => {
    const sync = Object.values<any>(template.Resources).find((r) => r.Type === 'Custom::MultiZoneKvsSync');
    expectStated('docs/limits.md', `(${bytes(JSON.stringify(sync.Properties))} bytes of JSON for the example)`);
  });

  test('`multizone routes` prints what the local edge page quotes, and the prefetch page quotes part of it', async () => {
    const file = path.join(app.outdir, 'MultiZoneExample.template.json');
    fs.writeFileSync(file, JSON.stringify(template));
    const out: string[] = [];
    const code = await main(['node', 'multizone', 'routes', '--template', file], { out: (t) => out.push(t), err: () => undefined });
    expect(code).toBe(0);
    const printed = out.join('').replace(file, 'cdk.out/MultiZoneExample.template.json').trimEnd();
    const localEdge = fs.readFileSync(path.join(ROOT, 'docs/local-edge.md'), 'utf8');
    const quoted = /`npx multizone routes` \(the example with its default origins, as\n`npx cdk synth -q` writes it\):\n\n```\n([\s\S]*?)\n```/.exec(localEdge);
    expect(quoted?.[1]).toBe(printed);
    const prefetchSample = /```\n(Prefetch across zones[^`]*)```/.exec(fs.readFileSync(path.join(ROOT, 'docs/cross-zone-prefetch.md'), 'utf8'));
    expect(printed).toContain(prefetchSample![1].trimEnd());
  });
});

describe('`multizone explain` prints what the pages quote', () => {
  /** The example synthesized with the given origins, written where the CLI reads it. */
  const exampleTemplate = (name: string, zoneOrigins = EXAMPLE_ZONE_ORIGINS) => {
    const app = new App();
    const file = path.join(app.outdir, `${name}.template.json`);
    fs.writeFileSync(file, JSON.stringify(Template.fromStack(new ExampleSiteStack(app, name, { zoneOrigins })).toJSON()));
    return file;
  };
  const explain = async (...args: string[]) => {
    const out: string[] = [];
    expect(await main(['node', 'multizone', 'explain', ...args], { out: (t) => out.push(t), err: () => undefined })).toBe(0);
    return out.join('').trimEnd();
  };
  /** The code block of a page that starts with `first`. */
  const sample = (file: string, first: string) => {
    const lines = fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n');
    const blocks: string[] = [];
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i].startsWith('```')) continue;
      const end = lines.findIndex((l, j) => j > i && l === '```');
      blocks.push(lines.slice(i + 1, end).join('\n'));
      i = end;
    }
    return blocks.find((b) => b.startsWith(`${first}\n`));
  };

  test('on the example synthesized with local origins (docs/local-edge.md)', async () => {
    const local = exampleTemplate('MultiZoneLocal', { home: 'http://localhost:3000', blog: 'http://localhost:3001', dashboard: 'http://localhost:3002' });
    const flags = path.join(path.dirname(local), 'no-flags.json');
    expect(sample('docs/local-edge.md', 'GET /checkout')).toBe(await explain('/checkout', '--flag', 'new-checkout=on', '--template', local, '--flags-file', flags));
    const asset = '/blog-static/_next/static/chunks/main.js';
    expect(sample('docs/local-edge.md', `GET ${asset}`)).toBe(await explain(asset, '--template', local, '--flags-file', flags));
  });

  test('on the example with its default origins (docs/flags-in-unison.md)', async () => {
    const file = exampleTemplate('MultiZoneExample');
    const flags = path.join(path.dirname(file), 'no-flags.json');
    const printed = await explain('/dashboard', '--flag', 'new-nav=50%', '--visitor', '3f2a9c0d4b5e6f708192a3b4c5d6e7f8', '--template', file, '--flags-file', flags);
    expect(sample('docs/flags-in-unison.md', 'GET /dashboard')).toBe(printed);
  });
});

describe('the benchmark functions, at the code sizes the benchmarks page gives', () => {
  test('the router at 1 and 100 overrides (the table says every size)', () => {
    for (const overrides of [1, 100]) {
      const code = bytes(synthesize(overrides).routerCode);
      expectStated('docs/benchmarks.md', `| ${overrides} | ${code} | 1 + 0.59 |`);
    }
  });

  test('the page functions and the router with 0, 1 and 10 zone flags', () => {
    const row = (zoneFlags: number, kind: string, fn: string, code: string) => `| ${zoneFlags} | ${kind} | ${fn} | ${bytes(code)} |`;
    for (const zoneFlags of [0, 1, 10]) {
      const site = zoneFlagSite(zoneFlags);
      expectStated('docs/benchmarks.md', row(zoneFlags, 'untouched', zoneFlags === 0 ? 'host forwarder' : 'zone-flag decider', site.pageCode));
      expectStated('docs/benchmarks.md', row(zoneFlags, 'movable', 'router', site.routerCode));
    }
    expectStated('docs/benchmarks.md', `store-free host forwarder (${bytes(zoneFlagSite(0).pageCode)} bytes;`);
  });

  test('the functions of the release rows, without releases and with them', () => {
    const { rows } = releaseRows(Math.floor(Date.now() / 1000));
    for (const r of rows) {
      expectStated('docs/benchmarks.md', `| ${r.request} | ${r.viewers} | ${r.without?.name ?? 'no function'} | ${r.without?.bytes ?? 0} |`);
      expectStated('docs/benchmarks.md', `| ${r.with.name} | ${r.with.bytes} |`);
    }
  });
});

describe('README.md', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

  test('every figure of its "Figures" section is one the benchmarks page gives', () => {
    const section = /\n## Figures\n([\s\S]*?)\n## /.exec(readme)![1];
    const figures = section.replace(/\s+/g, ' ').match(/\d[\d,.]*(?: ?(?:µs|ms|x))/g)!;
    expect(figures.length).toBeGreaterThan(5);
    const benchmarks = page('docs/benchmarks.md');
    expect(figures.filter((f) => !benchmarks.includes(f) && !benchmarks.includes(f.replace(' ', '')))).toEqual([]);
  });

  test('quotes the error a function URL zone gets in a stack without a region', () => {
    const stack = new Stack(new App(), 'Web');
    const blogFnUrl = new lambda.Function(stack, 'BlogZone', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200 });'),
    }).addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
    const build = () =>
      new MultiZoneDistribution(stack, 'Site', {
        defaultZone: { name: 'home', origin: new HttpOrigin('home.example.com') },
        zones: [{ name: 'blog', origin: FunctionUrlOrigin.withOriginAccessControl(blogFnUrl), pathPatterns: ['/blog', '/blog/*'], assetPrefix: '/blog-static' }],
        originVerifyHeader: { value: SecretValue.secretsManager('web/origin-verify') },
        domainNames: ['www.example.com'],
        certificate: acm.Certificate.fromCertificateArn(stack, 'Certificate', 'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555'),
      });
    let message = '';
    try {
      build();
    } catch (e) {
      message = `${(e as Error).name}: ${(e as Error).message}`;
    }
    expect(message).toMatch(/^MultiZoneValidationError: Zone "blog": /);
    expect({ quoted: readme.includes(`\n${message}\n`), message }).toEqual({ quoted: true, message });
  });
});
