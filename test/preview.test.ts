/**
 * Signed preview overrides: a viewer holding a valid `mz-preview` cookie
 * sees a previewable flag at the cookie's value, whatever the store says;
 * anything else a viewer sends moves nothing. Runs the template's own
 * function (SynthesizedSite.serve, FunctionSandbox), the local edge and
 * the `flags preview --local` command.
 */
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { EXAMPLE_ZONE_ORIGINS, ExampleSiteStack } from '../bin/example-stack';
import { FunctionSandbox, SynthesizedSite, viewerRequestEvent } from 'multizone-cli';
import { MultiZoneDistributionProps, MultiZoneValidationError, ZoneDefinition } from '../lib';
import { PREVIEW_COOKIE, PREVIEW_SECRET_KEY, parsePreviewTtl, previewEntry } from '../lib/preview';
import { main } from '../packages/multizone-cli/src/cli';
import { previewSecretFile } from '../packages/multizone-cli/src/local-edge/flag-file';
import { startLocalEdge } from '../packages/multizone-cli/src/local-edge/server';
import { origin, seedZones, served, synth } from './support/sites';

const SECRET = 'a'.repeat(64);
const OTHER_SECRET = 'b'.repeat(64);
const shop: ZoneDefinition = { name: 'shop', origin: origin('shop'), assetPrefix: '/shop-static' };

const previewProps = (): Partial<MultiZoneDistributionProps> => ({
  zones: [...seedZones(), shop],
  overrides: [
    { flag: 'new-checkout', pathPatterns: ['/checkout', '/checkout/*'], zone: 'shop', preview: true },
    { flag: 'members', pathPatterns: ['/members/*'], zone: 'dashboard', preview: true },
    { flag: 'plain', pathPatterns: ['/plain/*'], zone: 'shop' },
  ],
  flags: { 'new-checkout': 'off', members: 'off', plain: 'off' },
});

const site = served(previewProps());
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;
const cookie = (flag: string, value: 'on' | 'off', secret = SECRET, expiry = inAnHour()) => previewEntry(flag, value, expiry, secret);

/** The zone of a request with the given preview cookie value, store flags and secret (null: no secret in the store). */
async function zoneWith(uri: string, cookieValue: string | undefined, flags: Record<string, string> = {}, secret: string | null = SECRET): Promise<string> {
  const store = { ...flags, ...(secret !== null && { [PREVIEW_SECRET_KEY]: secret }) };
  return (await site.serve(uri, { flags: store, ...(cookieValue !== undefined && { cookies: { [PREVIEW_COOKIE]: cookieValue } }) })).zone;
}

describe('a valid preview cookie', () => {
  test('moves the path while the store says off', async () => {
    expect(await zoneWith('/checkout', undefined)).toBe('home');
    expect(await zoneWith('/checkout', cookie('new-checkout', 'on'))).toBe('shop');
    expect(await zoneWith('/checkout/pay', cookie('new-checkout', 'on'))).toBe('shop');
  });

  test('an "off" cookie keeps the path home while the store says on', async () => {
    expect(await zoneWith('/checkout', undefined, { 'new-checkout': 'on' })).toBe('shop');
    expect(await zoneWith('/checkout', cookie('new-checkout', 'off'), { 'new-checkout': 'on' })).toBe('home');
    expect(await zoneWith('/checkout', cookie('new-checkout', 'off'), { 'new-checkout': '100%' })).toBe('home');
  });

  test('several flags in one cookie, comma-separated (or %2C), each on its own', async () => {
    const both = `${cookie('new-checkout', 'on')},${cookie('members', 'on')}`;
    expect(await zoneWith('/checkout', both)).toBe('shop');
    expect(await zoneWith('/members/x', both)).toBe('dashboard');
    expect(await zoneWith('/members/x', both.replace(',', '%2C'))).toBe('dashboard');
    // A bad entry does not spoil the good one next to it.
    expect(await zoneWith('/members/x', `garbage,${cookie('members', 'on')}`)).toBe('dashboard');
  });

  test('only moves the paths of its own flag', async () => {
    expect(await zoneWith('/members/x', cookie('new-checkout', 'on'))).toBe('home');
    expect(await zoneWith('/about', cookie('new-checkout', 'on'))).toBe('home');
    expect(await zoneWith('/blog/post', cookie('new-checkout', 'on'))).toBe('blog');
  });
});

describe('anything else does nothing', () => {
  const valid = () => cookie('new-checkout', 'on');
  const flipLastHex = (v: string) => v.slice(0, -1) + (v.endsWith('0') ? '1' : '0');

  test.each<[string, () => string, string | null]>([
    ['a tampered signature', () => flipLastHex(valid()), SECRET],
    ['a signature made with another secret', () => cookie('new-checkout', 'on', OTHER_SECRET), SECRET],
    ['an expired cookie', () => cookie('new-checkout', 'on', SECRET, Math.floor(Date.now() / 1000) - 1), SECRET],
    ['an edited value (off signed, on sent)', () => cookie('new-checkout', 'off').replace('.off.', '.on.'), SECRET],
    ['an edited expiry', () => valid().replace(/\.(\d+)\./, (_m, e) => `.${Number(e) + 1}.`), SECRET],
    ['a flag that is not previewable, validly signed', () => cookie('plain', 'on'), SECRET],
    ['a valid cookie, but no secret in the store', valid, null],
    ['a valid cookie, but an empty secret in the store', valid, ''],
    ['a cookie signed with the empty secret', () => cookie('new-checkout', 'on', ''), ''],
    ['upper-case hex', () => valid().toUpperCase().replace('NEW-CHECKOUT.ON', 'new-checkout.on'), SECRET],
    ['the signature alone', () => valid().split('.').pop()!, SECRET],
    ['no signature', () => valid().split('.').slice(0, 3).join('.'), SECRET],
    ['other separators than "."', () => valid().replace(/\./g, 'x'), SECRET],
    ['"on" spelled "ON"', () => valid().replace('.on.', '.ON.'), SECRET],
    ['an empty value', () => '', SECRET],
    ['"new-checkout=on"', () => 'new-checkout=on', SECRET],
    ['"new-checkout.on"', () => 'new-checkout.on', SECRET],
    ['JSON', () => JSON.stringify({ 'new-checkout': 'on' }), SECRET],
    ['separators only', () => ',,,.,.', SECRET],
    ['a very long value', () => 'x.'.repeat(3000), SECRET],
    ['a valid entry past the tenth', () => `${Array(10).fill('junk').join(',')},${valid()}`, SECRET],
    ['a prototype name', () => cookie('constructor', 'on'), SECRET],
  ])('%s', async (_name, value, secret) => {
    expect(await zoneWith('/checkout', value(), {}, secret)).toBe('home');
    expect(await zoneWith('/checkout', value(), { 'new-checkout': 'on' }, secret)).toBe('shop');
  });

  test('headers, other cookies and query strings are no preview', async () => {
    const v = cookie('new-checkout', 'on');
    const r = await site.serve('/checkout?mz-preview=' + v, {
      flags: { [PREVIEW_SECRET_KEY]: SECRET },
      headers: { 'mz-preview': v, 'x-multizone-zone': 'shop' },
      cookies: { 'mz-preview-x': v, 'new-checkout': 'on' },
    });
    expect(r.zone).toBe('home');
  });

  test('a site without previewable flags ignores even a validly signed cookie', async () => {
    const plainSite = served({ ...previewProps(), overrides: previewProps().overrides!.map((o) => ({ ...o, preview: false })) });
    const r = await plainSite.serve('/checkout', { flags: { [PREVIEW_SECRET_KEY]: SECRET }, cookies: { [PREVIEW_COOKIE]: cookie('new-checkout', 'on') } });
    expect(r.zone).toBe('home');
  });
});

describe('asset paths and the store', () => {
  // Few behaviors: asset routes overflow into the function too.
  const overflowed = served({ ...previewProps(), maxCacheBehaviors: 4 });

  /** Runs the request as CloudFront would (behavior, then its function), with a store lookup that records the keys read. */
  async function run(uri: string, cookies: Record<string, string>, s: SynthesizedSite = overflowed) {
    const { behavior } = s.behaviorFor(uri);
    const read: string[] = [];
    if (!behavior.viewerRequestFunction) return { zone: s.zoneOfOrigin(behavior.targetOriginId), read, ran: false };
    const sandbox = new FunctionSandbox(s.functionCode(behavior.viewerRequestFunction));
    const outcome = await sandbox.run(viewerRequestEvent(uri, { cookies }), (key) => {
      read.push(key);
      return key === PREVIEW_SECRET_KEY ? SECRET : s.storeEntries[key];
    });
    return { zone: s.zoneOfOrigin(outcome.selectedOriginId ?? behavior.targetOriginId), read, ran: true };
  }

  const assets: Array<[string, string]> = [
    ['/shop-static/_next/static/chunks/a.js', 'shop'],
    ['/_next/static/chunks/main.js', 'home'],
    ['/blog-static/_next/static/chunks/a.js', 'blog'],
    ['/dashboard-static/_next/static/chunks/a.js', 'dashboard'],
  ];

  test('some asset routes run the router function (overflowed)', async () => {
    const ran = await Promise.all(assets.map(([uri]) => run(uri, {})));
    expect(ran.filter((r) => r.ran && r.read.length > 0).length).toBeGreaterThan(0);
  });

  test.each(assets)('the cookie never moves the asset path %s, and the secret is not read for it', async (uri, zone) => {
    const all = { [PREVIEW_COOKIE]: `${cookie('new-checkout', 'on')},${cookie('members', 'on')}` };
    const r = await run(uri, all);
    expect(r.zone).toBe(zone);
    expect(r.read).not.toContain(PREVIEW_SECRET_KEY);
  });

  test('the secret is read only when a preview cookie is present, once', async () => {
    expect((await run('/checkout', {})).read).not.toContain(PREVIEW_SECRET_KEY);
    expect((await run('/checkout', { sid: 'x' })).read).not.toContain(PREVIEW_SECRET_KEY);
    const withCookie = await run('/checkout', { [PREVIEW_COOKIE]: cookie('new-checkout', 'on') });
    expect(withCookie).toEqual({ zone: 'shop', read: expect.arrayContaining([PREVIEW_SECRET_KEY]), ran: true });
    expect(withCookie.read.filter((k) => k === PREVIEW_SECRET_KEY)).toHaveLength(1);
    // A preview cookie on a page no override covers: nothing to decide, no secret read.
    expect((await run('/about', { [PREVIEW_COOKIE]: cookie('new-checkout', 'on') })).read).not.toContain(PREVIEW_SECRET_KEY);
  });
});

describe('the construct', () => {
  test('lists the previewable flags in the table and embeds them in the function', () => {
    expect(site.table.previewFlags).toEqual(['members', 'new-checkout']);
    const fn = site.behaviorFor('/checkout').behavior.viewerRequestFunction!;
    expect(site.functionCode(fn)).toContain('var PV = ["members","new-checkout"];');
    expect(site.functionCode(fn)).toContain('\\.(on|off)\\.([0-9]{1,12})\\.([0-9a-f]{64})$/');
  });

  test('asks the sync to create the secret only when a flag is previewable', () => {
    const sync = (t: Template) => Object.values<any>(t.toJSON().Resources).find((r) => r.Type === 'Custom::MultiZoneKvsSync').Properties;
    expect(sync(synth(previewProps()).template).PreviewSecret).toBe('create-if-missing');
    const none = synth({ ...previewProps(), overrides: previewProps().overrides!.map(({ preview: _p, ...o }) => o) });
    expect(sync(none.template).PreviewSecret).toBeUndefined();
    expect(SynthesizedSite.fromStack(none.stack).table.previewFlags).toBeUndefined();
    // The secret is never part of the template: the sync handler makes it in the store.
    expect(site.storeEntries).not.toHaveProperty([PREVIEW_SECRET_KEY]);
  });

  test('code stays under 5 KB with previews and 1000 overrides', () => {
    const s = served({
      zones: [...seedZones(), shop],
      overrides: Array.from({ length: 1000 }, (_, i) => ({ flag: `f-${i}`, pathPatterns: [`/feature-${i}/*`], zone: 'shop', preview: i < 5 })),
    });
    const fn = s.behaviorFor('/feature-1/x').behavior.viewerRequestFunction!;
    expect(s.functionCode(fn)).toContain('var PV = ["f-0","f-1","f-2","f-3","f-4"];');
    expect(Buffer.byteLength(s.functionCode(fn))).toBeLessThanOrEqual(5120);
  });

  test('a flag is previewable on every one of its overrides or on none', () => {
    const props = {
      ...previewProps(),
      overrides: [
        { flag: 'new-checkout', pathPatterns: ['/checkout'], zone: 'shop', preview: true },
        { flag: 'new-checkout', pathPatterns: ['/checkout/*'], zone: 'shop' },
      ],
      flags: {},
    };
    expect(() => synth(props)).toThrow(MultiZoneValidationError);
    expect(() => synth(props)).toThrow('Override "new-checkout": preview must be the same on every override of the flag');
    const agreeing = { ...props, overrides: props.overrides.map((o) => ({ ...o, preview: true })) };
    expect(served(agreeing).table.previewFlags).toEqual(['new-checkout']);
  });

  test('entries count one by one: a signed one applies, one of a flag not previewable or signed with another secret does not', async () => {
    const values = [cookie('new-checkout', 'on'), cookie('plain', 'on'), `${cookie('members', 'off')},${cookie('new-checkout', 'on', OTHER_SECRET)}`];
    expect(await zoneWith('/checkout', values[0])).toBe('shop');
    expect(await zoneWith('/plain/x', values[1])).toBe('home');
    expect(await zoneWith('/members/x', values[2], { members: 'on' })).toBe('home');
    expect(await zoneWith('/checkout', values[2])).toBe('home');
  });

  test('time to live parsing', () => {
    expect(['90s', '30m', '1h', '7d', '120', '0', '1w', '-1h', ''].map(parsePreviewTtl)).toEqual([90, 1800, 3600, 604800, 120, undefined, undefined, undefined, undefined]);
  });
});

describe('flags preview --local and the local edge', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-preview-'));
  const flagsFile = path.join(tmp, '.multizone', 'flags.json');
  const example = SynthesizedSite.fromStack(new ExampleSiteStack(new App(), 'MultiZoneExample', { zoneOrigins: EXAMPLE_ZONE_ORIGINS }));

  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  async function cli(...args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['node', 'multizone', ...args], { out: (t) => out.push(...t.replace(/\n$/, '').split('\n')), err: (t) => err.push(...t.replace(/\n$/, '').split('\n')) });
    return { code, out, err };
  }

  test('the example marks new-checkout previewable', () => {
    expect(example.table.previewFlags).toEqual(['new-checkout']);
  });

  test('prints a cookie signed with the local secret, created once beside the flag file', async () => {
    const r = await cli('flags', 'preview', 'new-checkout', 'on', '--ttl', '2h', '--local', '--flags-file', flagsFile);
    expect(r.code).toBe(0);
    const secretFile = previewSecretFile(flagsFile);
    expect(secretFile).toBe(path.join(tmp, '.multizone', 'preview-secret'));
    const secret = fs.readFileSync(secretFile, 'utf8').trim();
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(r.out[0]).toMatch(/^mz-preview=new-checkout\.on\.\d+\.[0-9a-f]{64}$/);
    expect(r.out[1]).toMatch(/document\.cookie = "mz-preview=.*; path=\/; max-age=7200".*curl -b 'mz-preview=/);
    const value = r.out[0].slice('mz-preview='.length);
    const expiry = Number(value.split('.')[2]);
    expect(expiry - Date.now() / 1000).toBeGreaterThan(7190);
    expect(expiry - Date.now() / 1000).toBeLessThanOrEqual(7200);
    expect((await example.serve('/checkout', { flags: { [PREVIEW_SECRET_KEY]: secret }, cookies: { [PREVIEW_COOKIE]: value } })).zone).toBe('dashboard');

    const again = await cli('flags', 'preview', 'new-checkout', 'off', '--local', '--flags-file', flagsFile);
    expect(again.code).toBe(0);
    expect(fs.readFileSync(secretFile, 'utf8').trim()).toBe(secret);
    const off = again.out[0].slice('mz-preview='.length);
    expect(off).toMatch(/^new-checkout\.off\.\d+\.[0-9a-f]{64}$/);
    expect((await example.serve('/checkout', { flags: { 'new-checkout': 'on', [PREVIEW_SECRET_KEY]: secret }, cookies: { [PREVIEW_COOKIE]: off } })).zone).toBe('home');
  });

  test('the curl hint goes to the local edge: port 8080, or the one given with --port', async () => {
    expect((await cli('flags', 'preview', 'new-checkout', 'on', '--local', '--flags-file', flagsFile)).out[1]).toMatch(/curl -b 'mz-preview=[^']+' http:\/\/localhost:8080\/ /);
    expect((await cli('flags', 'preview', 'new-checkout', 'on', '--local', '--flags-file', flagsFile, '--port', '9000')).out[1]).toMatch(/curl -b 'mz-preview=[^']+' http:\/\/localhost:9000\/ /);
  });

  test.each([
    [['new-checkout', 'on', '--port', 'eighty'], '--port eighty: not a port number'],
    [['new-checkout', 'maybe'], 'a preview value must be "on" or "off"'],
    [['new-checkout', '50%'], 'a preview value must be "on" or "off"'],
    [['mz:x', 'on'], 'flag name "mz:x" must be'],
    [['new-checkout', 'on', '--ttl', 'soon'], '--ttl: "soon" must be a duration'],
    [['new-checkout', 'on', '--ttl', '31d'], 'at most 30d'],
  ])('refuses %j in one line', async (args, message) => {
    const r = await cli('flags', 'preview', ...args, '--local', '--flags-file', path.join(tmp, 'other', 'flags.json'));
    expect(r.code).not.toBe(0);
    expect(r.err.join('\n')).toContain(message);
    expect(r.err).toHaveLength(1);
    expect(fs.existsSync(path.join(tmp, 'other'))).toBe(false);
  });

  /** A template written where cdk synth leaves it, beside its assets. */
  const templateFileOf = (synthesized: { template: Template; assemblyDir: string }, name: string) => {
    const file = path.join(synthesized.assemblyDir, `${name}.template.json`);
    fs.writeFileSync(file, JSON.stringify(synthesized.template.toJSON()));
    return file;
  };

  test('a zone flag without overrides is refused in one line, with a remedy that works: flags set --local', async () => {
    const exampleApp = new App();
    const exampleStack = new ExampleSiteStack(exampleApp, 'MultiZoneExample', { zoneOrigins: EXAMPLE_ZONE_ORIGINS });
    const exampleFile = templateFileOf({ template: Template.fromStack(exampleStack), assemblyDir: exampleApp.outdir }, 'example');
    const file = path.join(tmp, 'zone-flag', 'flags.json');
    const r = await cli('flags', 'preview', 'new-nav', 'on', '--local', '--template', exampleFile, '--flags-file', file);
    expect([r.code, r.out, r.err]).toEqual([
      1,
      [],
      [
        'multizone: flags preview new-nav: "new-nav" is a zone flag with no overrides, and a preview cookie covers only flags whose overrides set preview: true (previewable here: new-checkout); ' +
          'to try it on the local edge, set it there for everyone: multizone flags set new-nav on --local',
      ],
    ]);
    // Nothing made: no secret, no flag file.
    expect(fs.existsSync(path.join(tmp, 'zone-flag'))).toBe(false);

    // The remedy, as printed: the zones get new-nav on from the next request.
    expect((await cli('flags', 'set', 'new-nav', 'on', '--local', '--template', exampleFile, '--flags-file', file)).code).toBe(0);
    const explained = await cli('explain', '/blog/post-1', '--template', exampleFile, '--flags-file', file);
    expect(explained.out).toContain('  zone flags x-multizone-flags: new-nav=on (set by the function, forwarded to the zone)');
  });

  test('a flag whose overrides do not set preview: true is refused, saying to set it; an unknown flag, naming the flags', async () => {
    const file = templateFileOf(synth(previewProps()), 'previews');
    const plain = await cli('flags', 'preview', 'plain', 'off', '--local', '--template', file, '--flags-file', path.join(tmp, 'plain', 'flags.json'));
    expect([plain.code, plain.err]).toEqual([
      1,
      [
        'multizone: flags preview plain: the overrides of "plain" do not set preview: true (previewable here: members, new-checkout); ' +
          'set it on them and synthesize again, or set the flag for everyone on the local edge: multizone flags set plain off --local',
      ],
    ]);
    const unknown = await cli('flags', 'preview', 'new-chekout', 'on', '--local', '--template', file, '--flags-file', path.join(tmp, 'plain', 'flags.json'));
    expect([unknown.code, unknown.err]).toEqual([1, ['multizone: flags preview new-chekout: the template has no flag "new-chekout" (its flags: new-checkout, members, plain)']]);
    expect(fs.existsSync(path.join(tmp, 'plain'))).toBe(false);
    const members = await cli('flags', 'preview', 'members', 'on', '--local', '--template', file, '--flags-file', path.join(tmp, 'plain', 'flags.json'));
    expect([members.code, members.err]).toEqual([0, []]);
    expect(members.out[0]).toMatch(/^mz-preview=members\.on\./);
  });

  test('the local edge serves previews with the local secret', async () => {
    const zoneServer = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => zoneServer.listen(0, '127.0.0.1', resolve));
    const zoneUrl = `http://127.0.0.1:${(zoneServer.address() as AddressInfo).port}`;
    const edgeFlags = path.join(tmp, 'edge', 'flags.json');
    const edge = await startLocalEdge({ site: example, zoneUrls: { home: zoneUrl, blog: zoneUrl, dashboard: zoneUrl }, flagsFile: edgeFlags, host: '127.0.0.1' });
    const routeOf = (cookieHeader?: string) =>
      new Promise<string>((resolve, reject) => {
        http
          .get(`${edge.url}/checkout`, { agent: false, headers: cookieHeader ? { cookie: cookieHeader } : {} }, (res) => {
            res.resume();
            res.on('end', () => resolve(String(res.headers['x-multizone-route'])));
          })
          .on('error', reject);
      });
    try {
      const made = await cli('flags', 'preview', 'new-checkout', 'on', '--local', '--flags-file', edgeFlags);
      expect(made.code).toBe(0);
      expect(await routeOf()).toMatch(/^zone=home;/);
      expect(await routeOf(`theme=dark; ${made.out[0]}`)).toMatch(/^zone=dashboard;/);
      // Signed with another secret: nothing.
      expect(await routeOf(`${PREVIEW_COOKIE}=${cookie('new-checkout', 'on', OTHER_SECRET)}`)).toMatch(/^zone=home;/);
      // Without the secret file, the same cookie does nothing.
      fs.rmSync(previewSecretFile(edgeFlags));
      expect(await routeOf(made.out[0])).toMatch(/^zone=home;/);
    } finally {
      await edge.close();
      zoneServer.closeAllConnections();
      await new Promise((r) => zoneServer.close(r));
    }
  });
});
