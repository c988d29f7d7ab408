import { Stack, Stage } from 'aws-cdk-lib';
import { MultiZoneValidationError, TableFile, BoundZone, METADATA_KEY, SiteAssetFile, SiteAssetLocation, SiteMetadata, pathPatternMatches, SiteAssetSource, readSiteAsset, RoutingTable } from 'multizone-distribution/internal';
import { FunctionResponse, FunctionSandbox, KvsLookup, ViewerRequestEvent, setCookieHeaders, splitUri, viewerRequestEvent, viewerResponseEvent } from './edge-function/sandbox';

/** One cache behavior as the template states it. */
export interface TemplateBehavior {
  /** The path pattern; `*` for the default behavior. */
  readonly pathPattern: string;
  /** The origin id it forwards to. */
  readonly targetOriginId: string;
  /** Logical id of its viewer-request CloudFront Function, if any. */
  readonly viewerRequestFunction?: string;
  /** Logical id of its viewer-response CloudFront Function (the visitor cookie), if any. */
  readonly viewerResponseFunction?: string;
  /** The raw CloudFormation behavior. */
  readonly raw: Record<string, any>;
}

/** How CloudFront would serve one request. */
export interface ServedRequest {
  /** The behavior that matched. */
  readonly behavior: TemplateBehavior;
  /** Its position among the behaviors; -1 for the default behavior. */
  readonly behaviorIndex: number;
  /** Whether a viewer-request function ran. */
  readonly functionRan: boolean;
  /** The origin that serves the request (after the function's choice). */
  readonly originId: string;
  /** The zone owning that origin. */
  readonly zone: string;
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
    return new SynthesizedSite(resources, candidates[0][0], (location) => readSiteAsset(location.path, options));
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
  private readonly sandboxes = new Map<string, FunctionSandbox>();

  private constructor(
    private readonly resources: Record<string, any>,
    /** Logical id of the distribution. */
    public readonly logicalId: string,
    asset: (location: SiteAssetLocation) => any,
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
      viewerRequestFunction: functionOf(raw, 'viewer-request'),
      viewerResponseFunction: functionOf(raw, 'viewer-response'),
      raw,
    });
    this.behaviors = [...(config.CacheBehaviors ?? []).map((b: any) => read(b, b.PathPattern)), read(config.DefaultCacheBehavior, '*')];
    this.origins = Object.fromEntries((config.Origins ?? []).map((o: any) => [o.Id, o.DomainName]));
    this.originConfigs = Object.fromEntries((config.Origins ?? []).map((o: any) => [o.Id, o]));
    const store: TableFile | undefined = metadata.storeAsset && asset(metadata.storeAsset);
    this.storeEntries = { ...store?.initialFlags, ...store?.entries };
  }

  /** The behavior CloudFront picks for a URI path: the first match in listed order, else the default. */
  public behaviorFor(uriPath: string): { behavior: TemplateBehavior; index: number } {
    const additional = this.behaviors.slice(0, -1);
    const index = additional.findIndex((b) => pathPatternMatches(b.pathPattern, uriPath));
    return index < 0 ? { behavior: this.behaviors[this.behaviors.length - 1], index: -1 } : { behavior: additional[index], index };
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
    const { behavior, index } = this.behaviorFor(event.request.uri);
    let originId = behavior.targetOriginId;
    let response: Record<string, any> | undefined;
    const storeValues = { ...options.flags };
    if (behavior.viewerRequestFunction) {
      const outcome = await this.sandbox(behavior.viewerRequestFunction).run(event, this.storeView(storeValues));
      originId = outcome.selectedOriginId ?? originId;
      if (outcome.result && typeof outcome.result.statusCode === 'number') response = outcome.result;
    }
    const viewerResponse = response || options.skipViewerResponse ? undefined : await this.respondTo(behavior, asSent, storeValues, {});
    return {
      behavior,
      behaviorIndex: index,
      functionRan: behavior.viewerRequestFunction !== undefined,
      originId,
      zone: this.zoneOfOrigin(originId) ?? `(unknown origin ${originId})`,
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

  private sandbox(logicalId: string): FunctionSandbox {
    let sandbox = this.sandboxes.get(logicalId);
    if (!sandbox) {
      sandbox = new FunctionSandbox(this.functionCode(logicalId));
      this.sandboxes.set(logicalId, sandbox);
    }
    return sandbox;
  }
}
