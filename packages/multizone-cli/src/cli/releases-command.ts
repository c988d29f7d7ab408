/**
 * The release commands, on the local edge (`--local`: `releases.json`
 * beside the flag file) or on the deployed site (its KeyValueStore, through
 * the handler cli/operate.ts registers):
 *
 *   multizone release <zone> <origin-url> --deployment-id <id> [--canary <N%>] [--preview [--ttl 24h]]
 *   multizone promote <zone>
 *   multizone rollback <zone> [--by <who>]
 *   multizone releases [zone]
 *
 * Each write is one pure step of the record (lib/releases/record.ts) on the
 * zone's one record; every refusal is one line, and nothing is written.
 */
import * as os from 'os';
import { Command, Option } from 'commander';
import {
  MAX_PREVIEW_TTL_SECONDS,
  MultiZoneValidationError,
  ReleaseRecord,
  addRelease,
  deploymentIdProblem,
  encodeRecord,
  initialRecord,
  parsePreviewTtl,
  parseReleaseRecord,
  promote,
  reconcileTemplate,
  releaseOrigin,
  rollback,
} from 'multizone-distribution/internal';
import { DEFAULT_FLAG_FILE } from '../local-edge/flag-file';
import { DEFAULT_EDGE_PORT } from './flags-command';
import { CliError, CliIO } from './io';
import { readLocalReleases, releasesFileBeside, writeLocalRelease } from '../local-edge/releases-file';
import { ReleaseZone, ReleaseZones, parseCanary, releaseLines, releasePreviewLines, releaseZone, releaseZonesOf } from './release-site';
import { loadSite } from './site-loader';

/** How long a preview cookie lasts unless `--ttl` says otherwise. */
const DEFAULT_PREVIEW_TTL = '24h';

/** The options a release command was given; a deployed-site handler's (`--stack`, ...) arrive here too. */
export interface ReleasesCommandOptions {
  readonly local?: boolean;
  readonly flagsFile?: string;
  readonly template?: string;
  readonly [option: string]: unknown;
}

/** Where a site's release records are kept, and what its zones are. */
export interface ReleaseTarget {
  readonly zones: ReleaseZones;
  /** Whether it is the local edge, whose releases may be plain http:// on this machine. */
  readonly local: boolean;
  /** Where the site answers, for the preview cookie's curl hint. */
  readonly url: string;
  /** The zone's record; undefined when it has none (or a damaged one, which the edge ignores). */
  read(zone: ReleaseZone): Promise<ReleaseRecord | undefined>;
  /** Applies `change` to the zone's record and writes it; a `change` that throws writes nothing. */
  update(zone: ReleaseZone, change: (rec: ReleaseRecord | undefined) => ReleaseRecord): Promise<{ record: ReleaseRecord; note: string }>;
}

/** Opens the deployed site's release records; registered by cli/operate.ts, which loads the AWS SDK only then. */
export interface DeployedReleasesHandler {
  open(command: string, opts: ReleasesCommandOptions): Promise<ReleaseTarget>;
}

let deployedHandler: DeployedReleasesHandler | undefined;

/** Routes the release commands without `--local` to `handler` (undefined: none, they fail with a hint). */
export function setDeployedReleasesHandler(handler: DeployedReleasesHandler | undefined): void {
  deployedHandler = handler;
}

/** The release commands of the program, e.g. to add options to them. */
export const RELEASE_COMMANDS = ['release', 'promote', 'rollback', 'releases'] as const;

/** The local edge's records: `releases.json` beside the flag file, the zones from the local template. */
function localTarget(opts: ReleasesCommandOptions, io: CliIO): ReleaseTarget {
  const { site } = loadSite({ template: opts.template }, io);
  const file = releasesFileBeside(opts.flagsFile ?? DEFAULT_FLAG_FILE);
  const port = String(opts.port ?? DEFAULT_EDGE_PORT);
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw new CliError(`--port ${port}: not a port number`);
  const read = async (zone: ReleaseZone) => parseReleaseRecord(JSON.stringify(readLocalReleases(file)[zone.name]));
  return {
    zones: releaseZonesOf(site),
    local: true,
    url: `http://localhost:${port}/`,
    read,
    update: async (zone, change) => {
      const record = change(await read(zone));
      writeLocalRelease(zone.name, encodeRecord(record), file);
      return { record, note: `written to ${file}: a running local edge uses it from its next request` };
    },
  };
}

async function open(command: string, opts: ReleasesCommandOptions, io: CliIO): Promise<ReleaseTarget> {
  if (opts.local) return localTarget(opts, io);
  if (!deployedHandler) throw new CliError(`${command}: use --local, or deploy and pass --stack`);
  return deployedHandler.open(command, opts);
}

/**
 * The record a step starts from: the template's build alone when there is
 * none. On the local edge, which has no deploy, it is told of a template
 * build that changed; a deployed record is told by the deploy's store sync
 * only, since the template the CLI read may not be the deployed one.
 */
function startingRecord(rec: ReleaseRecord | undefined, zone: ReleaseZone, now: number, local: boolean): ReleaseRecord {
  if (!rec) return initialRecord(zone.deploymentId);
  return !local || rec.t === zone.deploymentId ? rec : reconcileTemplate(rec, zone.deploymentId, now, zone.maxAgeSeconds);
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * Applies one step to the zone's record, read and written as the target
 * does (again on a lost race), and returns the record as the step found it
 * and left it, with the write's note.
 */
async function applyStep(
  target: ReleaseTarget,
  zone: ReleaseZone,
  step: (rec: ReleaseRecord, now: number) => ReleaseRecord,
): Promise<{ before: ReleaseRecord; record: ReleaseRecord; note: string }> {
  const now = nowSeconds();
  let before = initialRecord(zone.deploymentId);
  const { record, note } = await target.update(zone, (rec) => {
    before = startingRecord(rec, zone, now, target.local);
    return step(before, now);
  });
  return { before, record, note };
}
const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();

/** The release `id` stopped being current: until when it keeps serving the viewers that name it. */
function replaced(zone: string, rec: ReleaseRecord, id: string): string {
  const until = rec.u?.[id];
  return `${id}${until ? ` serves the viewers that name it until ${iso(until)}` : ''}; "multizone rollback ${zone}" returns to it`;
}

/** What `release` was asked, checked before anything is read. */
interface ReleaseRequest {
  readonly id: string;
  readonly canary?: number;
  readonly preview: boolean;
  readonly ttlSeconds: number;
}

function releaseRequest(zone: string, opts: { deploymentId: string; canary?: string; preview?: boolean; ttl?: string }): ReleaseRequest {
  const problem = deploymentIdProblem(opts.deploymentId);
  if (problem) throw new MultiZoneValidationError(`Zone "${zone}": ${problem}`);
  const canary = opts.canary === undefined ? undefined : parseCanary(zone, opts.canary);
  if (canary !== undefined && opts.preview) throw new MultiZoneValidationError(`Zone "${zone}": a release is a canary or a preview, not both`);
  if (opts.ttl !== undefined && !opts.preview) throw new MultiZoneValidationError('--ttl: only a --preview release has a cookie to time');
  const ttl = opts.ttl ?? DEFAULT_PREVIEW_TTL;
  const ttlSeconds = parsePreviewTtl(ttl);
  if (ttlSeconds === undefined || ttlSeconds > MAX_PREVIEW_TTL_SECONDS) throw new MultiZoneValidationError(`--ttl: "${ttl}" must be a duration such as 30m, 1h or 7d, at most 30d`);
  return { id: opts.deploymentId, canary, preview: opts.preview === true, ttlSeconds };
}

/** The line a release prints: what the new release is to the zone now. */
function releasedLine(zone: string, request: ReleaseRequest, before: ReleaseRecord, after: ReleaseRecord): string {
  const origin = after.r[request.id];
  if (request.preview) return `${zone}: ${request.id} (${origin}) is a preview, reached only with its signed cookie; current stays ${after.c}`;
  if (request.canary !== undefined) {
    return `${zone}: ${request.id} (${origin}) is the canary for ${request.canary}% of viewers, sticky per viewer; current stays ${after.c}; then "multizone promote ${zone}" or "multizone rollback ${zone}"`;
  }
  return `${zone}: ${request.id} (${origin}) is current; ${replaced(zone, after, before.c)}`;
}

/** Adds `release`, `promote`, `rollback` and `releases` to `program`. */
export function addReleaseCommands(program: Command, io: CliIO): void {
  addReleaseCommand(program, io);
  addPromoteCommand(program, io);
  addRollbackCommand(program, io);
  addReleasesCommand(program, io);
}

/** The options that say where the records are: the local edge's, or (options cli/operate.ts adds) the deployed site's. */
function withTarget(command: Command): Command {
  return command
    .option('--local', 'the local edge\'s releases (a change takes effect on its next request)')
    .option('--flags-file <file>', `flag file of the local edge, whose releases are in releases.json beside it (default: ${DEFAULT_FLAG_FILE}, so ${releasesFileBeside(DEFAULT_FLAG_FILE)})`)
    .option('--template <file>', 'synthesized template (--local: default the one in cdk.out; deployed: default the stack\'s deployed template)');
}

function addReleaseCommand(program: Command, io: CliIO): void {
  withTarget(
    program
      .command('release')
      .description('add a release of a zone: current at once, a canary for a share of viewers, or a preview for cookie holders')
      .argument('<zone>', 'zone name')
      .argument('<origin-url>', 'where the build runs: https://host[/path] (with --local, also http://localhost:PORT or http://127.0.0.1:PORT)')
      .requiredOption('--deployment-id <id>', 'the build\'s deployment id (Next.js deploymentId / NEXT_DEPLOYMENT_ID)')
      .option('--canary <share>', 'a canary for this share of viewers: N% (or N), 0 to 100')
      .option('--preview', 'a preview, reached only with the signed cookie this prints')
      .option('--ttl <duration>', `how long the preview cookie is valid: 30m, 1h, 7d (at most 30d; default ${DEFAULT_PREVIEW_TTL})`)
      .addOption(new Option('-p, --port <port>', 'the local edge\'s port, for the preview cookie\'s curl hint').default(DEFAULT_EDGE_PORT)),
  ).action(async (zoneName: string, originText: string, opts: ReleasesCommandOptions & { deploymentId: string; canary?: string; preview?: boolean; ttl?: string }) => {
    const request = releaseRequest(zoneName, opts);
    const target = await open('release', opts, io);
    const zone = releaseZone(target.zones, zoneName);
    const origin = releaseOrigin(zone.name, originText, { local: target.local, functionUrlZone: zone.functionUrl });
    const { before, record, note } = await applyStep(target, zone, (rec, now) =>
      addRelease(rec, { zone: zone.name, id: request.id, origin, canary: request.canary, preview: request.preview }, now, zone.maxAgeSeconds),
    );
    io.out(releasedLine(zone.name, request, before, record));
    io.out(note);
    if (request.preview) for (const line of releasePreviewLines(zone.name, request.id, request.ttlSeconds, record.s!, target.url)) io.out(line);
  });
}

function addPromoteCommand(program: Command, io: CliIO): void {
  withTarget(program.command('promote').description('the zone\'s canary (else its only preview) becomes its current release').argument('<zone>', 'zone name')).action(
    async (zoneName: string, opts: ReleasesCommandOptions) => {
      const target = await open('promote', opts, io);
      const zone = releaseZone(target.zones, zoneName);
      const { before, record, note } = await applyStep(target, zone, (rec, now) => promote(rec, zone.name, now, zone.maxAgeSeconds));
      io.out(`${zone.name}: ${record.c} (${record.r[record.c] || 'template origin'}) is current; ${replaced(zone.name, record, before.c)}`);
      io.out(note);
    },
  );
}

function addRollbackCommand(program: Command, io: CliIO): void {
  withTarget(
    program
      .command('rollback')
      .description('take the zone\'s newest release out: its canary, else its current release (the previous one returns)')
      .argument('<zone>', 'zone name')
      .option('--by <who>', 'who rolls back, as the record keeps it (default: cli:<your user name>)'),
  ).action(async (zoneName: string, opts: ReleasesCommandOptions & { by?: string }) => {
    const by = opts.by ?? `cli:${userName()}`;
    if (!/^[\x20-\x7e]{1,64}$/.test(by)) throw new MultiZoneValidationError(`--by ${JSON.stringify(by.slice(0, 80))}: must be 1 to 64 printable ASCII characters`);
    const target = await open('rollback', opts, io);
    const zone = releaseZone(target.zones, zoneName);
    const { before, record, note } = await applyStep(target, zone, (rec, now) => rollback(rec, zone.name, by, now));
    const out = record.b![2];
    const what = before.k?.[0] === out ? `the canary ${out}; current stays ${record.c}` : `${out}; current is ${record.c} again`;
    io.out(`${zone.name}: rolled back ${what} (${record.r[record.c] || 'template origin'}); ${out} serves no viewer now (by ${by})`);
    io.out(note);
  });
}

function addReleasesCommand(program: Command, io: CliIO): void {
  withTarget(
    program
      .command('releases')
      .description('each zone\'s releases: current, canary and share, previews, pinned releases, rollback targets, last rollback')
      .argument('[zone]', 'one zone (default: every zone with releases)'),
  ).action(async (zoneName: string | undefined, opts: ReleasesCommandOptions) => {
    const target = await open('releases', opts, io);
    const zones = zoneName !== undefined ? [releaseZone(target.zones, zoneName)] : Object.values(target.zones.releases);
    if (zones.length === 0) io.err('no zone of the site has releases (set releases: { deploymentId } on a zone and deploy)');
    const now = nowSeconds();
    for (const zone of zones) for (const line of releaseLines(zone, await target.read(zone), now)) io.out(line);
  });
}

/** The operating system's name for the person running the command. */
function userName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? process.env.USERNAME ?? 'unknown';
  }
}
