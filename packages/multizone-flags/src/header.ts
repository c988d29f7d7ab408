/**
 * The contract between the edge and the zones: one request header whose value
 * lists the edge's decision for every zone flag, `name=on` or `name=off`,
 * comma-separated without spaces, e.g. `new-checkout=off,new-nav=on`.
 */
export const ZONE_FLAGS_HEADER = 'x-multizone-flags';

/**
 * The longest header value read. 60 flags of the longest name (128 characters)
 * fit; anything longer is not what the edge writes, and the bound keeps a
 * zone's per-request parse cheap whatever a client sends.
 */
export const MAX_ZONE_FLAGS_HEADER_LENGTH = 8192;

/** The construct's flag name rule (lib/flags.ts): the KeyValueStore key. */
const FLAG_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** What a header value reads as. */
export type ParsedZoneFlags =
  | { readonly status: 'ok'; readonly flags: Readonly<Record<string, boolean>> }
  | { readonly status: 'missing' }
  | { readonly status: 'malformed'; readonly problem: string };

/**
 * Parses a header value. Any fault makes the whole header unreadable rather
 * than keeping the entries that parsed: a half-read header would turn some
 * flags on and others off in a combination the edge never decided.
 */
export function parseZoneFlagsHeader(value: string | undefined): ParsedZoneFlags {
  if (value === undefined) return { status: 'missing' };
  if (value.length > MAX_ZONE_FLAGS_HEADER_LENGTH) {
    return malformed(`is ${value.length} characters, over ${MAX_ZONE_FLAGS_HEADER_LENGTH}`);
  }
  const flags: Record<string, boolean> = Object.create(null);
  if (value === '') return { status: 'ok', flags: Object.freeze(flags) };
  for (const entry of value.split(',')) {
    const equals = entry.indexOf('=');
    const name = equals < 0 ? entry : entry.slice(0, equals);
    const state = equals < 0 ? undefined : entry.slice(equals + 1);
    if (!FLAG_NAME.test(name)) return malformed(`has an invalid flag name "${name}"`);
    if (state !== 'on' && state !== 'off') return malformed(`gives flag "${name}" the value "${state ?? ''}"; expected on or off`);
    if (name in flags) return malformed(`names flag "${name}" twice`);
    flags[name] = state === 'on';
  }
  return { status: 'ok', flags: Object.freeze(flags) };
}

function malformed(what: string): ParsedZoneFlags {
  return { status: 'malformed', problem: `${ZONE_FLAGS_HEADER} ${what}` };
}
