/**
 * The AWS clients the operator commands use, and the one place AWS errors
 * become one-line messages a person can act on.
 *
 * CloudFront and its KeyValueStore API are global (signed for us-east-1,
 * and SigV4A for the store); CloudFormation is regional, so `--region`
 * (or the usual AWS_REGION / profile settings) picks the stack's region.
 */
// The KeyValueStore data-plane API only accepts SigV4A signatures: this registers the signer.
import '@aws-sdk/signature-v4a';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { CloudFrontKeyValueStoreClient } from '@aws-sdk/client-cloudfront-keyvaluestore';
import { S3Client } from '@aws-sdk/client-s3';
import { MultiZoneValidationError } from 'multizone-distribution/internal';

/** How to reach AWS: the usual SDK settings, which `--region` and `--profile` can override. */
export interface AwsOptions {
  /** Region of the stack (CloudFormation); CloudFront itself is global. */
  readonly region?: string;
  /** Shared config / credentials profile. */
  readonly profile?: string;
}

/** The clients of one command run. */
export interface AwsClients {
  readonly cloudFormation: CloudFormationClient;
  readonly cloudFront: CloudFrontClient;
  readonly keyValueStore: CloudFrontKeyValueStoreClient;
  /** Reads the site's assets (routing table) from the stack's assets bucket. */
  readonly s3: S3Client;
}

/** CloudFront's control plane answers in us-east-1 whatever region the stack is in. */
const CLOUDFRONT_REGION = 'us-east-1';

/** Creates the clients lazily-configured for one command; nothing is called until a command sends. */
export function createClients(options: AwsOptions = {}): AwsClients {
  const profile = options.profile ? { profile: options.profile } : {};
  return {
    cloudFormation: new CloudFormationClient({ ...profile, ...(options.region ? { region: options.region } : {}) }),
    cloudFront: new CloudFrontClient({ ...profile, region: CLOUDFRONT_REGION }),
    keyValueStore: new CloudFrontKeyValueStoreClient({ ...profile, region: CLOUDFRONT_REGION }),
    // The assets bucket is in the stack's region, which the default region may not be.
    s3: new S3Client({ ...profile, ...(options.region ? { region: options.region } : {}), followRegionRedirects: true }),
  };
}

/**
 * A failure of an operator command, already phrased for the operator: one
 * line, naming what was attempted and what to do about it. The CLI prints
 * its message and exits non-zero, without a stack trace.
 */
export class OperateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OperateError';
  }
}

const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded', 'SlowDown']);
const ACCESS_DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'UnrecognizedClientException', 'InvalidClientTokenId', 'SignatureDoesNotMatch']);
const EXPIRED = new Set(['ExpiredToken', 'ExpiredTokenException', 'RequestExpired', 'TokenRefreshRequired']);
const NOT_FOUND = new Set(['ResourceNotFoundException', 'NoSuchDistribution', 'NoSuchFunctionExists', 'NoSuchInvalidation', 'EntityNotFound']);

/** The first line of an error's message, without trailing punctuation. */
function firstLine(error: unknown): string {
  const message = (error as { message?: unknown } | undefined)?.message;
  return String(message ?? error).split('\n')[0].trim().replace(/[.\s]+$/, '');
}

function errorName(error: unknown): string {
  return String((error as { name?: unknown; Code?: unknown } | undefined)?.name ?? '');
}

function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

/**
 * Rephrases an error thrown while doing `action` (an API call such as
 * "DescribeStacks on MyStack") as an OperateError. Errors that are already
 * phrased for the operator pass through unchanged.
 */
export function explainAwsError(action: string, error: unknown): Error {
  if (error instanceof OperateError || error instanceof MultiZoneValidationError) return error;
  const name = errorName(error);
  const detail = firstLine(error);
  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(detail)) {
    return new OperateError(
      `${action}: no AWS credentials found; set AWS_PROFILE (or --profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run "aws sso login"`,
    );
  }
  if (EXPIRED.has(name)) {
    return new OperateError(`${action}: the AWS credentials have expired (${detail}); refresh them (e.g. "aws sso login") and run the command again`);
  }
  if (/region is missing/i.test(detail)) {
    return new OperateError(`${action}: no AWS region; set AWS_REGION or pass --region`);
  }
  if (THROTTLING.has(name) || httpStatus(error) === 429) {
    return new OperateError(`${action}: AWS is throttling these requests and the SDK's retries ran out; wait a minute and run the command again`);
  }
  if (ACCESS_DENIED.has(name) || httpStatus(error) === 403) {
    return new OperateError(`${action}: access denied (${detail}); the operator needs the IAM permissions listed in docs/operating.md ("IAM permissions of the operator")`);
  }
  if (NOT_FOUND.has(name) || httpStatus(error) === 404) {
    return new OperateError(`${action}: not found (${detail})`);
  }
  return new OperateError(`${action} failed: ${name && name !== 'Error' ? `${name}: ` : ''}${detail}`);
}

/** Runs one AWS call, turning any failure into a one-line OperateError naming `action`. */
export async function awsCall<T>(action: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw explainAwsError(action, error);
  }
}

/** Whether an error is a lost optimistic-concurrency race (the ETag sent in IfMatch is no longer current). */
export function isEtagConflict(error: unknown): boolean {
  const name = errorName(error);
  return name === 'ConflictException' || name === 'PreconditionFailed' || httpStatus(error) === 409 || httpStatus(error) === 412;
}
