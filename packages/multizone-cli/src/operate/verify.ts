/**
 * Verifying a deployed site's routing: each route case goes through the
 * distribution's deployed cache behaviors (first match, as CloudFront
 * does) and, where a behavior runs a viewer-request function, through that
 * function itself with CloudFront's TestFunction API.
 *
 * What TestFunction can and cannot show:
 * - It runs the LIVE function against the store's live contents. It cannot
 *   set flag values per case, so a case that needs a flag in another state
 *   than the store's is skipped, with a note saying so; flip the flag,
 *   verify, flip it back to check both sides.
 * - Its output does not report `cf.selectRequestOriginById` (CloudFront's
 *   documentation says so). The router also sets the chosen zone's name in
 *   its internal `x-multizone-zone` request header, which the output does
 *   show: that header is how the chosen zone is read. Each event carries a
 *   spoofed value of that header, so every case also checks that the
 *   function strips it. On a site with zone flags, each event also carries
 *   a spoofed `x-multizone-flags`, and the output's copy of that header
 *   (the one the zone gets) must have dropped it: removed, or replaced by
 *   the function's own decisions.
 * - A flag at a percentage between 0% and 100% makes the zone depend on
 *   the viewer; cases it affects are skipped.
 * - A next/image behavior's function only reduces `Accept` to the image
 *   formats it names (the image cache key); it chooses no zone, and the
 *   behavior forwards no internal header. Its events carry a browser's
 *   `Accept` instead of spoofed headers, and the case fails unless the
 *   output holds the reduced one.
 */
import * as fs from 'fs';
import { DescribeFunctionCommand, GetDistributionConfigCommand, TestFunctionCommand } from '@aws-sdk/client-cloudfront';
import { IMAGE_OPTIMIZER_PATH, ZONE_FLAGS_HEADER, ZONE_HEADER, MultiZoneValidationError, flagNameProblem, flagPercent, flagValueProblem, normalizePathPattern, pathPatternMatches, RoutingTable, resolveRoute } from 'multizone-distribution/internal';
import { ViewerRequestEvent, splitUri, viewerRequestEvent } from '../edge-function/sandbox';
import { AwsClients, OperateError, awsCall } from './aws';
import { listFlags } from './flags';
import { DeployedSite, SiteTemplate, requireId } from './site';

/** Compute utilization (percent of the allowed time) above which a case fails. */
export const DEFAULT_MAX_UTILIZATION = 70;

/** The value verify puts in the internal zone header of every event: the function must drop it. */
export const SPOOFED_ZONE = 'spoofed-by-verify';

/**
 * The value verify puts in the zone-flags header on a site with zone
 * flags: a well-formed decision no zone flag makes, so a zone would trust
 * it if the function kept it.
 */
export const SPOOFED_FLAGS = 'spoofed-by-verify=on';

/** The viewer address of verify's events. */
export const VERIFY_VIEWER_IP = '198.51.100.7';

/** The `Accept` of verify's image events: Chrome's for an `<img>`. */
export const VERIFY_IMAGE_ACCEPT = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';

/** What the image function must reduce {@link VERIFY_IMAGE_ACCEPT} to: its AVIF and WebP entries, in order. */
export const VERIFY_IMAGE_ACCEPT_KEY = 'image/avif,image/webp';

/** One request to check and where it should go. */
export interface RouteCase {
  /** Path (and optional `?query`) of the request. */
  readonly uri: string;
  /**
   * Name of the zone that must serve it.
   *
   * @default - derived from the routing table with the case's flag states
   */
  readonly zone?: string;
  /** Flag states the case is about (`on`, `off`, `0%`, `100%`); the store must hold them for the case to run. */
  readonly flags?: Record<string, string>;
  /** A short name for the report. */
  readonly label?: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly cookies?: Record<string, string>;
}

/** The outcome of one case. */
export interface CaseResult {
  readonly case: RouteCase;
  readonly status: 'pass' | 'fail' | 'skip';
  /** The zone expected, when known. */
  readonly expected?: string;
  /** The zone (or response) the site chose. */
  readonly chosen?: string;
  /** The cache behavior's path pattern. */
  readonly behavior?: string;
  /** Which viewer-request function ran, if any. */
  readonly functionName?: string;
  /** Its compute utilization, 0 to 100. */
  readonly utilization?: number;
  /** Why the case failed or was skipped. */
  readonly note?: string;
}

/** Options of a verify run. */
export interface VerifyOptions {
  /** Utilization above which a case fails. */
  readonly maxUtilization?: number;
  /** The Host header of the events. @default the distribution's domain name */
  readonly host?: string;
}

/** A sample path that a pattern matches. */
export function samplePath(pattern: string, asset: boolean): string {
  const p = normalizePathPattern(pattern);
  const sample = asset ? p.replace(/\*$/, 'multizone-verify.js') : p;
  return sample.replace(/\*/g, 'multizone-verify').replace(/\?/g, 'x');
}

/**
 * A next/image request to an image route (`<assetPrefix>/_next/image`):
 * `url` names an image under the same prefix, as a zone's `next/image`
 * asks for one, with a width and quality Next.js allows by default.
 */
export function sampleImageUri(pattern: string): string {
  const src = `${pattern.slice(0, -IMAGE_OPTIMIZER_PATH.length)}/multizone-verify.png`;
  return `${pattern}?url=${encodeURIComponent(src)}&w=640&q=75`;
}

/**
 * The default cases of a routing table: one page, one asset and one
 * next/image request per zone, and each override pattern with its flag on
 * and with it off.
 */
export function defaultCases(table: RoutingTable): RouteCase[] {
  const cases: RouteCase[] = [];
  const seen = new Set<string>();
  const add = (c: RouteCase) => {
    const key = `${c.uri} ${JSON.stringify(c.flags ?? {})}`;
    if (!seen.has(key)) cases.push(c);
    seen.add(key);
  };
  const offOnly = (uri: string) => resolveRoute(table, uri, () => false);
  for (const zone of table.zones) {
    // The zone's own paths first; Pages Router data routes (`/_next/data/...`) only when it has nothing else.
    const pages = table.routes
      .filter((r) => r.zone === zone && r.kind === 'page')
      .sort((a, b) => Number(a.pattern.startsWith('/_next/data/')) - Number(b.pattern.startsWith('/_next/data/')))
      .map((r) => samplePath(r.pattern, false));
    if (zone === table.defaultZone) pages.unshift('/', '/multizone-verify');
    const page = pages.find((uri) => offOnly(uri).zone === zone);
    if (page) add({ uri: page, label: `${zone} page` });
    const asset = table.routes.find((r) => r.zone === zone && r.kind === 'asset');
    if (asset) add({ uri: samplePath(asset.pattern, true), label: `${zone} asset` });
    const image = table.routes.find((r) => r.zone === zone && r.kind === 'image');
    if (image) add({ uri: sampleImageUri(image.pattern), label: `${zone} image` });
  }
  for (const o of table.overrides) {
    const uri = samplePath(o.pattern, false);
    add({ uri, label: `${o.flag} on`, flags: { [o.flag]: 'on' } });
    add({ uri, label: `${o.flag} off`, flags: { [o.flag]: 'off' } });
  }
  return cases;
}

/** Reads and checks a cases file: a JSON array of cases, or `{ "cases": [...] }`. */
export function readCasesFile(file: string): RouteCase[] {
  let parsed: any;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new MultiZoneValidationError(`Cases file ${file}: cannot be read as JSON (${reason})`);
  }
  const list = Array.isArray(parsed) ? parsed : parsed?.cases;
  if (!Array.isArray(list) || list.length === 0) {
    throw new MultiZoneValidationError(`Cases file ${file}: must be a non-empty JSON array of { "uri", "zone", "flags" } (or { "cases": [...] })`);
  }
  return list.map((c: any, i: number) => {
    const where = `Cases file ${file}: case ${i + 1}`;
    if (typeof c !== 'object' || c === null) throw new MultiZoneValidationError(`${where}: must be an object`);
    if (typeof c.uri !== 'string' || !c.uri.startsWith('/')) throw new MultiZoneValidationError(`${where}: uri must be a string starting with "/"`);
    if (c.zone !== undefined && (typeof c.zone !== 'string' || c.zone === '')) throw new MultiZoneValidationError(`${where}: zone must be a zone name`);
    for (const [name, value] of Object.entries(c.flags ?? {})) {
      const problem = flagNameProblem(name) ?? flagValueProblem(String(value)) ?? (stateOf(String(value)) === 'partial' ? `value "${value}" must be on or off here (or 0% / 100%)` : undefined);
      if (problem) throw new MultiZoneValidationError(`${where}: flag "${name}": ${problem}`);
    }
    for (const field of ['headers', 'cookies'] as const) {
      if (c[field] !== undefined && (typeof c[field] !== 'object' || Object.values(c[field]).some((v) => typeof v !== 'string'))) {
        throw new MultiZoneValidationError(`${where}: ${field} must map names to strings`);
      }
    }
    return c as RouteCase;
  });
}

type FlagState = 'on' | 'off' | 'partial';

/** What a flag value means for every viewer: on, off, or it depends on the viewer. */
function stateOf(value: string | undefined): FlagState {
  if (value === undefined || flagValueProblem(value)) return 'off';
  const percent = flagPercent(value);
  return percent >= 100 ? 'on' : percent <= 0 ? 'off' : 'partial';
}

interface DeployedBehavior {
  readonly pattern: string;
  readonly targetOriginId: string;
  readonly functionName?: string;
}

/** Runs every case against the deployed site. */
export async function verifySite(clients: AwsClients, site: DeployedSite, cases: RouteCase[], options: VerifyOptions = {}): Promise<CaseResult[]> {
  const distributionId = requireId(site, 'distributionId');
  const maxUtilization = options.maxUtilization ?? DEFAULT_MAX_UTILIZATION;
  const template = await site.template();
  const behaviors = await deployedBehaviors(clients, distributionId);
  if (site.functionName && !behaviors.some((b) => b.functionName === site.functionName)) {
    throw new OperateError(
      `Router function "${site.functionName}" runs on no behavior of distribution ${distributionId}: the function name and the distribution id do not belong to the same site`,
    );
  }
  const needsFlags = cases.some((c) => Object.keys(c.flags ?? {}).length > 0) || (template?.table.overrides.length ?? 0) > 0;
  const deployedFlags = needsFlags && site.kvsArn ? Object.fromEntries((await listFlags(clients, site.kvsArn)).map((f) => [f.name, f.value])) : undefined;
  // Only a site with zone flags has zones that read the header.
  const spoofFlags = (template?.table.zoneFlags ?? []).length > 0;
  const etags = new Map<string, Promise<string>>();
  const etagOf = (name: string) => {
    if (!etags.has(name)) {
      etags.set(
        name,
        awsCall(`DescribeFunction "${name}"`, async () => {
          const response = await clients.cloudFront.send(new DescribeFunctionCommand({ Name: name, Stage: 'LIVE' }));
          if (!response.ETag) throw new OperateError(`DescribeFunction "${name}": no ETag in the answer`);
          return response.ETag;
        }),
      );
    }
    return etags.get(name)!;
  };

  const results: CaseResult[] = [];
  for (const c of cases) {
    results.push(await runCase(c));
  }
  return results;

  async function runCase(c: RouteCase): Promise<CaseResult> {
    const [path, query = {}] = splitUri(c.uri);
    const relevant = new Set(Object.keys(c.flags ?? {}));
    for (const o of template?.table.overrides ?? []) if (pathPatternMatches(o.pattern, path)) relevant.add(o.flag);
    const states: Record<string, FlagState> = {};
    for (const flag of relevant) {
      if (!deployedFlags) {
        return { case: c, status: 'skip', note: `depends on flag "${flag}", and no KeyValueStore is known (pass --kvs-arn)` };
      }
      const stored = deployedFlags[flag];
      const state = stateOf(stored);
      if (state === 'partial') return { case: c, status: 'skip', note: `flag "${flag}" is at ${stored}: the zone depends on the viewer` };
      const wanted = c.flags?.[flag];
      if (wanted !== undefined && stateOf(wanted) !== state) {
        return {
          case: c,
          status: 'skip',
          note: `needs ${flag}=${wanted}, the store has ${stored ?? '(missing: off)'}; TestFunction reads the live store, so flip the flag to check this side`,
        };
      }
      states[flag] = state;
    }
    const expected = c.zone ?? (template ? resolveRoute(template.table, path, (flag) => states[flag] === 'on').zone : undefined);
    if (expected === undefined) {
      return { case: c, status: 'fail', note: 'no expected zone: give "zone" in the case, or pass --stack / --template for the routing table' };
    }

    const behavior = behaviors.find((b) => b.pattern === '*' || pathPatternMatches(b.pattern, path))!;
    const base = { case: c, expected, behavior: behavior.pattern, functionName: behavior.functionName };
    const targetZone = zoneOfOrigin(template, behavior.targetOriginId);
    if (!behavior.functionName) {
      return judge({ ...base, chosen: targetZone });
    }
    const spoof: EventSpoofing = isImageBehavior(behavior.pattern) ? 'image' : spoofFlags ? 'zone-and-flags' : 'zone';
    const event = verifyEvent(c, path, query, distributionId, options.host ?? site.domainName, spoof);
    const etag = await etagOf(behavior.functionName);
    const response = await awsCall(`TestFunction "${behavior.functionName}"`, () =>
      clients.cloudFront.send(
        new TestFunctionCommand({ Name: behavior.functionName, IfMatch: etag, Stage: 'LIVE', EventObject: Buffer.from(JSON.stringify(event)) }),
      ),
    );
    const result = response.TestResult ?? {};
    const utilization = result.ComputeUtilization === undefined ? undefined : Number(result.ComputeUtilization);
    if (result.FunctionErrorMessage) {
      return { ...base, utilization, status: 'fail', chosen: 'error', note: `the function failed (viewers get a 503): ${result.FunctionErrorMessage.split('\n')[0]}` };
    }
    let output: any;
    try {
      output = JSON.parse(result.FunctionOutput ?? '');
    } catch {
      return { ...base, utilization, status: 'fail', note: 'TestFunction returned no readable FunctionOutput' };
    }
    if (output?.response) {
      return { ...base, utilization, status: 'fail', chosen: `response ${output.response.statusCode}`, note: 'the function answered instead of forwarding' };
    }
    const headers = output?.request?.headers ?? {};
    const zoneHeader = headers[ZONE_HEADER]?.value;
    const problem = outputProblem(headers, spoof, c);
    if (problem) return { ...base, utilization, status: 'fail', ...problem };
    return judge({ ...base, utilization, chosen: typeof zoneHeader === 'string' ? zoneHeader : targetZone });
  }

  function judge(r: Omit<CaseResult, 'status'>): CaseResult {
    if (r.chosen !== r.expected) return { ...r, status: 'fail', note: `routed to ${r.chosen}, expected ${r.expected}` };
    if (r.utilization !== undefined && r.utilization > maxUtilization) {
      return { ...r, status: 'fail', note: `compute utilization ${r.utilization} is above ${maxUtilization}` };
    }
    return { ...r, status: 'pass' };
  }
}

/** The deployed distribution's behaviors in CloudFront's order, the default (`*`) last. */
async function deployedBehaviors(clients: AwsClients, distributionId: string): Promise<DeployedBehavior[]> {
  const response = await awsCall(`GetDistributionConfig ${distributionId}`, () => clients.cloudFront.send(new GetDistributionConfigCommand({ Id: distributionId })));
  const config = response.DistributionConfig;
  if (!config?.DefaultCacheBehavior) throw new OperateError(`GetDistributionConfig ${distributionId}: no default cache behavior in the answer`);
  const read = (b: { TargetOriginId?: string; FunctionAssociations?: { Items?: Array<{ FunctionARN?: string; EventType?: string }> } }, pattern: string) => {
    const arn = b.FunctionAssociations?.Items?.find((a) => a.EventType === 'viewer-request')?.FunctionARN;
    return { pattern, targetOriginId: b.TargetOriginId ?? '', functionName: arn ? arn.slice(arn.lastIndexOf('/') + 1) : undefined };
  };
  return [...(config.CacheBehaviors?.Items ?? []).map((b) => read(b, b.PathPattern ?? '')), read(config.DefaultCacheBehavior, '*')];
}

/** The zone behind an origin id: from the template, else the construct's `zone-<name>` convention, else the id. */
function zoneOfOrigin(template: SiteTemplate | undefined, originId: string): string {
  const known = template?.zones.find((z) => z.originId === originId)?.name;
  if (known) return known;
  const match = /^zone-(.+)$/.exec(originId);
  return match ? match[1] : originId;
}

/**
 * What an event carries for the function to deal with: the spoofed zone
 * header (and zone-flags header) of a page or asset, or, on a next/image
 * behavior (whose policies forward no internal header), a browser's Accept.
 */
export type EventSpoofing = 'zone' | 'zone-and-flags' | 'image';

/** Whether a deployed behavior is a next/image one: the construct gives each its exact `<assetPrefix>/_next/image` pattern. */
function isImageBehavior(pattern: string): boolean {
  return pattern.endsWith(IMAGE_OPTIMIZER_PATH);
}

/** Whether a case sets its own Accept, which verify then leaves as given and does not check. */
function hasOwnAccept(c: RouteCase): boolean {
  return Object.keys(c.headers ?? {}).some((name) => name.toLowerCase() === 'accept');
}

/** What is wrong with the request the function forwards, given what the event carried; undefined: nothing. */
function outputProblem(headers: Record<string, { value?: string }>, spoof: EventSpoofing, c: RouteCase): Pick<CaseResult, 'chosen' | 'note'> | undefined {
  if (spoof === 'image') {
    const accept = headers.accept?.value;
    if (hasOwnAccept(c) || accept === VERIFY_IMAGE_ACCEPT_KEY) return undefined;
    return { note: `the function forwarded Accept ${accept === undefined ? '(none)' : `"${accept}"`}, not "${VERIFY_IMAGE_ACCEPT_KEY}": each browser's spelling would be an image cache entry of its own` };
  }
  if (headers[ZONE_HEADER]?.value === SPOOFED_ZONE) return { chosen: SPOOFED_ZONE, note: `the function kept the viewer's ${ZONE_HEADER} header` };
  const flagsHeader = headers[ZONE_FLAGS_HEADER]?.value;
  if (spoof === 'zone-and-flags' && typeof flagsHeader === 'string' && flagsHeader.split(',').includes(SPOOFED_FLAGS)) {
    return { note: `the function kept the viewer's ${ZONE_FLAGS_HEADER} header (${flagsHeader}): zones would read the viewer's own flags` };
  }
  return undefined;
}

/** The viewer-request event of a case, as CloudFront would build it, carrying what `spoof` says. */
export function verifyEvent(c: RouteCase, path: string, querystring: Record<string, string>, distributionId: string, host?: string, spoof: EventSpoofing = 'zone'): ViewerRequestEvent {
  const extra =
    spoof === 'image'
      ? { ...(!hasOwnAccept(c) && { accept: VERIFY_IMAGE_ACCEPT }) }
      : { [ZONE_HEADER]: SPOOFED_ZONE, ...(spoof === 'zone-and-flags' && { [ZONE_FLAGS_HEADER]: SPOOFED_FLAGS }) };
  const event = viewerRequestEvent(path, {
    host: host ?? 'www.example.com',
    ip: VERIFY_VIEWER_IP,
    method: c.method,
    headers: { ...c.headers, ...extra },
    cookies: c.cookies,
    querystring,
  });
  return {
    ...event,
    context: { eventType: 'viewer-request', distributionId, distributionDomainName: host ?? 'd111111abcdef8.cloudfront.net', requestId: 'multizone-verify' },
  };
}

/** The report: one line per case, then a summary line. */
export function formatVerifyReport(results: CaseResult[], maxUtilization: number = DEFAULT_MAX_UTILIZATION): string[] {
  const rows = results.map((r) => [
    r.status === 'pass' ? 'ok' : r.status === 'fail' ? 'FAIL' : 'skip',
    r.case.uri,
    Object.entries(r.case.flags ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '-',
    r.expected ?? '-',
    r.chosen ?? '-',
    r.behavior ?? '-',
    r.functionName ? `${r.functionName}` : '-',
    r.utilization === undefined ? '-' : String(r.utilization),
    r.note ?? '',
  ]);
  const header = ['', 'URI', 'FLAGS', 'EXPECTED', 'CHOSEN', 'BEHAVIOR', 'FUNCTION', 'UTIL%', 'NOTE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd();
  const count = (s: CaseResult['status']) => results.filter((r) => r.status === s).length;
  return [
    line(header),
    ...rows.map(line),
    `${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped (utilization limit ${maxUtilization}%)`,
  ];
}
