/** The answers the local edge gives itself instead of a zone's: its error pages, and a viewer-request function's own response. */
import * as http from 'http';
import type { Duplex } from 'stream';
import { FunctionResponse, setCookieHeaders } from '../edge-function/sandbox';
import type { OriginRequestOutcome } from '../synthesized-site';
import type { ZoneTarget } from './zones';

export interface Failure {
  readonly status: number;
  readonly title: string;
  readonly html: string;
}

export function failure(status: number, title: string, html: string): Failure {
  return { status, title, html };
}

/** The viewer's headers from a response a function returned (a viewer-response result, or a viewer-request's own answer). */
export function viewerHeaders(response: Record<string, any>): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, h] of Object.entries<any>(response.headers ?? {})) {
    const values = h?.multiValue?.length ? h.multiValue.map((m: any) => String(m.value)) : [String(h?.value ?? '')];
    out[name.toLowerCase()] = values.length === 1 ? values[0] : values;
  }
  const cookies = setCookieHeaders(response as Pick<FunctionResponse, 'cookies'>);
  if (cookies.length > 0) out['set-cookie'] = cookies;
  return out;
}

export function sendFunctionResponse(res: http.ServerResponse, response: Record<string, any>): void {
  res.statusCode = Number(response.statusCode);
  if (typeof response.statusDescription === 'string') res.statusMessage = response.statusDescription;
  for (const [name, value] of Object.entries(viewerHeaders(response))) if (value !== undefined) res.setHeader(name, value);
  const body = response.body;
  if (body === undefined || body === null) res.end();
  else if (typeof body === 'string') res.end(body);
  else res.end(Buffer.from(String(body.data ?? ''), body.encoding === 'base64' ? 'base64' : 'utf8'));
}

/**
 * An origin-request Lambda@Edge function's own answer, as it gave it: the
 * body hash answers only 413, and CloudFront runs no viewer-response
 * function on a status of 400 or more.
 */
export function sendLambdaResponse(res: http.ServerResponse, response: NonNullable<OriginRequestOutcome['response']>): void {
  res.writeHead(response.status, response.statusDescription, { ...response.headers, 'content-length': response.body.length });
  res.end(response.body);
}

export function noUrlPage(zone: string, target: ZoneTarget | undefined): Failure {
  const why = target?.problem ?? 'it is not a zone of the template';
  return failure(
    502,
    `Zone ${zone} has no local URL`,
    `<p>This request belongs to zone <b>${escapeHtml(zone)}</b>, which has no local URL: ${escapeHtml(why)}.</p><p>Start it locally and pass <code>--zone ${escapeHtml(zone)}=http://localhost:PORT</code>.</p>`,
  );
}

export function unreachablePage(zone: string, url: string, err: Error): Failure {
  return failure(
    502,
    `Zone ${zone} is unreachable`,
    `<p>The local edge could not reach zone <b>${escapeHtml(zone)}</b> at <code>${escapeHtml(url)}</code>: ${escapeHtml(err.message)}.</p>` +
      `<p>Is the zone running? Start it (for example <code>next dev</code>) or point the edge elsewhere with <code>--zone ${escapeHtml(zone)}=URL</code>.</p>`,
  );
}

function pageHtml(f: Failure): string {
  return `<!doctype html>\n<html><head><meta charset="utf-8"><title>${f.status} ${escapeHtml(f.title)} | multizone local edge</title></head>\n<body><h1>${f.status} ${escapeHtml(f.title)}</h1>\n${f.html}\n<hr><p><small>multizone local edge</small></p></body></html>\n`;
}

export function sendPage(res: http.ServerResponse, f: Failure): void {
  const body = pageHtml(f);
  res.writeHead(f.status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', 'x-multizone-error': f.title });
  res.end(body);
}

export function writeRawPage(socket: Duplex, f: Failure): void {
  if (!socket.writable) return;
  const body = pageHtml(f);
  socket.end(
    `HTTP/1.1 ${f.status} ${http.STATUS_CODES[f.status] ?? 'Error'}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-multizone-error: ${f.title}\r\nconnection: close\r\n\r\n${body}`,
  );
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
