import { MultiZoneValidationError } from 'multizone-distribution/internal';
import type { SynthesizedSite } from '../synthesized-site';

/** Where one zone runs locally. */
export interface ZoneTarget {
  /** The zone's name. */
  readonly zone: string;
  /** Its origin id in the template. */
  readonly originId: string;
  /** The URL the local edge proxies to; undefined when neither the template nor an option gives one. */
  readonly url?: string;
  /** Where the URL came from: `function` when the viewer-request function updated the origin (a release). */
  readonly source: 'option' | 'template' | 'none' | 'function';
  /** Why there is no URL, when there is none. */
  readonly problem?: string;
  /** Headers sent to the zone on every request: the origin's custom headers the template states literally, and those given as options. */
  readonly originHeaders: Record<string, string>;
  /** Custom headers of the origin whose value is a CloudFormation reference (a secret, say): not sent unless given as options. */
  readonly unresolvedOriginHeaders: string[];
  /** How the origin's origin access control signs requests, when it has one: `always` overwrites the viewer's Authorization. */
  readonly signing?: string;
  /** The Host the zone gets whatever the policy forwards, when the function's origin update decides it. */
  readonly hostHeader?: string;
}

/**
 * The zone URLs the template's origins state (a custom origin with
 * `http-only` gives `http://<domain>:<HTTPPort>`, otherwise https), with
 * `overrides` (zone name to URL) taking precedence. Throws on a zone name
 * the template does not have, or a URL that is not http(s).
 */
export function zoneTargets(site: SynthesizedSite, overrides: Record<string, string> = {}, originHeaders: Record<string, string> = {}): ZoneTarget[] {
  const names = site.zones.map((z) => z.name);
  for (const [zone, url] of Object.entries(overrides)) {
    if (!names.includes(zone)) {
      throw new MultiZoneValidationError(`Zone "${zone}": the template has no such zone (its zones: ${names.join(', ')})`);
    }
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      throw new MultiZoneValidationError(`Zone "${zone}": "${url}" is not an http:// or https:// URL`);
    }
  }
  const given = Object.fromEntries(Object.entries(originHeaders).map(([k, v]) => [k.toLowerCase(), v]));
  return site.zones.map((z) => {
    const headers: Record<string, string> = {};
    const unresolved: string[] = [];
    for (const h of site.originConfigs[z.originId]?.OriginCustomHeaders ?? []) {
      const name = String(h.HeaderName).toLowerCase();
      if (typeof h.HeaderValue === 'string') headers[name] = h.HeaderValue;
      else if (!(name in given)) unresolved.push(name);
    }
    const signing = originAccessOf(site, site.originConfigs[z.originId]).signing;
    const common = { zone: z.name, originId: z.originId, originHeaders: { ...headers, ...given }, unresolvedOriginHeaders: unresolved, signing };
    const url = overrides[z.name];
    if (url) return { ...common, url: url.replace(/\/+$/, ''), source: 'option' as const };
    const fromTemplate = templateOriginUrl(site.originConfigs[z.originId]);
    return typeof fromTemplate === 'string'
      ? { ...common, url: fromTemplate, source: 'template' as const }
      : { ...common, source: 'none' as const, problem: fromTemplate.problem };
  });
}

/** The signing behavior (`always`, `no-override`, `never`) and origin type of the origin access control an origin names, read from the template. */
export function originAccessOf(site: SynthesizedSite, origin: Record<string, any> | undefined): { signing?: string; originType?: string } {
  const ref = origin?.OriginAccessControlId;
  const logicalId = ref?.['Fn::GetAtt']?.[0] ?? ref?.Ref;
  if (typeof logicalId !== 'string') return {};
  const config = site.resource(logicalId)?.Properties?.OriginAccessControlConfig;
  return { signing: config?.SigningBehavior, originType: config?.OriginAccessControlOriginType };
}

/** The URL a CloudFormation origin points at, or why it has none that can be read offline. */
export function templateOriginUrl(origin: Record<string, any> | undefined): string | { problem: string } {
  if (!origin) return { problem: 'the template has no origin for it' };
  if (typeof origin.DomainName !== 'string') {
    return { problem: 'its origin domain is a CloudFormation reference, known only after deploy' };
  }
  const custom = origin.CustomOriginConfig;
  const http = custom?.OriginProtocolPolicy === 'http-only';
  const port = http ? custom?.HTTPPort : custom?.HTTPSPort;
  const defaultPort = http ? 80 : 443;
  const originPath = typeof origin.OriginPath === 'string' ? origin.OriginPath.replace(/\/+$/, '') : '';
  return `${http ? 'http' : 'https'}://${origin.DomainName}${port && port !== defaultPort ? `:${port}` : ''}${originPath}`;
}
