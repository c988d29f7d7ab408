/**
 * A behavior's viewer-response function, run on the zone's response the
 * way CloudFront runs it: the response's status, headers and cookies in
 * the function's event shape, and what the function returns as the
 * viewer's status and headers. The body passes through untouched.
 */
import type * as http from 'http';
import { FunctionResponse } from '../edge-function/sandbox';
import type { ServedRequest, SynthesizedSite } from '../synthesized-site';
import { escapeHtml, failure, sendPage, viewerHeaders } from './pages';

/** Headers that frame the body the local edge streams on: the zone's stay, whatever the function returns. */
const FRAMING = ['content-length', 'transfer-encoding', 'content-encoding', 'connection', 'keep-alive'];

/**
 * Whether CloudFront runs a viewer-response function on a response of this
 * status: not when the origin answers 400 or higher ("Restrictions on edge
 * functions").
 */
export function runsOnStatus(statusCode: number): boolean {
  return statusCode < 400;
}

/** The zone's response as a viewer-response event's `response`: Set-Cookie lines become `cookies`, the other headers `headers`. */
export function functionResponse(statusCode: number, statusMessage: string | undefined, headers: http.IncomingHttpHeaders): FunctionResponse {
  const out: FunctionResponse = { statusCode, statusDescription: statusMessage || undefined, headers: {}, cookies: {} };
  const add = <E extends { value: string; multiValue?: E[] }>(map: Record<string, E>, name: string, entry: E) => {
    const existing = map[name];
    if (!existing) map[name] = entry;
    else existing.multiValue = [...(existing.multiValue ?? [{ ...existing }]), entry];
  };
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) {
      if (name !== 'set-cookie') {
        add(out.headers, name, { value: String(one) });
        continue;
      }
      const semi = one.indexOf(';');
      const pair = semi < 0 ? one : one.slice(0, semi);
      const eq = pair.indexOf('=');
      const attributes = semi < 0 ? '' : one.slice(semi + 1).trim();
      add(out.cookies, (eq < 0 ? pair : pair.slice(0, eq)).trim(), { value: eq < 0 ? '' : pair.slice(eq + 1).trim(), ...(attributes && { attributes }) });
    }
  }
  return out;
}

/** The headers the viewer gets after a viewer-response function: what it returned, with the zone's framing headers kept. */
export function afterViewerResponse(zoneHeaders: http.IncomingHttpHeaders, returned: Record<string, any>): http.OutgoingHttpHeaders {
  const out = viewerHeaders(returned);
  for (const name of FRAMING) {
    delete out[name];
    if (zoneHeaders[name] !== undefined) out[name] = zoneHeaders[name];
  }
  return out;
}

/**
 * The viewer-response step: the zone's response through the behavior's
 * viewer-response function (when its status lets CloudFront run it), then
 * its body streamed: the function decides the status and headers the
 * viewer gets; CloudFront's 503 page when it fails.
 */
export async function viewerResponseStep(site: SynthesizedSite, served: ServedRequest, zoneRes: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  zoneRes.on('error', () => res.destroy());
  let statusCode = zoneRes.statusCode ?? 502;
  let message = zoneRes.statusMessage;
  let headers: http.OutgoingHttpHeaders = zoneRes.headers;
  if (runsOnStatus(statusCode)) {
    try {
      const returned = await site.respond(served, functionResponse(statusCode, message, zoneRes.headers));
      headers = afterViewerResponse(zoneRes.headers, returned);
      if (Number(returned.statusCode) !== statusCode) {
        statusCode = Number(returned.statusCode);
        message = returned.statusDescription;
      }
    } catch (e) {
      zoneRes.resume();
      sendPage(res, failure(503, 'Function error', `<p>The viewer-response function of behavior <code>${escapeHtml(served.behavior.pathPattern)}</code> failed: ${escapeHtml((e as Error).message)}</p>`));
      return;
    }
  }
  res.writeHead(statusCode, message, headers);
  zoneRes.pipe(res);
}
