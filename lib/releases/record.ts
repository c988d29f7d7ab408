import { createHmac, randomBytes } from 'crypto';
import { MultiZoneValidationError } from '../errors';

/**
 * A zone's releases, as one KeyValueStore value the edge function reads
 * (`mz-site:<site>:@release:<zone>`). Shared by everything that writes it
 * (the CLI, the store sync at deploy, the rollback on an alarm), so each
 * write is the same pure step on the record: read, apply, write with the
 * store's ETag. It imports nothing of the CDK: the handlers bundle it.
 *
 * Short field names, because the whole record must fit in one value (1 KB).
 */
export interface ReleaseRecord {
  /** Format version. */
  readonly v: 1;
  /** The template's deployment id: the build behind the zone's CloudFormation origin. */
  readonly t: string;
  /** The current release. */
  readonly c: string;
  /** Every release the record knows: deployment id to origin URL; '' is the zone's template origin. */
  readonly r: Readonly<Record<string, string>>;
  /** Replaced releases: until when (unix seconds) they serve the viewers that name them. */
  readonly u?: Readonly<Record<string, number>>;
  /** The canary: its id and its share of viewers, 0 to 100. */
  readonly k?: readonly [string, number];
  /** Preview releases: reached only with a signed `mz-release` cookie. */
  readonly p?: readonly string[];
  /** The secret preview cookies are signed with (64 hex). */
  readonly s?: string;
  /** Earlier current releases, oldest first: what a rollback returns to. */
  readonly h?: readonly string[];
  /** The last rollback: who, when (unix seconds), and the release it took out. */
  readonly b?: readonly [string, number, string];
}

/** The store's limit on one value, in bytes (lib/limits.ts, store-value-size): a record never grows past it. */
export const MAX_RELEASE_RECORD_BYTES = 1024;

/** The request header the edge sets to the release it picked; page cache keys of zones with releases hold it. */
export const RELEASE_HEADER = 'x-multizone-release';

/** The signed cookie that lets its holder see a preview release. */
export const RELEASE_PREVIEW_COOKIE = 'mz-release';

/** Deployment ids: what Next.js sends in `x-deployment-id` and `?dpl=`, kept to characters safe in a URL, a cookie and a log. */
const DEPLOYMENT_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** Function URL hosts, whose origin access control signs for the `lambda` origin type. */
export const FUNCTION_URL_HOST = /\.lambda-url\.[a-z0-9-]+\.on\.aws$/;

/** Hosts a release origin may use on the local edge only, over plain http. */
const LOCAL_HOSTS = ['localhost', '127.0.0.1'];

/** Why `id` cannot be a deployment id, or undefined when it can. */
export function deploymentIdProblem(id: string): string | undefined {
  if (DEPLOYMENT_ID.test(id)) return undefined;
  return `deployment id "${id.slice(0, 80)}" must be 1 to 64 letters, digits, "_", "." or "-"`;
}

/** Where a release lives. */
export interface ReleaseOriginOptions {
  /** The local edge: plain `http://` on localhost or 127.0.0.1 too. */
  readonly local: boolean;
  /** Whether the zone's own origin is a Lambda function URL: only then may a release be one (the body hash runs there). */
  readonly functionUrlZone: boolean;
}

/**
 * A release origin in the one form the record keeps and the edge parses:
 * `https://host[:port][/path]`, no trailing slash, query, fragment or
 * credentials. Throws a one-line error naming the fault.
 */
export function releaseOrigin(zone: string, text: string, options: ReleaseOriginOptions): string {
  const fail = (why: string) => new MultiZoneValidationError(`Zone "${zone}": origin "${text.slice(0, 200)}" ${why}`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw fail('is not a URL (e.g. https://v2.blog.example.com)');
  }
  const local = url.protocol === 'http:' && LOCAL_HOSTS.includes(url.hostname);
  if (url.protocol !== 'https:' && !(local && options.local)) {
    throw fail(options.local ? 'must be https://, or http://localhost or http://127.0.0.1 on the local edge' : 'must be https:// (CloudFront reaches release origins over HTTPS)');
  }
  if (url.username || url.password || url.search || url.hash) throw fail('must not carry credentials, a query string or a fragment');
  // CloudFront takes a host name, not an IP address, of at most 253 characters, and an origin path of at most 255.
  if (!local && (/^[0-9.]+$/.test(url.hostname) || url.hostname.startsWith('['))) throw fail('must name its host, not an IP address (CloudFront connects to origins by domain name)');
  if (url.hostname.length > 253) throw fail('has a host name past the 253 characters of a domain name');
  if (url.pathname.replace(/\/+$/, '').length > 255) throw fail('has a path past the 255 characters of a CloudFront origin path');
  if (FUNCTION_URL_HOST.test(url.hostname) && !options.functionUrlZone) {
    throw fail('is a Lambda function URL, but the zone\'s own origin is not one: only function URL zones hash request bodies for origin access control');
  }
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.protocol}//${url.host}${path}`;
}

/** The record of a zone whose only release is its template's build. */
export function initialRecord(templateId: string): ReleaseRecord {
  return { v: 1, t: templateId, c: templateId, r: { [templateId]: '' } };
}

/** The record a stored value holds, or undefined when it is missing or damaged (the edge then serves the template origin). */
export function parseReleaseRecord(value: string | undefined): ReleaseRecord | undefined {
  if (value === undefined) return undefined;
  let rec: any;
  try {
    rec = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof rec !== 'object' || rec === null || rec.v !== 1 || typeof rec.t !== 'string' || typeof rec.c !== 'string') return undefined;
  if (!stringMap(rec.r) || typeof rec.r[rec.c] !== 'string') return undefined;
  if (rec.u !== undefined && !(typeof rec.u === 'object' && rec.u !== null && Object.values(rec.u).every((n) => typeof n === 'number'))) return undefined;
  if (rec.k !== undefined && !(Array.isArray(rec.k) && typeof rec.k[0] === 'string' && typeof rec.k[1] === 'number')) return undefined;
  for (const list of [rec.p, rec.h]) if (list !== undefined && !(Array.isArray(list) && list.every((x: unknown) => typeof x === 'string'))) return undefined;
  return rec as ReleaseRecord;
}

function stringMap(x: unknown): x is Record<string, string> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && Object.values(x).every((v) => typeof v === 'string');
}

/** A record being changed: plain mutable fields. */
interface Draft {
  t: string;
  c: string;
  r: Record<string, string>;
  u: Record<string, number>;
  k?: [string, number];
  p: string[];
  s?: string;
  h: string[];
  b?: [string, number, string];
}

function draft(rec: ReleaseRecord): Draft {
  return {
    t: rec.t,
    c: rec.c,
    r: { ...rec.r },
    u: { ...(rec.u ?? {}) },
    k: rec.k ? [rec.k[0], rec.k[1]] : undefined,
    p: [...(rec.p ?? [])],
    s: rec.s,
    h: [...(rec.h ?? [])],
    b: rec.b ? [rec.b[0], rec.b[1], rec.b[2]] : undefined,
  };
}

/** The draft as a record, empty fields left out so the value stays small. */
function finished(d: Draft): ReleaseRecord {
  return {
    v: 1,
    t: d.t,
    c: d.c,
    r: d.r,
    ...(Object.keys(d.u).length ? { u: d.u } : {}),
    ...(d.k ? { k: d.k } : {}),
    ...(d.p.length ? { p: d.p } : {}),
    ...(d.s ? { s: d.s } : {}),
    ...(d.h.length ? { h: d.h } : {}),
    ...(d.b ? { b: d.b } : {}),
  };
}

/** The release `id` leaves current (or canary): it keeps serving the viewers that name it for `maxAge` seconds. */
function pin(d: Draft, id: string, now: number, maxAge: number): void {
  d.u[id] = now + maxAge;
}

/** Drops a release from every field. */
function forget(d: Draft, id: string): void {
  delete d.r[id];
  delete d.u[id];
  d.p = d.p.filter((x) => x !== id);
  d.h = d.h.filter((x) => x !== id);
  if (d.k && d.k[0] === id) d.k = undefined;
}

/**
 * After a deploy whose template names deployment id `templateId`: the
 * template origin now serves that build, which becomes current. Releases
 * that were the template origin's earlier builds are gone with them; a
 * current release elsewhere keeps serving its viewers for `maxAge`. A
 * deploy is never refused for room: pins are shed as for a rollback.
 */
export function reconcileTemplate(rec: ReleaseRecord | undefined, templateId: string, now: number, maxAge: number): ReleaseRecord {
  if (!rec) return initialRecord(templateId);
  if (rec.t === templateId && rec.r[templateId] === '') return rec;
  const d = draft(rec);
  for (const [id, origin] of Object.entries(d.r)) if (origin === '' && id !== templateId) forget(d, id);
  if (d.r[d.c] !== undefined && d.c !== templateId) {
    pin(d, d.c, now, maxAge);
    d.h.push(d.c);
  }
  forget(d, templateId);
  d.t = templateId;
  d.c = templateId;
  d.r[templateId] = '';
  return pruned(d, now, undefined, true);
}

/** A release to add. */
export interface NewRelease {
  readonly zone: string;
  readonly id: string;
  /** Its origin, as `releaseOrigin` gives it. */
  readonly origin: string;
  /** A canary's share of viewers, 0 to 100; absent for a release that becomes current at once. */
  readonly canary?: number;
  /** A preview: no viewer reaches it without the signed cookie. */
  readonly preview?: boolean;
}

/**
 * Adds a release: current at once (the previous current keeps serving
 * its viewers for `maxAge`, and is the rollback target), a canary (which
 * replaces any earlier one), or a preview.
 */
export function addRelease(rec: ReleaseRecord, release: NewRelease, now: number, maxAge: number): ReleaseRecord {
  const { zone, id } = release;
  const problem = deploymentIdProblem(id);
  if (problem) throw new MultiZoneValidationError(`Zone "${zone}": ${problem}`);
  if (rec.r[id] !== undefined) throw new MultiZoneValidationError(`Zone "${zone}": deployment id "${id}" is already a release of the zone (${roleOf(rec, id, now)}); give each build its own id`);
  if (release.canary !== undefined && !(Number.isInteger(release.canary) && release.canary >= 0 && release.canary <= 100)) {
    throw new MultiZoneValidationError(`Zone "${zone}": canary ${release.canary}% must be a whole percentage from 0% to 100%`);
  }
  if (release.canary !== undefined && release.preview) throw new MultiZoneValidationError(`Zone "${zone}": a release is a canary or a preview, not both`);
  const d = draft(rec);
  d.r[id] = release.origin;
  if (release.preview) {
    d.p.push(id);
    d.s = d.s ?? randomBytes(32).toString('hex');
  } else {
    if (d.k) pin(d, d.k[0], now, maxAge);
    if (release.canary !== undefined) {
      d.k = [id, release.canary];
    } else {
      d.k = undefined;
      replaceCurrent(d, id, now, maxAge);
    }
  }
  return pruned(d, now, zone);
}

function replaceCurrent(d: Draft, id: string, now: number, maxAge: number): void {
  pin(d, d.c, now, maxAge);
  d.h.push(d.c);
  d.c = id;
  delete d.u[id];
  d.p = d.p.filter((x) => x !== id);
}

/** The canary becomes current; without one, the only preview does. */
export function promote(rec: ReleaseRecord, zone: string, now: number, maxAge: number): ReleaseRecord {
  const d = draft(rec);
  const id = d.k?.[0] ?? (d.p.length === 1 ? d.p[0] : undefined);
  if (id === undefined) {
    const previews = d.p.length ? ` and ${d.p.length} previews (${d.p.join(', ')}): promote one by releasing it again under a new id` : '';
    throw new MultiZoneValidationError(`Zone "${zone}": nothing to promote: no canary${previews}`);
  }
  d.k = undefined;
  replaceCurrent(d, id, now, maxAge);
  return pruned(d, now, zone);
}

/**
 * Takes the newest release out: the canary when there is one, else the
 * current release, which returns to the previous one. The release taken
 * out leaves the record, so no viewer reaches it again (tabs pinned to it
 * hard-navigate to the current one); `by` and the time are recorded.
 */
export function rollback(rec: ReleaseRecord, zone: string, by: string, now: number): ReleaseRecord {
  const d = draft(rec);
  let out: string;
  if (d.k) {
    out = d.k[0];
  } else {
    const previous = d.h.filter((id) => d.r[id] !== undefined).pop();
    if (previous === undefined) throw new MultiZoneValidationError(`Zone "${zone}": nothing to roll back: no canary and no earlier release`);
    out = d.c;
    d.c = previous;
    delete d.u[previous];
    d.h = d.h.slice(0, d.h.lastIndexOf(previous));
  }
  forget(d, out);
  d.b = [by.slice(0, 64), now, out];
  return pruned(d, now, zone, true);
}

/**
 * Drops what no viewer can reach and no rollback needs (pins past their
 * time that are neither current, canary, preview nor earlier current),
 * then the oldest rollback targets while the record is past 1 KB, and for
 * a rollback (`shedPins`) the pins ending soonest next; refuses a record
 * that still does not fit.
 */
function pruned(d: Draft, now: number, zone?: string, shedPins = false): ReleaseRecord {
  for (const [id, until] of Object.entries(d.u)) if (until <= now) delete d.u[id];
  d.h = d.h.filter((id, i) => d.r[id] !== undefined && id !== d.c && d.h.indexOf(id) === i);
  const needed = (id: string) => id === d.c || d.k?.[0] === id || d.p.includes(id) || d.h.includes(id) || d.u[id] !== undefined;
  for (const id of Object.keys(d.r)) if (!needed(id)) delete d.r[id];
  while (recordBytes(finished(d)) > MAX_RELEASE_RECORD_BYTES && d.h.length > 0) {
    const oldest = d.h.shift()!;
    if (!needed(oldest)) forget(d, oldest);
  }
  // The record of a rollback grows by who and when: it must not be refused for room when a release is failing.
  // After the rollback targets, replaced releases lose their pins, soonest-ending first: their viewers get the current release.
  const pinned = () => Object.keys(d.u).filter((id) => id !== d.c && d.k?.[0] !== id && !d.p.includes(id)).sort((a, b) => d.u[a] - d.u[b]);
  while (shedPins && recordBytes(finished(d)) > MAX_RELEASE_RECORD_BYTES && pinned().length > 0) {
    const soonest = pinned()[0];
    delete d.u[soonest];
    if (!needed(soonest)) forget(d, soonest);
  }
  const rec = finished(d);
  const size = recordBytes(rec);
  if (size > MAX_RELEASE_RECORD_BYTES) {
    throw new MultiZoneValidationError(
      `Zone "${zone ?? '?'}": the releases would take ${size} bytes, over the ${MAX_RELEASE_RECORD_BYTES} bytes of one KeyValueStore value; ` +
        'promote or roll back the canary, remove previews, wait for pinned releases to expire, or use shorter deployment ids and origin URLs',
    );
  }
  return rec;
}

function recordBytes(rec: ReleaseRecord): number {
  return Buffer.byteLength(JSON.stringify(rec));
}

/** The stored value of a record. */
export function encodeRecord(rec: ReleaseRecord): string {
  return JSON.stringify(rec);
}

/** What a release is to the zone now, in words. */
export function roleOf(rec: ReleaseRecord, id: string, now: number): string {
  if (id === rec.c) return 'current';
  if (rec.k?.[0] === id) return `canary ${rec.k[1]}%`;
  if (rec.p?.includes(id)) return 'preview';
  const until = rec.u?.[id];
  if (until !== undefined && until > now) return `pinned until ${new Date(until * 1000).toISOString()}`;
  return 'earlier (rollback target)';
}

/** The hex HMAC-SHA256 signature of one preview cookie entry. */
function previewSignature(zone: string, id: string, expiry: number, secret: string): string {
  return createHmac('sha256', secret).update(`${zone}.${id}.${expiry}`).digest('hex');
}

/** One `mz-release` cookie entry: `<zone>.<id>.<expiry>.<signature>`. */
export function releasePreviewEntry(zone: string, id: string, expiry: number, secret: string): string {
  return `${zone}.${id}.${expiry}.${previewSignature(zone, id, expiry, secret)}`;
}
