import * as fs from 'fs';
import * as path from 'path';
import { MultiZoneValidationError, flagNameProblem, flagValueProblem, LOCAL_PREVIEW_SECRET_FILE, newPreviewSecret, PREVIEW_SECRET_KEY } from 'multizone-distribution/internal';

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
  writeJsonFile(file, flags);
  return flags;
}

/** Writes a local edge file as indented JSON: written then renamed, so a local edge reading it never sees half of it. */
export function writeJsonFile(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  fs.renameSync(tmp, file);
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

/**
 * The store values the local edge's functions read over the template's:
 * the flag file's flags, read again only when the file changes, and the
 * local preview secret when the site has previewable flags.
 */
export class FlagSource {
  private stamp = '';
  private values: Record<string, string> = {};

  constructor(
    private readonly file: string,
    private readonly log: (line: string) => void,
    /** Whether a flag is previewable: preview cookies are signed with the local secret (`multizone flags preview --local` creates it). */
    private readonly previews: boolean,
  ) {}

  /** The values a request's functions read; throws when the flag file cannot be read. */
  public storeValues(): Record<string, string> {
    const flags = this.flags();
    const secret = this.previews ? readLocalPreviewSecret(this.file) : undefined;
    return secret ? { ...flags, [PREVIEW_SECRET_KEY]: secret } : flags;
  }

  private flags(): Record<string, string> {
    const s = fs.statSync(this.file, { throwIfNoEntry: false });
    const stamp = s ? `${s.ino}:${s.mtimeMs}:${s.size}` : 'absent';
    if (stamp !== this.stamp) {
      const read = readFlagFile(this.file);
      const values: Record<string, string> = {};
      for (const [name, value] of Object.entries(read)) {
        // Only flag names: the store's internal keys (routing table) are not the flag file's to change.
        if (flagNameProblem(name)) this.log(`flag file ${this.file}: ignoring "${name}" (not a flag name)`);
        else values[name] = value;
      }
      this.values = values;
      this.stamp = stamp;
      const shown = Object.entries(values).map(([k, v]) => `${k}=${v}`);
      this.log(`flags from ${this.file}: ${shown.length > 0 ? shown.join(', ') : '(none set: the template\'s initial values apply)'}`);
    }
    return this.values;
  }
}
