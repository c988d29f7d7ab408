/**
 * The local edge's release records: a file beside the flag file,
 * `{ "<zone>": <record object> }`, that `multizone release|promote|rollback
 * --local` write and the edge reads on every request, so a command is in
 * force from the next request on. The records reach the functions under
 * the store keys the site metadata gives, as the deployed store holds them.
 */
import * as fs from 'fs';
import * as path from 'path';
import { MultiZoneValidationError } from 'multizone-distribution/internal';
import type { SiteZoneReleases } from '../synthesized-site';
import { DEFAULT_FLAG_FILE, writeJsonFile } from './flag-file';

/** The local release records file's name, beside the flag file. */
export const RELEASES_FILE_NAME = 'releases.json';

/** Where the local edge keeps release records unless told otherwise: beside the default flag file. */
export const DEFAULT_RELEASES_FILE = path.join(path.dirname(DEFAULT_FLAG_FILE), RELEASES_FILE_NAME);

/** The release records file beside a flag file (`--flags-file`). */
export function releasesFileBeside(flagsFile: string = DEFAULT_FLAG_FILE): string {
  return path.join(path.dirname(flagsFile), RELEASES_FILE_NAME);
}

/** Zone name to release record (the object the store value's JSON holds). */
export type LocalReleases = Record<string, Record<string, unknown>>;

const isRecordObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The release records of the local releases file, zone name to record;
 * `{}` when the file is absent. Throws a one-line error naming the file
 * when it is not a JSON object of zone name to record object.
 */
export function readLocalReleases(file: string = DEFAULT_RELEASES_FILE): LocalReleases {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new MultiZoneValidationError(`Releases file ${file}: cannot be read (${(e as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new MultiZoneValidationError(`Releases file ${file}: not valid JSON (${(e as Error).message})`);
  }
  if (!isRecordObject(parsed)) throw new MultiZoneValidationError(`Releases file ${file}: must be a JSON object of zone name to release record`);
  const bad = Object.entries(parsed).find(([, record]) => !isRecordObject(record));
  if (bad) throw new MultiZoneValidationError(`Releases file ${file}: zone "${bad[0]}": its release record must be a JSON object`);
  return parsed as LocalReleases;
}

/**
 * Writes one zone's release record (its JSON text, as the store value
 * holds it) to the local releases file, keeping the other zones', and
 * returns the file's records. Written then renamed, so the edge reading it
 * never sees half of it. Throws, writing nothing, when `recordJson` is not
 * a JSON object or the file is damaged.
 */
export function writeLocalRelease(zone: string, recordJson: string, file: string = DEFAULT_RELEASES_FILE): LocalReleases {
  let record: unknown;
  try {
    record = JSON.parse(recordJson);
  } catch (e) {
    throw new MultiZoneValidationError(`Zone "${zone}": the release record is not valid JSON (${(e as Error).message})`);
  }
  if (!isRecordObject(record)) throw new MultiZoneValidationError(`Zone "${zone}": the release record must be a JSON object`);
  const releases = { ...readLocalReleases(file), [zone]: record };
  writeJsonFile(file, releases);
  return releases;
}

/**
 * The store values the local edge's functions read for releases: each
 * record of the releases file under its zone's store key, read again on
 * every request. A damaged file gives no records and one log line (again
 * only when what is wrong changes); a record for a zone without releases
 * in the template is left out, with a log line.
 */
export class ReleaseSource {
  private lastNote = '';

  constructor(
    private readonly file: string,
    private readonly zones: Record<string, SiteZoneReleases>,
    private readonly log: (line: string) => void,
  ) {}

  /** Store key to record JSON; empty when the site has no zone with releases. */
  public storeValues(): Record<string, string> {
    if (Object.keys(this.zones).length === 0) return {};
    let releases: LocalReleases;
    try {
      releases = readLocalReleases(this.file);
    } catch (e) {
      this.note(`error: ${(e as Error).message}; no release records apply (each zone is served by its template origin)`);
      return {};
    }
    const values: Record<string, string> = {};
    const ignored: string[] = [];
    for (const [zone, record] of Object.entries(releases)) {
      if (this.zones[zone]) values[this.zones[zone].key] = JSON.stringify(record);
      else ignored.push(zone);
    }
    const used = Object.keys(releases).filter((z) => !ignored.includes(z));
    this.note(
      `releases from ${this.file}: ${used.length > 0 ? used.join(', ') : '(none)'}${ignored.map((z) => `; ignoring zone "${z}" (the template gives it no releases)`).join('')}`,
    );
    return values;
  }

  /** Logs a line when it differs from the last one, so a request does not repeat what the one before said. */
  private note(line: string): void {
    if (line === this.lastNote) return;
    this.lastNote = line;
    this.log(line);
  }
}
