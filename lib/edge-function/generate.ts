import { limitValue } from '../limits';
import { MultiZoneValidationError } from '../errors';
import { PREVIEW_COOKIE, PREVIEW_SECRET_KEY } from '../preview';
import { HANDLER_WITHOUT_ROUTES, PRELUDE, ROUTER } from './router-source';

/** CloudFront Functions' hard limit on code size, in bytes (lib/limits.ts). */
export const MAX_FUNCTION_CODE_BYTES = limitValue('function-code-size');

/** The header the function sets to the chosen zone's name; cache keys of movable paths include it. */
export const ZONE_HEADER = 'x-multizone-zone';

/** What the generated function needs to know. */
export interface RouterCodeOptions {
  /** Whether the viewer's Host is copied to x-forwarded-host. */
  readonly forwardViewerHost: boolean;
  /** The routing table in the KeyValueStore; leave out when there is nothing to route. */
  readonly routes?: {
    /** The default zone's `[name, origin id]`; the table values carry the other zones. */
    readonly defaultZone: [string, string];
    /** The table's versioned key prefix. */
    readonly keyPrefix: string;
    /** The table's number of first-segment buckets (KvsRoutingTable.bucketCount). */
    readonly bucketCount: number;
    /** The most table values a request may read (KvsRoutingTable.maxReads); reads past it count as an unreachable store. */
    readonly maxReads: number;
    /** Cookie that keeps a viewer in the same rollout bucket; '' for the viewer IP only. */
    readonly bucketCookie: string;
    /**
     * Flags a signed preview cookie may set for its holder.
     *
     * @default - none
     */
    readonly previewFlags?: string[];
  };
}

/**
 * Generates the viewer-request function's code. Comment lines and
 * indentation are dropped: the code must stay below CloudFront's 10 KB
 * ("Restrictions on edge functions", not adjustable), and its size grows
 * with neither routes, overrides nor zones, which live in the
 * KeyValueStore; only with the names of previewable flags. Throws when it
 * would not fit.
 */
export function generateRouterCode(options: RouterCodeOptions): string {
  const parts = options.routes
    ? [
        "import cf from 'cloudfront';",
        PRELUDE,
        ROUTER.replace('__DEFAULT_ZONE__', () => JSON.stringify(options.routes!.defaultZone))
          .replace('__PREFIX__', () => JSON.stringify(options.routes!.keyPrefix))
          // Padded to a fixed width, so the code's size is the same whatever the table.
          .replace('__BUCKETS__', String(options.routes.bucketCount).padStart(4, ' '))
          .replace('__MAX_READS__', String(options.routes.maxReads))
          .replace('__BUCKET_COOKIE__', () => JSON.stringify(options.routes!.bucketCookie))
          .replace('__PREVIEW_FLAGS__', () => JSON.stringify(options.routes!.previewFlags ?? []))
          .replace('__PREVIEW_COOKIE__', JSON.stringify(PREVIEW_COOKIE))
          .replace('__PREVIEW_SECRET_KEY__', JSON.stringify(PREVIEW_SECRET_KEY)),
      ]
    : [PRELUDE, HANDLER_WITHOUT_ROUTES];
  const code = parts
    .join('\n')
    .replace('__FORWARD_HOST__', String(options.forwardViewerHost))
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('//'))
    .join('\n')
    .concat('\n');
  const bytes = Buffer.byteLength(code);
  if (bytes > MAX_FUNCTION_CODE_BYTES) {
    throw new MultiZoneValidationError(
      `${options.routes ? 'Router' : 'Host forwarder'} function: the generated code is ${bytes} bytes, CloudFront Functions allow at most ${MAX_FUNCTION_CODE_BYTES} (10 KB, not adjustable); ` +
        'the parts that vary are the names of previewable flags, bucketCookie and the default zone\'s name and origin id: mark fewer overrides preview: true or shorten those names',
    );
  }
  return code;
}
