/**
 * The operator commands of `multizone`, against a deployed site:
 *
 *   multizone flags list|get|set|preview ... --stack NAME     (the deployed store; `--local` is the local edge's)
 *   multizone release|promote|rollback|releases ... --stack NAME   (the zones' release records in the store)
 *   multizone verify [--cases file.json] --stack NAME
 *   multizone invalidate [paths...] [--flag NAME | --zone NAME] --stack NAME
 *
 * A site is found from its stack's outputs (`--stack`, with `--region` and
 * `--profile` as usual), or from explicit `--distribution-id`,
 * `--kvs-arn` and `--function-name`. Every failure is one line on stderr
 * and a non-zero exit.
 */
import { Command, Option } from 'commander';
import { MultiZoneValidationError, flagNameProblem, flagValueProblem } from 'multizone-distribution/internal';
import type { AwsClients, AwsOptions } from '../operate/aws';
import type { FlagWrite } from '../operate/flags';
import type { ReleaseWrite } from '../operate/releases';
import type { DeployedSite, SiteOptions } from '../operate/site';
import { flagsSubcommand, previewCookieLines, previewRefusal, setDeployedFlagsHandler } from './flags-command';
import { CliError, CliIO, processIO } from './io';
import { releaseZonesOf } from './release-site';
import { RELEASE_COMMANDS, ReleaseTarget, setDeployedReleasesHandler } from './releases-command';

/** Compute utilization above which `verify` fails a case: operate/verify's DEFAULT_MAX_UTILIZATION, kept here so help needs no AWS SDK. */
const DEFAULT_MAX_UTILIZATION = 70;

/**
 * The operate modules, loaded when an operator command runs: the local
 * commands of the CLI never load the AWS SDK.
 */
async function operate() {
  const [aws, flags, invalidate, releases, site, verify] = await Promise.all([
    import('../operate/aws'),
    import('../operate/flags'),
    import('../operate/invalidate'),
    import('../operate/releases'),
    import('../operate/site'),
    import('../operate/verify'),
  ]);
  return { ...aws, ...flags, ...invalidate, ...releases, ...site, ...verify };
}

/** What the operator commands use from the outside world; tests replace parts. */
export interface OperateContext {
  /** Where results and progress go. @default the program's configured output */
  readonly io?: CliIO;
  /** Makes the AWS clients. */
  readonly clients?: (options: AwsOptions) => AwsClients;
  /** Waits between polls and retries. */
  readonly sleep?: (ms: number) => Promise<unknown>;
  /** Whether progress may redraw one line (a terminal) rather than print a line per poll. */
  readonly interactive?: boolean;
}

/** Options every operator command takes to find the site. */
export function addSiteOptions(command: Command): Command {
  const has = (flag: string) => command.options.some((o) => o.long === flag);
  const add = (flags: string, description: string) => {
    const option = new Option(flags, description);
    if (!has(option.long!)) command.addOption(option);
  };
  add('--stack <name>', 'CloudFormation stack of the deployed site (its outputs name the distribution, function and store)');
  add('--site <prefix>', 'which site of the stack, by output prefix, when it holds several');
  add('--distribution-id <id>', 'CloudFront distribution id (instead of, or over, the stack output)');
  add('--kvs-arn <arn>', 'KeyValueStore ARN (instead of, or over, the stack output)');
  add('--function-name <name>', 'router CloudFront Function name (instead of, or over, the stack output)');
  add('--template <file>', 'synthesized template to read the routing table from (default: the stack\'s deployed template)');
  add('--region <region>', 'AWS region of the stack (default: AWS_REGION or the profile\'s)');
  add('--profile <name>', 'AWS shared config profile');
  return command;
}

/** Registers `verify` and `invalidate`, and the deployed side of `flags`. */
export function registerOperateCommands(program: Command, context: OperateContext = {}): void {
  const io = context.io ?? programIO(program);
  const interactive = context.interactive ?? (context.io === undefined && process.stderr.isTTY === true);
  const open = async (options: SiteOptions) => {
    const ops = await operate();
    const clients: AwsClients = (context.clients ?? ops.createClients)({ region: options.region, profile: options.profile });
    const site: DeployedSite = await ops.findSite(clients, options);
    return { ops, clients, site };
  };

  // `flags list|get|set|preview` without --local work on the deployed store: they take the site options too.
  if (program.commands.some((c) => c.name() === 'flags')) {
    for (const name of ['list', 'get', 'set', 'preview'] as const) addSiteOptions(flagsSubcommand(program, name));
  }
  setDeployedFlagsHandler({
    list: (opts) =>
      oneLineErrors(async () => {
        const { ops, clients, site } = await open(opts as SiteOptions);
        const flags = await ops.listFlags(clients, ops.requireId(site, 'kvsArn'));
        if (flags.length === 0) io.err('no flags in the store (flags exist once an override names them)');
        for (const f of flags) io.out(`${f.name}=${f.value}`);
      }),
    get: (name, opts) =>
      oneLineErrors(async () => {
        const { ops, clients, site } = await open(opts as SiteOptions);
        io.out(await ops.getFlag(clients, ops.requireId(site, 'kvsArn'), name));
      }),
    set: (name, value, opts) =>
      oneLineErrors(async () => {
        // A bad name or value fails here, before any request is sent.
        const problem = flagNameProblem(name) ?? flagValueProblem(value);
        if (problem) throw new MultiZoneValidationError(`Flag "${name}": ${problem}`);
        const { ops, clients, site } = await open(opts as SiteOptions);
        const write = await ops.setFlag(clients, ops.requireId(site, 'kvsArn'), name, value, { sleep: context.sleep });
        for (const line of describeWrite(write)) io.out(line);
      }),
    preview: (name, value, ttlSeconds, opts) =>
      oneLineErrors(async () => {
        const { ops, clients, site } = await open(opts as SiteOptions);
        const kvsArn = ops.requireId(site, 'kvsArn');
        // As with --local: a cookie the function would ignore is refused before the secret is read.
        const template = await site.template();
        const refusal = template && previewRefusal(template.table, name, value);
        if (refusal) throw new CliError(refusal);
        if (!template) io.err(`note: no template at hand (no --stack, no --template) to check that flag "${name}" can be previewed`);
        const secret = await ops.getPreviewSecret(clients, kvsArn);
        const url = site.domainName ? `https://${site.domainName}/` : 'https://<your domain>/';
        for (const line of previewCookieLines(name, value, ttlSeconds, secret, url)) io.out(line);
      }),
  });

  registerDeployedReleases(program, async (command, opts) => {
    const { ops, clients, site } = await open(opts);
    const kvsArn = ops.requireId(site, 'kvsArn');
    const template = await ops.requireTemplate(site, command);
    const target: ReleaseTarget = {
      zones: releaseZonesOf(template.site),
      local: false,
      url: site.domainName ? `https://${site.domainName}/` : 'https://<your domain>/',
      read: (zone) => oneLineErrors(() => ops.readReleaseRecord(clients, kvsArn, zone.key)),
      update: (zone, change) =>
        oneLineErrors(async () => {
          const write = await ops.updateReleaseRecord(clients, kvsArn, zone.key, change, { sleep: context.sleep });
          return { record: write.record, note: describeReleaseWrite(write) };
        }),
    };
    return target;
  });

  addSiteOptions(
    program
      .command('verify')
      .description('run route cases through the deployed behaviors and function (CloudFront TestFunction); non-zero exit when one routes wrong or runs hot')
      .option('--cases <file>', 'JSON array of { "uri", "zone", "flags" } cases (default: one page and one asset per zone, each override on and off)')
      .option('--max-utilization <percent>', 'fail a case whose compute utilization is above this', String(DEFAULT_MAX_UTILIZATION))
      .option('--host <host>', 'Host header of the test requests (default: the distribution domain)'),
  ).action((opts: SiteOptions & { cases?: string; maxUtilization: string; host?: string }) =>
    oneLineErrors(async () => {
      const maxUtilization = Number(opts.maxUtilization);
      if (!Number.isFinite(maxUtilization) || maxUtilization < 0 || maxUtilization > 100) {
        throw new MultiZoneValidationError(`--max-utilization: "${opts.maxUtilization}" must be a number from 0 to 100`);
      }
      const cases = opts.cases ? (await operate()).readCasesFile(opts.cases) : undefined;
      const { ops, clients, site } = await open(opts);
      const table = cases ? undefined : (await ops.requireTemplate(site, 'verify without --cases')).table;
      const results = await ops.verifySite(clients, site, cases ?? ops.defaultCases(table!), { maxUtilization, host: opts.host });
      for (const line of ops.formatVerifyReport(results, maxUtilization)) io.out(line);
      const failed = results.filter((r) => r.status === 'fail').length;
      if (failed > 0) throw new CliError(`verify: ${failed} of ${results.length} cases failed`);
    }),
  );

  addSiteOptions(
    program
      .command('invalidate')
      .description('invalidate cached paths (default "/*", or those a flag\'s overrides cover, or one zone\'s pages) and wait until CloudFront is done')
      .argument('[paths...]', 'paths to invalidate, each starting with "/" ("*" only at the end)')
      .option('--flag <name>', 'invalidate the paths this flag\'s overrides cover')
      .option('--zone <name>', 'invalidate this zone\'s pages (its path patterns and the overrides moving paths to it), never its assets: run it after the zone deploys')
      .option('--no-wait', 'return once the invalidation is created')
      .option('--timeout <minutes>', 'stop waiting after this long (the invalidation carries on)', '20')
      .option('--interval <seconds>', 'time between status checks while waiting', '10'),
  ).action((paths: string[], opts: SiteOptions & { flag?: string; zone?: string; wait: boolean; timeout: string; interval: string }) =>
    oneLineErrors(async () => {
      if ([paths.length > 0, opts.flag !== undefined, opts.zone !== undefined].filter(Boolean).length > 1) {
        throw new MultiZoneValidationError('invalidate: give paths, --flag or --zone, only one of them');
      }
      const timeout = Number(opts.timeout);
      if (!Number.isFinite(timeout) || timeout <= 0) throw new MultiZoneValidationError(`--timeout: "${opts.timeout}" must be a positive number of minutes`);
      const interval = Number(opts.interval);
      if (!Number.isFinite(interval) || interval <= 0) throw new MultiZoneValidationError(`--interval: "${opts.interval}" must be a positive number of seconds`);
      if (paths.length > 0) (await operate()).checkInvalidationPaths(paths);
      const { ops, clients, site } = await open(opts);
      const distributionId = ops.requireId(site, 'distributionId');
      let targets = paths.length > 0 ? paths : ['/*'];
      if (opts.flag) targets = ops.pathsForFlag((await ops.requireTemplate(site, 'invalidate --flag')).table, opts.flag);
      if (opts.zone) {
        const zone = ops.pathsForZone((await ops.requireTemplate(site, 'invalidate --zone')).table, opts.zone);
        for (const note of zone.notes) io.err(`note: ${note}`);
        targets = zone.paths;
      }
      let shown = false;
      const results = await ops.invalidateInBatches(clients, distributionId, targets, {
        wait: opts.wait,
        timeoutMs: timeout * 60_000,
        pollIntervalMs: interval * 1000,
        sleep: context.sleep,
        onProgress: (status, waited) => {
          const text = `waiting for invalidation: ${status} (${Math.round(waited / 1000)} s)`;
          if (interactive) process.stderr.write(`\r${text}`);
          else io.err(text);
          shown = true;
        },
      });
      if (shown && interactive) process.stderr.write('\n');
      for (const result of results) io.out(`invalidation ${result.id} of ${distributionId}: ${result.status} (${result.paths.join(' ')})`);
    }),
  );
}

/** Adds the site options to the release commands and routes them, without --local, to the deployed site's records. */
function registerDeployedReleases(program: Command, open: (command: string, opts: SiteOptions) => Promise<ReleaseTarget>): void {
  for (const command of program.commands.filter((c) => (RELEASE_COMMANDS as readonly string[]).includes(c.name()))) addSiteOptions(command);
  setDeployedReleasesHandler({ open: (command, opts) => oneLineErrors(() => open(command, opts as SiteOptions)) });
}

/** Where a release record write went and when it takes effect. */
function describeReleaseWrite(write: ReleaseWrite): string {
  return (
    `live in seconds (store ETag ${write.etag ?? '?'}${write.attempts > 1 ? `, after ${write.attempts - 1} lost ETag race(s)` : ''}): ` +
    'KeyValueStore changes reach every edge location within seconds; pages are cached per release, so no invalidation is needed'
  );
}

/** Writes through the program's configured output (so a caller's CliIO sees it), else the process streams. */
function programIO(program: Command): CliIO {
  const config = program.configureOutput();
  if (!config.writeOut || !config.writeErr) return processIO;
  return { out: (text) => config.writeOut!(`${text}\n`), err: (text) => config.writeErr!(`${text}\n`) };
}

/** What a flag write did and when it takes effect. */
function describeWrite(write: FlagWrite): string[] {
  if (!write.changed) return [`${write.name} is already ${write.value}; nothing written`];
  return [
    `${write.name}: ${write.previous} -> ${write.value} (store ETag ${write.etag ?? '?'}${write.attempts > 1 ? `, after ${write.attempts - 1} lost ETag race(s)` : ''})`,
    'live in seconds: KeyValueStore changes reach every edge location within seconds, and each request sees one consistent state; ' +
      'pages a flag can move are cached per zone, so no invalidation is needed for the switch',
  ];
}

/** Runs an action, turning any failure into a CliError: one line, no stack trace. */
async function oneLineErrors<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof CliError) throw error;
    // OperateError (operate/aws) is matched by name: that module is loaded only when a command runs.
    if (error instanceof MultiZoneValidationError || (error as Error)?.name === 'OperateError') throw new CliError((error as Error).message.split('\n')[0]);
    throw new CliError(`unexpected error: ${String((error as Error)?.message ?? error).split('\n')[0]}`);
  }
}
