import { Command, Option } from 'commander';
import { MultiZoneValidationError, flagNameProblem, MAX_PREVIEW_TTL_SECONDS, PREVIEW_COOKIE, parsePreviewTtl, previewEntry, RoutingTable } from 'multizone-distribution/internal';
import { DEFAULT_FLAG_FILE, ensureLocalPreviewSecret, previewSecretFile, readFlagFile, writeFlag } from '../local-edge/flag-file';
import { CliError, CliIO } from './io';
import { findSiteTemplates, readSite } from './site-loader';

/** The port `multizone dev` listens on by default. */
export const DEFAULT_EDGE_PORT = 8080;

/**
 * The options a `flags` subcommand was given: `local` and `flagsFile` are
 * this file's; whatever options a deployed-site handler added to the
 * subcommands (`--stack`, `--region`, ...) arrive here too.
 */
export interface FlagsCommandOptions {
  readonly local?: boolean;
  readonly flagsFile?: string;
  readonly [option: string]: unknown;
}

/**
 * What `flags list|get|set|preview` do without `--local`: read and write the
 * deployed site's KeyValueStore. Registered by the deployed-site commands
 * (cli/operate.ts) with {@link setDeployedFlagsHandler}; they add
 * their own options to the subcommands (see {@link flagsSubcommand}).
 */
export interface DeployedFlagsHandler {
  list(opts: FlagsCommandOptions): Promise<void>;
  get(name: string, opts: FlagsCommandOptions): Promise<void>;
  set(name: string, value: string, opts: FlagsCommandOptions): Promise<void>;
  /** `flags preview`: prints a cookie signed with the deployed store's preview secret (see {@link previewCookieLines}). */
  preview?(name: string, value: 'on' | 'off', ttlSeconds: number, opts: FlagsCommandOptions): Promise<void>;
}

let deployedHandler: DeployedFlagsHandler | undefined;

/** Routes `flags` subcommands without `--local` to `handler` (undefined: none, they fail with a hint). */
export function setDeployedFlagsHandler(handler: DeployedFlagsHandler | undefined): void {
  deployedHandler = handler;
}

function deployed(): DeployedFlagsHandler {
  if (!deployedHandler) throw new CliError('use --local, or deploy and pass --stack');
  return deployedHandler;
}

/** A subcommand of the program's `flags` group (`list`, `get`, `set`), e.g. to add options to it. */
export function flagsSubcommand(program: Command, name: 'list' | 'get' | 'set' | 'preview'): Command {
  const group = program.commands.find((c) => c.name() === 'flags');
  const sub = group?.commands.find((c) => c.name() === name);
  if (!sub) throw new Error(`the program has no "flags ${name}" command`);
  return sub;
}

/** Flags the local template declares, with their initial values; empty when no template is at hand (never synthesizes). */
function templateFlags(opts: FlagsCommandOptions): Record<string, string> {
  return localTable(opts)?.flags ?? {};
}

/** The local template's routing table: `--template`'s, else that of the one template in cdk.out, if there is exactly one. */
function localTable(opts: FlagsCommandOptions): RoutingTable | undefined {
  if (typeof opts.template === 'string') return readSite(opts.template).table;
  const found = findSiteTemplates();
  if (found.length !== 1) return undefined;
  try {
    return readSite(found[0]).table;
  } catch {
    return undefined;
  }
}

/** Checks a `flags preview` request: the name, on/off, and the time to live in seconds. */
export function previewRequest(name: string, value: string, ttl: string): { value: 'on' | 'off'; ttlSeconds: number } {
  const problem = flagNameProblem(name);
  if (problem) throw new MultiZoneValidationError(`Flag "${name}": ${problem}`);
  if (value !== 'on' && value !== 'off') throw new MultiZoneValidationError(`Flag "${name}": a preview value must be "on" or "off", not "${value}"`);
  const ttlSeconds = parsePreviewTtl(ttl);
  if (ttlSeconds === undefined || ttlSeconds > MAX_PREVIEW_TTL_SECONDS) {
    throw new MultiZoneValidationError(`--ttl: "${ttl}" must be a duration such as 30m, 1h or 7d, at most 30d`);
  }
  return { value, ttlSeconds };
}

/** A flag the template does not have, in the words `flags set` and `flags preview` refuse it with. */
function unknownFlag(command: string, table: RoutingTable, name: string): string | undefined {
  if (name in table.flags) return undefined;
  const known = Object.keys(table.flags);
  return `${command}: the template has no flag "${name}" (${known.length ? `its flags: ${known.join(', ')}` : 'it has no overrides'})`;
}

/**
 * Why a preview cookie for a flag would do nothing on the site of `table`,
 * with what to do instead; undefined when the flag is previewable. The
 * function honors a cookie only for flags whose overrides say
 * `preview: true`; a flag without overrides (a zone flag alone) has none
 * to say it.
 */
export function previewRefusal(table: RoutingTable, name: string, value: 'on' | 'off'): string | undefined {
  if ((table.previewFlags ?? []).includes(name)) return undefined;
  const unknown = unknownFlag(`flags preview ${name}`, table, name);
  if (unknown) return unknown;
  const previewable = `previewable here: ${(table.previewFlags ?? []).join(', ') || 'none'}`;
  const instead = `multizone flags set ${name} ${value} --local`;
  if (!table.overrides.some((o) => o.flag === name)) {
    const what = (table.zoneFlags ?? []).includes(name) ? 'a zone flag with no overrides' : 'a flag with no overrides';
    return `flags preview ${name}: "${name}" is ${what}, and a preview cookie covers only flags whose overrides set preview: true (${previewable}); to try it on the local edge, set it there for everyone: ${instead}`;
  }
  return `flags preview ${name}: the overrides of "${name}" do not set preview: true (${previewable}); set it on them and synthesize again, or set the flag for everyone on the local edge: ${instead}`;
}

/**
 * The lines `flags preview` prints: the signed cookie (`mz-preview=...`),
 * then how to set it. `url` is where the site answers, for the curl hint.
 */
export function previewCookieLines(name: string, value: 'on' | 'off', ttlSeconds: number, secret: string, url: string, nowMs: number = Date.now()): string[] {
  const expiry = Math.floor(nowMs / 1000) + ttlSeconds;
  const cookie = `${PREVIEW_COOKIE}=${previewEntry(name, value, expiry, secret)}`;
  return [
    cookie,
    `set it in the browser devtools console on the site: document.cookie = "${cookie}; path=/; max-age=${ttlSeconds}"; or with curl: curl -b '${cookie}' ${url}` +
      ` (${name} ${value} for its holder until ${new Date(expiry * 1000).toISOString()}; several flags: join entries with "," in one ${PREVIEW_COOKIE} cookie)`,
  ];
}

/** Adds the `flags` group (`list`, `get`, `set`; `--local` works on the local flag file) to `program`. */
export function addFlagsCommand(program: Command, io: CliIO): Command {
  const group = program
    .command('flags')
    .description('feature flags: of the local edge (--local, a JSON file) or of the deployed site');
  const fileOption = `flag file of the local edge (default: ${DEFAULT_FLAG_FILE})`;

  group
    .command('list')
    .description('every flag and its value')
    .option('--local', 'the local edge\'s flags')
    .option('--flags-file <file>', fileOption)
    .action(async (opts: FlagsCommandOptions) => {
      if (!opts.local) return deployed().list(opts);
      const file = opts.flagsFile ?? DEFAULT_FLAG_FILE;
      const local = readFlagFile(file);
      const initial = templateFlags(opts);
      const names = [...new Set([...Object.keys(initial), ...Object.keys(local)])].sort();
      if (names.length === 0) {
        io.out(`no flags (${file} is empty or absent, and no template in cdk.out declares any)`);
        return;
      }
      const width = Math.max(...names.map((n) => n.length));
      for (const name of names) {
        const note = name in local ? `${file}${name in initial ? `; template's initial value ${initial[name]}` : '; no override of the template uses it'}` : 'template\'s initial value';
        io.out(`${name.padEnd(width)}  ${(local[name] ?? initial[name]).padEnd(4)}  (${note})`);
      }
    });

  group
    .command('get')
    .description('one flag\'s value')
    .argument('<name>', 'flag name')
    .option('--local', 'the local edge\'s flag')
    .option('--flags-file <file>', fileOption)
    .action(async (name: string, opts: FlagsCommandOptions) => {
      const problem = flagNameProblem(name);
      if (problem) throw new MultiZoneValidationError(problem);
      if (!opts.local) return deployed().get(name, opts);
      const file = opts.flagsFile ?? DEFAULT_FLAG_FILE;
      const local = readFlagFile(file);
      if (name in local) {
        io.out(local[name]);
        return;
      }
      const initial = templateFlags(opts);
      if (name in initial) {
        io.out(initial[name]);
        io.err(`(not set in ${file}: the template's initial value)`);
        return;
      }
      throw new CliError(`flag "${name}" is not set in ${file}, and no template in cdk.out declares it`);
    });

  group
    .command('set')
    .description('set a flag: on, off or N% of viewers')
    .argument('<name>', 'flag name')
    .argument('<value>', 'on, off or a whole percentage such as 25%')
    .option('--local', 'the local edge\'s flag (takes effect on its next request)')
    .option('--flags-file <file>', fileOption)
    .action(async (name: string, value: string, opts: FlagsCommandOptions) => {
      if (!opts.local) return deployed().set(name, value, opts);
      const file = opts.flagsFile ?? DEFAULT_FLAG_FILE;
      const table = localTable(opts);
      // As `explain --flag` does: a flag no override uses is a typo, not a setting.
      const unknown = table && unknownFlag(`flags set ${name}`, table, name);
      if (unknown) throw new CliError(unknown);
      writeFlag(name, value, file);
      io.out(`${name}=${value} in ${file}: a running local edge uses it from its next request`);
      if (!table) io.err(`note: no template at hand (none in cdk.out, no --template) to check flag "${name}" against`);
    });

  group
    .command('preview')
    .description('print a signed preview cookie: its holder sees the flag on (or off), whatever the store says (overrides with preview: true only)')
    .argument('<name>', 'flag name')
    .argument('<value>', 'on or off')
    .option('--ttl <duration>', 'how long the cookie is valid: 90s, 30m, 1h, 7d (at most 30d)', '1h')
    .option('--local', `the local edge's preview (secret in ${previewSecretFile(DEFAULT_FLAG_FILE)} beside the flag file, created if missing)`)
    .option('--flags-file <file>', fileOption)
    .addOption(new Option('-p, --port <port>', 'the local edge\'s port, for the curl hint (as given to `multizone dev --port`)').default(DEFAULT_EDGE_PORT))
    .action(async (name: string, value: string, opts: FlagsCommandOptions & { ttl: string; port: string | number }) => {
      const request = previewRequest(name, value, opts.ttl);
      if (!opts.local) {
        const handler = deployed();
        if (!handler.preview) throw new CliError('flags preview: use --local, or deploy and pass --stack');
        return handler.preview(name, request.value, request.ttlSeconds, opts);
      }
      if (!/^\d{1,5}$/.test(String(opts.port)) || Number(opts.port) > 65535) throw new CliError(`--port ${opts.port}: not a port number`);
      const table = localTable(opts);
      // A cookie the function would ignore is refused before any secret is made.
      const refusal = table && previewRefusal(table, name, request.value);
      if (refusal) throw new CliError(refusal);
      const file = opts.flagsFile ?? DEFAULT_FLAG_FILE;
      const secret = ensureLocalPreviewSecret(file);
      for (const line of previewCookieLines(name, request.value, request.ttlSeconds, secret, `http://localhost:${opts.port}/`)) io.out(line);
      if (!table) io.err(`note: no template at hand (none in cdk.out, no --template) to check that flag "${name}" can be previewed`);
    });
  return group;
}
