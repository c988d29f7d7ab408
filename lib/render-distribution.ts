import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { BehaviorPlan, PlannedBehavior } from './behaviors';
import { BehaviorPolicies, allowedMethods } from './behavior-policies';
import { BodyHashing } from './body-hashing';
import { EdgeFunctions } from './edge-functions';
import { MultiZoneDistributionProps } from './props';
import { ZoneOrigins } from './zone-origins';

/** What a planned behavior is rendered with. */
export interface BehaviorParts {
  readonly origins: ZoneOrigins;
  readonly policies: BehaviorPolicies;
  readonly functions: EdgeFunctions;
  readonly bodyHashing: BodyHashing;
}

/** The distribution's props: its behaviors from the plan, in the plan's order, and its settings from the site's props. */
export function renderDistribution(props: MultiZoneDistributionProps, plan: BehaviorPlan, parts: BehaviorParts): cloudfront.DistributionProps {
  const additionalBehaviors: Record<string, cloudfront.BehaviorOptions> = {};
  for (const b of plan.behaviors) additionalBehaviors[b.pattern] = renderBehavior(b, parts);
  return {
    defaultBehavior: renderBehavior(plan.defaultBehavior, parts),
    additionalBehaviors,
    domainNames: props.domainNames,
    certificate: props.certificate,
    comment: props.comment,
    priceClass: props.priceClass,
    // The CloudFront default certificate has a fixed policy; the minimum applies to a custom one.
    minimumProtocolVersion: props.certificate ? (props.minimumProtocolVersion ?? cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021) : undefined,
    httpVersion: props.httpVersion ?? cloudfront.HttpVersion.HTTP2_AND_3,
    webAclId: props.webAclId,
    geoRestriction: props.geoRestriction,
    enableLogging: props.enableLogging,
    logBucket: props.logBucket,
    logFilePrefix: props.logFilePrefix,
    errorResponses: props.errorResponses,
    enabled: props.enabled,
  };
}

function renderBehavior(b: PlannedBehavior, parts: BehaviorParts): cloudfront.BehaviorOptions {
  return {
    origin: parts.origins.of(b.zone),
    viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
    // Image responses are AVIF, WebP, PNG, JPEG: compressing them gains nothing, and Accept-Encoding stays out of their key.
    compress: b.kind !== 'image',
    allowedMethods: allowedMethods(b),
    ...parts.policies.caching(b),
    functionAssociations: parts.functions.associations(b),
    edgeLambdas: parts.bodyHashing.edgeLambdas(b),
    responseHeadersPolicy: parts.policies.responseHeaders(b),
  };
}
