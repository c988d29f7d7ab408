/**
 * A behavior's viewer-response function, run on the zone's response the
 * way CloudFront runs it: the response's status, headers and cookies in
 * the function's event shape, and what the function returns as the
 * viewer's status and headers. The body passes through untouched.
 */
import type * as http from 'http';
import { FunctionResponse, setCookieHeaders } from '../edge-function/sandbox';

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

/** The headers the viewer gets after a viewer-response function: what it returned, with the zone's framing headers kept. */
export function afterViewerResponse(zoneHeaders: http.IncomingHttpHeaders, returned: Record<string, any>): http.OutgoingHttpHeaders {
  const out = viewerHeaders(returned);
  for (const name of FRAMING) {
    delete out[name];
    if (zoneHeaders[name] !== undefined) out[name] = zoneHeaders[name];
  }
  return out;
}
