import * as fs from 'fs';
import { isIP } from 'net';
import * as path from 'path';
import { Command, CommanderError, Option } from 'commander';
import { MultiZoneValidationError, VISITOR_COOKIE, ZONE_FLAGS_HEADER, flagNameProblem, flagValueProblem, isVisitorId } from 'multizone-distribution/internal';
import { DEFAULT_FLAG_FILE, readFlagFile } from '../local-edge/flag-file';
import { LocalEdge, startLocalEdge } from '../local-edge/server';
import { zoneTargets } from '../local-edge/zones';
import { SynthesizedSite } from '../synthesized-site';
import { ZONE_PACKAGE, zoneFlagTypes } from './flag-types';
import { FlagValue, behaviorRows, bucketCookieOf, defaultViewerHost, explainText, originRequestLambdaOf, prefetchSummary, routesText, viewerCookies, zoneFlagDecisions } from './describe';
import { DEFAULT_EDGE_PORT, addFlagsCommand } from './flags-command';
import { CliError, CliIO, processIO } from './io';
import { registerOperateCommands } from './operate';
import { addReleaseCommands } from './releases-command';
import { loadSite } from './site-loader';

export { CliError, processIO } from './io';
export type { CliIO } from './io';
export { flagsSubcommand, setDeployedFlagsHandler } from './flags-command';
export type { DeployedFlagsHandler, FlagsCommandOptions } from './flags-command';
export { setDeployedReleasesHandler } from './releases-command';
export type { DeployedReleasesHandler, ReleasesCommandOptions, ReleaseTarget } from './releases-command';

/** Collects a repeatable `name=value` option into a map. */
function keyValue(option: string) {
  return (text: string, previous: Record<string, string> = {}): Record<string, string> => {
    const eq = text.indexOf('=');
    if (eq <= 0 || eq === text.length - 1) throw new CliError(`${option} ${text}: expected name=value`);
    return { ...previous, [text.slice(0, eq)]: text.slice(eq + 1) };
  };
}

interface SiteOptions {
  readonly template?: string;
  readonly synth?: boolean;
  readonly output?: string;
}

function addSiteOptions(cmd: Command): Command {
  return cmd
    .option('--template <file>', 'synthesized template (default: the one in cdk.out holding a MultiZoneDistribution; synthesized first if none)')
    .option('--synth', 'run cdk synth first')
    .option('-o, --output <dir>', 'cloud assembly directory to read (and synthesize into)');
}

/**
 * Flag values a command uses: the template's initial values, then the
 * local flag file's (if any), then `--flag` options, each over the last.
 */
function flagValues(site: SynthesizedSite, flagsFile: string | undefined, given: Record<string, string>): Record<string, FlagValue> {
  const known = Object.keys(site.table.flags);
  for (const [name, value] of Object.entries(given)) {
    const problem = flagNameProblem(name) ?? flagValueProblem(value);
    if (problem) throw new CliError(`--flag ${name}=${value}: ${problem}`);
    if (!known.includes(name)) {
      throw new CliError(`--flag ${name}=${value}: the template has no flag "${name}" (${known.length ? `its flags: ${known.join(', ')}` : 'it has no overrides'})`);
    }
  }
  const out: Record<string, FlagValue> = {};
  for (const [name, value] of Object.entries(site.table.flags)) out[name] = { value: site.storeEntries[name] ?? value, source: 'template' };
  for (const [name, value] of Object.entries(readFlagFile(flagsFile ?? DEFAULT_FLAG_FILE))) {
    if (!flagNameProblem(name)) out[name] = { value, source: 'flag file' };
  }
  for (const [name, value] of Object.entries(given)) out[name] = { value, source: '--flag' };
  return out;
}

/** This package's version, from its package.json (above src/cli in a checkout, above dist/cli when installed). */
function packageVersion(): string {
  for (let dir = __dirname; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!fs.existsSync(file)) continue;
    const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (pkg.name === 'multizone-cli') return pkg.version;
  }
  return 'unknown';
}

/** The `multizone` program: the local edge and the routing views, plus the deployed-site commands of ./operate. */
export function buildProgram(io: CliIO = processIO): Command {
  const program = new Command('multizone')
    .description('MultiZoneDistribution: run the synthesized site locally, explain its routing, operate it')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) });

  addSiteOptions(
    program
      .command('dev')
      .description('serve the synthesized distribution locally in front of your zones (flags re-read on every request)')
      .option('--zone <name=url>', 'local URL of a zone, e.g. blog=http://localhost:3001 (repeatable; default: the template\'s origin)', keyValue('--zone'))
      .addOption(new Option('-p, --port <port>', 'port to listen on').default(DEFAULT_EDGE_PORT).argParser(portNumber))
      .option('--host <address>', 'address to listen on (default: every interface)')
      .option('--origin-header <name=value>', 'header sent to every zone, over the origins\' custom headers (e.g. a secret the template only references; repeatable)', keyValue('--origin-header'))
      .option('--flags-file <file>', `flag file (default: ${DEFAULT_FLAG_FILE})`)
      .option('-q, --quiet', 'no line per request'),
  ).action(async (opts: SiteOptions & { zone?: Record<string, string>; originHeader?: Record<string, string>; port: number; host?: string; flagsFile?: string; quiet?: boolean }) => {
    const { site, file } = loadSite(opts, io);
    try {
      zoneTargets(site, opts.zone);
    } catch (e) {
      if (e instanceof MultiZoneValidationError) throw new CliError(`--zone: ${e.message}`);
      throw e;
    }
    const flagsFile = opts.flagsFile ?? DEFAULT_FLAG_FILE;
    let edge: LocalEdge;
    try {
      edge = await startLocalEdge({ site, zoneUrls: opts.zone, originHeaders: opts.originHeader, port: opts.port, host: opts.host, flagsFile, log: (line) => (opts.quiet && !/^(zone|internal|proxy|flag|note)/.test(line) ? undefined : io.err(line)) });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EADDRINUSE') throw new CliError(`port ${opts.port} is in use; pick another with --port`);
      throw e;
    }
    io.out(`multizone local edge: ${edge.url}  (${file}, distribution ${site.logicalId})`);
    const width = Math.max(...edge.zones.map((z) => z.zone.length));
    for (const z of edge.zones) {
      io.out(`  ${z.zone.padEnd(width)}  -> ${z.url ?? `(no URL: ${z.problem}; pass --zone ${z.zone}=URL)`}${z.source === 'template' ? '  (template origin)' : ''}`);
    }
    const unresolved = [...new Set(edge.zones.flatMap((z) => z.unresolvedOriginHeaders))];
    if (unresolved.length > 0) {
      io.out(`  not sent: origin header${unresolved.length > 1 ? 's' : ''} ${unresolved.join(', ')} (a CloudFormation reference in the template; give a value with --origin-header NAME=VALUE)`);
    }
    const zoneFlags = site.table.zoneFlags ?? [];
    const bucketCookie = bucketCookieOf(site);
    if (zoneFlags.length > 0) {
      io.out(`  zone flags: ${zoneFlags.join(', ')}, decided per viewer and sent to the zones in ${ZONE_FLAGS_HEADER}${bucketCookie ? ` (buckets follow the ${bucketCookie} cookie)` : ''}`);
    }
    io.out(`  flags: ${flagsFile} (set with: npx multizone flags set NAME VALUE --local)`);
    const stop = () => {
      edge.close().finally(() => process.exit(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

  addSiteOptions(
    program
      .command('explain')
      .description('which behavior a request matches, whether the function runs, and which zone and origin serve it')
      .argument('<uri>', 'request path, e.g. /blog/post-1 (a query string is allowed)')
      .option('--flag <name=value>', 'flag value for this request (repeatable)', keyValue('--flag'))
      .option('--flags-file <file>', `local flag file whose values apply (default: ${DEFAULT_FLAG_FILE}, if present)`)
      .option('--method <method>', 'HTTP method', 'GET')
      .option('--ip <address>', `viewer IP (decides percentage rollouts on a site that buckets by IP: visitorCookie off, or a bucketCookie the viewer lacks; refused where buckets follow ${VISITOR_COOKIE})`)
      .option('--visitor <id>', `the viewer's bucket cookie value (bucketCookie's, else the edge's ${VISITOR_COOKIE} visitor id), which decides percentage rollouts`)
      .option('--host <host>', 'viewer\'s Host header (default: the distribution\'s first alias, else its cloudfront.net domain)')
      .option('--json', 'machine-readable output'),
  ).action(async (uri: string, opts: SiteOptions & { flag?: Record<string, string>; flagsFile?: string; method: string; ip?: string; visitor?: string; host?: string; json?: boolean }) => {
    if (!uri.startsWith('/')) throw new CliError(`explain ${uri}: the path must start with "/"`);
    if (opts.ip !== undefined && !isIP(opts.ip)) throw new CliError(`--ip ${opts.ip}: not an IPv4 or IPv6 address`);
    const { site } = loadSite(opts, io);
    const flags = flagValues(site, opts.flagsFile, opts.flag ?? {});
    const method = opts.method.toUpperCase();
    const host = opts.host ?? defaultViewerHost(site);
    const viewer = { ip: opts.ip, visitor: opts.visitor };
    const bucketCookie = bucketCookieOf(site);
    checkExplainedViewer(bucketCookie, viewer);
    const served = await site.serve(uri, { flags: Object.fromEntries(Object.entries(flags).map(([k, v]) => [k, v.value])), method, ip: opts.ip, host, cookies: viewerCookies(site, viewer) });
    if (opts.json) {
      io.out(
        JSON.stringify(
          {
            uri,
            method,
            host,
            behavior: { position: served.behaviorPosition, pathPattern: served.behavior.pathPattern, originId: served.behavior.targetOriginId },
            functionRan: served.functionRan,
            function: served.behavior.viewerRequestFunction,
            originRequestLambda: served.response ? undefined : originRequestLambdaOf(site, served.behavior),
            zone: served.response ? undefined : served.zone,
            originId: served.response ? undefined : served.originId,
            updatedOrigin: served.updatedOrigin && { url: served.updatedOrigin.url, signing: served.updatedOrigin.signing, originType: served.updatedOrigin.originType },
            response: served.response,
            flags,
            zoneFlags: served.response ? undefined : zoneFlagDecisions(site, served),
          },
          null,
          2,
        ),
      );
      return;
    }
    io.out(explainText(site, uri, method, served, flags, viewer));
  });

  addSiteOptions(
    program
      .command('routes')
      .description('the whole routing table: behaviors in CloudFront\'s order with zone, kind and function, overrides, and a picture')
      .option('--flags-file <file>', `local flag file whose values are shown (default: ${DEFAULT_FLAG_FILE}, if present)`)
      .option('--json', 'machine-readable output'),
  ).action(async (opts: SiteOptions & { flagsFile?: string; json?: boolean }) => {
    const { site, file } = loadSite(opts, io);
    const flags = flagValues(site, opts.flagsFile, {});
    if (opts.json) {
      io.out(JSON.stringify({ template: file, distribution: site.logicalId, zones: site.zones, behaviors: behaviorRows(site), overrides: site.table.overrides, flags, prefetch: prefetchSummary(site) ?? null }, null, 2));
      return;
    }
    io.out(routesText(site, file, flags));
  });

  addSiteOptions(
    addFlagsCommand(program, io)
      .command('types')
      .description(`write a .d.ts of the zone flags' names, for the zone package's type parameter (readZoneFlags<ZoneFlagName>(headers) of ${ZONE_PACKAGE})`)
      .option('--out <file>', 'where to write it (default: stdout)'),
  ).action(async (opts: SiteOptions & { out?: string }) => {
    const { site, file } = loadSite(opts, io);
    const text = zoneFlagTypes(site, file);
    if (!opts.out) {
      io.out(text);
      return;
    }
    fs.mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
    fs.writeFileSync(opts.out, text);
    const names = site.table.zoneFlags ?? [];
    io.err(`${opts.out}: ${names.length} zone flag${names.length === 1 ? '' : 's'} (${names.join(', ') || 'none'})`);
  });

  addReleaseCommands(program, io);
  registerOperateCommands(program);
  return program;
}

/**
 * Refuses a viewer option the site's bucketing would ignore: `--ip` where
 * buckets follow the edge's visitor id, or a cookie `--visitor` also gives,
 * and `--visitor` where they follow the IP or the id is not one the edge writes.
 */
function checkExplainedViewer(bucketCookie: string | undefined, viewer: { ip?: string; visitor?: string }): void {
  const { ip, visitor } = viewer;
  if (ip !== undefined && bucketCookie === VISITOR_COOKIE) {
    throw new CliError(
      `--ip ${ip}: this site buckets viewers by their ${VISITOR_COOKIE} visitor id, not by IP (visitorCookie, the default); pass --visitor <id> instead (a returning viewer's ${VISITOR_COOKIE}, 32 hex characters)`,
    );
  }
  if (ip !== undefined && bucketCookie && visitor !== undefined) {
    throw new CliError(`--ip ${ip}: with --visitor, buckets follow the ${bucketCookie} cookie, not the IP (the IP counts only for a viewer without the cookie); pass one of them`);
  }
  if (visitor !== undefined && !bucketCookie) throw new CliError(`--visitor ${visitor}: this site buckets viewers by IP (no bucketCookie, no ${VISITOR_COOKIE}); pass --ip`);
  if (visitor !== undefined && bucketCookie === VISITOR_COOKIE && !isVisitorId(visitor)) {
    throw new CliError(`--visitor ${visitor}: not a visitor id the edge writes (32 hex characters, the value of the ${VISITOR_COOKIE} cookie)`);
  }
}

function portNumber(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliError(`--port ${text}: not a port number`);
  return n;
}

/**
 * Runs the program on `argv` and returns the exit code (0 while a server
 * keeps running). Errors are one line on stderr, never a stack trace
 * (set MULTIZONE_DEBUG=1 for one).
 */
export async function main(argv: string[] = process.argv, io: CliIO = processIO): Promise<number> {
  const program = buildProgram(io);
  program.exitOverride();
  for (const c of program.commands) {
    c.exitOverride();
    for (const sub of c.commands) sub.exitOverride();
  }
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has printed its message already; help and version are successes.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version' ? 0 : e.exitCode || 1;
    }
    if (e instanceof CliError || e instanceof MultiZoneValidationError) {
      io.err(`multizone: ${e.message}`);
      return e instanceof CliError ? e.exitCode : 1;
    }
    const err = e as Error;
    io.err(`multizone: ${err?.message ?? String(e)}`);
    if (process.env.MULTIZONE_DEBUG) io.err(err?.stack ?? '');
    return 1;
  }
}
