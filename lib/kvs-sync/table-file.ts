/**
 * The file `KvsTableSync` writes as an S3 asset and its handler reads: what
 * the store gets from one deploy. Kept out of the template so neither the
 * template nor the custom resource event grows with the table. Shared by
 * the construct and the bundled handler, so it imports nothing of the CDK.
 *
 * Also the layout of the keys a site writes in a store, which several sites
 * may share. Each site's keys live under `mz-site:<site>:`:
 *
 * - `mz-site:<site>:<version>:<key>`: the routing table of one version;
 * - `mz-site:<site>:<version>:@since`: when that version became current;
 * - `mz-site:<site>:@site`: the site's record (its name, stack and the
 *   number of its functions associated with the store);
 * - `mz-site:<site>:@adopted:<version>`: a table `mz:<version>:` of the
 *   earlier layout that this site wrote, deleted with the site's own
 *   versions once replaced;
 * - `mz-site:<site>:@release:<zone>`: a zone's releases
 *   (lib/releases/record.ts), written at deploy when missing or when the
 *   template's deployment id changed, and by the `multizone` release
 *   commands between deploys.
 *
 * Flags (keys without `:`) and the preview secret are shared by the sites.
 */

import { LEGACY_KEY_PREFIX, SITE_KEY_PREFIX } from '../flags';

/** Name of the asset file (its directory is a fresh one, so the asset's hash is of this content alone). */
export const TABLE_FILE_NAME = 'kvs-table.json';

/** The asset file's JSON. */
export interface TableFile {
  /** Construct-owned keys and their values, every key under `mz-site:<site>:<version>:`. */
  readonly entries: Record<string, string>;
  /** Flag keys and initial values, written only while the key is missing. */
  readonly initialFlags: Record<string, string>;
  /**
   * The zones with releases: each record is made when missing, and told
   * when the template's deployment id changed (`reconcileTemplate`);
   * records of zones not listed are deleted. Absent from the files of
   * earlier releases, which leave records alone.
   */
  readonly releases?: Record<string, TemplateRelease>;
}

/** A zone's release as the template has it. */
export interface TemplateRelease {
  /** The deployment id of the build behind the zone's origin. */
  readonly deploymentId: string;
  /** How long a replaced release keeps serving its viewers, in seconds. */
  readonly maxAgeSeconds: number;
}

/** A site id: 10 hex characters, from the stack name and the construct path (`siteKeyId`). */
export const SITE_ID = /^[0-9a-f]{10}$/;

/** A table version: 8 hex characters, from the table's content. */
export const TABLE_VERSION = /^[0-9a-f]{8}$/;

/** Last segment of the key recording when a table version became current (an ISO 8601 time). */
export const SINCE_KEY_SEGMENT = '@since';

/** The prefix of every key of `site`: `mz-site:<site>:`. */
export function siteKeyPrefix(site: string): string {
  return `${SITE_KEY_PREFIX}${site}:`;
}

/** The prefix of the table keys of one version of a site: `mz-site:<site>:<version>:`. */
export function tableKeyPrefix(site: string, version: string): string {
  return `${siteKeyPrefix(site)}${version}:`;
}

/** The key recording when `version` of `site` became current: `mz-site:<site>:<version>:@since`. */
export function sinceKey(site: string, version: string): string {
  return `${tableKeyPrefix(site, version)}${SINCE_KEY_SEGMENT}`;
}

/** The key of a site's record (`SiteRecord`, JSON). */
export function siteRecordKey(site: string): string {
  return `${siteKeyPrefix(site)}@site`;
}

/** What a site records of itself in a shared store, so the other sites' syncs can count its functions and name it. */
export interface SiteRecord {
  /** The site's construct path. */
  readonly name: string;
  /** The ARN of its stack, without the stack's unique suffix (`arn:...:stack/<name>`); empty when unknown. */
  readonly stack: string;
  /** Its functions associated with the store. */
  readonly functions: number;
}

/** The key marking the earlier-layout table `mz:<version>:` as written by `site`. */
export function adoptedKey(site: string, legacyVersion: string): string {
  return `${siteKeyPrefix(site)}@adopted:${legacyVersion}`;
}

/** The prefix of an earlier-layout table version: `mz:<version>:`. */
export function legacyKeyPrefix(version: string): string {
  return `${LEGACY_KEY_PREFIX}${version}:`;
}

/** The key recording when an earlier-layout table version became current. */
export function legacySinceKey(version: string): string {
  return `${legacyKeyPrefix(version)}${SINCE_KEY_SEGMENT}`;
}

/** The prefix of the release records of `site`: `mz-site:<site>:@release:`, followed by the zone's name. */
export function releaseKeyPrefix(site: string): string {
  return `${siteKeyPrefix(site)}@release:`;
}

/** The key of a zone's release record (lib/releases/record.ts): outside every table version, so table syncs keep it. */
export function releaseKey(site: string, zone: string): string {
  return `${releaseKeyPrefix(site)}${zone}`;
}
