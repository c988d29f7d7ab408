import { limitValue } from './limits';

/**
 * Zone flags: flags the edge decides for every page request and forwards
 * to the zone in one request header, so every zone sees the same decision
 * for a viewer. The header's format is the zone package's contract
 * (packages/multizone-flags/src/header.ts): `name=on` or `name=off`,
 * sorted by name, comma-separated without spaces.
 */

/** The request header carrying the decisions (the zone package's ZONE_FLAGS_HEADER). */
export const ZONE_FLAGS_HEADER = 'x-multizone-flags';

/** The longest header value the zone package reads (its MAX_ZONE_FLAGS_HEADER_LENGTH); longer reads as malformed. */
export const MAX_ZONE_FLAGS_HEADER_LENGTH = 8192;

/** The most zone flags a site may have: each is a store read on every page request (lib/limits.ts). */
export const MAX_ZONE_FLAGS = limitValue('zone-flags-per-request');

/**
 * The edge's first-party visitor-id cookie: 32 hex characters the edge
 * derives from the request id of a viewer's first bucketed request, used
 * for that request's rollout buckets and set on its response, so later
 * requests, in every zone, fall in the same buckets.
 */
export const VISITOR_COOKIE = 'mz-vid';

/** The visitor cookie's attributes: HTTPS only, out of reach of page scripts, sent on top-level navigations from other sites, whole site. */
export const VISITOR_COOKIE_ATTRIBUTES = `Secure; HttpOnly; SameSite=Lax; Path=/; Max-Age=${limitValue('cookie-max-age')}`;

/** Whether a cookie value is a visitor id the edge writes. */
export function isVisitorId(value: string): boolean {
  return /^[0-9a-f]{32}$/.test(value);
}
