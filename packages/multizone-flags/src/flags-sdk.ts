import type { Adapter } from 'flags';
import { readZoneFlags } from './read';

/** Shared by every adapter this factory returns, so the Flags SDK may group their flags. */
const ADAPTER_ID = Symbol.for('multizone-flags');

/**
 * A Flags SDK (`flags/next`) adapter: a flag declared with it decides from the
 * edge's header, `flag({ key: 'new-nav', adapter: zoneFlagAdapter() })`. A
 * flag the header does not name, or an unreadable header, decides the flag's
 * `defaultValue`, or off when it has none.
 */
export function zoneFlagAdapter<Entities = unknown>(): Adapter<boolean, Entities> {
  return {
    adapterId: ADAPTER_ID,
    decide: ({ key, headers, defaultValue }) => {
      const on = readZoneFlags(headers)[key];
      if (on !== undefined) return on;
      return typeof defaultValue === 'boolean' ? defaultValue : false;
    },
  };
}
