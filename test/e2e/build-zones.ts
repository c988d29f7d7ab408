/**
 * Builds the e2e zone apps (test/e2e/zones) for whatever runs them, the
 * e2e and the prefetch benchmark: the zone package they link to first,
 * then npm ci and next build for each zone, each only when out of date.
 * A zone can have several builds, one per deployment id (the blog's releases).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');

/** Where the zone apps live. */
export const ZONES_DIR = path.join(__dirname, 'zones');

/** The zone package (packages/multizone-flags), which the zones depend on as a `file:` link to its compiled dist/. */
const ZONE_PACKAGE = path.join(ROOT, 'packages', 'multizone-flags');

/** One build of a zone app; with a deployment id (NEXT_DEPLOYMENT_ID), a release of it. */
export interface ZoneBuild {
  readonly zone: string;
  readonly deploymentId?: string;
}

/**
 * Where a build goes, as the zone's next.config.mjs chooses it: `.next`, or
 * `.next-<id>` for a deployment id, so that releases sit side by side.
 */
export function distDir(deploymentId?: string): string {
  return deploymentId ? `.next-${deploymentId}` : '.next';
}

/** The environment that builds and starts a build: NEXT_DEPLOYMENT_ID set or emptied, never inherited. */
export function buildEnv(build: ZoneBuild): NodeJS.ProcessEnv {
  return { NEXT_DEPLOYMENT_ID: build.deploymentId ?? '' };
}

/** Newest modification time under a directory, skipping build output (`.next`, `.next-<id>`) and dependencies. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.next')) continue;
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

const mtime = (p: string) => (fs.existsSync(p) ? fs.statSync(p).mtimeMs : 0);

/** Runs a command to completion (output shown, the command line logged), failing on a non-zero exit. */
export function runLogged(log: (line: string) => void, cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): void {
  const assignments = Object.entries(env).map(([k, v]) => `${k}=${v} `).join('');
  log(`$ ${assignments}${cmd} ${args.join(' ')}  (in ${path.relative(ROOT, cwd) || '.'})`);
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit', env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

/** npm ci once per zone app, then next build for each build, each only when out of date (the zone package's sources count). */
export function buildZones(builds: readonly ZoneBuild[], log: (line: string) => void): void {
  runLogged(log, process.execPath, [require.resolve('typescript/bin/tsc'), '-p', ZONE_PACKAGE], ROOT);
  const packageSource = newestSource(path.join(ZONE_PACKAGE, 'src'));
  for (const zone of new Set(builds.map((b) => b.zone))) {
    const dir = path.join(ZONES_DIR, zone);
    const installed = path.join(dir, 'node_modules', '.package-lock.json');
    if (mtime(installed) < mtime(path.join(dir, 'package-lock.json'))) runLogged(log, 'npm', ['ci', '--no-audit', '--no-fund'], dir);
    else log(`${zone}: dependencies up to date`);
  }
  for (const build of builds) {
    const dir = path.join(ZONES_DIR, build.zone);
    const name = build.deploymentId ? `${build.zone} ${build.deploymentId}` : build.zone;
    const buildId = path.join(dir, distDir(build.deploymentId), 'BUILD_ID');
    if (mtime(buildId) < Math.max(newestSource(dir), packageSource)) runLogged(log, 'npm', ['run', 'build'], dir, buildEnv(build));
    else log(`${name}: build up to date`);
  }
}
