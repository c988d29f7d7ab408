import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { Stack, Stage } from 'aws-cdk-lib';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CrossZonePrefetch, MultiZoneValidationError, ZoneDefinition } from '../lib';
import { SynthesizedSite } from 'multizone-cli';
import { templateLimitProblems } from '../lib/limits';
import { pathPatternMatches } from '../lib/path-patterns';
import { SPECULATION_RULES_CONTENT_TYPE, SPECULATION_RULES_PATH, prefetchTargets } from '../lib/speculation-rules';
import { origin, served, siteStack, synth } from './support/sites';

/** The rules file as the synthesized function answers it, parsed. */
async function rulesOf(site: SynthesizedSite, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string>; json?: any }> {
  const s = await site.serve(SPECULATION_RULES_PATH, { headers });
  expect(s.response).toBeDefined();
  const r = s.response!;
  const out = Object.fromEntries(Object.entries<any>(r.headers ?? {}).map(([k, v]) => [k, v.value]));
  return { status: r.statusCode, headers: out, json: r.body ? JSON.parse(r.body.data) : undefined };
}

/**
 * Which rules of a rules file match a link to `href` (a path, on the
 * site's origin), evaluated as Chromium does: `href_matches` URL patterns
 * (pathname only; search and hash are wildcards), combined with and/not.
 */
function matchingRules(json: any, href: string): number[] {
  const url = new URL(href, 'https://www.example.com');
  const pathMatches = (p: { pathname: string }) => {
    // URL pattern pathname: `*` any run of characters, `\` escapes; nothing else is special in what we generate.
    const source = p.pathname.replace(/\\(.)|([*])|([^\\*])/g, (_m, esc, star, lit) => (star ? '.*' : (esc ?? lit).replace(/[.+?^${}()|[\]\\/]/g, '\\$&')));
    return new RegExp(`^${source}$`).test(url.pathname);
  };
  const test = (w: any): boolean => {
    if (w.and) return w.and.every(test);
    if (w.not) return !test(w.not);
    if (w.href_matches) return (Array.isArray(w.href_matches) ? w.href_matches : [w.href_matches]).some(pathMatches);
    throw new Error(`unknown predicate ${JSON.stringify(w)}`);
  };
  const list = json.prefetch ?? json.prerender;
  return list.map((r: any, i: number) => (test(r.where) ? i : -1)).filter((i: number) => i >= 0);
}

describe('the rules file', () => {
  const site = served({ crossZonePrefetch: CrossZonePrefetch.prefetch({ eagerness: 'moderate', exclude: ['/logout', '/dashboard/signout*'] }) });

  test('is answered by the function, as application/speculationrules+json, with no zone asked', async () => {
    const r = await rulesOf(site);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe(SPECULATION_RULES_CONTENT_TYPE);
    expect(r.headers['cache-control']).toBe('no-cache');
    const behavior = site.behaviorFor(SPECULATION_RULES_PATH).behavior;
    expect(behavior.pathPattern).toBe(SPECULATION_RULES_PATH);
  });

  test('answers 304 to a browser holding the same version', async () => {
    const first = await rulesOf(site);
    const again = await rulesOf(site, { 'If-None-Match': first.headers.etag });
    expect(again.status).toBe(304);
    expect(again.json).toBeUndefined();
    expect((await rulesOf(site, { 'If-None-Match': '"stale"' })).status).toBe(200);
  });

  test('matches links to every zone\'s pages, with the eagerness asked for', async () => {
    const { json } = await rulesOf(site);
    expect(Object.keys(json)).toEqual(['prefetch']);
    for (const rule of json.prefetch) {
      expect(rule.source).toBe('document');
      expect(rule.eagerness).toBe('moderate');
    }
    for (const href of ['/blog', '/blog/post-1', '/blog/post-1?ref=home#top', '/dashboard', '/dashboard/settings', '/', '/about', '/checkout']) {
      expect([href, matchingRules(json, href).length]).toEqual([href, 1]);
    }
  });

  test('never matches excluded links, assets, images, Next.js internals or the construct\'s paths', async () => {
    const { json } = await rulesOf(site);
    for (const href of [
      '/logout',
      '/logout?next=/',
      '/dashboard/signout',
      '/dashboard/signout/all',
      '/_next/static/chunks/main.js',
      '/_next/image?url=%2Flogo.png&w=64&q=75',
      '/_next/data/build/blog/post-1.json',
      '/blog-static/_next/static/chunks/app.js',
      '/blog-static/_next/image?url=x&w=1&q=1',
      '/dashboard-static/cover.png',
      '/_multizone/speculation-rules.json',
      '/_multizone/origin/blog',
    ]) {
      expect([href, matchingRules(json, href)]).toEqual([href, []]);
    }
    // An exclude pattern is exact, as in CloudFront: /logout excludes neither /logout/ nor /logouts.
    expect(matchingRules(json, '/logouts')).toHaveLength(1);
  });

  test('by zone, the links reach the zone the edge routes them to with every flag off', async () => {
    const targets = prefetchTargets(site.table);
    expect(targets.map((t) => t.zone)).toEqual(['blog', 'dashboard', 'home']);
    for (const href of ['/blog', '/blog/post-1', '/dashboard/settings', '/about', '/checkout']) {
      const target = targets.find((t) => t.patterns.some((p) => pathPatternMatches(p, href)))!;
      expect([href, target.zone]).toEqual([href, (await site.serve(href)).zone]);
    }
  });

  test('prerender puts the same rules under "prerender"', async () => {
    const { json } = await rulesOf(served({ crossZonePrefetch: CrossZonePrefetch.prerender({ eagerness: 'conservative' }) }));
    expect(Object.keys(json)).toEqual(['prerender']);
    expect(json.prerender.every((r: any) => r.eagerness === 'conservative')).toBe(true);
    expect(matchingRules(json, '/blog/post-1')).toHaveLength(1);
  });

  test('CloudFront wildcards become URL pattern wildcards; ":" and "+" are escaped', async () => {
    const s = served({
      zones: [{ name: 'docs', origin: origin('docs'), pathPatterns: ['/docs/*'] }],
      crossZonePrefetch: CrossZonePrefetch.prefetch({ exclude: ['/docs/v?/private*', '/a:b+c'] }),
    });
    const { json } = await rulesOf(s);
    expect(JSON.stringify(json)).toContain('"/docs/v*/private*"');
    expect(matchingRules(json, '/docs/v1/intro')).toEqual([0]);
    expect(matchingRules(json, '/docs/v1/private/x')).toEqual([]);
    expect(matchingRules(json, '/docs/v12/private/x')).toEqual([]);
    expect(JSON.stringify(json)).toContain('"/a\\\\:b\\\\+c"');
    expect(matchingRules(json, '/a:b+c')).toEqual([]);
    expect(matchingRules(json, '/a:b')).toEqual([0]);
  });

  test('runs under njs, as the CloudFront runtime would', () => {
    const code = site.functionCode(site.behaviorFor(SPECULATION_RULES_PATH).behavior.viewerRequestFunction!);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rules-njs-'));
    const file = path.join(dir, 'f.js');
    fs.writeFileSync(file, `${code}\nvar r = handler({ request: { method: 'GET', uri: '/', headers: {}, querystring: {}, cookies: {} } });\nconsole.log(JSON.stringify([r.statusCode, r.headers['content-type'].value, JSON.parse(r.body.data).prefetch.length]));\n`);
    const out = spawnSync('njs', [file], { encoding: 'utf8' });
    fs.rmSync(dir, { recursive: true, force: true });
    expect(out.stderr).toBe('');
    expect(JSON.parse(out.stdout)).toEqual([200, SPECULATION_RULES_CONTENT_TYPE, 1]);
  });
});

describe('the header', () => {
  test('zone pages carry Speculation-Rules and the managed security headers, through one custom policy; other behaviors keep the managed one', () => {
    const { template, assemblyDir } = synth({});
    expect(templateLimitProblems(template.toJSON(), { assetDirectory: assemblyDir })).toEqual([]);
    const policies = template.findResources('AWS::CloudFront::ResponseHeadersPolicy');
    expect(Object.keys(policies)).toHaveLength(1);
    const [id, policy] = Object.entries<any>(policies)[0];
    const config = policy.Properties.ResponseHeadersPolicyConfig;
    expect(config.CustomHeadersConfig.Items).toEqual([{ Header: 'Speculation-Rules', Value: `"${SPECULATION_RULES_PATH}"`, Override: false }]);
    expect(config.SecurityHeadersConfig).toEqual({
      ContentTypeOptions: { Override: true },
      FrameOptions: { FrameOption: 'SAMEORIGIN', Override: false },
      ReferrerPolicy: { ReferrerPolicy: 'strict-origin-when-cross-origin', Override: false },
      StrictTransportSecurity: { AccessControlMaxAgeSec: 31536000, IncludeSubdomains: false, Override: false },
      XSSProtection: { Protection: true, ModeBlock: true, Override: false },
    });
    const site = SynthesizedSite.fromStack(siteStack({}));
    for (const [uri, page] of [['/blog/post-1', true], ['/', true], ['/dashboard', true], ['/blog-static/_next/static/x.js', false], ['/_next/image', false], [SPECULATION_RULES_PATH, false]] as const) {
      const ref = site.behaviorFor(uri).behavior.raw.ResponseHeadersPolicyId;
      expect([uri, ref]).toEqual([uri, page ? { Ref: id } : cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS.responseHeadersPolicyId]);
    }
  });

  test('none() and a site of one zone add no header, policy, function or behavior', () => {
    for (const props of [{ crossZonePrefetch: CrossZonePrefetch.none() }, { zones: [] }]) {
      const { template } = synth(props);
      template.resourceCountIs('AWS::CloudFront::ResponseHeadersPolicy', 0);
      const config = Object.values<any>(template.findResources('AWS::CloudFront::Distribution'))[0].Properties.DistributionConfig;
      expect((config.CacheBehaviors ?? []).map((b: any) => b.PathPattern)).not.toContain(SPECULATION_RULES_PATH);
      expect(Object.values<any>(template.findResources('AWS::CloudFront::Function')).map((f) => f.Properties.FunctionConfig.Comment).join()).not.toContain('speculation');
    }
  });

  test('a ResponseHeadersPolicy of the user is copied for pages with the header added, and left as it is for the rest', () => {
    const stack = siteStack({}, (s) => ({
      responseHeadersPolicy: new cloudfront.ResponseHeadersPolicy(s, 'Mine', {
        customHeadersBehavior: { customHeaders: [{ header: 'X-Team', value: 'web', override: true }] },
        securityHeadersBehavior: { contentSecurityPolicy: { contentSecurityPolicy: "default-src 'self'", override: true } },
      }),
    }));
    const site = SynthesizedSite.fromStack(stack);
    const page = site.resource(site.behaviorFor('/blog').behavior.raw.ResponseHeadersPolicyId.Ref)!.Properties.ResponseHeadersPolicyConfig;
    expect(page.CustomHeadersConfig.Items).toEqual([
      { Header: 'X-Team', Value: 'web', Override: true },
      { Header: 'Speculation-Rules', Value: `"${SPECULATION_RULES_PATH}"`, Override: false },
    ]);
    expect(page.SecurityHeadersConfig.ContentSecurityPolicy.ContentSecurityPolicy).toBe("default-src 'self'");
    const asset = site.resource(site.behaviorFor('/blog-static/x.js').behavior.raw.ResponseHeadersPolicyId.Ref)!.Properties.ResponseHeadersPolicyConfig;
    expect(asset.CustomHeadersConfig.Items).toEqual([{ Header: 'X-Team', Value: 'web', Override: true }]);
    expect(page.Name).not.toEqual(asset.Name);
  });

  test('an imported policy refuses an explicit crossZonePrefetch, and turns the default off with a warning', () => {
    const imported = (s: Stack) => ({ responseHeadersPolicy: cloudfront.ResponseHeadersPolicy.fromResponseHeadersPolicyId(s, 'Imported', 'abc-123') });
    expect(() => siteStack({ crossZonePrefetch: CrossZonePrefetch.prefetch() }, imported)).toThrow(MultiZoneValidationError);
    expect(() => siteStack({ crossZonePrefetch: CrossZonePrefetch.prefetch() }, imported)).toThrow(
      /^crossZonePrefetch: zone pages must carry Speculation-Rules through their response headers policy, but responseHeadersPolicy abc-123 is imported or managed.*CrossZonePrefetch\.none\(\)$/,
    );
    const stack = siteStack({}, imported);
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('^crossZonePrefetch is off: zone pages must carry Speculation-Rules .*responseHeadersPolicy abc-123 is imported or managed'));
    const site = SynthesizedSite.fromStack(stack);
    expect(site.behaviorFor(SPECULATION_RULES_PATH).behavior.pathPattern).toBe('*');
    expect(site.behaviorFor('/blog').behavior.raw.ResponseHeadersPolicyId).toBe('abc-123');
  });

  describe('a policy of the user with 10 custom headers, the most a response headers policy may have', () => {
    const full = (count: number) => (s: Stack) => ({
      responseHeadersPolicy: new cloudfront.ResponseHeadersPolicy(s, 'Full', {
        responseHeadersPolicyName: `full-${s.region}`,
        customHeadersBehavior: { customHeaders: Array.from({ length: count }, (_, i) => ({ header: `X-Team-${i}`, value: 'web', override: true })) },
      }),
    });

    test('refuses an explicit crossZonePrefetch, naming the policy, the count and the remedy', () => {
      expect(() => siteStack({ crossZonePrefetch: CrossZonePrefetch.prefetch() }, full(10))).toThrow(
        new MultiZoneValidationError(
          'crossZonePrefetch: zone pages must carry Speculation-Rules through their response headers policy, but responseHeadersPolicy TestStack/Full has 10 custom headers, and its copy for zone pages would have 11 with Speculation-Rules, past the 10 CloudFront allows in a response headers policy; remove 1 of its custom headers, or set crossZonePrefetch: CrossZonePrefetch.none()',
        ),
      );
    });

    test('turns the default off with a warning: pages keep the policy as given, and every template is within the limits', () => {
      const stack = siteStack({}, full(10));
      Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('^crossZonePrefetch is off: .*TestStack/Full has 10 custom headers, .*; remove 1 of its custom headers to have it'));
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::CloudFront::ResponseHeadersPolicy', 1);
      const site = SynthesizedSite.fromStack(stack);
      expect(site.behaviorFor(SPECULATION_RULES_PATH).behavior.pathPattern).toBe('*');
      expect(site.behaviorFor('/blog').behavior.raw.ResponseHeadersPolicyId).toEqual(site.behaviorFor('/blog-static/x.js').behavior.raw.ResponseHeadersPolicyId);
      expect(templateLimitProblems(template.toJSON(), { assetDirectory: Stage.of(stack)!.outdir })).toEqual([]);
    });

    test('with 9, pages get a copy of 10, Speculation-Rules last', () => {
      const site = SynthesizedSite.fromStack(siteStack({ crossZonePrefetch: CrossZonePrefetch.prefetch() }, full(9)));
      const page = site.resource(site.behaviorFor('/blog').behavior.raw.ResponseHeadersPolicyId.Ref)!.Properties.ResponseHeadersPolicyConfig;
      expect(page.CustomHeadersConfig.Items.map((h: any) => h.Header)).toEqual([...Array.from({ length: 9 }, (_, i) => `X-Team-${i}`), 'Speculation-Rules']);
    });
  });
});

describe('cache safety', () => {
  test('no cache key of a page behavior holds a header in which a prefetch differs from the click', () => {
    // What Chromium sends for a document: the click, and its prefetch (Sec-Purpose, no Sec-Fetch-User: no user activation).
    const click = { accept: 'text/html', 'sec-fetch-dest': 'document', 'sec-fetch-mode': 'navigate', 'sec-fetch-site': 'same-origin', 'sec-fetch-user': '?1' };
    const prefetch = { accept: 'text/html', 'sec-fetch-dest': 'document', 'sec-fetch-mode': 'navigate', 'sec-fetch-site': 'same-origin', 'sec-purpose': 'prefetch' };
    const differing = [...new Set([...Object.keys(click), ...Object.keys(prefetch)])].filter((h) => (click as any)[h] !== (prefetch as any)[h]);
    expect(differing.sort()).toEqual(['sec-fetch-user', 'sec-purpose']);
    const stack = siteStack({ overrides: [{ flag: 'move', pathPatterns: ['/about'], zone: 'blog' }] });
    const site = SynthesizedSite.fromStack(stack);
    const pages = site.behaviors.filter((b) => ['/blog', '/blog/*', '/dashboard', '/dashboard/*', '/about', '*'].includes(b.pathPattern));
    expect(pages).toHaveLength(6);
    for (const b of pages) {
      const key = site.resource(b.raw.CachePolicyId.Ref)!.Properties.CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin;
      expect([b.pathPattern, key.HeadersConfig.HeaderBehavior]).toEqual([b.pathPattern, 'whitelist']);
      const headers: string[] = key.HeadersConfig.Headers.map((h: string) => h.toLowerCase());
      expect([b.pathPattern, headers.filter((h) => differing.includes(h))]).toEqual([b.pathPattern, []]);
      expect([b.pathPattern, key.CookiesConfig.CookieBehavior]).toEqual([b.pathPattern, 'none']);
    }
  });

  test('a prefetch goes to the same zone as the click, flags and rollout buckets included', async () => {
    const overrides = [{ flag: 'move', pathPatterns: ['/about', '/blog/*'], zone: 'dashboard' }];
    // Bucketed by the visitor cookie: a new visitor's prefetch sets mz-vid, and the click carries it.
    const byVisitor = served({ overrides, flags: { move: '50%' } });
    // Bucketed by IP: prefetch and click come from the same address.
    const byIp = served({ overrides, flags: { move: '50%' }, visitorCookie: false });
    const zones = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const ip = `198.51.100.${i}`;
      for (const uri of ['/about', '/blog/post-1']) {
        const prefetch = await byVisitor.serve(uri, { ip, headers: { accept: 'text/html', 'sec-purpose': 'prefetch' } });
        const id = prefetch.setCookies.map((c) => /^mz-vid=([0-9a-f]{32});/.exec(c)?.[1]).find((v) => v !== undefined);
        expect(id).toBeDefined();
        const click = await byVisitor.serve(uri, { ip, headers: { accept: 'text/html' }, cookies: { 'mz-vid': id! } });
        expect([uri, i, prefetch.zone, prefetch.request.headers['x-multizone-zone']]).toEqual([uri, i, click.zone, click.request.headers['x-multizone-zone']]);
        // The click keeps the prefetch's id: the cookie is only re-sent, unchanged.
        expect(click.setCookies).toEqual(prefetch.setCookies);
        zones.add(click.zone);

        const ipClick = await byIp.serve(uri, { ip, headers: { accept: 'text/html' } });
        const ipPrefetch = await byIp.serve(uri, { ip, headers: { accept: 'text/html', 'sec-purpose': 'prefetch' } });
        expect([uri, ip, ipPrefetch.zone, ipPrefetch.request.headers['x-multizone-zone']]).toEqual([uri, ip, ipClick.zone, ipClick.request.headers['x-multizone-zone']]);
      }
    }
    // Both sides of the rollout were met, so agreement is not the trivial one.
    expect([...zones].sort()).toEqual(['blog', 'dashboard', 'home']);
  });
});

describe('validation', () => {
  test('a bad eagerness or exclude pattern is refused, naming the value', () => {
    expect(() => siteStack({ crossZonePrefetch: CrossZonePrefetch.prefetch({ eagerness: 'hover' }) })).toThrow(
      'crossZonePrefetch: eagerness "hover" must be one of "immediate", "eager", "moderate", "conservative"',
    );
    expect(() => siteStack({ crossZonePrefetch: CrossZonePrefetch.prefetch({ exclude: ['/sign out'] }) })).toThrow(
      'crossZonePrefetch: exclude path pattern "/sign out" has characters CloudFront refuses: " "',
    );
    expect(() => siteStack({ crossZonePrefetch: CrossZonePrefetch.prefetch({ exclude: ['/*'] }) })).toThrow(
      'crossZonePrefetch: exclude pattern "/*" excludes every link; use CrossZonePrefetch.none() instead',
    );
  });

  test('rules past the 10 KB of function code are refused at synth', () => {
    const exclude = Array.from({ length: 60 }, (_, i) => `/a-rather-long-path-that-should-never-be-prefetched/${i}/${'x'.repeat(120)}`);
    expect(() => siteStack({ crossZonePrefetch: CrossZonePrefetch.prefetch({ exclude }) })).toThrow(
      /^crossZonePrefetch: the function answering \/_multizone\/speculation-rules\.json holds the rules file in its code, \d+ bytes, and CloudFront Functions allow at most 10240/,
    );
  });

  test('rules that would not fit turn the default off with a warning; the site still synthesizes', () => {
    // Many zones with long asset prefixes: their prefixes fill the rules file.
    const zones: ZoneDefinition[] = Array.from({ length: 70 }, (_, i) => ({
      name: `zone-${i}`,
      origin: origin(`zone-${i}`),
      pathPatterns: [`/z${i}/*`],
      assetPrefix: `/assets-of-a-zone-with-a-long-name-${i}-${'x'.repeat(100)}`,
    }));
    const stack = siteStack({ zones });
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('^crossZonePrefetch is off: crossZonePrefetch: the function answering'));
    expect(() => siteStack({ zones, crossZonePrefetch: CrossZonePrefetch.prefetch() })).toThrow(/^crossZonePrefetch: the function answering/);
  });

  test('the rules behavior counts against maxCacheBehaviors; the default gives way to routes, an explicit one takes its place', () => {
    const asked = served({ maxCacheBehaviors: 6, crossZonePrefetch: CrossZonePrefetch.prefetch() });
    expect(asked.behaviors).toHaveLength(6);
    expect(asked.behaviors[0].pathPattern).toBe(SPECULATION_RULES_PATH);
    const off = served({ maxCacheBehaviors: 6, crossZonePrefetch: CrossZonePrefetch.none() });
    expect(asked.overflow.length).toBe(off.overflow.length + 1);
    const byDefault = siteStack({ maxCacheBehaviors: 6 });
    Annotations.fromStack(byDefault).hasWarning('*', Match.stringLikeRegexp('^crossZonePrefetch is off: its cache behavior \\(/_multizone/speculation-rules.json\\) does not fit'));
    expect(SynthesizedSite.fromStack(byDefault).overflow).toEqual(off.overflow);
    expect(() => siteStack({ maxCacheBehaviors: 6, overflowToFunction: false, crossZonePrefetch: CrossZonePrefetch.prefetch() })).toThrow(
      /Speculation Rules file.*CrossZonePrefetch\.none\(\)/,
    );
    expect(() => siteStack({ maxCacheBehaviors: 20, overflowToFunction: false })).not.toThrow();
  });
});
