import { App, Stack, Validations } from 'aws-cdk-lib';
import { FunctionUrlOrigin, HttpOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import { MultiZoneDistribution } from './lib';
const app = new App();
const stack = new Stack(app, 'SiteStack', { env: { account: '123456789012', region: 'eu-west-1' } });
const fn = new lambda.Function(stack, 'BlogFn', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('x') });
const url = fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
new MultiZoneDistribution(stack, 'Site', { defaultZone: { name: 'home', origin: new HttpOrigin('h.example.com') }, zones: [{ name: 'blog', origin: FunctionUrlOrigin.withOriginAccessControl(url), pathPatterns: ['/blog/*'] }] });
for (const s of app.node.children.filter((c): c is Stack => c instanceof Stack)) {
  const r = new AwsSolutionsChecks(app).validateScope(s);
  console.log(s.stackName, r.violations.flatMap((v) => v.violatingResources.map((x) => `${v.ruleName} @ ${x.constructPath ?? x.resourceLogicalId}`)));
  for (const c of s.node.findAll()) for (const m of c.node.metadata.filter((m) => m.type === 'aws:cdk:acknowledged-rules')) console.log('  ack', c.node.path, Object.keys(m.data as object));
}
