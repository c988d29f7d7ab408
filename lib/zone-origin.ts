import { SecretValue, Stack } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { ZONE_HEADER } from './edge-function/generate';
import { VIEWER_AUTHORIZATION_HEADER } from './edge-function/router-source';
import { MultiZoneValidationError } from './errors';
import { ZONE_FLAGS_HEADER } from './zone-flags';

/** The header name `originVerifyHeader` uses unless told otherwise. */
export const DEFAULT_ORIGIN_VERIFY_HEADER = 'x-origin-verify';

/**
 * A secret header CloudFront adds to every request it sends to a zone with
 * a custom (HTTP) origin, so the zone can refuse requests that did not come
 * through the distribution.
 */
export interface OriginVerifyHeader {
  /**
   * Name of the header.
   *
   * @default "x-origin-verify"
   */
  readonly headerName?: string;
  /**
   * The secret. Use a value CloudFormation resolves at deploy time, so it
   * is never written into the template: `SecretValue.secretsManager(...)`
   * or a secret's `secretValue` (a dynamic reference), or a `NoEcho`
   * parameter (`SecretValue.cfnParameter`). Plain text is refused.
   */
  readonly value: SecretValue;
}

/** Headers CloudFront does not let an origin custom header set, and the ones the construct itself uses. */
const RESERVED_ORIGIN_HEADERS = new Set([
  'accept-encoding', 'cache-control', 'connection', 'content-length', 'cookie', 'host', 'if-match', 'if-modified-since',
  'if-none-match', 'if-range', 'if-unmodified-since', 'max-forwards', 'pragma', 'proxy-authorization', 'proxy-connection',
  'range', 'request-range', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'via', 'x-real-ip', 'x-forwarded-for',
  'x-forwarded-host', ZONE_HEADER, ZONE_FLAGS_HEADER, VIEWER_AUTHORIZATION_HEADER,
]);

/** Problems with the originVerifyHeader prop, naming the field. */
export function originVerifyHeaderProblems(header: OriginVerifyHeader | undefined, stack: Stack): string[] {
  if (header === undefined) return [];
  const problems: string[] = [];
  const name = header.headerName ?? DEFAULT_ORIGIN_VERIFY_HEADER;
  const lower = name.toLowerCase();
  if (!/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/.test(name)) {
    problems.push(`originVerifyHeader.headerName: "${name}" is not a header name`);
  } else if (RESERVED_ORIGIN_HEADERS.has(lower) || lower.startsWith('x-amz-') || lower.startsWith('x-edge-') || lower.startsWith('cloudfront-')) {
    problems.push(`originVerifyHeader.headerName: "${name}" is a header CloudFront or the construct sets itself; choose another name`);
  }
  if (!SecretValue.isSecretValue(header.value)) {
    problems.push('originVerifyHeader.value: must be a SecretValue (e.g. SecretValue.secretsManager(...))');
  } else if (JSON.stringify(resolvedSecret(header.value, stack)).includes('{{resolve:ssm-secure:')) {
    problems.push('originVerifyHeader.value: CloudFront distributions do not take ssm-secure references; use SecretValue.secretsManager(...)');
  } else if (isPlainText(header.value, stack)) {
    problems.push(
      'originVerifyHeader.value: is plain text and would be written into the template; use SecretValue.secretsManager(...), a secret\'s secretValue, or SecretValue.cfnParameter(...) of a NoEcho parameter',
    );
  }
  return problems;
}

/**
 * What a secret puts into the template. Resolved through its unwrapped
 * value: resolving the SecretValue itself throws under the
 * `@aws-cdk/core:checkSecretUsage` flag, which `cdk init` turns on.
 */
function resolvedSecret(value: SecretValue, stack: Stack): unknown {
  return stack.resolve(value.unsafeUnwrap());
}

/** Whether a secret resolves to a literal string (rather than a reference CloudFormation resolves at deploy). */
function isPlainText(value: SecretValue, stack: Stack): boolean {
  const resolved = resolvedSecret(value, stack);
  return typeof resolved === 'string' && !resolved.includes('{{resolve:');
}

/**
 * Wraps a zone's origin so its origin id derives from the zone's name (the
 * function selects origins by id) and any resource the origin creates (an
 * origin access control, say) lives under a scope named for the zone, so
 * reordering zones never renames them. The id the distribution keeps is
 * read back from the bind result, which honors an `originId` the user set.
 *
 * The zone's origin is bound once, on first need: before the distribution
 * exists when its behaviors need to know what the origin is (a Lambda
 * function URL behind origin access control, say), else when the
 * distribution binds it. Either way with the zone's origin id and the
 * distribution's id, which is all the distribution would pass.
 */
export class ZoneOrigin implements cloudfront.IOrigin {
  /** The id the distribution gave the origin; set once the distribution has bound it. */
  public originId?: string;
  /** Whether the zone is an HTTP origin with neither an origin access control nor the verify header. */
  public reachableAround = false;
  private innerConfig?: cloudfront.OriginBindConfig;

  constructor(
    public readonly zone: string,
    private readonly inner: cloudfront.IOrigin,
    private readonly scope: Construct,
    private readonly distributionId: string,
    private readonly verifyHeader?: cloudfront.CfnDistribution.OriginCustomHeaderProperty,
  ) {}

  /**
   * Whether CloudFront signs the zone's requests for a Lambda function URL
   * (an origin access control of origin type `lambda` that signs), so that
   * a POST or PUT must carry `x-amz-content-sha256`.
   */
  public get signsForFunctionUrl(): boolean {
    const signing = functionUrlSigning(this.bindInner().originProperty, this.scope);
    return signing !== undefined && signing !== cloudfront.SigningBehavior.NEVER;
  }

  /**
   * Why the viewer's `Authorization` cannot reach a Lambda function URL
   * zone the way its origin access control signs, if it cannot. Signing
   * `always` overwrites the header and the zone reads the viewer's in
   * `x-viewer-authorization`; `no-override` leaves a request that carries one
   * unsigned, and `never` leaves them all unsigned, which a function URL
   * of auth type AWS_IAM refuses ("OriginAccessControlConfig" API reference).
   */
  public get authorizationProblem(): string | undefined {
    const origin = this.bindInner().originProperty;
    const signing = functionUrlSigning(origin, this.scope);
    const authType = origin ? functionUrlAuthType(origin.domainName, this.scope) : undefined;
    const remedy = `sign always (Signing.SIGV4_ALWAYS, the default): the zone then reads the viewer's Authorization in ${VIEWER_AUTHORIZATION_HEADER}`;
    if (signing === cloudfront.SigningBehavior.NO_OVERRIDE && authType !== lambda.FunctionUrlAuthType.NONE) {
      return (
        `Zone "${this.zone}": its origin access control signs with no-override, so a request carrying Authorization (Basic or Bearer credentials) ` +
        `reaches the Lambda function URL unsigned, and a function URL of auth type AWS_IAM refuses it (403); ${remedy}`
      );
    }
    if (signing === cloudfront.SigningBehavior.NEVER && authType === lambda.FunctionUrlAuthType.AWS_IAM) {
      return `Zone "${this.zone}": its origin access control never signs, and its function URL of auth type AWS_IAM refuses every unsigned request (403); ${remedy}`;
    }
    return undefined;
  }

  /** Whether the zone's origin is a VPC origin, which `cf.updateRequestOrigin` cannot point elsewhere (its releases could not be reached). */
  public get isVpcOrigin(): boolean {
    return this.bindInner().originProperty?.vpcOriginConfig !== undefined;
  }

  /** The zone's origin path ('' for none): `cf.updateRequestOrigin` can set another, never empty it. */
  public get originPath(): string {
    return this.bindInner().originProperty?.originPath ?? '';
  }

  public bind(_scope: Construct, _options: cloudfront.OriginBindOptions): cloudfront.OriginBindConfig {
    const config = this.bindInner();
    this.originId = config.originProperty?.id ?? `zone-${this.zone}`;
    const origin = config.originProperty;
    if (!origin?.customOriginConfig) return config;
    if (!this.verifyHeader) {
      this.reachableAround = !origin.originAccessControlId;
      return config;
    }
    // HTTP origins (Lambda function URLs included) get the secret header the zones check.
    const headers = (origin.originCustomHeaders ?? []) as cloudfront.CfnDistribution.OriginCustomHeaderProperty[];
    if (headers.some((h) => h.headerName.toLowerCase() === this.verifyHeader!.headerName.toLowerCase())) {
      throw new MultiZoneValidationError(`Zone "${this.zone}": origin already sets header "${this.verifyHeader.headerName}", which originVerifyHeader adds`);
    }
    return { ...config, originProperty: { ...origin, originCustomHeaders: [...headers, this.verifyHeader] } };
  }

  private bindInner(): cloudfront.OriginBindConfig {
    this.innerConfig ??= this.inner.bind(new Construct(this.scope, this.zone), { originId: `zone-${this.zone}`, distributionId: this.distributionId });
    return this.innerConfig;
  }
}

/**
 * How the origin access control of a bound Lambda function URL origin
 * signs (`always`, `no-override` or `never`); undefined for any other
 * origin. The bind result names the origin access control by id; its
 * configuration is read from the CloudFormation resource of that id in the
 * app (public L1 attributes only). An origin access control named by a
 * literal id (`originAccessControlId` of an `HttpOrigin`) has no such
 * resource: an HTTP origin with one is then taken as a function URL that
 * signs `always`, since hashing a body the origin does not check is
 * harmless and a missing hash is a 403 on every POST. Signing `never` turns
 * origin access control off: no hash is needed.
 */
function functionUrlSigning(origin: cloudfront.CfnDistribution.OriginProperty | undefined, scope: Construct): string | undefined {
  const oacId = origin?.originAccessControlId;
  if (oacId === undefined || !origin?.customOriginConfig) return undefined;
  const oac = scope.node.root.node
    .findAll()
    .find((c): c is cloudfront.CfnOriginAccessControl => c instanceof cloudfront.CfnOriginAccessControl && (c.attrId === oacId || c.ref === oacId));
  if (!oac) return cloudfront.SigningBehavior.ALWAYS;
  const config = Stack.of(oac).resolve(oac.originAccessControlConfig) as cloudfront.CfnOriginAccessControl.OriginAccessControlConfigProperty;
  return config.originAccessControlOriginType === cloudfront.OriginAccessControlOriginType.LAMBDA ? config.signingBehavior : undefined;
}

/**
 * The auth type (`AWS_IAM` or `NONE`) of the Lambda function URL an
 * origin's domain is taken from (`FunctionUrlOrigin` takes it from the
 * URL's `FunctionUrl` attribute), when the app defines that URL; undefined
 * for an imported one or any other domain.
 */
function functionUrlAuthType(domainName: string, scope: Construct): string | undefined {
  const url = scope.node.root.node.findAll().find((c): c is lambda.CfnUrl => {
    if (!(c instanceof lambda.CfnUrl)) return false;
    const stack = Stack.of(c);
    return JSON.stringify(stack.resolve(domainName)).includes(JSON.stringify(stack.resolve(c.attrFunctionUrl)));
  });
  return url?.authType;
}
