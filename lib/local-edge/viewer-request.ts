import type * as http from 'http';

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

/** One `name=value` of a cookie header or query string, undecoded, with its text as sent. */
export interface Pair {
  readonly name: string;
  readonly value: string;
  readonly raw: string;
}

/** The pairs of a cookie header or query string, in order. */
export function pairs(text: string, separator: string): Pair[] {
  const out: Pair[] = [];
  for (const part of text.split(separator)) {
    const raw = separator === ';' ? part.trim() : part;
    if (!raw) continue;
    const eq = raw.indexOf('=');
    out.push(eq < 0 ? { name: raw, value: '', raw } : { name: raw.slice(0, eq), value: raw.slice(eq + 1), raw });
  }
  return out;
}

/** Name to value, the first of each name winning (as the function event shows them). */
function firstOfEach(list: Pair[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of list) if (!(p.name in out)) out[p.name] = p.value;
  return out;
}
