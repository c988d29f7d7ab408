import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import { CachePolicy } from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { CrossZonePrefetch, MultiZoneDistribution, ZoneDefinition } from '../lib';
import { NEXT_CACHE_KEY_HEADERS } from '../lib/behavior-policies';
import { SynthesizedSite } from 'multizone-cli';
import { origin, served, synth, zonesFor } from './support/sites';

const CACHING_OPTIMIZED = '658327ea-f89d-4fab-a63d-7e88639e58f6';
const ALL_VIEWER_EXCEPT_HOST_HEADER = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';

describe('which zone serves which request', () => {
  const site = served();

  test.each([
    ['/', 'home'],
    ['/about', 'home'],
    ['/_next/static/chunks/main.js', 'home'],
    ['/blog', 'blog'],
    ['/blog/', 'blog'],
    ['/blog/post-1', 'blog'],
    ['/blogger', 'home'],
    ['/blog-static/_next/static/chunks/app.js', 'blog'],
    ['/dashboard', 'dashboard'],
    ['/dashboard/settings', 'dashboard'],
    ['/dashboard-static/_next/static/css/a.css', 'dashboard'],
    ['/dashboards', 'home'],
  ])('%s is served by %s', async (uri, zone) => {
    expect((await site.serve(uri)).zone).toBe(zone);
  });

  test('each zone has its own origin, with an id derived from the zone name', () => {
    expect(site.zones).toEqual([
      { name: 'home', originId: 'zone-home' },
      { name: 'blog', originId: 'zone-blog' },
      { name: 'dashboard', originId: 'zone-dashboard' },
    ]);
    expect(Object.keys(site.origins).sort()).toEqual(['zone-blog', 'zone-dashboard', 'zone-home']);
  });

  test('an origin id the user set is honored and still routed to', async () => {
    const custom = served({
      zones: [{ name: 'blog', origin: new HttpOrigin('blog.example.com', { originId: 'my-blog' }), pathPatterns: ['/blog/*'] }],
    });
    expect((await custom.serve('/blog/a')).originId).toBe('my-blog');
    expect((await custom.serve('/blog/a')).zone).toBe('blog');
  });
});

describe('the most specific pattern wins, whatever order zones are listed in', () => {
  const admin: ZoneDefinition = { name: 'admin', origin: origin('admin'), pathPatterns: ['/blog/admin/*'] };
  const blog: ZoneDefinition = { name: 'blog', origin: origin('blog'), pathPatterns: ['/blog', '/blog/*'] };
  const feeds: ZoneDefinition = { name: 'feeds', origin: origin('feeds'), pathPatterns: ['/blog/*.xml', '/blog*'] };
  const uris = ['/blog', '/blog/a', '/blog/admin/users', '/blog/admin', '/blog/feed.xml', '/blogroll', '/'];
  const expected = {
    '/blog': 'blog',
    '/blog/a': 'blog',
    '/blog/admin/users': 'admin',
    '/blog/admin': 'blog',
    '/blog/feed.xml': 'feeds',
    '/blogroll': 'feeds',
    '/': 'home',
  };

  test.each([
    ['admin, blog, feeds', [admin, blog, feeds]],
    ['feeds, blog, admin', [feeds, blog, admin]],
    ['blog, feeds, admin', [blog, feeds, admin]],
  ])('listed as %s', async (_name, zones) => {
    expect(await zonesFor(served({ zones, forwardViewerHost: false }), uris)).toEqual(expected);
  });

  test('without a routing function: CloudFront behaviors alone do it', () => {
    const site = served({ zones: [feeds, blog, admin], forwardViewerHost: false, crossZonePrefetch: CrossZonePrefetch.none() });
    // No function can choose an origin: pages run the host forwarder, images the Accept reducer.
    const chooses = site.behaviors.filter((b) => b.viewerRequestFunction && site.functionCode(b.viewerRequestFunction).includes('selectRequestOriginById'));
    expect(chooses).toEqual([]);
    expect(site.behaviors.map((b) => b.pathPattern)).toEqual(['/_next/static/*', '/_next/image', '/blog/admin/*', '/blog/*.xml', '/blog/*', '/blog', '/blog*', '*']);
  });
});

describe('Next.js-aware caching', () => {
  const { template, stack } = synth();
  const site = SynthesizedSite.fromStack(stack);
  const behavior = (pattern: string) => site.behaviors.find((b) => b.pathPattern === pattern)!.raw;

  test.each(['/_next/static/*', '/blog-static/*', '/dashboard-static/*'])('assets under %s are cached long, read-only', (pattern) => {
    expect(behavior(pattern)).toMatchObject({
      CachePolicyId: CACHING_OPTIMIZED,
      AllowedMethods: ['GET', 'HEAD', 'OPTIONS'],
      Compress: true,
    });
    expect(behavior(pattern).OriginRequestPolicyId).toBeUndefined();
  });

  test.each(['/blog', '/blog/*', '/dashboard/*', '*'])('pages under %s allow every method and forward all but Host', (pattern) => {
    expect(behavior(pattern).AllowedMethods).toEqual(expect.arrayContaining(['POST', 'PUT', 'PATCH', 'DELETE', 'GET', 'HEAD', 'OPTIONS']));
    expect(behavior(pattern).OriginRequestPolicyId).toBe(ALL_VIEWER_EXCEPT_HOST_HEADER);
  });

  test('page cache keys hold the query string and every header Next.js varies on, and honor the origin', () => {
    const pagePolicyRef = behavior('/blog/*').CachePolicyId.Ref;
    const policy = template.toJSON().Resources[pagePolicyRef].Properties.CachePolicyConfig;
    expect(policy.DefaultTTL).toBe(0);
    expect(policy.MinTTL).toBe(0);
    const key = policy.ParametersInCacheKeyAndForwardedToOrigin;
    expect(key.QueryStringsConfig.QueryStringBehavior).toBe('all');
    expect(key.HeadersConfig.HeaderBehavior).toBe('whitelist');
    expect(key.HeadersConfig.Headers).toEqual(expect.arrayContaining(NEXT_CACHE_KEY_HEADERS));
    expect(NEXT_CACHE_KEY_HEADERS).toEqual(['RSC', 'Next-Router-State-Tree', 'Next-Router-Prefetch', 'Next-Router-Segment-Prefetch', 'Next-Url']);
  });

  test('a page cache policy of the user replaces the construct one', () => {
    const custom = served({ pageCachePolicy: CachePolicy.CACHING_DISABLED });
    expect(custom.behaviors.find((b) => b.pathPattern === '/blog/*')!.raw.CachePolicyId).toBe('4135ea2d-6df8-44a3-9df3-4b5a84be39ad');
  });
});

describe('the viewer host reaches the zone', () => {
  test('as x-forwarded-host by default, on pages but never on assets', async () => {
    const site = served();
    const page = await site.serve('/dashboard/settings', { host: 'www.shop.example', headers: { 'x-forwarded-host': 'evil.example' } });
    expect(page.functionRan).toBe(true);
    expect(page.request.headers['x-forwarded-host']).toEqual({ value: 'www.shop.example' });
    expect(page.zone).toBe('dashboard');
    const asset = await site.serve('/blog-static/_next/static/a.js');
    expect(asset.functionRan).toBe(false);
  });

  test('not at all when forwardViewerHost is false: the page function leaves x-forwarded-host alone', async () => {
    const { template, stack, site: construct } = synth({ forwardViewerHost: false, crossZonePrefetch: CrossZonePrefetch.none() });
    // Pages still run the store-free host forwarder (it drops the edge's own headers), images the Accept reducer.
    template.resourceCountIs('AWS::CloudFront::Function', 2);
    expect(construct.hostForwarderFunction).toBeDefined();
    expect(construct.imageAcceptFunction).toBeDefined();
    const page = await SynthesizedSite.fromStack(stack).serve('/blog/a', { host: 'www.shop.example' });
    expect(page.functionRan).toBe(true);
    expect(page.request.headers['x-forwarded-host']).toBeUndefined();
  });
});

describe('safe defaults', () => {
  const { template } = synth();

  test('viewers on HTTPS with TLS 1.2 (2021), HTTP/2 and HTTP/3', () => {
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        HttpVersion: 'http2and3',
        DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: 'redirect-to-https' }),
      }),
    });
    const config = template.findResources('AWS::CloudFront::Distribution');
    const dist = Object.values(config)[0].Properties.DistributionConfig;
    expect(dist.CacheBehaviors.every((b: any) => b.ViewerProtocolPolicy === 'redirect-to-https')).toBe(true);
    expect(dist.Origins.every((o: any) => o.CustomOriginConfig.OriginProtocolPolicy === 'https-only')).toBe(true);
  });

  test('TLS 1.2 (2021) minimum once a certificate is attached', () => {
    const stack = new Stack(new App(), 'S', { env: { region: 'us-east-1', account: '123456789012' } });
    new MultiZoneDistribution(stack, 'Site', {
      defaultZone: { name: 'home', origin: origin('home') },
      domainNames: ['www.example.com'],
      certificate: Certificate.fromCertificateArn(stack, 'C', 'arn:aws:acm:us-east-1:123456789012:certificate/abc'),
    });
    Template.fromStack(stack).hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        Aliases: ['www.example.com'],
        ViewerCertificate: Match.objectLike({ MinimumProtocolVersion: 'TLSv1.2_2021', SslSupportMethod: 'sni-only' }),
      }),
    });
  });
});

describe('Pages Router zones', () => {
  test('their /_next/data requests reach them, which assetPrefix does not move', async () => {
    const site = served({
      zones: [{ name: 'blog', origin: origin('blog'), pathPatterns: ['/blog', '/blog/*'], assetPrefix: '/blog-static', pagesRouter: true }],
    });
    expect(
      await zonesFor(site, ['/_next/data/build-1/blog/post-1.json', '/_next/data/build-1/blog.json', '/_next/data/build-1/about.json', '/_next/data/build-1/blogger.json']),
    ).toEqual({
      '/_next/data/build-1/blog/post-1.json': 'blog',
      '/_next/data/build-1/blog.json': 'blog',
      '/_next/data/build-1/about.json': 'home',
      '/_next/data/build-1/blogger.json': 'home',
    });
  });

  test('without pagesRouter, data requests stay with the default zone', async () => {
    expect((await served().serve('/_next/data/build-1/blog/post-1.json')).zone).toBe('home');
  });
});
