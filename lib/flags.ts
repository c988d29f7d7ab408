import { createHash } from 'crypto';

/**
 * Feature flags: their names, their values, and how they sit in the
 * KeyValueStore.
 *
 * A flag's value lives in the store under the key that is the flag's own
 * name. Values are `on`, `off` or a whole percentage `N%` (0 to 100) of
 * viewers. Every other key of the construct has a `:`, which a flag name
 * cannot contain, so the two never collide (see {@link isInternalKey}).
 */

/**
 * Root of the keys a site's store sync writes for itself:
 * `mz-site:<site>:...` (lib/kvs-sync/table-file.ts). Not under
 * {@link LEGACY_KEY_PREFIX}: syncs of earlier releases, which may still
 * deploy other sites on a shared store, take every `mz:` key for one of
 * their own table versions and delete it.
 */
export const SITE_KEY_PREFIX = 'mz-site:';

/**
 * Root of the table keys of earlier releases, `mz:<version>:...`: one key
 * set per table version, whatever the site, so the store cannot tell
 * whose they are.
 */
export const LEGACY_KEY_PREFIX = 'mz:';

/** Whether a store key is the construct's (a table key, a record, the preview secret) rather than a flag: flag names have no `:`. */
export function isInternalKey(key: string): boolean {
  return key.includes(':');
}

/** Flag names: KVS-safe, readable in a URL or a shell, and unable to collide with internal keys. */
const FLAG_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const FLAG_VALUE = /^(on|off|(100|[1-9]?[0-9])%)$/;

/** Why `name` cannot be a flag name, or undefined when it can. */
export function flagNameProblem(name: string): string | undefined {
  if (FLAG_NAME.test(name)) return undefined;
  return `flag name "${name}" must be 1 to 128 letters, digits, ".", "_" or "-", starting with a letter or digit (it is the KeyValueStore key)`;
}

/** Why `value` is not a flag value, or undefined when it is. */
export function flagValueProblem(value: string): string | undefined {
  if (FLAG_VALUE.test(value)) return undefined;
  return `value "${value}" must be "on", "off" or a whole percentage from "0%" to "100%"`;
}

/** The share of viewers a valid flag value turns on, from 0 to 100. */
export function flagPercent(value: string): number {
  if (value === 'on') return 100;
  if (value === 'off') return 0;
  return parseInt(value, 10);
}

/** The value a flag takes when `flags` leaves it out. */
export const DEFAULT_FLAG_VALUE = 'off';

/**
 * A viewer's bucket (0-99) in a flag's percentage rollout: the first 32
 * bits of sha1("<flag>|<viewer key>") modulo 100. A flag at N% is on for
 * buckets below N. The edge function computes the same, so a viewer stays
 * in the same bucket on every request, and flags roll out independently.
 */
export function rolloutBucket(flag: string, viewerKey: string): number {
  return parseInt(createHash('sha1').update(`${flag}|${viewerKey}`).digest('hex').slice(0, 8), 16) % 100;
}

/** Whether a stored flag value turns the flag on for a viewer; anything not on/off/N% is off. */
export function flagIsOnFor(flag: string, storedValue: string | undefined, viewerKey: string): boolean {
  if (storedValue === undefined || flagValueProblem(storedValue)) return false;
  return rolloutBucket(flag, viewerKey) < flagPercent(storedValue);
}
