import { Stack } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { Construct } from 'constructs';
import { BehaviorPlan, PlannedBehavior } from './behaviors';
import { allowedMethods } from './behavior-policies';
import { MultiZoneValidationError } from './errors';
import { limitValue } from './limits';
import { DefaultZoneDefinition, ZoneDefinition } from './zones';
import { ZoneOrigins } from './zone-origins';
import { bodyHashFunction, canPlaceEdgeFunction } from './body-hash/body-hash-function';

/**
 * Lambda@Edge triggers (function associations) a distribution may have
 * by default (CloudFront Developer Guide, "Quotas on Lambda@Edge",
 * triggers per distribution).
 */
export const MAX_LAMBDA_EDGE_TRIGGERS = limitValue('lambda-edge-triggers-per-distribution');

/**
 * Where the body-hash Lambda@Edge function runs: the behaviors taking
 * request bodies that some zone able to answer them signs for a Lambda
 * function URL (and has not opted out).
 */
export class BodyHashing {
  /** The stack's body-hash function, when a behavior needs it. */
  public readonly function?: cloudfront.experimental.EdgeFunction;
  private readonly behaviors: Set<PlannedBehavior>;

  constructor(scope: Construct, zones: Array<DefaultZoneDefinition | ZoneDefinition>, origins: ZoneOrigins, plan: BehaviorPlan) {
    this.behaviors = hashedBehaviors(scope, zones, origins, plan);
    if (this.behaviors.size > 0) this.function = bodyHashFunction(scope);
  }

  /** The body hash runs at origin request, after the router chose the zone, and reads the body. */
  public edgeLambdas(b: PlannedBehavior): cloudfront.EdgeLambda[] | undefined {
    if (!this.function || !this.behaviors.has(b)) return undefined;
    return [{ functionVersion: this.function, eventType: cloudfront.LambdaEdgeEventType.ORIGIN_REQUEST, includeBody: true }];
  }
}

/** The behaviors that need the body hash; refuses them when the function cannot be placed or has too many. */
function hashedBehaviors(scope: Construct, zones: Array<DefaultZoneDefinition | ZoneDefinition>, origins: ZoneOrigins, plan: BehaviorPlan): Set<PlannedBehavior> {
  const hashing = new Set(zones.filter((z) => z.hashRequestBodies !== false && origins.of(z.name).signsForFunctionUrl).map((z) => z.name));
  const behaviors = [...plan.behaviors, plan.defaultBehavior].filter(
    (b) => allowedMethods(b).methods.some((m) => m === 'POST' || m === 'PUT') && b.servedBy.some((z) => hashing.has(z)),
  );
  if (behaviors.length === 0) return new Set();
  const stack = Stack.of(scope);
  const named = [...new Set(behaviors.flatMap((b) => b.servedBy.filter((z) => hashing.has(z))))].map((z) => `"${z}"`);
  const zonesNamed = `${named.length === 1 ? 'Zone' : 'Zones'} ${named.join(', ')}`;
  if (!canPlaceEdgeFunction(stack)) {
    throw new MultiZoneValidationError(
      `${zonesNamed}: a Lambda function URL origin with origin access control needs x-amz-content-sha256 on POST and PUT, ` +
        `which a Lambda@Edge function in us-east-1 adds; stack ${stack.stackName} has no region at synth to place it from: ` +
        'set env.region on the stack, or set hashRequestBodies: false on the zone if its clients send the header themselves',
    );
  }
  if (behaviors.length > MAX_LAMBDA_EDGE_TRIGGERS) {
    throw new MultiZoneValidationError(
      `${zonesNamed}: ${behaviors.length} cache behaviors would run the body-hash Lambda@Edge function, past the ${MAX_LAMBDA_EDGE_TRIGGERS} ` +
        'Lambda@Edge triggers a distribution may have ("Quotas on Lambda@Edge"); lower maxCacheBehaviors, or set hashRequestBodies: false on the zone',
    );
  }
  return new Set(behaviors);
}
