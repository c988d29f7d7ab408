import type * as http from 'http';
import type { SynthesizedSite, TemplateBehavior } from '../synthesized-site';

/** What a response headers policy does to the zone's response headers. */
export interface ResponseHeadersPolicy {
  /** Headers to add; `override` replaces the zone's own value, else the zone's wins. */
  readonly add: Array<{ readonly name: string; readonly value: string; readonly override: boolean }>;
  /** Headers removed from the zone's response. */
  readonly remove: string[];
  /** What the local edge leaves out, if anything. */
  readonly note?: string;
}

const SECURITY_HEADERS = [
  { name: 'referrer-policy', value: 'strict-origin-when-cross-origin', override: false },
  { name: 'strict-transport-security', value: 'max-age=31536000', override: false },
  { name: 'x-content-type-options', value: 'nosniff', override: true },
  { name: 'x-frame-options', value: 'SAMEORIGIN', override: false },
  { name: 'x-xss-protection', value: '1; mode=block', override: false },
];
const SIMPLE_CORS = [{ name: 'access-control-allow-origin', value: '*', override: false }];

/** AWS managed response headers policies, by id (CORS only as far as simple requests go). */
const MANAGED_RESPONSE_HEADERS_POLICIES: Record<string, ResponseHeadersPolicy> = {
  // SecurityHeadersPolicy
  '67f7725c-6f97-4210-82d7-5512b31e9d03': { add: SECURITY_HEADERS, remove: [] },
  // SimpleCORS
  '60669652-455b-4ae9-85a4-c4c02393f86c': { add: SIMPLE_CORS, remove: [] },
  // CORS-and-SecurityHeadersPolicy
  'e61eb60c-9c35-4d20-a928-2b84e02af89c': { add: [...SIMPLE_CORS, ...SECURITY_HEADERS], remove: [] },
};

/** The behavior's response headers policy: managed ones by id, the template's own read from the template. */
export function responseHeadersPolicy(site: SynthesizedSite, behavior: TemplateBehavior): ResponseHeadersPolicy {
  const ref = behavior.raw.ResponseHeadersPolicyId;
  if (ref === undefined) return { add: [], remove: [] };
  if (typeof ref === 'string') {
    return MANAGED_RESPONSE_HEADERS_POLICIES[ref] ?? { add: [], remove: [], note: `response headers policy ${ref} is not one the local edge knows: its headers are not added` };
  }
  const config = site.resource(ref?.Ref)?.Properties?.ResponseHeadersPolicyConfig;
  if (!config) return { add: [], remove: [], note: `response headers policy ${JSON.stringify(ref)} cannot be read from the template` };
  const add: ResponseHeadersPolicy['add'][number][] = [];
  const literal = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);
  for (const item of config.CustomHeadersConfig?.Items ?? []) {
    const value = literal(item.Value);
    if (value !== undefined) add.push({ name: String(item.Header).toLowerCase(), value, override: Boolean(item.Override) });
  }
  const sec = config.SecurityHeadersConfig ?? {};
  if (sec.ContentSecurityPolicy) add.push({ name: 'content-security-policy', value: String(sec.ContentSecurityPolicy.ContentSecurityPolicy), override: Boolean(sec.ContentSecurityPolicy.Override) });
  if (sec.ContentTypeOptions) add.push({ name: 'x-content-type-options', value: 'nosniff', override: Boolean(sec.ContentTypeOptions.Override) });
  if (sec.FrameOptions) add.push({ name: 'x-frame-options', value: String(sec.FrameOptions.FrameOption), override: Boolean(sec.FrameOptions.Override) });
  if (sec.ReferrerPolicy) add.push({ name: 'referrer-policy', value: String(sec.ReferrerPolicy.ReferrerPolicy), override: Boolean(sec.ReferrerPolicy.Override) });
  if (sec.StrictTransportSecurity) {
    const h = sec.StrictTransportSecurity;
    add.push({
      name: 'strict-transport-security',
      value: `max-age=${h.AccessControlMaxAgeSec}${h.IncludeSubdomains ? '; includeSubDomains' : ''}${h.Preload ? '; preload' : ''}`,
      override: Boolean(h.Override),
    });
  }
  if (sec.XSSProtection) {
    const h = sec.XSSProtection;
    const value = h.Protection ? `1${h.ModeBlock ? '; mode=block' : ''}${h.ReportUri ? `; report=${h.ReportUri}` : ''}` : '0';
    add.push({ name: 'x-xss-protection', value, override: Boolean(h.Override) });
  }
  const remove = (config.RemoveHeadersConfig?.Items ?? []).map((i: any) => String(i.Header).toLowerCase());
  const left = [config.CorsConfig ? 'CORS' : '', config.ServerTimingHeadersConfig?.Enabled ? 'Server-Timing' : ''].filter(Boolean);
  return { add, remove, note: left.length > 0 ? `its response headers policy's ${left.join(' and ')} settings are not emulated` : undefined };
}

export function applyResponseHeaders(headers: http.IncomingHttpHeaders, policy: ResponseHeadersPolicy): void {
  for (const name of policy.remove) delete headers[name];
  for (const h of policy.add) if (h.override || headers[h.name] === undefined) headers[h.name] = h.value;
}
