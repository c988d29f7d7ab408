import { createHmac, randomBytes } from 'crypto';

/**
 * Signed preview cookies: a viewer holding a valid one sees a previewable
 * flag at the cookie's value (on or off), whatever the store says.
 *
 * The cookie `mz-preview` holds one or more comma-separated entries
 * `<flag>.<on|off>.<expiry>.<signature>`: expiry in unix seconds, the
 * signature the hex HMAC-SHA256 of `<flag>.<on|off>.<expiry>` keyed with
 * the secret stored under {@link PREVIEW_SECRET_KEY}. The edge function
 * ignores entries for flags that are not previewable, expired entries,
 * bad signatures and anything malformed.
 */

/** The preview cookie's name. */
export const PREVIEW_COOKIE = 'mz-preview';

/**
 * KeyValueStore key of the preview signing secret: not a flag name (`:`),
 * and outside the construct's `mz:` keys, which deploys garbage-collect.
 */
export const PREVIEW_SECRET_KEY = 'preview:secret';

/** File holding the local edge's preview secret, next to its flag file. */
export const LOCAL_PREVIEW_SECRET_FILE = 'preview-secret';

/** Preview cookies live at most this long (30 days), in seconds. */
export const MAX_PREVIEW_TTL_SECONDS = 30 * 24 * 3600;

/** A fresh signing secret: 32 random bytes, hex. */
export function newPreviewSecret(): string {
  return randomBytes(32).toString('hex');
}

/** The hex HMAC-SHA256 signature of one preview entry. */
export function previewSignature(flag: string, value: 'on' | 'off', expiry: number, secret: string): string {
  return createHmac('sha256', secret).update(`${flag}.${value}.${expiry}`).digest('hex');
}

/** One signed cookie entry: `<flag>.<on|off>.<expiry>.<signature>`. */
export function previewEntry(flag: string, value: 'on' | 'off', expiry: number, secret: string): string {
  return `${flag}.${value}.${expiry}.${previewSignature(flag, value, expiry, secret)}`;
}

/** A preview time to live such as `90s`, `30m`, `1h`, `7d` (or plain seconds), in seconds; undefined when unreadable. */
export function parsePreviewTtl(text: string): number | undefined {
  const m = /^([1-9][0-9]{0,6})(s|m|h|d)?$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
}
