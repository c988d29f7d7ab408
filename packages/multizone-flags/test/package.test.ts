import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

// The package as zones install it: compiled to dist/, resolved through its
// package.json exports from the workspace link in the root node_modules.
const packageDir = path.join(__dirname, '..');
const root = path.join(packageDir, '..', '..');

function node(script: string): string {
  return execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' });
}

beforeAll(() => {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', packageDir], { cwd: root });
}, 120_000);

describe('the built package', () => {
  test('the main entry reads the header without loading either optional peer', () => {
    const out = node(`
      const { readZoneFlags } = require('multizone-flags');
      const flags = readZoneFlags(new Headers({ 'x-multizone-flags': 'new-checkout=off,new-nav=on' }));
      const peers = Object.keys(require.cache).filter((f) => /node_modules[\\\\/](@openfeature|flags)[\\\\/]/.test(f));
      console.log(JSON.stringify({ flags, peers }));
    `);
    expect(JSON.parse(out)).toEqual({ flags: { 'new-checkout': false, 'new-nav': true }, peers: [] });
  });

  test('each subpath export loads its own peer and works', () => {
    const out = node(`
      const { ZoneFlagsProvider } = require('multizone-flags/openfeature');
      const { zoneFlagAdapter } = require('multizone-flags/flags-sdk');
      const loaded = (name) => Object.keys(require.cache).some((f) => f.includes(require('path').join('node_modules', name)));
      const decision = zoneFlagAdapter().decide({ key: 'new-nav', headers: new Headers({ 'x-multizone-flags': 'new-nav=on' }) });
      console.log(JSON.stringify({ name: new ZoneFlagsProvider().metadata.name, decision, openfeature: loaded('@openfeature/server-sdk') }));
    `);
    expect(JSON.parse(out)).toEqual({ name: 'multizone-flags', decision: true, openfeature: true });
  });

  test('it has no dependencies, and both peers are optional', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
    expect(manifest.dependencies).toBeUndefined();
    expect(Object.keys(manifest.peerDependencies).sort()).toEqual(['@openfeature/server-sdk', 'flags']);
    for (const peer of Object.keys(manifest.peerDependencies)) expect(manifest.peerDependenciesMeta[peer]).toEqual({ optional: true });
  });

  test('npm would publish the compiled entries, their types and the README, not the sources or tests', () => {
    const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: packageDir, encoding: 'utf8' }));
    const files = packed.files.map((f: { path: string }) => f.path).sort();
    for (const entry of ['index', 'openfeature', 'flags-sdk']) {
      expect(files).toContain(`dist/${entry}.js`);
      expect(files).toContain(`dist/${entry}.d.ts`);
    }
    expect(files).toContain('README.md');
    expect(files.filter((f: string) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);
  });
});
