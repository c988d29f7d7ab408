import { SecretValue, Stack } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { Construct } from 'constructs';
import { ZONE_HEADER } from './edge-function/generate';
import { MultiZoneValidationError } from './errors';

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
  'x-forwarded-host', ZONE_HEADER,
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
  } else if (JSON.stringify(stack.resolve(header.value)).includes('{{resolve:ssm-secure:')) {
    problems.push('originVerifyHeader.value: CloudFront distributions do not take ssm-secure references; use SecretValue.secretsManager(...)');
  } else if (isPlainText(header.value, stack)) {
    problems.push(
      'originVerifyHeader.value: is plain text and would be written into the template; use SecretValue.secretsManager(...), a secret\'s secretValue, or SecretValue.cfnParameter(...) of a NoEcho parameter',
    );
  }
  return problems;
}

/** Whether a secret resolves to a literal string (rather than a reference CloudFormation resolves at deploy). */
function isPlainText(value: SecretValue, stack: Stack): boolean {
  const resolved = stack.resolve(value);
  return typeof resolved === 'string' && !resolved.includes('{{resolve:');
}

/**
 * Wraps a zone's origin so its origin id derives from the zone's name (the
 * function selects origins by id) and any resource the origin creates (an
 * origin access control, say) lives under a scope named for the zone, so
 * reordering zones never renames them. The id the distribution keeps is
 * read back from the bind result, which honors an `originId` the user set.
 */
export class ZoneOrigin implements cloudfront.IOrigin {
  public originId?: string;
  /** Whether the zone is an HTTP origin with neither an origin access control nor the verify header. */
  public reachableAround = false;

  constructor(
    public readonly zone: string,
    private readonly inner: cloudfront.IOrigin,
    private readonly scope: Construct,
    private readonly verifyHeader?: cloudfront.CfnDistribution.OriginCustomHeaderProperty,
  ) {}

  public bind(_scope: Construct, options: cloudfront.OriginBindOptions): cloudfront.OriginBindConfig {
    const originId = `zone-${this.zone}`;
    const config = this.inner.bind(new Construct(this.scope, this.zone), { ...options, originId });
    this.originId = config.originProperty?.id ?? originId;
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
}

