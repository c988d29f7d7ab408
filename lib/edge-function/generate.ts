import { limitValue } from '../limits';
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
    /** `[zone name, origin id]` per zone, in the table's zone order (default zone first). */
    readonly zones: Array<[string, string]>;
    /** The table's versioned key prefix. */
    readonly keyPrefix: string;
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
 * indentation are dropped: the code must stay far below CloudFront's
 * 10 KB, and its size does not depend on the number of routes or
 * overrides, which live in the KeyValueStore.
 */
export function generateRouterCode(options: RouterCodeOptions): string {
  const parts = options.routes
    ? [
        "import cf from 'cloudfront';",
        PRELUDE,
        ROUTER.replace('__ZONES__', JSON.stringify(options.routes.zones))
          .replace('__PREFIX__', JSON.stringify(options.routes.keyPrefix))
          .replace('__BUCKET_COOKIE__', JSON.stringify(options.routes.bucketCookie))
          .replace('__PREVIEW_FLAGS__', JSON.stringify(options.routes.previewFlags ?? []))
          .replace('__PREVIEW_COOKIE__', JSON.stringify(PREVIEW_COOKIE))
          .replace('__PREVIEW_SECRET_KEY__', JSON.stringify(PREVIEW_SECRET_KEY)),
      ]
    : [PRELUDE, HANDLER_WITHOUT_ROUTES];
  return parts
    .join('\n')
    .replace('__FORWARD_HOST__', String(options.forwardViewerHost))
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('//'))
    .join('\n')
    .concat('\n');
}
