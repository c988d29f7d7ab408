/**
 * `cf.updateRequestOrigin(params)` as CloudFront Functions documents it
 * ("Helper methods for origin modification", Amazon CloudFront Developer
 * Guide): the properties it takes, what it refuses, and the origin a request
 * then goes to. Properties the call leaves out are inherited from the origin
 * the request was assigned (the behavior's, or the one
 * `selectRequestOriginById` chose).
 */
import { isIP } from 'net';

/** The origin properties `cf.updateRequestOrigin` takes (all optional; unknown ones are not the docs' and are left alone). */
export interface OriginUpdate {
  readonly domainName?: string;
  readonly hostHeader?: string;
  readonly originPath?: string;
  readonly customHeaders?: Record<string, string>;
  readonly connectionAttempts?: number;
  readonly originShield?: { readonly enabled: boolean; readonly region?: string };
  readonly originAccessControlConfig?: { readonly enabled: boolean; readonly signingBehavior?: string; readonly signingProtocol?: string; readonly originType?: string };
  readonly timeouts?: { readonly readTimeout?: number; readonly responseCompletionTimeout?: number; readonly keepAliveTimeout?: number; readonly connectionTimeout?: number };
  readonly customOriginConfig?: { readonly port: number; readonly protocol: string; readonly sslProtocols: string[]; readonly ipAddressType?: string };
  readonly sni?: string;
  readonly allowedCertificateNames?: string[];
}

/** How the call is checked. */
export interface OriginUpdateOptions {
  /**
   * Accept `127.0.0.1` as `domainName`: the local edge's releases may run on
   * this machine. CloudFront refuses every IP address.
   *
   * @default false
   */
  readonly loopback?: boolean;
}

/** Names CloudFront refuses as custom headers ("Custom headers that CloudFront can't add to origin requests"). */
const DISALLOWED_CUSTOM_HEADERS = new Set([
  'cache-control', 'connection', 'content-length', 'cookie', 'host', 'if-match', 'if-modified-since', 'if-none-match', 'if-range',
  'if-unmodified-since', 'max-forwards', 'pragma', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'range',
  'request-range', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'via', 'x-real-ip',
]);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIntIn = (v: unknown, min: number, max: number) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
const oneOf = (v: unknown, values: string[]) => typeof v === 'string' && values.includes(v);

/** A host name as `domainName`, `hostHeader` and `sni` take it: at most 253 characters, no colon, no IP address. */
function hostNameProblem(field: string, v: unknown, loopback = false): string | undefined {
  if (typeof v !== 'string' || v === '') return `${field} must be a non-empty string`;
  if (v.length > 253) return `${field} is ${v.length} characters, past 253`;
  if (v.includes(':')) return `${field} "${v}" must not include a colon (the port goes in customOriginConfig.port)`;
  if (isIP(v) && !(loopback && v === '127.0.0.1')) return `${field} "${v}" is an IP address: CloudFront takes a DNS name`;
  return undefined;
}

function originPathProblem(v: unknown): string | undefined {
  if (typeof v !== 'string' || !v.startsWith('/')) return 'originPath must start with "/"';
  if (v.endsWith('/')) return `originPath "${v}" must not end with "/"`;
  if (v.length > 255) return `originPath is ${v.length} characters, past 255`;
  return undefined;
}

function customHeadersProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'customHeaders must be an object of header name to value';
  for (const [name, value] of Object.entries(v)) {
    if (typeof value !== 'string') return `customHeaders "${name}" must be a string`;
    if (name !== name.toLowerCase()) return `customHeaders "${name}": header names must be lower case`;
    if (DISALLOWED_CUSTOM_HEADERS.has(name) || /^x-(amz|edge)-/.test(name)) return `customHeaders "${name}" is a header CloudFront does not let an origin add`;
  }
  return undefined;
}

function originAccessControlProblem(v: unknown): string | undefined {
  if (!isObject(v) || typeof v.enabled !== 'boolean') return 'originAccessControlConfig.enabled must be true or false';
  if (!v.enabled) return undefined;
  if (!oneOf(v.signingBehavior, ['always', 'never', 'no-override'])) return 'originAccessControlConfig.signingBehavior must be always, never or no-override';
  if (v.signingProtocol !== 'sigv4') return 'originAccessControlConfig.signingProtocol must be sigv4';
  if (!oneOf(v.originType, ['s3', 'mediapackagev2', 'mediastore', 'lambda'])) return 'originAccessControlConfig.originType must be s3, mediapackagev2, mediastore or lambda';
  return undefined;
}

function timeoutsProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'timeouts must be an object';
  const ranges: Array<[string, number, number]> = [['readTimeout', 1, 120], ['keepAliveTimeout', 1, 120], ['connectionTimeout', 1, 10]];
  for (const [name, min, max] of ranges) {
    if (v[name] !== undefined && !isIntIn(v[name], min, max)) return `timeouts.${name} must be ${min} to ${max} seconds`;
  }
  const completion = v.responseCompletionTimeout;
  if (completion !== undefined && (typeof completion !== 'number' || (typeof v.readTimeout === 'number' && completion < v.readTimeout))) {
    return 'timeouts.responseCompletionTimeout must be a number of seconds, at least readTimeout';
  }
  return undefined;
}

function customOriginConfigProblem(v: unknown, domainGiven: boolean): string | undefined {
  if (!isObject(v)) return 'customOriginConfig must be an object';
  if (!isIntIn(v.port, 1, 65535)) return 'customOriginConfig.port is required: the port the origin listens on';
  if (!oneOf(v.protocol, ['http', 'https'])) return 'customOriginConfig.protocol is required: http or https';
  const ssl = v.sslProtocols;
  if (!Array.isArray(ssl) || ssl.length === 0 || !ssl.every((p) => oneOf(p, ['SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2']))) {
    return 'customOriginConfig.sslProtocols is required: a list of SSLv3, TLSv1, TLSv1.1, TLSv1.2';
  }
  if (v.ipAddressType !== undefined && !oneOf(v.ipAddressType, ['ipv4', 'ipv6', 'dualstack'])) return 'customOriginConfig.ipAddressType must be ipv4, ipv6 or dualstack';
  if (v.ipAddressType !== undefined && !domainGiven) return 'customOriginConfig.ipAddressType changes only together with domainName';
  return undefined;
}

function otherProblem(params: Record<string, unknown>): string | undefined {
  if (params.connectionAttempts !== undefined && !isIntIn(params.connectionAttempts, 1, 3)) return 'connectionAttempts must be 1 to 3';
  const shield = params.originShield;
  if (shield !== undefined && (!isObject(shield) || typeof shield.enabled !== 'boolean')) return 'originShield.enabled must be true or false';
  if (isObject(shield) && shield.enabled && (typeof shield.region !== 'string' || shield.region === '')) return 'originShield.region is required when Origin Shield is enabled';
  const names = params.allowedCertificateNames;
  if (names !== undefined && (!Array.isArray(names) || names.length > 20 || !names.every((n) => typeof n === 'string' && n.length > 0 && n.length <= 64))) {
    return 'allowedCertificateNames must be at most 20 names of at most 64 characters';
  }
  return undefined;
}

/** Why CloudFront would refuse this `updateRequestOrigin` call, as far as its documentation says; undefined when it would not. */
export function originUpdateProblem(params: unknown, options: OriginUpdateOptions = {}): string | undefined {
  if (!isObject(params)) return 'takes one object of origin properties';
  const s3 = isObject(params.originAccessControlConfig) && params.originAccessControlConfig.originType === 's3';
  const checks: Array<() => string | undefined> = [
    () => (params.domainName === undefined ? undefined : hostNameProblem('domainName', params.domainName, options.loopback)),
    () => (s3 && typeof params.domainName === 'string' && (params.domainName.length > 128 || params.domainName !== params.domainName.toLowerCase()) ? 'domainName of an S3 origin must be lower case, at most 128 characters' : undefined),
    () => (params.hostHeader === undefined ? undefined : hostNameProblem('hostHeader', params.hostHeader)),
    () => (params.sni === undefined ? undefined : hostNameProblem('sni', params.sni)),
    () => (params.originPath === undefined ? undefined : originPathProblem(params.originPath)),
    () => (params.customHeaders === undefined ? undefined : customHeadersProblem(params.customHeaders)),
    () => (params.originAccessControlConfig === undefined ? undefined : originAccessControlProblem(params.originAccessControlConfig)),
    () => (params.timeouts === undefined ? undefined : timeoutsProblem(params.timeouts)),
    () => (params.customOriginConfig === undefined ? undefined : customOriginConfigProblem(params.customOriginConfig, params.domainName !== undefined)),
    () => otherProblem(params),
  ];
  for (const check of checks) {
    const problem = check();
    if (problem) return problem;
  }
  return undefined;
}

/** The origin a request was assigned before the function updated it: its URL (protocol, host, port, path), signing and custom headers. */
export interface AssignedOrigin {
  /** `https://host[:port][/path]`; undefined when not known (a domain CloudFormation resolves at deploy). */
  readonly url?: string;
  /** Its origin access control's signing behavior, if it has one. */
  readonly signing?: string;
  /** Its origin access control's origin type, if it has one. */
  readonly originType?: string;
  /** Its custom headers (lower-case name to value). */
  readonly customHeaders: Record<string, string>;
}

/** Where a request goes after `cf.updateRequestOrigin`: the call's properties over the assigned origin's. */
export interface UpdatedOrigin {
  /** The properties the function passed (later calls' over earlier ones). */
  readonly params: OriginUpdate;
  /** `protocol://domain[:port]originPath`; undefined when neither the call nor the assigned origin gives the domain. */
  readonly url?: string;
  readonly protocol: 'http' | 'https';
  readonly domainName?: string;
  readonly port: number;
  /** '' for none. */
  readonly originPath: string;
  /** The Host the origin gets, when the call decides it (hostHeader, else its domainName); undefined: as for the assigned origin. */
  readonly hostHeader?: string;
  /** The signing behavior of the origin access control in force (`always`...); undefined when none signs. */
  readonly signing?: string;
  /** The origin type it signs for (`lambda` for a function URL). */
  readonly originType?: string;
  /** The custom headers the origin gets. */
  readonly customHeaders: Record<string, string>;
}

/** The origin a request goes to once the function updated its assigned origin, each property the call leaves out inherited. */
export function resolveUpdatedOrigin(params: OriginUpdate, assigned: AssignedOrigin): UpdatedOrigin {
  const base = assigned.url ? new URL(assigned.url) : undefined;
  const custom = params.customOriginConfig;
  const protocol = custom ? (custom.protocol as 'http' | 'https') : base?.protocol === 'http:' ? 'http' : 'https';
  const port = custom ? custom.port : base?.port ? Number(base.port) : protocol === 'http' ? 80 : 443;
  const domainName = params.domainName ?? base?.hostname;
  const originPath = params.originPath ?? (base ? base.pathname.replace(/\/+$/, '') : '');
  const defaultPort = protocol === 'http' ? 80 : 443;
  const url = domainName === undefined ? undefined : `${protocol}://${domainName}${port === defaultPort ? '' : `:${port}`}${originPath}`;
  const oac = params.originAccessControlConfig;
  const signs = oac ? oac.enabled && oac.signingBehavior !== 'never' : assigned.signing !== undefined && assigned.signing !== 'never';
  return {
    params,
    url,
    protocol,
    domainName,
    port,
    originPath,
    hostHeader: params.hostHeader ?? params.domainName,
    signing: signs ? (oac ? oac.signingBehavior : assigned.signing) : undefined,
    originType: signs ? (oac ? oac.originType : assigned.originType) : undefined,
    customHeaders: params.customHeaders ?? assigned.customHeaders,
  };
}
