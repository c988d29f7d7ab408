/**
 * Lambda@Edge origin-request functions run on their own bundled code (the
 * asset the template deploys), with the event CloudFront gives them: the
 * request as it leaves for the origin, and the body when the association
 * includes it (base64, its first 1 MB, `inputTruncated` past that).
 */
import * as path from 'path';
import { MultiZoneValidationError, limitValue } from 'multizone-distribution/internal';

/** How much of a request body an origin-request function with include body sees ("Restrictions on Lambda@Edge"). */
export const MAX_INCLUDED_BODY = limitValue('lambda-edge-origin-request-body');

/** Headers in Lambda@Edge's shape: lower-case name to its values. */
export type EdgeHeaders = Record<string, Array<{ key?: string; value: string }>>;

/** The request of an origin-request event. */
export interface EdgeRequest {
  clientIp: string;
  method: string;
  uri: string;
  querystring: string;
  headers: EdgeHeaders;
  origin: { custom: { domainName: string; port: number; protocol: string; path: string; customHeaders: EdgeHeaders; sslProtocols: string[]; readTimeout: number; keepaliveTimeout: number } };
  body?: { action: 'read-only'; data: string; encoding: 'base64'; inputTruncated: boolean };
}

/** A response a request function generates instead of asking the origin. */
export interface EdgeResponse {
  status: string;
  statusDescription?: string;
  headers?: EdgeHeaders;
  body?: string;
  bodyEncoding?: 'text' | 'base64';
}

/** A Lambda@Edge origin-request event. */
export interface OriginRequestEvent {
  Records: Array<{ cf: { config: { distributionDomainName: string; distributionId: string; eventType: 'origin-request'; requestId: string }; request: EdgeRequest } }>;
}

/** A loaded Lambda@Edge handler (Node.js, async). */
export type EdgeHandler = (event: OriginRequestEvent) => Promise<EdgeRequest | EdgeResponse>;

/**
 * Loads the handler a Lambda function's `Handler` names (`index.handler`:
 * the `handler` export of `index.js`) from its code directory, as the
 * Node.js runtime does.
 */
export function loadEdgeHandler(directory: string, handler: string, name: string): EdgeHandler {
  const dot = handler.lastIndexOf('.');
  const file = path.join(directory, `${handler.slice(0, dot)}.js`);
  let fn: unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    fn = require(file)[handler.slice(dot + 1)];
  } catch (e) {
    throw new MultiZoneValidationError(`Template: Lambda@Edge function "${name}": its handler ${handler} does not load from ${directory} (${(e as Error).message})`);
  }
  if (typeof fn !== 'function') throw new MultiZoneValidationError(`Template: Lambda@Edge function "${name}": ${file} exports no function "${handler.slice(dot + 1)}"`);
  return fn as EdgeHandler;
}

/** Headers as node gives them (lower-case name to value or values) in Lambda@Edge's shape. */
export function edgeHeaders(headers: Record<string, string | string[] | undefined>): EdgeHeaders {
  const out: EdgeHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = (Array.isArray(value) ? value : [value]).map((v) => ({ key: name, value: String(v) }));
  }
  return out;
}

/** Lambda@Edge headers back as node's: one value, or a list for a repeated header. */
export function nodeHeaders(headers: EdgeHeaders | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, values] of Object.entries(headers ?? {})) {
    const list = values.map((v) => v.value);
    out[name.toLowerCase()] = list.length === 1 ? list[0] : list;
  }
  return out;
}

/** The body as an include-body event carries it: base64 of at most its first 1 MB, and whether it was cut. */
export function includedBody(body: Buffer): NonNullable<EdgeRequest['body']> {
  const truncated = body.length > MAX_INCLUDED_BODY;
  return { action: 'read-only', data: (truncated ? body.subarray(0, MAX_INCLUDED_BODY) : body).toString('base64'), encoding: 'base64', inputTruncated: truncated };
}

/** Whether a function's result is a response of its own rather than the request to forward. */
export function isEdgeResponse(result: EdgeRequest | EdgeResponse): result is EdgeResponse {
  return typeof (result as EdgeResponse).status === 'string' || typeof (result as EdgeResponse).status === 'number';
}
