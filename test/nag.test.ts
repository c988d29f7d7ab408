/**
 * Security hardening: cdk-nag's AwsSolutions pack on the example stack,
 * and the protections a rule pack cannot see (zones unreachable around the
 * distribution, security response headers, spoofed internal headers).
 */
import { App, CfnParameter, SecretValue, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import { GeoRestriction, ResponseHeadersPolicy } from 'aws-cdk-lib/aws-cloudfront';
import { FunctionUrlOrigin, HttpOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { EXAMPLE_ZONE_ORIGINS, ExampleSiteStack, ExampleSiteStackProps } from '../bin/example-stack';
import { CrossZonePrefetch, MultiZoneDistribution } from '../lib';
import { SynthesizedSite } from 'multizone-cli';
import { siteStack } from './support/sites';

const SECURITY_HEADERS = '67f7725c-6f97-4210-82d7-5512b31e9d03';
const CHECKOUT = { overrides: [{ flag: 'new-checkout', pathPatterns: ['/checkout', '/checkout/*'], zone: 'dashboard' }] };

/** AwsSolutions findings of a stack that nobody acknowledged: `rule @ construct path`. */
function findings(stack: Stack): string[] {
  const report = new AwsSolutionsChecks(stack.node.root).validateScope(stack);
  return report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} @ ${r.constructPath ?? r.resourceLogicalId}`)).sort();
}

function example(props: Partial<ExampleSiteStackProps> = {}): ExampleSiteStack {
  return new ExampleSiteStack(new App(), 'MultiZoneExample', { zoneOrigins: EXAMPLE_ZONE_ORIGINS, ...props });
}

describe('cdk-nag AwsSolutions', () => {
  test('the example stack has no unacknowledged finding, error or warning', () => {
    expect(findings(example())).toEqual([]);
  });

  test('nor with a custom domain and a web ACL', () => {
    expect(
      findings(example({ domainName: 'www.example.com', certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc', webAclArn: 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/site/1' })),
    ).toEqual([]);
  });

  test('the construct acknowledges only its own custom resource provider; the site owner decides the rest', () => {
    expect(findings(siteStack(CHECKOUT))).toEqual([
      'AwsSolutions-CFR1 @ TestStack/Site/Distribution/Resource',
      'AwsSolutions-CFR2 @ TestStack/Site/Distribution/Resource',
      'AwsSolutions-CFR3 @ TestStack/Site/Distribution/Resource',
      'AwsSolutions-CFR4 @ TestStack/Site/Distribution/Resource',
    ]);
  });

  test('the construct props answer each of those rules', () => {
    const stack = siteStack(CHECKOUT, (scope) => ({
      domainNames: ['www.example.com'],
      certificate: Certificate.fromCertificateArn(scope, 'Cert', 'arn:aws:acm:us-east-1:123456789012:certificate/abc'),
      logBucket: Bucket.fromBucketName(scope, 'Logs', 'my-log-bucket'),
      webAclId: 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/site/1',
      geoRestriction: GeoRestriction.allowlist('DE', 'FR'),
    }));
    expect(findings(stack)).toEqual([]);
  });

  test('each acknowledgement sits on the resource it concerns, with a reason', () => {
    const stack = example();
    const acknowledged = stack.node.findAll().flatMap((c) =>
      c.node.metadata
        .filter((m) => m.type === 'aws:cdk:acknowledged-rules')
        .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ path: c.node.path, id: id.replace(/^Annotation::/, ''), reason }))),
    );
    expect(acknowledged.map((a) => `${a.id} @ ${a.path}`).sort()).toEqual([
      'AwsSolutions-CFR1 @ MultiZoneExample/Site/Distribution/Resource',
      'AwsSolutions-CFR2 @ MultiZoneExample/Site/Distribution/Resource',
      'AwsSolutions-CFR4 @ MultiZoneExample/Site/Distribution/Resource',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole] @ MultiZoneExample/MultiZoneKvsSyncProvider/Handler/ServiceRole',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole] @ MultiZoneExample/MultiZoneKvsSyncProvider/Provider/framework-onEvent/ServiceRole',
      'AwsSolutions-IAM5[Resource::<MultiZoneKvsSyncProviderHandler2D854974.Arn>:*] @ MultiZoneExample/MultiZoneKvsSyncProvider/Provider/framework-onEvent/ServiceRole/DefaultPolicy',
      'AwsSolutions-L1 @ MultiZoneExample/MultiZoneKvsSyncProvider/Handler',
      'AwsSolutions-S1 @ MultiZoneExample/AccessLogs',
      'AwsSolutions-SMG4 @ MultiZoneExample/OriginVerifySecret',
    ]);
    for (const a of acknowledged) expect(a.reason.length).toBeGreaterThan(60);
  });
});

describe('zones cannot be reached around the distribution', () => {
  test('HTTP origins get the secret header as a deploy-time reference, never its value', () => {
    const template = Template.fromStack(example()).toJSON();
    const dist = Object.values<any>(template.Resources).find((r) => r.Type === 'AWS::CloudFront::Distribution');
    const origins = dist.Properties.DistributionConfig.Origins;
    expect(origins).toHaveLength(3);
    for (const o of origins) {
      expect(o.OriginCustomHeaders).toEqual([
        {
          HeaderName: 'x-origin-verify',
          HeaderValue: { 'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: expect.stringMatching(/^OriginVerifySecret/) }, ':SecretString:::}}']] },
        },
      ]);
    }
  });

  test('a header name and a secret of the user are kept beside the origin\'s own headers', () => {
    const stack = siteStack(
      { defaultZone: { name: 'home', origin: new HttpOrigin('home.example.com', { customHeaders: { 'x-tenant': 'shop' } }) } },
      (scope) => ({
        originVerifyHeader: { headerName: 'X-Shop-Origin-Key', value: SecretValue.cfnParameter(new CfnParameter(scope, 'Key', { noEcho: true })) },
      }),
    );
    const dist = Template.fromStack(stack).findResources('AWS::CloudFront::Distribution');
    const home = Object.values<any>(dist)[0].Properties.DistributionConfig.Origins.find((o: any) => o.Id === 'zone-home');
    expect(home.OriginCustomHeaders).toEqual([
      { HeaderName: 'x-tenant', HeaderValue: 'shop' },
      { HeaderName: 'X-Shop-Origin-Key', HeaderValue: { Ref: 'Key' } },
    ]);
  });

  test.each([
    ['a plain-text secret', { value: SecretValue.unsafePlainText('hunter2') }, /originVerifyHeader.value: is plain text/],
    ['an ssm-secure reference', { value: SecretValue.ssmSecure('/site/key') }, /originVerifyHeader.value: CloudFront distributions do not take ssm-secure/],
    ['a header CloudFront sets', { headerName: 'X-Forwarded-For', value: SecretValue.secretsManager('k') }, /originVerifyHeader.headerName: "X-Forwarded-For"/],
    ['a header that is no header', { headerName: 'x origin', value: SecretValue.secretsManager('k') }, /originVerifyHeader.headerName: "x origin" is not a header name/],
  ])('refuses %s', (_name, header, message) => {
    expect(() => siteStack({ originVerifyHeader: header })).toThrow(message);
  });

  test('refuses a header the zone\'s origin already sends', () => {
    const zone = { name: 'home', origin: new HttpOrigin('home.example.com', { customHeaders: { 'x-origin-verify': 'x' } }) };
    expect(() => siteStack({ defaultZone: zone, originVerifyHeader: { value: SecretValue.secretsManager('k') } })).toThrow(
      'Zone "home": origin already sets header "x-origin-verify", which originVerifyHeader adds',
    );
  });

  test('without the header, synth warns about every HTTP zone', () => {
    Annotations.fromStack(siteStack()).hasWarning('/TestStack/Site', Match.stringLikeRegexp('Zones home, blog, dashboard: HTTP origins can be reached around the distribution'));
  });

  test('a Lambda function URL zone with origin access control gets its OAC and invoke permission, and no warning', () => {
    const stack = new Stack(new App(), 'TestStack', { env: { account: '123456789012', region: 'us-east-1' } });
    const fn = new lambda.Function(stack, 'BlogFn', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => ({})') });
    const url = fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
    new MultiZoneDistribution(stack, 'Site', {
      defaultZone: { name: 'home', origin: FunctionUrlOrigin.withOriginAccessControl(url) },
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: Match.objectLike({ OriginAccessControlOriginType: 'lambda', SigningBehavior: 'always', SigningProtocol: 'sigv4' }),
    });
    const [oacId] = Object.keys(template.findResources('AWS::CloudFront::OriginAccessControl'));
    expect(oacId).toMatch(/^SiteZoneshome/);
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        Origins: [Match.objectLike({ Id: 'zone-home', OriginAccessControlId: { 'Fn::GetAtt': [oacId, 'Id'] } })],
      }),
    });
    template.hasResourceProperties('AWS::Lambda::Permission', { Action: 'lambda:InvokeFunctionUrl', Principal: 'cloudfront.amazonaws.com' });
    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('reached around the distribution'));
  });
});

describe('security response headers', () => {
  const policies = (stack: Stack) => {
    const config = Object.values<any>(Template.fromStack(stack).findResources('AWS::CloudFront::Distribution'))[0].Properties.DistributionConfig;
    return [...new Set([...config.CacheBehaviors, config.DefaultCacheBehavior].map((b: any) => JSON.stringify(b.ResponseHeadersPolicyId)))].map((p) => JSON.parse(p));
  };

  test('by default assets and images have the managed SecurityHeadersPolicy, and pages one custom policy with its headers and Speculation-Rules', () => {
    const stack = siteStack(CHECKOUT);
    const custom = Object.keys(Template.fromStack(stack).findResources('AWS::CloudFront::ResponseHeadersPolicy'));
    expect(custom).toHaveLength(1);
    expect(policies(stack)).toEqual([SECURITY_HEADERS, { Ref: custom[0] }]);
  });

  test('without cross-zone prefetch, every behavior has the managed SecurityHeadersPolicy: no custom policy counts against the quota', () => {
    const stack = siteStack({ ...CHECKOUT, crossZonePrefetch: CrossZonePrefetch.none() });
    expect(policies(stack)).toEqual([SECURITY_HEADERS]);
    Template.fromStack(stack).resourceCountIs('AWS::CloudFront::ResponseHeadersPolicy', 0);
  });

  test('a policy of the user replaces it everywhere, pages getting a copy of it with Speculation-Rules', () => {
    const stack = siteStack({}, (scope) => ({
      responseHeadersPolicy: new ResponseHeadersPolicy(scope, 'Headers', {
        securityHeadersBehavior: { contentSecurityPolicy: { contentSecurityPolicy: "default-src 'self'", override: true } },
      }),
    }));
    expect(policies(stack)).toEqual([{ Ref: expect.stringMatching(/^Headers/) }, { Ref: expect.stringMatching(/^SitePageResponseHeadersPolicy/) }]);
    const none = siteStack({ crossZonePrefetch: CrossZonePrefetch.none() }, (scope) => ({ responseHeadersPolicy: new ResponseHeadersPolicy(scope, 'Headers', {}) }));
    expect(policies(none)).toEqual([{ Ref: expect.stringMatching(/^Headers/) }]);
  });
});

describe('the internal zone header cannot be spoofed', () => {
  const site = SynthesizedSite.fromStack(siteStack(CHECKOUT));
  const spoof = { headers: { 'x-multizone-zone': 'dashboard' } };

  test('on a path a flag can move, the router replaces the viewer\'s value with the zone it chose', async () => {
    const off = await site.serve('/checkout', { ...spoof, flags: { 'new-checkout': 'off' } });
    expect(off.zone).toBe('home');
    expect(off.request.headers['x-multizone-zone']).toEqual({ value: 'home' });
    const on = await site.serve('/checkout', { ...spoof, flags: { 'new-checkout': 'on' } });
    expect(on.zone).toBe('dashboard');
    expect(on.request.headers['x-multizone-zone']).toEqual({ value: 'dashboard' });
  });

  test('on pages no flag moves, the host forwarder drops it', async () => {
    const page = await site.serve('/blog/post-1', spoof);
    expect(page.functionRan).toBe(true);
    expect(page.zone).toBe('blog');
    expect(page.request.headers['x-multizone-zone']).toBeUndefined();
  });
});
