import * as fs from 'fs';
import * as path from 'path';
import { Stack, Stage } from 'aws-cdk-lib';
import { MultiZoneValidationError, TableFile, BoundZone, METADATA_KEY, SiteAssetFile, SiteAssetLocation, SiteMetadata, pathPatternMatches, SiteAssetSource, readSiteAsset, RoutingTable } from 'multizone-distribution/internal';
import { EdgeHandler, EdgeRequest, edgeHeaders, includedBody, isEdgeResponse, loadEdgeHandler, nodeHeaders } from './edge-function/lambda-edge';
import { AssignedOrigin, OriginUpdate, UpdatedOrigin, resolveUpdatedOrigin } from './edge-function/origin-update';
import { EXAMPLE_DISTRIBUTION_DOMAIN, FunctionResponse, FunctionSandbox, KvsLookup, ViewerRequestEvent, setCookieHeaders, splitUri, viewerRequestEvent, viewerResponseEvent } from './edge-function/sandbox';
import { originAccessOf, templateOriginUrl } from './local-edge/zones';

/** One cache behavior as the template states it. */
export interface TemplateBehavior {
  /** The path pattern; `*` for the default behavior. */
  readonly pathPattern: string;
  /** The origin id it forwards to. */
  readonly targetOriginId: string;
  /** The methods CloudFront accepts on it (`AllowedMethods`; GET and HEAD when the template omits it); others get a 403. */
  readonly allowedMethods: string[];
  /** Logical id of its viewer-request CloudFront Function, if any. */
  readonly viewerRequestFunction?: string;
  /** Logical id of its viewer-response CloudFront Function (the visitor cookie), if any. */
  readonly viewerResponseFunction?: string;
  /**
   * Its origin-request Lambda@Edge association, if any: the body hash
   * (`x-amz-content-sha256`), on the behaviors a Lambda function URL zone
   * behind origin access control takes request bodies on.
   */
  readonly originRequestLambda?: TemplateEdgeLambda;
  /** The raw CloudFormation behavior. */
  readonly raw: Record<string, any>;
}

/** A behavior's Lambda@Edge association, as the template states it. */
export interface TemplateEdgeLambda {
  /**
   * Logical id the association's ARN references: the function's version,
   * or, in a stack outside us-east-1, the custom resource reading the
   * version's ARN from CDK's us-east-1 edge-lambda stack.
   */
  readonly reference: string;
  /** Whether CloudFront hands the function the request body (IncludeBody). */
  readonly includeBody: boolean;
}

/** Options of {@link SynthesizedSite.originRequest}: the request as it leaves for the zone. */
export interface OriginRequestOptions {
  /**
   * The body as the viewer sent it; the function sees at most its first
   * 1 MB, with `inputTruncated` past that, as on CloudFront.
   *
   * @default - an empty body
   */
  readonly body?: Buffer | string;
  /**
   * The headers CloudFront sends the zone (lower-case name to value).
   *
   * @default - the headers as the viewer-request function left them
   */
  readonly headers?: Record<string, string | string[] | undefined>;
  /**
   * The path and query string the zone is asked for.
   *
   * @default - the URI the viewer-request function left, with the viewer's query string
   */
  readonly path?: string;
  /**
   * The zone's URL (`https://abc.lambda-url.eu-west-1.on.aws`).
   *
   * @default - the origin's as the template states it, else an example function URL
   */
  readonly originUrl?: string;
  /**
   * The origin's custom headers: the event carries them beside the
   * request's, and CloudFront adds them after the function.
   *
   * @default - none
   */
  readonly originHeaders?: Record<string, string>;
}

/** What a behavior's origin-request function made of a request. */
export interface OriginRequestOutcome {
  /** Whether the behavior has an origin-request function, which ran. */
  readonly ran: boolean;
  /** The path and query string the zone is asked for. */
  readonly path: string;
  /** The headers the zone receives, the origin's custom headers included (`x-amz-content-sha256` from the body hash). */
  readonly headers: Record<string, string | string[]>;
  /** The function's own answer, when it gave one instead of forwarding (the body hash's 413 past 1 MB). */
  readonly response?: { status: number; statusDescription?: string; headers: Record<string, string | string[]>; body: Buffer };
}

/** How CloudFront would serve one request. */
export interface ServedRequest {
  /** The behavior that matched. */
  readonly behavior: TemplateBehavior;
  /**
   * Where the behavior stands in CloudFront's order, counted from 1, the
   * default behavior last (`behaviors.length`): `behaviors[behaviorPosition - 1]`
   * is `behavior`. The CLI's `#N of M` (`explain`, `routes`) and its JSON
   * `position` count the same way.
   */
  readonly behaviorPosition: number;
  /** Whether a viewer-request function ran. */
  readonly functionRan: boolean;
  /** The origin that serves the request (after the function's choice). */
  readonly originId: string;
  /** The zone owning that origin. */
  readonly zone: string;
  /**
   * Where the request goes instead of that origin's URL when the function
   * called `cf.updateRequestOrigin` (a zone's release): the call's
   * properties over the origin's as the template states them (URL,
   * signing, custom headers). Undefined when it did not, or answered.
   */
  readonly updatedOrigin?: UpdatedOrigin;
  /** The request as the function left it (headers included). */
  readonly request: ViewerRequestEvent['request'];
  /** A response the function answered with instead of forwarding, if any. */
  readonly response?: Record<string, any>;
  /** The request id both functions saw (CloudFront's, unique to the request and its response). */
  readonly requestId: string;
  /**
   * The request headers as the viewer-request function left them, name
   * (lower case) to value: what the behavior's origin request policy
   * forwards from, `x-multizone-flags` and `x-multizone-zone` included.
   */
  readonly forwardedHeaders: Record<string, string>;
  /**
   * The Set-Cookie values the behavior's viewer-response function adds to
   * the response (the visitor cookie, `mz-vid=<id>; Secure; HttpOnly;
   * SameSite=Lax; Path=/; Max-Age=34560000`), run on the request as the
   * viewer sent it and an empty 200; empty when it has none, adds none, or
   * `skipViewerResponse` was set. CloudFront runs it on every response of
   * the behavior, cached or not, unless the viewer-request function
   * answered.
   */
  readonly setCookies: string[];
  /**
   * The store values this request's functions read over the store's
   * initial contents (RequestOptions.flags): `respond` gives the
   * viewer-response function the same view of the store.
   */
  readonly storeValues: Record<string, string>;
  /** The viewer-request event as the viewer sent it, before any function changed it. */
  readonly viewerRequest: ViewerRequestEvent;
}

/** Options of one simulated request. */
export interface RequestOptions {
  /** Flag values, overriding the store's initial ones; any other store key too (the preview secret, `preview:secret`). */
  readonly flags?: Record<string, string>;
  readonly ip?: string;
  readonly host?: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly cookies?: Record<string, string>;
  /** Query string parameters; by default those of the URI's `?...` part, if any. */
  readonly querystring?: Record<string, string>;
  /** The request id both the viewer-request and viewer-response events carry; by default a new one, as CloudFront gives each request. */
  readonly requestId?: string;
  /**
   * Leave the behavior's viewer-response function for `respond` to run on
   * the zone's own response (the local edge does), instead of running it
   * here on an empty 200 for `setCookies`: it then runs once per request,
   * as on CloudFront, and its errors are its own.
   *
   * @default false
   */
  readonly skipViewerResponse?: boolean;
  /**
   * Let the function point the request at `127.0.0.1`
   * (`cf.updateRequestOrigin({ domainName: '127.0.0.1' })`), which
   * CloudFront refuses: the local edge's releases may run on this machine.
   *
   * @default false
   */
  readonly loopbackOrigins?: boolean;
}

/** A zone's releases, as the site metadata states them. */
export interface SiteZoneReleases {
  /** The deployment id of the build behind the zone's template origin. */
  readonly deploymentId: string;
  /** The store key of the zone's release record. */
  readonly key: string;
  /** How long a replaced release keeps serving the viewers that name it, in seconds. */
  readonly maxAgeSeconds: number;
}

/** Where SynthesizedSite finds the distribution and its assets. */
export interface SynthesizedSiteOptions extends SiteAssetSource {
  /**
   * Logical id of the distribution, when the template holds several.
   *
   * @default - the first MultiZoneDistribution of the template
   */
  readonly distributionLogicalId?: string;
}

/**
 * A MultiZoneDistribution read back from a synthesized CloudFormation
 * template, served the way CloudFront serves it: the first behavior in
 * listed order whose pattern matches the path, then that behavior's
 * viewer-request function (its own code, in a sandbox, reading the store's
 * values), which may select another origin. Tests, the local edge and the
 * CLI all use this, so they all see the template, not the construct's
 * intentions.
 */
export class SynthesizedSite {
  /**
   * Reads the (first, or the named) MultiZoneDistribution of a template,
   * with the assets holding its routing table and store contents.
   */
  public static fromTemplate(template: Record<string, any>, options: SynthesizedSiteOptions = {}): SynthesizedSite {
    const resources: Record<string, any> = template.Resources ?? {};
    const wanted = options.distributionLogicalId;
    const candidates = Object.entries(resources).filter(
      ([id, r]) => r.Type === 'AWS::CloudFront::Distribution' && r.Metadata?.[METADATA_KEY] && (!wanted || id === wanted),
    );
    if (candidates.length === 0) {
      throw new MultiZoneValidationError(
        wanted
          ? `Template: no MultiZoneDistribution with logical id "${wanted}"`
          : 'Template: no MultiZoneDistribution found (no AWS::CloudFront::Distribution with MultiZone metadata)',
      );
    }
    return new SynthesizedSite(resources, candidates[0][0], (location) => readSiteAsset(location.path, options), options.assetDirectory);
  }

  /** Synthesizes the stack's app (or reuses its last synthesis) and reads the stack's MultiZoneDistribution. */
  public static fromStack(stack: Stack, distributionLogicalId?: string): SynthesizedSite {
    const stage = Stage.of(stack);
    if (!stage) throw new MultiZoneValidationError(`Stack ${stack.stackName}: not in an App or Stage, so it cannot be synthesized`);
    const assembly = stage.synth();
    return SynthesizedSite.fromTemplate(assembly.getStackArtifact(stack.artifactId).template, { distributionLogicalId, assetDirectory: assembly.directory });
  }

  /** The routing table the construct planned. */
  public readonly table: RoutingTable;
  /** Zones and their origin ids. */
  public readonly zones: BoundZone[];
  /** Additional behaviors in CloudFront's order, then the default behavior last. */
  public readonly behaviors: TemplateBehavior[];
  /** The distribution's origins: id to domain name (as the template states it). */
  public readonly origins: Record<string, unknown>;
  /** The distribution's origins as the template states them: id to the raw CloudFormation origin. */
  public readonly originConfigs: Record<string, Record<string, any>>;
  /** Patterns of the routes that overflowed to the function (no cache behavior carries them). */
  public readonly overflow: string[];
  /** The store's contents at deploy: routing table entries and initial flag values. */
  public readonly storeEntries: Record<string, string>;
  /** The zones with releases, zone name to where its release record is (empty when none has). */
  public readonly releases: Record<string, SiteZoneReleases>;
  private readonly sandboxes = new Map<string, FunctionSandbox>();
  private readonly edgeHandlers = new Map<string, EdgeHandler>();

  private constructor(
    private readonly resources: Record<string, any>,
    /** Logical id of the distribution. */
    public readonly logicalId: string,
    asset: (location: SiteAssetLocation) => any,
    /** The cloud assembly, where the Lambda@Edge code is. */
    private readonly assetDirectory?: string,
  ) {
    const resource = resources[logicalId];
    const config = resource.Properties.DistributionConfig;
    const metadata: SiteMetadata = resource.Metadata[METADATA_KEY];
    const site: SiteAssetFile = asset(metadata.siteAsset);
    this.table = site.table;
    this.overflow = site.overflow;
    this.zones = metadata.zones;
    const functionOf = (raw: Record<string, any>, eventType: string): string | undefined =>
      (raw.FunctionAssociations ?? []).filter((a: any) => a.EventType === eventType).map((a: any) => a.FunctionARN?.['Fn::GetAtt']?.[0])[0];
    const read = (raw: Record<string, any>, pathPattern: string): TemplateBehavior => ({
      pathPattern,
      targetOriginId: raw.TargetOriginId,
      allowedMethods: raw.AllowedMethods ?? ['GET', 'HEAD'],
      viewerRequestFunction: functionOf(raw, 'viewer-request'),
      viewerResponseFunction: functionOf(raw, 'viewer-response'),
      originRequestLambda: edgeLambdaOf(raw, 'origin-request'),
      raw,
    });
    this.behaviors = [...(config.CacheBehaviors ?? []).map((b: any) => read(b, b.PathPattern)), read(config.DefaultCacheBehavior, '*')];
    this.origins = Object.fromEntries((config.Origins ?? []).map((o: any) => [o.Id, o.DomainName]));
    this.originConfigs = Object.fromEntries((config.Origins ?? []).map((o: any) => [o.Id, o]));
    const store: TableFile | undefined = metadata.storeAsset && asset(metadata.storeAsset);
    this.storeEntries = { ...store?.initialFlags, ...store?.entries };
    this.releases = releasesOf(metadata);
  }

  /**
   * The behavior CloudFront picks for a URI path: the first match in listed
   * order, else the default; with its position, counted from 1 (see
   * {@link ServedRequest.behaviorPosition}).
   */
  public behaviorFor(uriPath: string): { behavior: TemplateBehavior; position: number } {
    const additional = this.behaviors.slice(0, -1);
    const index = additional.findIndex((b) => pathPatternMatches(b.pathPattern, uriPath));
    const at = index < 0 ? this.behaviors.length - 1 : index;
    return { behavior: this.behaviors[at], position: at + 1 };
  }

  /** The zone that owns an origin id. */
  public zoneOfOrigin(originId: string): string | undefined {
    return this.zones.find((z) => z.originId === originId)?.name;
  }

  /**
   * Serves one request as CloudFront would: behavior, viewer-request
   * function, chosen origin, and the viewer-response function's cookies
   * (run on an empty 200 response unless `skipViewerResponse`: `respond`
   * runs it on a zone's own).
   */
  public async serve(uri: string, options: RequestOptions = {}): Promise<ServedRequest> {
    const [path, query] = splitUri(uri);
    const event = viewerRequestEvent(path, { ...options, querystring: options.querystring ?? query });
    const asSent = structuredClone(event);
    const { behavior, position } = this.behaviorFor(event.request.uri);
    let originId = behavior.targetOriginId;
    let response: Record<string, any> | undefined;
    let update: OriginUpdate | undefined;
    const storeValues = { ...options.flags };
    if (behavior.viewerRequestFunction) {
      const outcome = await this.sandbox(behavior.viewerRequestFunction).run(event, this.storeView(storeValues), { loopback: options.loopbackOrigins });
      originId = outcome.selectedOriginId ?? originId;
      update = outcome.updatedOrigin;
      if (outcome.result && typeof outcome.result.statusCode === 'number') response = outcome.result;
    }
    const viewerResponse = response || options.skipViewerResponse ? undefined : await this.respondTo(behavior, asSent, storeValues, {});
    return {
      behavior,
      behaviorPosition: position,
      functionRan: behavior.viewerRequestFunction !== undefined,
      originId,
      zone: this.zoneOfOrigin(originId) ?? `(unknown origin ${originId})`,
      updatedOrigin: update && !response ? resolveUpdatedOrigin(update, this.assignedOrigin(originId)) : undefined,
      request: event.request,
      response,
      requestId: event.context!.requestId,
      forwardedHeaders: Object.fromEntries(Object.entries(event.request.headers).map(([name, h]) => [name, h.value])),
      setCookies: setCookieHeaders(viewerResponse),
      storeValues,
      viewerRequest: asSent,
    };
  }

  /**
   * Runs the served request's viewer-response function on a zone's
   * response (status, headers, cookies), as CloudFront does before the
   * response leaves for the viewer, reading the store as the request's
   * function did; the response unchanged when its behavior has none.
   */
  public async respond(served: ServedRequest, response: Partial<FunctionResponse>): Promise<FunctionResponse> {
    return (await this.respondTo(served.behavior, served.viewerRequest, served.storeValues, response)) ?? viewerResponseEvent(served.viewerRequest, response).response;
  }

  private async respondTo(
    behavior: TemplateBehavior,
    asSent: ViewerRequestEvent,
    storeValues: Record<string, string>,
    response: Partial<FunctionResponse>,
  ): Promise<FunctionResponse | undefined> {
    if (!behavior.viewerResponseFunction) return undefined;
    const event = viewerResponseEvent(structuredClone(asSent), structuredClone(response));
    const outcome = await this.sandbox(behavior.viewerResponseFunction).run(event, this.storeView(storeValues));
    return outcome.result as FunctionResponse;
  }

  /** The store as a request's functions read it: its values over the store's initial contents. */
  private storeView(storeValues: Record<string, string>): KvsLookup {
    return (key) => (Object.hasOwn(storeValues, key) ? storeValues[key] : this.storeEntries[key]);
  }

  /**
   * An origin of the template as `cf.updateRequestOrigin` inherits from it:
   * its URL (unless CloudFormation resolves its domain at deploy), its
   * origin access control's signing, its literal custom headers.
   */
  public assignedOrigin(originId: string): AssignedOrigin {
    const origin = this.originConfigs[originId];
    const url = templateOriginUrl(origin);
    const customHeaders: Record<string, string> = {};
    for (const h of origin?.OriginCustomHeaders ?? []) if (typeof h.HeaderValue === 'string') customHeaders[String(h.HeaderName).toLowerCase()] = h.HeaderValue;
    return { url: typeof url === 'string' ? url : undefined, ...originAccessOf(this, origin), customHeaders };
  }

  /** A resource of the template by logical id (policies, functions), if there is one. */
  public resource(logicalId: string): Record<string, any> | undefined {
    return this.resources[logicalId];
  }

  /** The source of a CloudFront Function of the template. */
  public functionCode(logicalId: string): string {
    const code = this.resources[logicalId]?.Properties?.FunctionCode;
    if (typeof code !== 'string') throw new MultiZoneValidationError(`Template: CloudFront Function "${logicalId}" has no inline code`);
    return code;
  }

  /**
   * Runs the served request's origin-request Lambda@Edge function (the
   * body hash), on its own code from the cloud assembly, the way
   * CloudFront runs it before asking the zone: the body included (base64,
   * cut at 1 MB with `inputTruncated`) when the association says so. The
   * request unchanged when the behavior has none, or when the viewer-request
   * function answered.
   */
  public async originRequest(served: ServedRequest, options: OriginRequestOptions = {}): Promise<OriginRequestOutcome> {
    const query = Object.entries(served.request.querystring).map(([k, v]) => `${k}=${v.value}`).join('&');
    const path = options.path ?? `${served.request.uri}${query ? `?${query}` : ''}`;
    const headers = { ...(options.headers ?? served.forwardedHeaders) };
    const origin = options.originHeaders ?? {};
    const association = served.behavior.originRequestLambda;
    const withOrigin = (h: Record<string, string | string[] | undefined>) => ({ ...dropUndefined(h), ...lowerKeys(origin) });
    if (!association || served.response) return { ran: false, path, headers: withOrigin(headers) };
    // The origin's custom headers travel apart in the event, and CloudFront adds them after the function.
    for (const name of Object.keys(lowerKeys(origin))) delete headers[name];
    const request = originRequestOf(served, path, headers, options, association.includeBody);
    const result = await this.edgeHandler(association)({
      Records: [{ cf: { config: { distributionDomainName: EXAMPLE_DISTRIBUTION_DOMAIN, distributionId: 'EDFDVBD6EXAMPLE', eventType: 'origin-request', requestId: served.requestId }, request } }],
    });
    if (isEdgeResponse(result)) {
      const body = Buffer.from(result.body ?? '', result.bodyEncoding === 'base64' ? 'base64' : 'utf8');
      return { ran: true, path, headers: withOrigin(headers), response: { status: Number(result.status), statusDescription: result.statusDescription, headers: nodeHeaders(result.headers), body } };
    }
    return { ran: true, path: `${result.uri}${result.querystring ? `?${result.querystring}` : ''}`, headers: withOrigin(nodeHeaders(result.headers)) };
  }

  /**
   * The name of the Lambda@Edge function an association runs: its logical
   * id without CDK's hash, or, for one in CDK's us-east-1 edge-lambda stack,
   * the construct id its ARN is stored under.
   */
  public edgeFunctionName(association: TemplateEdgeLambda): string {
    const ref = this.resources[association.reference];
    if (ref?.Type === 'AWS::Lambda::Version' && typeof ref.Properties?.FunctionName?.Ref === 'string') return withoutHash(ref.Properties.FunctionName.Ref);
    if (ref?.Type === CROSS_REGION_READER && typeof ref.Properties?.ParameterName === 'string') return ref.Properties.ParameterName.split('/').pop();
    return withoutHash(association.reference);
  }

  /** The handler of an association's function, loaded once from its code asset in the cloud assembly. */
  private edgeHandler(association: TemplateEdgeLambda): EdgeHandler {
    let handler = this.edgeHandlers.get(association.reference);
    if (!handler) {
      const name = this.edgeFunctionName(association);
      const fn = this.edgeFunctionResource(association, name);
      handler = loadEdgeHandler(this.codeDirectory(fn.resource, fn.directory, name), fn.resource.Properties.Handler, name);
      this.edgeHandlers.set(association.reference, handler);
    }
    return handler;
  }

  /** The AWS::Lambda::Function an association runs, and the assembly directory of the template holding it. */
  private edgeFunctionResource(association: TemplateEdgeLambda, name: string): { resource: Record<string, any>; directory: string } {
    const directory = this.assetDirectory;
    if (directory === undefined) {
      throw new MultiZoneValidationError(`Template: Lambda@Edge function "${name}": its code is read from the cloud assembly; read the template with it (SynthesizedSite.fromTemplate(template, { assetDirectory }))`);
    }
    const ref = this.resources[association.reference];
    let resources: Record<string, any> = this.resources;
    let version = ref;
    if (ref?.Type === CROSS_REGION_READER) {
      // CDK's edge-lambda stack, a template of the same assembly, stores the version's ARN under this parameter name.
      const holder = assemblyTemplates(directory).find((t) =>
        Object.values<any>(t.Resources ?? {}).some((r) => r.Type === 'AWS::SSM::Parameter' && r.Properties?.Name === ref.Properties.ParameterName),
      );
      resources = holder?.Resources ?? {};
      version = resources[ref.Properties.RefreshToken];
    }
    const fn = resources[version?.Properties?.FunctionName?.Ref];
    if (version?.Type !== 'AWS::Lambda::Version' || fn?.Type !== 'AWS::Lambda::Function') {
      throw new MultiZoneValidationError(`Template: Lambda@Edge function "${name}": no function version found for ${association.reference} in the templates of ${directory}`);
    }
    return { resource: fn, directory };
  }

  /** The directory of a function's code asset in the cloud assembly: from the asset metadata, else the asset manifests' object keys. */
  private codeDirectory(fn: Record<string, any>, directory: string, name: string): string {
    const key = fn.Properties?.Code?.S3Key;
    const staged = fn.Metadata?.['aws:asset:path'] ?? assetManifestSources(directory)[key];
    const found = staged && path.resolve(directory, staged);
    if (!found || !fs.existsSync(found)) {
      throw new MultiZoneValidationError(
        `Template: Lambda@Edge function "${name}": its code asset (${staged ?? key ?? 'no S3 key'}) is not in ${directory}; synthesize with cdk synth and read the template from the same cloud assembly`,
      );
    }
    return found;
  }

  private sandbox(logicalId: string): FunctionSandbox {
    let sandbox = this.sandboxes.get(logicalId);
    if (!sandbox) {
      sandbox = new FunctionSandbox(this.functionCode(logicalId));
      this.sandboxes.set(logicalId, sandbox);
    }
    return sandbox;
  }
}

/** The metadata's zone releases, read defensively: entries without a string key are left out. */
function releasesOf(metadata: SiteMetadata): Record<string, SiteZoneReleases> {
  const given = (metadata as { releases?: unknown }).releases;
  if (typeof given !== 'object' || given === null) return {};
  return Object.fromEntries(Object.entries(given).filter((e): e is [string, SiteZoneReleases] => typeof e[1]?.key === 'string'));
}

/** The resource type CDK's `experimental.EdgeFunction` reads a us-east-1 function's ARN with, from a stack in another region. */
const CROSS_REGION_READER = 'Custom::CrossRegionStringParameterReader';

/** A behavior's Lambda@Edge association for one event type, if any. */
function edgeLambdaOf(raw: Record<string, any>, eventType: string): TemplateEdgeLambda | undefined {
  const a = (raw.LambdaFunctionAssociations ?? []).find((x: any) => x.EventType === eventType);
  if (!a) return undefined;
  const arn = a.LambdaFunctionARN;
  const reference = arn?.Ref ?? arn?.['Fn::GetAtt']?.[0];
  return { reference: String(reference ?? arn), includeBody: a.IncludeBody === true };
}

/** The origin-request event's request: the request as it leaves for the zone. */
function originRequestOf(served: ServedRequest, requestPath: string, headers: Record<string, string | string[] | undefined>, options: OriginRequestOptions, includeBody: boolean): EdgeRequest {
  const at = requestPath.indexOf('?');
  const url = new URL(options.originUrl ?? 'https://function-url.lambda-url.us-east-1.on.aws');
  const https = url.protocol === 'https:';
  const body = typeof options.body === 'string' ? Buffer.from(options.body) : (options.body ?? Buffer.alloc(0));
  return {
    clientIp: served.viewerRequest.viewer?.ip ?? '',
    method: served.request.method,
    uri: at < 0 ? requestPath : requestPath.slice(0, at),
    querystring: at < 0 ? '' : requestPath.slice(at + 1),
    headers: edgeHeaders(headers),
    origin: {
      custom: {
        domainName: url.hostname,
        port: Number(url.port) || (https ? 443 : 80),
        protocol: https ? 'https' : 'http',
        path: url.pathname.replace(/\/+$/, ''),
        customHeaders: edgeHeaders(options.originHeaders ?? {}),
        sslProtocols: ['TLSv1.2'],
        readTimeout: 30,
        keepaliveTimeout: 5,
      },
    },
    ...(includeBody ? { body: includedBody(body) } : {}),
  };
}

/** The parsed `*.template.json` files of a cloud assembly directory. */
function assemblyTemplates(directory: string): Array<Record<string, any>> {
  return fs
    .readdirSync(directory)
    .filter((f) => f.endsWith('.template.json'))
    .map((f) => JSON.parse(fs.readFileSync(path.join(directory, f), 'utf8')));
}

/** Object key to staged path, from the asset manifests (`*.assets.json`) of a cloud assembly directory. */
function assetManifestSources(directory: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(directory).filter((n) => n.endsWith('.assets.json'))) {
    const manifest = JSON.parse(fs.readFileSync(path.join(directory, f), 'utf8'));
    for (const asset of Object.values<any>(manifest.files ?? {})) {
      for (const d of Object.values<any>(asset.destinations ?? {})) out[d.objectKey] = asset.source?.path;
    }
  }
  return out;
}

/** A logical id without CDK's hash suffix (8 hex digits, and a version's 32 more). */
function withoutHash(logicalId: string): string {
  return logicalId.replace(/CurrentVersion[0-9A-F]{8}[0-9a-f]{32}$/, '').replace(/[0-9A-F]{8}$/, '');
}

function lowerKeys(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}

function dropUndefined(h: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  return Object.fromEntries(Object.entries(h).filter((e): e is [string, string | string[]] => e[1] !== undefined));
}
