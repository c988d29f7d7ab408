import * as fs from 'fs';
import * as path from 'path';
import { MultiZoneValidationError } from '../errors';
import { flagNameProblem, flagValueProblem } from '../flags';

/** Where the local edge keeps flag values unless told otherwise. */
export const DEFAULT_FLAG_FILE = path.join('.multizone', 'flags.json');

/** Flag values from a local flag file; an absent file means no flag is set. */
export function readFlagFile(file: string = DEFAULT_FLAG_FILE): Record<string, string> {
  if (!fs.existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new MultiZoneValidationError(`Flag file ${file}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new MultiZoneValidationError(`Flag file ${file}: must be a JSON object of flag name to value`);
  }
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
}

/** Validates and writes one flag value to a local flag file, keeping the others. */
export function writeFlag(name: string, value: string, file: string = DEFAULT_FLAG_FILE): Record<string, string> {
  const problem = flagNameProblem(name) ?? flagValueProblem(value);
  if (problem) throw new MultiZoneValidationError(`Flag "${name}": ${problem}`);
  const flags = { ...readFlagFile(file), [name]: value };
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  // Write then rename, so a local edge reading the file never sees half of it.
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(flags, null, 2) + '\n');
  fs.renameSync(tmp, file);
  return flags;
}
