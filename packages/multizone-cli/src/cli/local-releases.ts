/**
 * The local edge's release records: `releases.json` beside the flag file,
 * `{ "<zone>": <record> }`, which the local edge reads on every request.
 */
import * as fs from 'fs';
import * as path from 'path';
import { MultiZoneValidationError, ReleaseRecord } from 'multizone-distribution/internal';

/** The releases file beside a flag file. */
export function localReleasesFile(flagsFile: string): string {
  return path.join(path.dirname(flagsFile), 'releases.json');
}

/** The stored values of the file, zone to record (JSON text, as the store holds it); an absent file holds none. */
export function readLocalReleaseValues(file: string): Record<string, string> {
  return Object.fromEntries(Object.entries(readRecords(file)).map(([zone, rec]) => [zone, JSON.stringify(rec)]));
}

/** Writes one zone's record, keeping the others as they are; write then rename, so a local edge reading the file never sees half of it. */
export function writeLocalRelease(file: string, zone: string, rec: ReleaseRecord): void {
  const records = { ...readRecords(file), [zone]: rec };
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(records, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

function readRecords(file: string): Record<string, unknown> {
  if (!fs.existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new MultiZoneValidationError(`Releases file ${file}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new MultiZoneValidationError(`Releases file ${file}: must be a JSON object of zone name to release record`);
  return parsed as Record<string, unknown>;
}
