import { createHash, createHmac, randomBytes } from 'crypto';
import * as vm from 'vm';
import { OriginUpdate, OriginUpdateOptions, originUpdateProblem } from './origin-update';

/** The flag and table values a sandboxed function reads, looked up on every call. */
export type KvsLookup = (key: string) => string | undefined;

/** A CloudFront Functions viewer-request event (the parts routing reads). */
export interface ViewerRequestEvent {
  readonly version?: string;
  readonly context?: Record<string, string>;
  readonly viewer?: { readonly ip: string };
  readonly request: {
    readonly method: string;
    uri: string;
    readonly querystring: Record<string, { value: string; multiValue?: Array<{ value: string }> }>;
    readonly headers: Record<string, { value: string; multiValue?: Array<{ value: string }> }>;
    readonly cookies: Record<string, { value: string; multiValue?: Array<{ value: string }> }>;
  };
}

/** A response as a viewer-response function sees it. */
export interface FunctionResponse {
  statusCode: number;
  statusDescription?: string;
  headers: Record<string, { value: string; multiValue?: Array<{ value: string }> }>;
  /** Cookies the response sets: name to value and the attributes after it (`Secure; HttpOnly; ...`). */
  cookies: Record<string, { value: string; attributes?: string; multiValue?: Array<{ value: string; attributes?: string }> }>;
}

/** A CloudFront Functions viewer-response event: the request as the viewer sent it, and the response on its way back. */
export interface ViewerResponseEvent {
  readonly version?: string;
  readonly context?: Record<string, string>;
  readonly viewer?: { readonly ip: string };
  readonly request: ViewerRequestEvent['request'];
  readonly response: FunctionResponse;
}

/** What one invocation did. */
export interface SandboxResult {
  /** What the handler returned: the request to continue, or a response. */
  readonly result: any;
  /** The origin id passed to `cf.selectRequestOriginById`, if it was called (the last one, if several). */
  readonly selectedOriginId?: string;
  /**
   * The properties passed to `cf.updateRequestOrigin` after the last
   * `selectRequestOriginById` (which replaces the request's origin, updates
   * and all), later calls' over earlier ones; undefined when none was made.
   * CloudFront inherits the rest from the assigned origin.
   */
  readonly updatedOrigin?: OriginUpdate;
}

/** Where a function's origin choices go. */
export interface OriginChoices {
  /** `cf.selectRequestOriginById(id)`. */
  readonly select: (originId: string) => void;
  /** `cf.updateRequestOrigin(params)`, once its params passed CloudFront's checks (a copy of them). */
  readonly update?: (params: OriginUpdate) => void;
}

/** A compiled function: given a `cloudfront` module and `require`, its handler. */
export type FunctionFactory = (cf: object, require: (name: string) => unknown) => (event: ViewerRequestEvent | ViewerResponseEvent) => unknown;

/**
 * Compiles a CloudFront Function's source once, in a fresh V8 context and
 * strict mode, as CloudFront runs it. CloudFront imports the module on the
 * first line; here it is a parameter instead.
 */
export function compileFunction(code: string): FunctionFactory {
  const body = code.replace(/^import cf from 'cloudfront';\n/, '');
  const script = new vm.Script(`(function (cf, require) { 'use strict';\n${body}\nreturn handler; })`, { filename: 'cloudfront-function.js' });
  return script.runInNewContext({});
}

/**
 * A `cloudfront` module: the store read through `lookup`, origin choices
 * reported to `onSelect` (or to each of `choices`). `updateRequestOrigin`
 * throws on what CloudFront refuses (as far as its documentation says),
 * which fails the function: a 503 for the viewer.
 */
export function cloudfrontModule(lookup: KvsLookup, choices: OriginChoices | ((originId: string) => void), options: OriginUpdateOptions = {}): object {
  const { select, update } = typeof choices === 'function' ? { select: choices, update: undefined } : choices;
  return {
    kvs: () => ({
      get: async (key: string, options?: { format?: string }) => {
        const value = lookup(key);
        if (value === undefined) throw new Error(`KVS key not found: ${key}`);
        return options?.format === 'json' ? JSON.parse(value) : value;
      },
      exists: async (key: string) => lookup(key) !== undefined,
      meta: async () => ({ creationDateTime: '', lastUpdatedDateTime: '', keyCount: 0 }),
    }),
    selectRequestOriginById: (originId: string) => select(originId),
    updateRequestOrigin: (params: unknown) => {
      const problem = originUpdateProblem(params, options);
      if (problem) throw new TypeError(`cf.updateRequestOrigin: ${problem}`);
      update?.(JSON.parse(JSON.stringify(params)));
    },
  };
}

/** The runtime's `require`: the `crypto` subset routing uses. */
export function requireRuntimeModule(name: string): unknown {
  if (name === 'crypto') return { createHash, createHmac };
  throw new Error(`Cannot find module '${name}' (CloudFront Functions offers crypto, querystring and buffer)`);
}

/**
 * Runs a CloudFront Function's own source in a V8 sandbox with a
 * `cloudfront` module (kvs, selectRequestOriginById, updateRequestOrigin) and the runtime's
 * `crypto` subset. The code is compiled once; each invocation gets its own
 * `cloudfront` module, so concurrent requests never see each other's choice.
 */
export class FunctionSandbox {
  private readonly factory: FunctionFactory;

  constructor(
    code: string,
    private readonly kvs: KvsLookup = () => undefined,
  ) {
    this.factory = compileFunction(code);
  }

  /**
   * Runs the handler once on `event` (which it may change, as CloudFront's
   * does), reading `kvs` if given: a viewer-request event, or for a
   * viewer-response function a ViewerResponseEvent (`viewerResponseEvent`),
   * whose result is the response to send.
   */
  public async run(event: ViewerRequestEvent | ViewerResponseEvent, kvs?: KvsLookup, options: OriginUpdateOptions = {}): Promise<SandboxResult> {
    let selectedOriginId: string | undefined;
    let updatedOrigin: OriginUpdate | undefined;
    const choices: OriginChoices = {
      select: (id) => {
        selectedOriginId = id;
        updatedOrigin = undefined;
      },
      update: (params) => {
        updatedOrigin = { ...updatedOrigin, ...params };
      },
    };
    const handler = this.factory(cloudfrontModule(kvs ?? this.kvs, choices, options), requireRuntimeModule);
    const result: any = await handler(event);
    if (updatedOrigin?.customHeaders && result && typeof result.statusCode !== 'number') refuseRequestHeaderClash(updatedOrigin.customHeaders, result);
    return { result, selectedOriginId, updatedOrigin };
  }
}

/** CloudFront refuses a custom header of `updateRequestOrigin` that the request has too ("Helper methods for origin modification"). */
function refuseRequestHeaderClash(customHeaders: Record<string, string>, request: { headers?: Record<string, unknown> }): void {
  const clash = Object.keys(customHeaders).find((name) => request.headers && Object.hasOwn(request.headers, name));
  if (clash) throw new TypeError(`cf.updateRequestOrigin: customHeaders "${clash}" is also a header of the request`);
}

/** The distribution domain of a simulated event. */
export const EXAMPLE_DISTRIBUTION_DOMAIN = 'd111111abcdef8.cloudfront.net';

/** The viewer IP of a simulated event when none is given. */
export const DEFAULT_VIEWER_IP = '192.0.2.10';

/** A request id like CloudFront's: unique to one request and its response. */
export function newRequestId(): string {
  return randomBytes(42).toString('base64url');
}

/** A viewer-request event for a URI, as CloudFront would build it; `requestId` defaults to a new one, as each CloudFront request has its own. */
export function viewerRequestEvent(
  uri: string,
  options: {
    host?: string;
    ip?: string;
    method?: string;
    headers?: Record<string, string>;
    cookies?: Record<string, string>;
    querystring?: Record<string, string>;
    requestId?: string;
  } = {},
): ViewerRequestEvent {
  const wrap = (m: Record<string, string> = {}) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, { value: v }]));
  const headers = wrap(Object.fromEntries(Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])));
  headers.host = { value: options.host ?? 'www.example.com' };
  return {
    version: '1.0',
    context: { eventType: 'viewer-request', distributionDomainName: EXAMPLE_DISTRIBUTION_DOMAIN, distributionId: 'EDFDVBD6EXAMPLE', requestId: options.requestId ?? newRequestId() },
    viewer: { ip: options.ip ?? DEFAULT_VIEWER_IP },
    request: { method: options.method ?? 'GET', uri, querystring: wrap(options.querystring), headers, cookies: wrap(options.cookies) },
  };
}

/**
 * The viewer-response event of the request of `requestEvent` (pass it as
 * the viewer sent it, before a viewer-request function changed it): same
 * context (request id), viewer and request, and `response`.
 */
export function viewerResponseEvent(requestEvent: ViewerRequestEvent, response: Partial<FunctionResponse> = {}): ViewerResponseEvent {
  return {
    version: requestEvent.version,
    context: { ...requestEvent.context, eventType: 'viewer-response' },
    viewer: requestEvent.viewer,
    request: requestEvent.request,
    response: { statusCode: response.statusCode ?? 200, statusDescription: response.statusDescription, headers: response.headers ?? {}, cookies: response.cookies ?? {} },
  };
}

/** The Set-Cookie header values of a function's response cookies: `name=value; attributes`, one per value. */
export function setCookieHeaders(response: Pick<FunctionResponse, 'cookies'> | undefined): string[] {
  const line = (name: string, c: { value: string; attributes?: string }) => `${name}=${c.value}${c.attributes ? `; ${c.attributes}` : ''}`;
  return Object.entries(response?.cookies ?? {}).flatMap(([name, c]) => (c.multiValue?.length ? c.multiValue.map((v) => line(name, v)) : [line(name, c)]));
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
export function firstOfEach(list: Pair[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of list) if (!(p.name in out)) out[p.name] = p.value;
  return out;
}

/** A URI's path, and its query string parameters (the first value of each name, undecoded), if it has any. */
export function splitUri(uri: string): [string, Record<string, string> | undefined] {
  const at = uri.indexOf('?');
  return at < 0 ? [uri, undefined] : [uri.slice(0, at), firstOfEach(pairs(uri.slice(at + 1), '&'))];
}
