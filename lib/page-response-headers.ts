import { Duration, Lazy, Token } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { Construct } from 'constructs';
import { regionalResourceName } from './account-names';
import { SPECULATION_RULES_HEADER, SPECULATION_RULES_HEADER_VALUE } from './speculation-rules';

/** The longest name a response headers policy may have (CreateResponseHeadersPolicy, Name). */
const POLICY_NAME_LENGTH = 128;

/** The header pages carry; a zone that sends its own keeps it (`override: false`). */
const RULES_HEADER: cloudfront.CfnResponseHeadersPolicy.CustomHeaderProperty = {
  header: SPECULATION_RULES_HEADER,
  value: SPECULATION_RULES_HEADER_VALUE,
  override: false,
};

/**
 * The response headers policy for zone pages when they must also carry
 * `Speculation-Rules`. A policy cannot be extended, so the header takes a
 * custom policy of its own (one per site, of the account's 20):
 *
 * - none given, or the managed SecurityHeadersPolicy: a policy with the same
 *   security headers as the managed one, plus the header;
 * - a `ResponseHeadersPolicy` construct: a copy of its configuration, as
 *   synthesized, plus the header (the given policy is left as it is, for
 *   assets and anything else that shares it);
 * - anything else (an imported id, another managed policy) cannot be read at
 *   synth: undefined, with the reason.
 */
export function pageResponseHeadersPolicy(
  scope: Construct,
  given: cloudfront.IResponseHeadersPolicy | undefined,
): { readonly policy: cloudfront.IResponseHeadersPolicy } | { readonly unreadable: string } {
  if (!given || given.responseHeadersPolicyId === cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS.responseHeadersPolicyId) {
    const policy: cloudfront.ResponseHeadersPolicy = new cloudfront.ResponseHeadersPolicy(scope, 'PageResponseHeadersPolicy', {
      responseHeadersPolicyName: Lazy.string({ produce: () => regionalResourceName(policy, POLICY_NAME_LENGTH) }),
      comment: 'Zone pages: the managed SecurityHeadersPolicy headers and Speculation-Rules',
      // The managed SecurityHeadersPolicy, header for header.
      securityHeadersBehavior: {
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.SAMEORIGIN, override: false },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override: false },
        strictTransportSecurity: { accessControlMaxAge: Duration.seconds(31_536_000), includeSubdomains: false, override: false },
        xssProtection: { protection: true, modeBlock: true, override: false },
      },
      customHeadersBehavior: { customHeaders: [{ header: SPECULATION_RULES_HEADER, value: SPECULATION_RULES_HEADER_VALUE, override: false }] },
    });
    return { policy };
  }
  if (!(given instanceof cloudfront.ResponseHeadersPolicy)) {
    return { unreadable: `responseHeadersPolicy ${given.responseHeadersPolicyId} is imported or managed, so its headers cannot be read at synth to add Speculation-Rules to them` };
  }
  const cfn = given.node.defaultChild as cloudfront.CfnResponseHeadersPolicy;
  const config = cfn.responseHeadersPolicyConfig as cloudfront.CfnResponseHeadersPolicy.ResponseHeadersPolicyConfigProperty;
  const custom = config.customHeadersConfig as cloudfront.CfnResponseHeadersPolicy.CustomHeadersConfigProperty | undefined;
  const items = custom?.items ?? [];
  if (Token.isUnresolved(config) || Token.isUnresolved(custom) || Token.isUnresolved(items)) {
    return { unreadable: `responseHeadersPolicy ${given.node.path} has a configuration only known at deploy` };
  }
  const headers = items as cloudfront.CfnResponseHeadersPolicy.CustomHeaderProperty[];
  if (headers.some((h) => typeof h.header === 'string' && h.header.toLowerCase() === SPECULATION_RULES_HEADER.toLowerCase())) {
    return { unreadable: `responseHeadersPolicy ${given.node.path} already sets ${SPECULATION_RULES_HEADER}` };
  }
  const copy: cloudfront.CfnResponseHeadersPolicy = new cloudfront.CfnResponseHeadersPolicy(scope, 'PageResponseHeadersPolicy', {
    responseHeadersPolicyConfig: {
      ...config,
      name: Lazy.string({ produce: () => regionalResourceName(copy, POLICY_NAME_LENGTH) }),
      comment: `Zone pages: ${given.node.path} and Speculation-Rules`.slice(0, 128),
      customHeadersConfig: { items: [...headers, RULES_HEADER] },
    },
  });
  return { policy: cloudfront.ResponseHeadersPolicy.fromResponseHeadersPolicyId(scope, 'PageResponseHeadersPolicyRef', copy.ref) };
}
