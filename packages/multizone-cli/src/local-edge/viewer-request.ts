import type * as http from 'http';
import { firstOfEach, pairs } from '../edge-function/sandbox';

/** The request as the viewer sent it, in the shapes the function event wants. */
export interface ViewerRequest {
  readonly method: string;
  readonly path: string;
  /** The raw query string, without `?` ('' when none). */
  readonly query: string;
  readonly host: string;
  readonly ip: string;
  /** Lower-case names; repeated headers joined with ", "; no host, no cookie. */
  readonly headers: Record<string, string>;
  /** The raw `cookie` header. */
  readonly cookieHeader: string;
  readonly cookieMap: Record<string, string>;
  readonly queryMap: Record<string, string>;
}

export function viewerRequest(req: http.IncomingMessage): ViewerRequest {
  const raw = req.url ?? '/';
  const at = raw.indexOf('?');
  const path = at < 0 ? raw : raw.slice(0, at);
  const query = at < 0 ? '' : raw.slice(at + 1);
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (name === 'host' || name === 'cookie' || !values) continue;
    headers[name] = values.join(', ');
  }
  const cookieHeader = (req.headersDistinct.cookie ?? []).join('; ');
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    path: path.startsWith('/') ? path : `/${path}`,
    query,
    host: req.headers.host ?? 'localhost',
    ip: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
    headers,
    cookieHeader,
    cookieMap: firstOfEach(pairs(cookieHeader, ';')),
    queryMap: firstOfEach(pairs(query, '&')),
  };
}
