/**
 * What the release commands need to know of a site, read from its
 * template, and how they show a zone's releases. Shared by the local edge's
 * and the deployed site's side of `release`, `promote`, `rollback` and
 * `releases`.
 */
import { METADATA_KEY, MultiZoneValidationError, ReleaseRecord, RELEASE_PREVIEW_COOKIE, SiteMetadata, releasePreviewEntry } from 'multizone-distribution/internal';
import type { SynthesizedSite } from '../synthesized-site';

/** A zone with releases, as the site's metadata states it. */
export interface ReleaseZone {
  readonly name: string;
  /** The deployment id of the build behind the zone's template origin. */
  readonly deploymentId: string;
  /** The store key of its release record. */
  readonly key: string;
  /** How long a replaced release keeps serving the viewers that name it. */
  readonly maxAgeSeconds: number;
  /** Whether its template origin is a Lambda function URL behind origin access control: only then may a release be one. */
  readonly functionUrl: boolean;
}

/** The site's zones, and those of them with releases. */
export interface ReleaseZones {
  readonly names: string[];
  readonly releases: Record<string, ReleaseZone>;
}

/** The zones of a synthesized (or deployed) template, from its distribution's metadata. */
export function releaseZonesOf(site: SynthesizedSite): ReleaseZones {
  const metadata: SiteMetadata = site.resource(site.logicalId)?.Metadata?.[METADATA_KEY];
  const releases: Record<string, ReleaseZone> = {};
  for (const zone of site.zones) {
    const r = metadata.releases?.[zone.name];
    if (r) releases[zone.name] = { name: zone.name, ...r, functionUrl: signsForFunctionUrl(site, zone.originId) };
  }
  return { names: site.zones.map((z) => z.name), releases };
}

/** Whether an origin has an origin access control that signs for a Lambda function URL (the template states it on the control). */
function signsForFunctionUrl(site: SynthesizedSite, originId: string): boolean {
  const ref = site.originConfigs[originId]?.OriginAccessControlId;
  const logicalId = ref?.['Fn::GetAtt']?.[0] ?? ref?.Ref;
  const config = typeof logicalId === 'string' ? site.resource(logicalId)?.Properties?.OriginAccessControlConfig : undefined;
  return config?.OriginAccessControlOriginType === 'lambda' && config?.SigningBehavior !== 'never';
}

/** The zone `name`, or a one-line refusal: a zone the site does not have, or one without releases. */
export function releaseZone(zones: ReleaseZones, name: string): ReleaseZone {
  if (!zones.names.includes(name)) throw new MultiZoneValidationError(`Zone "${name}": the site has no such zone (its zones: ${zones.names.join(', ')})`);
  const zone = zones.releases[name];
  if (zone) return zone;
  const withReleases = Object.keys(zones.releases);
  throw new MultiZoneValidationError(
    `Zone "${name}": has no releases; set releases: { deploymentId } on it and deploy (${withReleases.length ? `zones with releases: ${withReleases.join(', ')}` : 'no zone of the site has releases'})`,
  );
}

/** `--canary N%` (or `N`): a whole percentage from 0 to 100, else a one-line refusal. */
export function parseCanary(zone: string, text: string): number {
  const m = /^\s*(\d{1,3})\s*%?\s*$/.exec(text);
  const share = m ? Number(m[1]) : NaN;
  if (!(share >= 0 && share <= 100)) throw new MultiZoneValidationError(`Zone "${zone}": canary "${text}" must be a whole percentage from 0% to 100% (e.g. 25%)`);
  return share;
}

const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();

/** A release and where it lives, as `releases` shows it. */
function releaseText(rec: ReleaseRecord, id: string): string {
  const origin = rec.r[id];
  return `${id} (${origin === '' ? 'template origin' : origin ?? 'gone'})`;
}

/** What `releases` prints for one zone: its current release, canary, previews, pinned releases, rollback targets and last rollback. */
export function releaseLines(zone: ReleaseZone, rec: ReleaseRecord | undefined, now: number): string[] {
  if (!rec) return [`${zone.name}: current ${zone.deploymentId} (template origin); no release yet`];
  const lines = [`${zone.name}: current ${releaseText(rec, rec.c)}`];
  if (rec.t !== zone.deploymentId) lines.push(`  note      the record's template build is ${rec.t}, the template's is ${zone.deploymentId}: deploying this template makes ${zone.deploymentId} current (on the local edge, the next release does)`);
  if (rec.k) lines.push(`  canary    ${releaseText(rec, rec.k[0])} for ${rec.k[1]}% of viewers`);
  for (const id of rec.p ?? []) lines.push(`  preview   ${releaseText(rec, id)}, with a signed ${RELEASE_PREVIEW_COOKIE} cookie only`);
  const pinned = Object.entries(rec.u ?? {}).filter(([id, until]) => until > now && rec.r[id] !== undefined && id !== rec.c && rec.k?.[0] !== id);
  for (const [id, until] of pinned) lines.push(`  pinned    ${releaseText(rec, id)} until ${iso(until)}, for viewers that name it`);
  const targets = [...(rec.h ?? [])].reverse().filter((id) => rec.r[id] !== undefined);
  if (targets.length) lines.push(`  rollback  to ${targets.join(', then ')}`);
  if (rec.b) lines.push(`  last rollback: ${rec.b[2]} taken out by ${rec.b[0]} at ${iso(rec.b[1])}`);
  return lines;
}

/**
 * The lines `release --preview` prints: the signed cookie
 * (`mz-release=<zone>.<id>.<expiry>.<signature>`), then how to set it;
 * `url` is where the site answers, for the curl hint.
 */
export function releasePreviewLines(zone: string, id: string, ttlSeconds: number, secret: string, url: string, nowMs: number = Date.now()): string[] {
  const expiry = Math.floor(nowMs / 1000) + ttlSeconds;
  const cookie = `${RELEASE_PREVIEW_COOKIE}=${releasePreviewEntry(zone, id, expiry, secret)}`;
  return [
    cookie,
    `set it in the browser devtools console on the site: document.cookie = "${cookie}; path=/; max-age=${ttlSeconds}"; or with curl: curl -b '${cookie}' ${url}` +
      ` (release ${id} of ${zone} for its holder until ${iso(expiry)}; previews of several zones: join entries with "," in one ${RELEASE_PREVIEW_COOKIE} cookie)`,
  ];
}
