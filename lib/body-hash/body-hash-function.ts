import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { handlerAssetDir } from '../handler-assets';

/** The construct id of the stack's body-hash function. */
const FUNCTION_ID = 'MultiZoneBodyHash';

/**
 * The stack's origin-request Lambda@Edge function that adds
 * `x-amz-content-sha256` to request bodies (lib/body-hash/handler.ts),
 * created on first use and shared by every MultiZoneDistribution of the
 * stack: the handler has no configuration, so one serves them all.
 *
 * Lambda@Edge functions live in us-east-1 ("Restrictions on Lambda@Edge",
 * Lambda Region): `experimental.EdgeFunction` creates it there, in a
 * support stack when the stack is in another region, which needs the
 * stack's region to be known at synth (the caller checks).
 *
 * The function and its versions are retained: CloudFront deletes their
 * replicas only hours after they are disassociated, and until then Lambda
 * refuses to delete them ("Delete Lambda@Edge functions and replicas"), so
 * a `cdk destroy`, or a deploy that replaces the version, would fail.
 */
export function bodyHashFunction(scope: Construct): cloudfront.experimental.EdgeFunction {
  const stack = Stack.of(scope);
  const existing = stack.node.tryFindChild(FUNCTION_ID) as cloudfront.experimental.EdgeFunction | undefined;
  if (existing) return existing;
  const fn = new cloudfront.experimental.EdgeFunction(stack, FUNCTION_ID, {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromAsset(handlerAssetDir('body-hash', 'MultiZoneDistribution body hash')),
    // Hashing 1 MB takes milliseconds; origin-request functions may run at most 30 s ("Quotas on Lambda@Edge").
    timeout: Duration.seconds(5),
    memorySize: 128,
    description: 'MultiZoneDistribution: x-amz-content-sha256 of request bodies for Lambda function URL zones behind origin access control',
    currentVersionOptions: { removalPolicy: RemovalPolicy.RETAIN },
  });
  fn.lambda.applyRemovalPolicy(RemovalPolicy.RETAIN);
  acknowledgeNagFindings(fn);
  return fn;
}

/** Whether a stack can hold (or point at) the us-east-1 function: its region must be known at synth. */
export function canPlaceEdgeFunction(stack: Stack): boolean {
  return !Token.isUnresolved(stack.region);
}

/**
 * Acknowledges the cdk-nag (AwsSolutions) findings of the function, on
 * the resources concerned, with the reason: users of the construct cannot
 * act on them.
 */
function acknowledgeNagFindings(fn: cloudfront.experimental.EdgeFunction): void {
  Validations.of(fn.lambda.role!).acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    reason: 'The AWS managed AWSLambdaBasicExecutionRole only lets the function write its own CloudWatch Logs (in each Region it runs in); a custom copy would grant the same.',
  });
  Validations.of(fn.lambda).acknowledge({
    id: 'AwsSolutions-L1',
    reason: 'The body-hash handler runs on a pinned Node.js LTS runtime that Lambda@Edge supports and its bundle targets; it moves to a newer one deliberately, with the bundle target.',
  });
}
