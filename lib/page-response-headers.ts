import { Duration, Lazy, Token } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { Construct } from 'constructs';
import { regionalResourceName } from './account-names';
import { limitValue } from './limits';
import { SPECULATION_RULES_HEADER, SPECULATION_RULES_HEADER_VALUE } from './speculation-rules';

/** The longest name a response headers policy may have (CreateResponseHeadersPolicy, Name). */
const POLICY_NAME_LENGTH = 128;

/** The header pages carry; a zone that sends its own keeps it (`override: false`). */
const RULES_HEADER: cloudfront.CfnResponseHeadersPolicy.CustomHeaderProperty = {
  header: SPECULATION_RULES_HEADER,
  value: SPECULATION_RULES_HEADER_VALUE,
  override: false,
};

/** Why zone pages cannot get `Speculation-Rules` on top of the given policy, and what would let them. */
export interface PagePolicyProblem {
  /** What stands in the way, naming the policy. */
  readonly problem: string;
  /** What the user can change, as an imperative ("remove 1 of its custom headers"). */
  readonly remedy: string;
}

const CONSTRUCT_REMEDY = 'pass a ResponseHeadersPolicy construct as responseHeadersPolicy (its copy for pages gets the header)';

/**
 * Why zone pages cannot get `Speculation-Rules` on top of the given
 * policy, or undefined when they can. A policy cannot be extended, so the
 * header takes a custom policy of its own (one per site, of the account's
 * 20); it is built from the given policy's settings, which must be known
 * at synth: none given or the managed SecurityHeadersPolicy (its headers
 * are documented), or a `ResponseHeadersPolicy` construct (its synthesized
 * configuration) with room for one more custom header. An imported id or
 * another managed policy cannot be read.
 */
export function pagePolicyProblem(given: cloudfront.IResponseHeadersPolicy | undefined): PagePolicyProblem | undefined {
  if (!given || isManagedSecurityHeaders(given)) return undefined;
  if (!(given instanceof cloudfront.ResponseHeadersPolicy)) {
    return { problem: `responseHeadersPolicy ${given.responseHeadersPolicyId} is imported or managed, so its headers cannot be read at synth to add Speculation-Rules to them`, remedy: CONSTRUCT_REMEDY };
  }
  const { config, custom, items } = readConfig(given);
  if (Token.isUnresolved(config) || Token.isUnresolved(custom) || Token.isUnresolved(items)) {
    return { problem: `responseHeadersPolicy ${given.node.path} has a configuration only known at deploy`, remedy: CONSTRUCT_REMEDY };
  }
  const headers = items as cloudfront.CfnResponseHeadersPolicy.CustomHeaderProperty[];
  if (headers.some((h) => typeof h.header === 'string' && h.header.toLowerCase() === SPECULATION_RULES_HEADER.toLowerCase())) {
    return { problem: `responseHeadersPolicy ${given.node.path} already sets ${SPECULATION_RULES_HEADER}`, remedy: `remove ${SPECULATION_RULES_HEADER} from it (the copy for pages adds it)` };
  }
  return tooManyHeaders(given.node.path, headers.length);
}

/** The copy for pages holds the given policy's custom headers and one more, within the quota. */
function tooManyHeaders(path: string, count: number): PagePolicyProblem | undefined {
  const max = limitValue('response-headers-policy-custom-headers');
  if (count + 1 <= max) return undefined;
  return {
    problem: `responseHeadersPolicy ${path} has ${count} custom headers, and its copy for zone pages would have ${count + 1} with ${SPECULATION_RULES_HEADER}, past the ${max} CloudFront allows in a response headers policy`,
    remedy: `remove ${count + 1 - max} of its custom headers`,
  };
}

/**
 * The response headers policy for zone pages: the managed
 * SecurityHeadersPolicy's headers, or a copy of the given policy's
 * configuration as synthesized (the given policy is left as it is, for
 * assets and anything else that shares it), plus `Speculation-Rules`.
 * Call only when {@link pagePolicyProblem} finds none.
 */
export function pageResponseHeadersPolicy(scope: Construct, given: cloudfront.IResponseHeadersPolicy | undefined): cloudfront.IResponseHeadersPolicy {
  if (!given || isManagedSecurityHeaders(given)) {
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
    return policy;
  }
  const mine = given as cloudfront.ResponseHeadersPolicy;
  const { config, items } = readConfig(mine);
  const copy: cloudfront.CfnResponseHeadersPolicy = new cloudfront.CfnResponseHeadersPolicy(scope, 'PageResponseHeadersPolicy', {
    responseHeadersPolicyConfig: {
      ...config,
      name: Lazy.string({ produce: () => regionalResourceName(copy, POLICY_NAME_LENGTH) }),
      comment: `Zone pages: ${mine.node.path} and Speculation-Rules`.slice(0, 128),
      customHeadersConfig: { items: [...(items as cloudfront.CfnResponseHeadersPolicy.CustomHeaderProperty[]), RULES_HEADER] },
    },
  });
  return cloudfront.ResponseHeadersPolicy.fromResponseHeadersPolicyId(scope, 'PageResponseHeadersPolicyRef', copy.ref);
}

function isManagedSecurityHeaders(p: cloudfront.IResponseHeadersPolicy): boolean {
  return p.responseHeadersPolicyId === cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS.responseHeadersPolicyId;
}

function readConfig(p: cloudfront.ResponseHeadersPolicy) {
  const config = (p.node.defaultChild as cloudfront.CfnResponseHeadersPolicy).responseHeadersPolicyConfig as cloudfront.CfnResponseHeadersPolicy.ResponseHeadersPolicyConfigProperty;
  const custom = config.customHeadersConfig as cloudfront.CfnResponseHeadersPolicy.CustomHeadersConfigProperty | undefined;
  return { config, custom, items: custom?.items ?? [] };
}
