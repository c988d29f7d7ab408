/**
 * One way to count behaviors: SynthesizedSite's `behaviorPosition`, the
 * `#` of `routes`, the `#N of M` of `explain` and its JSON `position` all
 * count from 1 in CloudFront's order, the default behavior last.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../packages/multizone-cli/src/cli';
import type { CliIO } from '../packages/multizone-cli/src/cli/io';
import { SynthesizedSite } from '../packages/multizone-cli/src/synthesized-site';
import { synth } from './support/sites';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'multizone-position-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const synthesized = synth({ overrides: [{ flag: 'new-checkout', pathPatterns: ['/checkout'], zone: 'dashboard' }], flags: { 'new-checkout': 'off' } });
const templateFile = path.join(synthesized.assemblyDir, 'position.template.json');
fs.writeFileSync(templateFile, JSON.stringify(synthesized.template.toJSON()));
const site = SynthesizedSite.fromTemplate(synthesized.template.toJSON(), { assetDirectory: synthesized.assemblyDir });
const noFlagFile = path.join(tmp, 'flags.json');

async function cli(...args: string[]): Promise<string> {
  let out = '';
  const io: CliIO = { out: (t) => (out += `${t}\n`), err: () => undefined };
  expect(await main(['node', 'multizone', ...args, '--template', templateFile, '--flags-file', noFlagFile], io)).toBe(0);
  return out;
}

const uris = ['/blog/post-1', '/blog-static/a.js', '/checkout', '/about'];

test.each(uris)('%s: behaviorPosition counts from 1, so behaviors[behaviorPosition - 1] is the behavior served', async (uri) => {
  const served = await site.serve(uri);
  expect(served.behaviorPosition).toBeGreaterThanOrEqual(1);
  expect(site.behaviors[served.behaviorPosition - 1]).toBe(served.behavior);
  expect(site.behaviorFor(uri)).toEqual({ behavior: served.behavior, position: served.behaviorPosition });
});

test('the default behavior is the last position, behaviors.length', async () => {
  const served = await site.serve('/about');
  expect([served.behavior.pathPattern, served.behaviorPosition]).toEqual(['*', site.behaviors.length]);
});

test.each(uris)('%s: explain and routes give the behavior the position SynthesizedSite gives it', async (uri) => {
  const { behaviorPosition, behavior } = await site.serve(uri);
  expect(await cli('explain', uri)).toContain(`behavior   #${behaviorPosition} of ${site.behaviors.length}: ${behavior.pathPattern}`);
  expect(JSON.parse(await cli('explain', uri, '--json')).behavior.position).toBe(behaviorPosition);
  const row = JSON.parse(await cli('routes', '--json')).behaviors.find((b: { position: number }) => b.position === behaviorPosition);
  expect(row.pathPattern).toBe(behavior.pathPattern);
});
