/**
 * Builds the e2e zone apps (test/e2e/zones) for whatever runs them, the
 * e2e and the prefetch benchmark: the zone package they link to first,
 * then npm ci and next build for each zone, each only when out of date.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');

/** Where the zone apps live. */
export const ZONES_DIR = path.join(__dirname, 'zones');

/** The zone package (packages/multizone-flags), which the zones depend on as a `file:` link to its compiled dist/. */
const ZONE_PACKAGE = path.join(ROOT, 'packages', 'multizone-flags');

/** Newest modification time under a directory, skipping build output and dependencies. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (['node_modules', '.next'].includes(e.name)) continue;
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

const mtime = (p: string) => (fs.existsSync(p) ? fs.statSync(p).mtimeMs : 0);

/** Runs a command to completion (output shown, the command line logged), failing on a non-zero exit. */
export function runLogged(log: (line: string) => void, cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): void {
  log(`$ ${cmd} ${args.join(' ')}  (in ${path.relative(ROOT, cwd) || '.'})`);
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit', env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

/** npm ci and next build for each zone app, each only when out of date (the zone package's sources count). */
export function buildZones(zones: readonly string[], log: (line: string) => void): void {
  const run = (cmd: string, args: string[], cwd: string) => runLogged(log, cmd, args, cwd);
  run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', ZONE_PACKAGE], ROOT);
  const packageSource = newestSource(path.join(ZONE_PACKAGE, 'src'));
  for (const zone of zones) {
    const dir = path.join(ZONES_DIR, zone);
    const installed = path.join(dir, 'node_modules', '.package-lock.json');
    if (mtime(installed) < mtime(path.join(dir, 'package-lock.json'))) run('npm', ['ci', '--no-audit', '--no-fund'], dir);
    else log(`${zone}: dependencies up to date`);
    const buildId = path.join(dir, '.next', 'BUILD_ID');
    if (mtime(buildId) < Math.max(newestSource(dir), packageSource)) run('npm', ['run', 'build'], dir);
    else log(`${zone}: build up to date`);
  }
}
