/**
 * Lambda@Edge origin-request handler (include body, read-only): adds
 * `x-amz-content-sha256`, the SHA-256 (hex) of the request body, which a
 * Lambda function URL behind origin access control requires of every POST
 * and PUT, and which browsers never send. CloudFront signs the request
 * after this runs, with the header in the signature.
 *
 * Lambda@Edge functions take no environment variables: everything it
 * needs is in this file. No dependency beyond node's crypto.
 */
import { createHash } from 'crypto';

/** The header Lambda checks against the body ("Restrict access to an AWS Lambda function URL origin"). */
export const CONTENT_SHA256_HEADER = 'x-amz-content-sha256';

/**
 * How much of a body an origin-request function sees: Lambda@Edge
 * truncates included bodies past 1 MB (CloudFront Developer Guide,
 * "Restrictions on Lambda@Edge", request body with the include body
 * option).
 */
export const MAX_HASHED_BODY = '1 MB';

/** Methods that carry no body: their requests pass untouched. */
const BODYLESS_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

interface HeaderValue {
  key?: string;
  value: string;
}

interface EdgeRequest {
  method: string;
  uri: string;
  headers: Record<string, HeaderValue[]>;
  body?: { data: string; encoding: 'base64' | 'text'; inputTruncated: boolean; action: string };
}

interface EdgeEvent {
  Records: Array<{ cf: { request: EdgeRequest } }>;
}

interface EdgeResponse {
  status: string;
  statusDescription: string;
  headers: Record<string, HeaderValue[]>;
  body: string;
}

export const handler = async (event: EdgeEvent): Promise<EdgeRequest | EdgeResponse> => {
  const request = event.Records[0].cf.request;
  if (BODYLESS_METHODS.has(request.method)) return request;
  const body = request.body;
  if (body?.inputTruncated) {
    // A client that hashed its own body may send more than the function sees.
    if (request.headers[CONTENT_SHA256_HEADER]) return request;
    return tooLarge();
  }
  const bytes = body ? Buffer.from(body.data, body.encoding === 'text' ? 'utf8' : 'base64') : Buffer.alloc(0);
  request.headers[CONTENT_SHA256_HEADER] = [{ key: CONTENT_SHA256_HEADER, value: createHash('sha256').update(bytes).digest('hex') }];
  return request;
};

/** The answer for a body too large to hash: without the hash the zone would refuse it with a 403 SignatureDoesNotMatch. */
function tooLarge(): EdgeResponse {
  return {
    status: '413',
    statusDescription: 'Payload Too Large',
    headers: {
      'content-type': [{ key: 'Content-Type', value: 'text/plain; charset=utf-8' }],
      'cache-control': [{ key: 'Cache-Control', value: 'no-store' }],
    },
    body: `Request body too large: this site accepts request bodies of at most ${MAX_HASHED_BODY} on this path.\n`,
  };
}
