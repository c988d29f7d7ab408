/**
 * Zone releases in the synthesized template: which behaviors pick a
 * release, what the cache keys hold, what the store sync and the tools are
 * told, and what is refused at synth.
 */
import { Duration, Stack, Stage } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { MultiZoneDistributionProps, MultiZoneValidationError, ZoneDefinition } from '../lib';
import { readSiteAsset } from '../lib/site-assets';
import { METADATA_KEY } from '../lib/metadata-key';
import { origin, seedZones, siteStack, synth } from './support/sites';

/** The seed's zones, the blog with releases. */
const blogReleases = (releases: ZoneDefinition['releases'] = { deploymentId: 'v1' }): ZoneDefinition[] =>
  seedZones().map((z) => (z.name === 'blog' ? { ...z, releases } : z));

/** Each behavior's pattern and the logical ids of its viewer-request functions, the default last as `*`. */
function functionsByPattern(template: Template): Record<string, string | undefined> {
  const config = Object.values<any>(template.findResources('AWS::CloudFront::Distribution'))[0].Properties.DistributionConfig;
  const viewerRequest = (b: any) => b.FunctionAssociations?.find((a: any) => a.EventType === 'viewer-request')?.FunctionARN['Fn::GetAtt'][0];
  return Object.fromEntries([...config.CacheBehaviors, { ...config.DefaultCacheBehavior, PathPattern: '*' }].map((b: any) => [b.PathPattern, viewerRequest(b)]));
}

/** The header names in a cache policy's key, by its comment. */
function cacheKeyHeaders(template: Template): Record<string, string[]> {
  return Object.fromEntries(
    Object.values<any>(template.findResources('AWS::CloudFront::CachePolicy')).map((p) => [
      p.Properties.CachePolicyConfig.Comment,
      p.Properties.CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin.HeadersConfig.Headers ?? [],
    ]),
  );
}

const logicalIdOf = (stack: Stack, fn: cloudfront.Function | undefined) => fn && stack.resolve((fn.node.defaultChild as cloudfront.CfnFunction).logicalId);

describe('releases: which behaviors pick a release', () => {
  test("the zone's pages, asset prefix and image route run its release function; other zones keep theirs", () => {
    const { stack, site, template } = synth({ zones: blogReleases() });
    const blog = logicalIdOf(stack, site.zoneReleaseFunction('blog'));
    const forwarder = logicalIdOf(stack, site.hostForwarderFunction);
    expect(blog).toMatch(/^SiteZoneReleaseBlog/);
    const fns = functionsByPattern(template);
    for (const pattern of ['/blog', '/blog/*', '/blog-static/*', '/blog-static/_next/image']) expect(fns[pattern]).toBe(blog);
    expect(fns['/dashboard/*']).toBe(forwarder);
    expect(fns['/dashboard-static/_next/image']).toBe(logicalIdOf(stack, site.imageAcceptFunction));
    expect(fns['/dashboard-static/*']).toBeUndefined();
    expect(fns['*']).toBe(forwarder);
    expect(site.zoneReleaseFunction('dashboard')).toBeUndefined();
    expect(site.releaseRouterFunction).toBeUndefined();
  });

  test('paths an override may move to a zone with releases run the release router; paths it cannot reach keep the plain router', () => {
    const { stack, site, template } = synth({
      zones: blogReleases(),
      overrides: [
        { flag: 'shop-on-blog', pathPatterns: ['/shop/*'], zone: 'blog' },
        { flag: 'docs-on-dashboard', pathPatterns: ['/docs/*'], zone: 'dashboard' },
      ],
    });
    const fns = functionsByPattern(template);
    expect(fns['/shop/*']).toBe(logicalIdOf(stack, site.releaseRouterFunction));
    expect(fns['/docs/*']).toBe(logicalIdOf(stack, site.routerFunction));
    expect(site.routerFunction).toBeDefined();
  });

  test('a site without releases is built as before: no release functions, no release in any cache key', () => {
    const { site, template } = synth();
    expect(site.releaseRouterFunction).toBeUndefined();
    expect(site.zoneReleaseFunction('blog')).toBeUndefined();
    expect(Object.values(cacheKeyHeaders(template)).flat()).not.toContain('x-multizone-release');
  });
});

describe('releases: cache keys', () => {
  test('page and image keys hold the release the edge picked; assets keep CachingOptimized', () => {
    const { template } = synth({ zones: blogReleases(), overrides: [{ flag: 'f', pathPatterns: ['/shop/*'], zone: 'blog' }] });
    const keys = cacheKeyHeaders(template);
    const withRelease = Object.entries(keys).filter(([, headers]) => headers.includes('x-multizone-release')).map(([comment]) => comment);
    expect(withRelease).toHaveLength(3);
    expect(withRelease.some((c) => c.startsWith('Next.js pages:'))).toBe(true);
    expect(withRelease.some((c) => c.startsWith('Next.js pages that a flag can move'))).toBe(true);
    expect(withRelease.some((c) => c.startsWith('Next.js image optimizer'))).toBe(true);
    const config = Object.values<any>(template.findResources('AWS::CloudFront::Distribution'))[0].Properties.DistributionConfig;
    const assets = config.CacheBehaviors.find((b: any) => b.PathPattern === '/blog-static/*');
    expect(assets.CachePolicyId).toBe(cloudfront.CachePolicy.CACHING_OPTIMIZED.cachePolicyId);
  });

  test('a pageCachePolicy of the user is kept, with a warning naming the header it must key on', () => {
    const stack = siteStack({ zones: blogReleases() }, (s) => ({
      pageCachePolicy: new cloudfront.CachePolicy(s, 'Mine', { headerBehavior: cloudfront.CacheHeaderBehavior.allowList('RSC') }),
    }));
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('^pageCachePolicy: pages of the zones with releases \\(blog\\) carry the release the edge picked in x-multizone-release'));
  });
});

describe('releases: what the deploy and the tools are told', () => {
  test('the store sync makes the record of each zone with releases, from its deployment id and skew window', () => {
    const { stack } = synth({ zones: blogReleases({ deploymentId: 'v1', skewProtectionMaxAge: Duration.hours(2) }) });
    const metadata = Object.values<any>(Template.fromStack(stack).findResources('AWS::CloudFront::Distribution'))[0].Metadata[METADATA_KEY];
    expect(metadata.releases).toEqual({ blog: { deploymentId: 'v1', maxAgeSeconds: 7200, key: expect.stringMatching(/^mz-site:[0-9a-f]{10}:@release:blog$/) } });
    const table = readSiteAsset(metadata.storeAsset.path, { assetDirectory: Stage.of(stack)!.outdir });
    expect(table.releases).toEqual({ blog: { deploymentId: 'v1', maxAgeSeconds: 7200 } });
  });

  test('the skew window is a day by default', () => {
    const { stack } = synth({ zones: blogReleases() });
    const metadata = Object.values<any>(Template.fromStack(stack).findResources('AWS::CloudFront::Distribution'))[0].Metadata[METADATA_KEY];
    expect(metadata.releases.blog.maxAgeSeconds).toBe(86400);
  });

  test('the release functions read the site\'s store, under the site\'s release key prefix', () => {
    const { stack, site } = synth({ zones: blogReleases() });
    const code = stack.resolve((site.zoneReleaseFunction('blog')!.node.defaultChild as cloudfront.CfnFunction).functionCode) as string;
    const metadata = Object.values<any>(Template.fromStack(stack).findResources('AWS::CloudFront::Distribution'))[0].Metadata[METADATA_KEY];
    expect(code.startsWith("import cf from 'cloudfront';")).toBe(true);
    expect(code).toContain(JSON.stringify(metadata.releases.blog.key.slice(0, -'blog'.length)));
    expect(Template.fromStack(stack).toJSON().Resources[logicalIdOf(stack, site.zoneReleaseFunction('blog'))!].Properties.FunctionConfig.KeyValueStoreAssociations).toHaveLength(1);
  });
});

describe('releases: refused at synth', () => {
  const refusal = (props: Partial<MultiZoneDistributionProps>): string => {
    try {
      synth(props);
    } catch (e) {
      expect(e).toBeInstanceOf(MultiZoneValidationError);
      return (e as Error).message;
    }
    throw new Error('synthesized');
  };

  test.each([
    ['', 'Zone "blog": releases.deploymentId: deployment id "" must be 1 to 64 letters, digits, "_", "." or "-"'],
    ['v 1', 'Zone "blog": releases.deploymentId: deployment id "v 1" must be'],
    ['x'.repeat(65), `Zone "blog": releases.deploymentId: deployment id "${'x'.repeat(65)}" must be`],
    ['<script>', 'Zone "blog": releases.deploymentId: deployment id "<script>" must be'],
  ])('deploymentId %j', (deploymentId, message) => {
    expect(refusal({ zones: blogReleases({ deploymentId }) })).toContain(message);
  });

  test.each([Duration.seconds(59), Duration.days(31)])('skewProtectionMaxAge %s', (age) => {
    expect(refusal({ zones: blogReleases({ deploymentId: 'v1', skewProtectionMaxAge: age }) })).toContain('Zone "blog": releases.skewProtectionMaxAge must be from 1 minute to 30 days');
  });

  test('a zone with releases behind a VPC origin, which cf.updateRequestOrigin cannot update', () => {
    const attempt = () =>
      siteStack({}, (stack) => {
        const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 });
        const alb = new elbv2.ApplicationLoadBalancer(stack, 'Alb', { vpc });
        alb.addListener('Http', { port: 80 }).addAction('Ok', { action: elbv2.ListenerAction.fixedResponse(200) });
        return { zones: blogReleases().map((z) => (z.name === 'blog' ? { ...z, origin: origins.VpcOrigin.withApplicationLoadBalancer(alb) } : z)) };
      });
    expect(attempt).toThrow(MultiZoneValidationError);
    expect(attempt).toThrow('Zones blog: releases need an origin the edge can point at each release, and cf.updateRequestOrigin cannot update a VPC origin');
  });

  test('a zone with releases whose origin has an origin path, which every release would inherit', () => {
    const zones = blogReleases().map((z) => (z.name === 'blog' ? { ...z, origin: new origins.HttpOrigin('blog.example.com', { originPath: '/prod' }) } : z));
    expect(refusal({ zones })).toContain('Zone "blog": its origin has the origin path "/prod", which every release would inherit');
  });

  test('more zones with releases than the functions a store may have (10)', () => {
    const zones = Array.from({ length: 11 }, (_, i) => ({ name: `z${i}`, origin: origin(`z${i}`), pathPatterns: [`/z${i}/*`], releases: { deploymentId: 'v1' } }));
    expect(() => synth({ zones })).toThrow(/11 CloudFront Functions .*at most 10 allowed/);
  });
});

describe('releases: automatic rollback', () => {
  test('a zone\'s rollbackAlarm becomes a rule on its ALARM state that rolls that zone back; zones without one get none', () => {
    const stack = siteStack({}, (s) => {
      const alarm = new cloudwatch.Alarm(s, 'BlogErrors', {
        metric: new cloudwatch.Metric({ namespace: 'Blog', metricName: 'Errors' }),
        threshold: 1,
        evaluationPeriods: 1,
      });
      return { zones: seedZones().map((z) => ({ ...z, releases: { deploymentId: 'v1', ...(z.name === 'blog' && { rollbackAlarm: alarm }) } })) };
    });
    const template = Template.fromStack(stack);
    const rules = Object.values<any>(template.findResources('AWS::Events::Rule'));
    expect(rules).toHaveLength(1);
    expect(rules[0].Properties.EventPattern).toEqual({
      'source': ['aws.cloudwatch'],
      'detail-type': ['CloudWatch Alarm State Change'],
      'resources': [{ 'Fn::GetAtt': [expect.stringMatching(/^BlogErrors/), 'Arn'] }],
      'detail': { state: { value: ['ALARM'] } },
    });
    const input = JSON.stringify(rules[0].Properties.Targets[0].InputTransformer);
    const metadata = Object.values<any>(template.findResources('AWS::CloudFront::Distribution'))[0].Metadata[METADATA_KEY];
    expect(input).toContain(`"zone":"blog"`.replace(/"/g, '\\"'));
    expect(input).toContain(metadata.releases.blog.key);
  });

  test('a site without rollback alarms gets no rollback function', () => {
    const template = synth({ zones: blogReleases() }).template;
    expect(Object.keys(template.findResources('AWS::Events::Rule'))).toHaveLength(0);
  });
});
