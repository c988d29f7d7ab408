import { parseZoneFlagsHeader } from './header';
import { zoneFlagsHeaderValue, type ZoneRequestHeaders } from './request-headers';

/**
 * The edge's decisions for this request: flag name -> on. Only flags the
 * header names are present, so an absent flag reads `undefined`, which is off.
 */
export type ZoneFlags<Name extends string = string> = Readonly<Partial<Record<Name, boolean>>>;

const NO_FLAGS: ZoneFlags = Object.freeze(Object.create(null));

/**
 * Reads the flags the edge decided for this viewer from the request's
 * headers. A missing or malformed header reads as every flag off; this never
 * throws. `Name` narrows the flag names, e.g. `readZoneFlags<'new-nav'>(h)`.
 */
export function readZoneFlags<Name extends string = string>(headers: ZoneRequestHeaders | null | undefined): ZoneFlags<Name> {
  let value: string | undefined;
  try {
    value = zoneFlagsHeaderValue(headers);
  } catch {
    // A headers object can throw on access (e.g. Next's headers() outside a request); that too reads as all off.
    return NO_FLAGS;
  }
  const parsed = parseZoneFlagsHeader(value);
  return (parsed.status === 'ok' ? parsed.flags : NO_FLAGS) as ZoneFlags<Name>;
}

/** Whether the edge turned `name` on for this viewer; false when off, absent or unreadable. */
export function isZoneFlagOn<Name extends string = string>(headers: ZoneRequestHeaders | null | undefined, name: Name): boolean {
  return readZoneFlags<Name>(headers)[name] === true;
}
