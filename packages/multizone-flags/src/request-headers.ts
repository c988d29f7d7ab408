import { ZONE_FLAGS_HEADER } from './header';

/** A WHATWG `Headers` or anything shaped like it: App Router `headers()`, route handlers, middleware/proxy `request.headers`. */
export interface HeaderReader {
  /** The header's value, or null when absent. */
  get(name: string): string | null;
}

/**
 * A header record: Node's `IncomingHttpHeaders` (Pages Router `req.headers`,
 * names lower-case, values string or string[]) or a plain object.
 */
export interface HeaderRecord {
  readonly [name: string]: unknown;
}

/** The request headers a zone can hand over, from any Next.js router. */
export type ZoneRequestHeaders = HeaderReader | HeaderRecord;

/**
 * The zone flags header's value, or `undefined` when absent. A record's
 * repeated values are joined with ", " as `Headers` joins repeated lines; the
 * edge writes exactly one, and the parser refuses the joined form.
 */
export function zoneFlagsHeaderValue(headers: ZoneRequestHeaders | null | undefined): string | undefined {
  if (headers === null || typeof headers !== 'object') return undefined;
  if (typeof headers.get === 'function') {
    const value = (headers as HeaderReader).get(ZONE_FLAGS_HEADER);
    return typeof value === 'string' ? value : undefined;
  }
  const values: string[] = [];
  for (const name of Object.keys(headers)) {
    if (name.toLowerCase() !== ZONE_FLAGS_HEADER) continue;
    const value = (headers as HeaderRecord)[name];
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one !== undefined) values.push(String(one));
    }
  }
  return values.length === 0 ? undefined : values.join(', ');
}
