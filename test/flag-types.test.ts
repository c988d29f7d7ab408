import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ts from 'typescript';
import { main } from '../packages/multizone-cli/src/cli';
import { CliIO } from '../packages/multizone-cli/src/cli/io';
import { synth } from './support/sites';

jest.setTimeout(60_000);

const ROOT = path.resolve(__dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'multizone-flag-types-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A synthesized site's template written where cdk synth puts it, beside its assets. */
function templateOf(props: Parameters<typeof synth>[0], name: string): string {
  const s = synth(props);
  const file = path.join(s.assemblyDir, `${name}.template.json`);
  fs.writeFileSync(file, JSON.stringify(s.template.toJSON()));
  return file;
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => (out += t.endsWith('\n') ? t : `${t}\n`), err: (t) => (err += t.endsWith('\n') ? t : `${t}\n`) };
  const code = await main(['node', 'multizone', ...args], io);
  return { code, out, err };
}

/**
 * Type-checks `consumer` (a zone's code) beside the generated declaration,
 * against the zone package's own sources as its import resolves them.
 */
function typeErrors(declaration: string, consumer: string): string[] {
  const dir = fs.mkdtempSync(path.join(tmp, 'zone-'));
  fs.writeFileSync(path.join(dir, 'zone-flags.d.ts'), declaration);
  fs.writeFileSync(path.join(dir, 'page.ts'), consumer);
  const program = ts.createProgram([path.join(dir, 'page.ts')], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2020,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    lib: ['lib.es2020.d.ts', 'lib.dom.d.ts'],
    types: [],
    baseUrl: dir,
    paths: { 'multizone-flags': [path.join(ROOT, 'packages', 'multizone-flags', 'src', 'index.ts')] },
  });
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

const site = templateOf({ flags: { 'new-nav': '20%', 'new-checkout': 'off' }, zoneFlags: ['new-nav', 'new-checkout'], overrides: [{ flag: 'new-checkout', pathPatterns: ['/checkout'], zone: 'dashboard' }] }, 'flags');

describe('multizone flags types', () => {
  test('the declaration names every zone flag, sorted, and compiles against the zone package', async () => {
    const { code, out } = await run(['flags', 'types', '--template', site]);
    expect(code).toBe(0);
    expect(out).toContain(`export type ZoneFlagName = "new-checkout" | "new-nav";`);
    const errors = typeErrors(
      out,
      `import { readZoneFlags, isZoneFlagOn } from 'multizone-flags';
       import type { ZoneFlagName, SiteZoneFlags } from './zone-flags';
       const headers = new Headers({ 'x-multizone-flags': 'new-checkout=off,new-nav=on' });
       const flags: SiteZoneFlags = readZoneFlags<ZoneFlagName>(headers);
       export const nav: boolean | undefined = flags['new-nav'];
       export const checkout: boolean = isZoneFlagOn<ZoneFlagName>(headers, 'new-checkout');`,
    );
    expect(errors).toEqual([]);
  });

  test('a misspelt flag fails the zone\'s type check', async () => {
    const { out } = await run(['flags', 'types', '--template', site]);
    const errors = typeErrors(
      out,
      `import { readZoneFlags, isZoneFlagOn } from 'multizone-flags';
       import type { ZoneFlagName } from './zone-flags';
       export const a = readZoneFlags<ZoneFlagName>(null)['new-nva'];
       export const b = isZoneFlagOn<ZoneFlagName>(null, 'new-chekout');`,
    );
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/new-nva/);
    expect(errors[1]).toMatch(/new-chekout/);
  });

  test('--out writes the file and says what it holds; a site without zone flags gets never', async () => {
    const out = path.join(tmp, 'types', 'zone-flags.d.ts');
    const written = await run(['flags', 'types', '--template', site, '--out', out]);
    expect(written.code).toBe(0);
    expect(written.err).toContain('2 zone flags (new-checkout, new-nav)');
    expect(fs.readFileSync(out, 'utf8')).toContain('"new-checkout" | "new-nav"');

    const none = await run(['flags', 'types', '--template', templateOf({}, 'none')]);
    expect(none.out).toContain('export type ZoneFlagName = never;');
    expect(typeErrors(none.out, `import { readZoneFlags } from 'multizone-flags';\nimport type { ZoneFlagName } from './zone-flags';\nexport const a = readZoneFlags<ZoneFlagName>(null)['new-nav'];`)).toHaveLength(1);
  });

  test('a template that does not exist: one line, exit 1', async () => {
    const { code, err } = await run(['flags', 'types', '--template', path.join(tmp, 'missing.json')]);
    expect(code).toBe(1);
    expect(err).toMatch(/template .*missing\.json: no such file/);
  });
});
