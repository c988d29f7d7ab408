import * as fs from 'fs';
import * as path from 'path';
import { MultiZoneValidationError, flagNameProblem, flagValueProblem, LOCAL_PREVIEW_SECRET_FILE, newPreviewSecret } from 'multizone-distribution/internal';

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

/** The local edge's preview signing secret file: `preview-secret` beside the flag file. */
export function previewSecretFile(flagsFile: string = DEFAULT_FLAG_FILE): string {
  return path.join(path.dirname(flagsFile), LOCAL_PREVIEW_SECRET_FILE);
}

/** The local edge's preview secret, or undefined when its file is absent or empty. */
export function readLocalPreviewSecret(flagsFile: string = DEFAULT_FLAG_FILE): string | undefined {
  const file = previewSecretFile(flagsFile);
  if (!fs.existsSync(file)) return undefined;
  const secret = fs.readFileSync(file, 'utf8').trim();
  return secret === '' ? undefined : secret;
}

/** The local edge's preview secret, created (32 random bytes, hex; file mode 600) when missing. */
export function ensureLocalPreviewSecret(flagsFile: string = DEFAULT_FLAG_FILE): string {
  const existing = readLocalPreviewSecret(flagsFile);
  if (existing) return existing;
  const file = previewSecretFile(flagsFile);
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const secret = newPreviewSecret();
  fs.writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
