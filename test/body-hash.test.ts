/**
 * POST and PUT to Lambda function URL zones behind origin access control:
 * the bundled origin-request handler hashes the body it sees, and the
 * template runs it on exactly the behaviors that take bodies for such a
 * zone, from us-east-1.
 */
import { createHash } from 'crypto';
import { execFileSync } from 'child_process';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { FunctionUrlOrigin, HttpOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import { MultiZoneDistribution, MultiZoneDistributionProps } from '../lib';
import { templateLimitProblems } from '../lib/limits';
import { origin, seedZones } from './support/sites';

const root = path.resolve(__dirname, '..');
execFileSync(process.execPath, [path.join(root, 'scripts', 'bundle-handlers.js')], { cwd: root, stdio: 'ignore' });
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { handler } = require(path.join(root, 'dist', 'handlers', 'body-hash', 'index.js'));

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** A Lambda@Edge origin-request event as CloudFront sends it with the body included. */
function originRequest(method: string, body?: { data: string; encoding: 'base64' | 'text'; inputTruncated?: boolean }, headers: Record<string, string> = {}) {
  return {
    Records: [
      {
        cf: {
          config: { distributionDomainName: 'd111111abcdef8.cloudfront.net', distributionId: 'EDFDVBD6EXAMPLE', eventType: 'origin-request', requestId: 'r1' },
          request: {
            clientIp: '203.0.113.178',
            method,
            uri: '/blog/new',
            querystring: '',
            headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), [{ key: k, value: v }]])),
            origin: { custom: { domainName: 'abc.lambda-url.eu-west-1.on.aws', port: 443, protocol: 'https', path: '', sslProtocols: ['TLSv1.2'], readTimeout: 30, keepaliveTimeout: 5, customHeaders: {} } },
            ...(body ? { body: { action: 'read-only', inputTruncated: false, ...body } } : {}),
          },
        },
      },
    ],
  };
}

const hashHeader = (result: any) => result.headers['x-amz-content-sha256'];

describe('the bundled body-hash handler', () => {
  test('a server action POST (base64, as Lambda@Edge exposes bodies) gets the SHA-256 of its bytes', async () => {
    const form = '1_$ACTION_ID_7f3a=&1_title=Hello+w%C3%B6rld';
    const result = await handler(originRequest('POST', { data: Buffer.from(form).toString('base64'), encoding: 'base64' }));
    expect(hashHeader(result)).toEqual([{ key: 'x-amz-content-sha256', value: sha256(form) }]);
    expect(result.method).toBe('POST');
    expect(result.uri).toBe('/blog/new');
  });

  test('binary bytes are hashed as bytes, not as text', async () => {
    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x7f, 0xc3, 0x28, 0x0a]);
    const result = await handler(originRequest('PUT', { data: bytes.toString('base64'), encoding: 'base64' }));
    expect(hashHeader(result)[0].value).toBe(sha256(bytes));
    expect(hashHeader(result)[0].value).not.toBe(sha256(bytes.toString('utf8')));
  });

  test('a text-encoded body is hashed as its UTF-8 bytes', async () => {
    const json = '{"name":"Zoë","tags":["ünïcode"]}';
    const result = await handler(originRequest('POST', { data: json, encoding: 'text' }));
    expect(hashHeader(result)[0].value).toBe(sha256(Buffer.from(json, 'utf8')));
  });

  test('an empty body, or none in the event, gets the hash of the empty string', async () => {
    const empty = sha256('');
    expect(hashHeader(await handler(originRequest('POST', { data: '', encoding: 'base64' })))[0].value).toBe(empty);
    expect(hashHeader(await handler(originRequest('DELETE')))[0].value).toBe(empty);
  });

  test('a hash the viewer sent is replaced by the body\'s own', async () => {
    const result = await handler(originRequest('POST', { data: Buffer.from('a=1').toString('base64'), encoding: 'base64' }, { 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' }));
    expect(hashHeader(result)).toEqual([{ key: 'x-amz-content-sha256', value: sha256('a=1') }]);
  });

  test('a truncated body is answered 413 with the limit, never passed on unhashed', async () => {
    const result = await handler(originRequest('POST', { data: Buffer.alloc(1024).toString('base64'), encoding: 'base64', inputTruncated: true }));
    expect(result.status).toBe('413');
    expect(result.statusDescription).toBe('Payload Too Large');
    expect(result.body).toMatch(/at most 1 MB/);
    expect(result.headers['content-type'][0].value).toMatch(/^text\/plain/);
    expect(result.headers['cache-control'][0].value).toBe('no-store');
    expect(result.uri).toBeUndefined();
  });

  test('a truncated body whose client hashed it passes with the client\'s hash', async () => {
    const own = sha256('the whole 5 MB upload');
    const result = await handler(originRequest('PUT', { data: 'AAAA', encoding: 'base64', inputTruncated: true }, { 'x-amz-content-sha256': own }));
    expect(result.uri).toBe('/blog/new');
    expect(hashHeader(result)[0].value).toBe(own);
  });

  test.each(['GET', 'HEAD', 'OPTIONS'])('%s passes untouched', async (method) => {
    const event = originRequest(method);
    const before = JSON.parse(JSON.stringify(event.Records[0].cf.request));
    expect(await handler(event)).toEqual(before);
  });
});

interface Built {
  stack: Stack;
  app: App;
  template: Template;
  site: MultiZoneDistribution;
}

function functionUrl(stack: Stack, id: string): lambda.FunctionUrl {
  const fn = new lambda.Function(stack, id, { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => ({})') });
  return fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
}

/** A site whose blog zone is a function URL with OAC (unless `blog` says otherwise); home and dashboard are HTTP. */
function build(props: (stack: Stack) => Partial<MultiZoneDistributionProps>, region: string | null = 'us-east-1', more?: (stack: Stack) => void): Built {
  const app = new App();
  const stack = new Stack(app, 'SiteStack', region ? { env: { account: '123456789012', region } } : {});
  const site = new MultiZoneDistribution(stack, 'Site', {
    defaultZone: { name: 'home', origin: origin('home') },
    zones: seedZones(),
    ...props(stack),
  });
  more?.(stack);
  return { app, stack, site, template: Template.fromStack(stack) };
}

const lambdaBlog = (stack: Stack, extra: Record<string, unknown> = {}) => ({
  zones: [{ ...seedZones()[0], origin: FunctionUrlOrigin.withOriginAccessControl(functionUrl(stack, 'BlogFn')), ...extra }, seedZones()[1]],
});

/** Path pattern of each behavior (`*` for the default) -> whether it runs the body hash at origin request with the body. */
function hashedBehaviors(template: Template): string[] {
  const config = Object.values<any>(template.findResources('AWS::CloudFront::Distribution'))[0].Properties.DistributionConfig;
  const behaviors = [...config.CacheBehaviors, { ...config.DefaultCacheBehavior, PathPattern: '*' }];
  return behaviors
    .filter((b: any) => {
      const associations = b.LambdaFunctionAssociations ?? [];
      for (const a of associations) {
        expect(a).toEqual({ EventType: 'origin-request', IncludeBody: true, LambdaFunctionARN: expect.anything() });
      }
      return associations.length > 0;
    })
    .map((b: any) => b.PathPattern);
}

describe('which behaviors hash bodies', () => {
  test('a function URL zone with OAC: its page behaviors, not its assets, and no other zone\'s', () => {
    const { template } = build(lambdaBlog);
    expect(hashedBehaviors(template)).toEqual(['/blog/*', '/blog']);
  });

  test('HTTP zones only: no association and no function', () => {
    const { template, site } = build(() => ({}));
    expect(hashedBehaviors(template)).toEqual([]);
    expect(site.bodyHashFunction).toBeUndefined();
    template.resourceCountIs('AWS::Lambda::Function', 0);
  });

  test('a function URL default zone hashes the default behavior and no asset behavior', () => {
    const { template } = build((stack) => ({ defaultZone: { name: 'home', origin: FunctionUrlOrigin.withOriginAccessControl(functionUrl(stack, 'HomeFn')) } }));
    expect(hashedBehaviors(template)).toEqual(['*']);
  });

  test('an override moving an HTTP zone\'s path to the function URL zone hashes that path, which the HTTP zone serves with the flag off', () => {
    const { template } = build((stack) => ({
      ...lambdaBlog(stack),
      overrides: [{ flag: 'blog-checkout', pathPatterns: ['/dashboard/checkout'], zone: 'blog' }],
    }));
    expect(hashedBehaviors(template).sort()).toEqual(['/blog', '/blog/*', '/dashboard/checkout']);
  });

  test('an override moving the function URL zone\'s path to an HTTP zone keeps the hash there', () => {
    const { template } = build((stack) => ({
      ...lambdaBlog(stack),
      overrides: [{ flag: 'blog-to-home', pathPatterns: ['/blog/legacy/*'], zone: 'home' }],
    }));
    expect(hashedBehaviors(template).sort()).toEqual(['/blog', '/blog/*', '/blog/legacy/*']);
  });

  test('routes past the behavior quota, routed by the function at the default behavior, bring the hash to the default', () => {
    const { site, template } = build((stack) => ({
      maxCacheBehaviors: 4,
      ...lambdaBlog(stack),
    }));
    expect(site.behaviorPlan.overflow.map((r) => r.zone)).toContain('blog');
    expect(hashedBehaviors(template)).toContain('*');
    expect(hashedBehaviors(template)).toEqual(site.behaviorPlan.behaviors.filter((b) => b.zone === 'blog' && b.kind === 'page').map((b) => b.pattern).concat('*'));
  });

  test('hashRequestBodies: false turns it off for the zone', () => {
    const { template, site } = build((stack) => lambdaBlog(stack, { hashRequestBodies: false }));
    expect(hashedBehaviors(template)).toEqual([]);
    expect(site.bodyHashFunction).toBeUndefined();
  });

  test('an origin access control that never signs needs no hash', () => {
    const { template } = build((stack) => ({
      zones: [
        {
          ...seedZones()[0],
          origin: FunctionUrlOrigin.withOriginAccessControl(functionUrl(stack, 'BlogFn'), {
            originAccessControl: new cloudfront.FunctionUrlOriginAccessControl(stack, 'NoSigning', { signing: cloudfront.Signing.NEVER }),
          }),
        },
      ],
    }));
    expect(hashedBehaviors(template)).toEqual([]);
  });

  test('an origin access control of the user that signs is detected as well', () => {
    const { template } = build((stack) => ({
      zones: [
        {
          ...seedZones()[0],
          origin: FunctionUrlOrigin.withOriginAccessControl(functionUrl(stack, 'BlogFn'), {
            originAccessControl: new cloudfront.FunctionUrlOriginAccessControl(stack, 'Signing', { signing: cloudfront.Signing.SIGV4_NO_OVERRIDE }),
          }),
        },
      ],
    }));
    expect(hashedBehaviors(template)).toEqual(['/blog/*', '/blog']);
  });

  test('a function URL without origin access control needs no hash', () => {
    const { template } = build((stack) => ({ zones: [{ ...seedZones()[0], origin: new FunctionUrlOrigin(functionUrl(stack, 'BlogFn')) }] }));
    expect(hashedBehaviors(template)).toEqual([]);
  });

  test('one function per stack, shared by its distributions', () => {
    const { template } = build(lambdaBlog, 'us-east-1', (stack) => {
      new MultiZoneDistribution(stack, 'Other', {
        defaultZone: { name: 'home', origin: FunctionUrlOrigin.withOriginAccessControl(functionUrl(stack, 'OtherFn')) },
        stackOutputs: false,
      });
    });
    template.resourceCountIs('AWS::CloudFront::Distribution', 2);
    const fns = template.findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.handler', Runtime: 'nodejs22.x', MemorySize: 128 } });
    const edge = Object.values<any>(fns).filter((f) => JSON.stringify(f.Properties.Description ?? '').includes('x-amz-content-sha256'));
    expect(edge).toHaveLength(1);
  });

  test('an HTTP origin naming an origin access control the app does not define is taken to sign: a missing hash is a 403 on every POST, an extra one is harmless', () => {
    const { template } = build(() => ({
      zones: [{ ...seedZones()[0], origin: new HttpOrigin('abc.lambda-url.us-east-1.on.aws', { originAccessControlId: 'E2QWRUHAPOMQZL' }) }],
    }));
    expect(hashedBehaviors(template)).toEqual(['/blog/*', '/blog']);
  });

  test('refuses more hashing behaviors than the Lambda@Edge triggers a distribution may have, naming the zone', () => {
    const patterns = Array.from({ length: 101 }, (_, i) => `/blog/p${i}/*`);
    expect(() => build((stack) => ({ maxCacheBehaviors: 200, ...lambdaBlog(stack, { pathPatterns: patterns }) }))).toThrow(
      /^Zone "blog": 101 cache behaviors would run the body-hash Lambda@Edge function, past the 100 Lambda@Edge triggers a distribution may have/,
    );
  });

  test('refuses a non-boolean hashRequestBodies', () => {
    expect(() => build((stack) => lambdaBlog(stack, { hashRequestBodies: 'no' }))).toThrow('Zone "blog": hashRequestBodies must be true or false');
  });
});

describe('where the function lives', () => {
  test('a stack in eu-west-1 gets the function in a us-east-1 support stack, with no environment variables', () => {
    const { app, stack, template } = build(lambdaBlog, 'eu-west-1');
    const edgeStacks = app.node.children.filter((c): c is Stack => c instanceof Stack && c !== stack);
    expect(edgeStacks).toHaveLength(1);
    expect(edgeStacks[0].region).toBe('us-east-1');
    const edge = Template.fromStack(edgeStacks[0]);
    edge.resourceCountIs('AWS::Lambda::Function', 1);
    const [fn] = Object.values<any>(edge.findResources('AWS::Lambda::Function'));
    expect(fn.Properties.Environment).toBeUndefined();
    expect(fn.Properties.Handler).toBe('index.handler');
    edge.resourceCountIs('AWS::Lambda::Version', 1);
    // The site stack holds no Lambda@Edge function of its own: only the blog's and the ARN reader's.
    expect(Object.values<any>(template.findResources('AWS::Lambda::Function')).every((f) => !JSON.stringify(f).includes('x-amz-content-sha256'))).toBe(true);
    template.resourceCountIs('Custom::CrossRegionStringParameterReader', 1);
  });

  test('a stack in us-east-1 holds the function itself', () => {
    const { app, template } = build(lambdaBlog);
    expect(app.node.children.filter((c) => c instanceof Stack)).toHaveLength(1);
    template.resourcePropertiesCountIs('AWS::Lambda::Function', { Description: expectDescription() }, 1);
  });

  test('an environment-agnostic stack is refused, naming the zone and the remedies', () => {
    expect(() => build(lambdaBlog, null)).toThrow(
      /^Zone "blog": a Lambda function URL origin with origin access control needs x-amz-content-sha256 .*set env\.region on the stack, or set hashRequestBodies: false on the zone/,
    );
  });

  test('an environment-agnostic stack that opts out synthesizes', () => {
    expect(() => build((stack) => lambdaBlog(stack, { hashRequestBodies: false }), null)).not.toThrow();
  });

  test('cdk-nag finds nothing to say about the function in either stack beyond the site owner\'s distribution rules', () => {
    const { app, stack } = build(lambdaBlog, 'eu-west-1');
    const stacks = app.node.children.filter((c): c is Stack => c instanceof Stack);
    const findings = stacks.flatMap((s) =>
      new AwsSolutionsChecks(app).validateScope(s).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} @ ${r.constructPath ?? r.resourceLogicalId}`)),
    );
    // The blog's own function and the distribution's CFR rules are the site owner's to answer (see nag.test.ts).
    expect(findings.some((f) => f.includes(`${stack.stackName}/BlogFn`))).toBe(true);
    const ours = findings.filter((f) => !f.includes(`${stack.stackName}/BlogFn`) && !/^AwsSolutions-CFR\d @ SiteStack\/Site\/Distribution\/Resource$/.test(f));
    expect(ours).toEqual([]);
  });
});

describe('at deletion and at replacement', () => {
  // CloudFront deletes a Lambda@Edge function's replicas only hours after it is disassociated, and
  // Lambda refuses to delete the function or a version before that: a destroy, or a deploy replacing
  // the version, fails unless both are retained. A version the template no longer holds (a changed
  // handler gets a new one) is deleted by the DeletionPolicy it was deployed with.
  const RETAINED = [
    ['AWS::Lambda::Function', 'Retain', 'Retain'],
    ['AWS::Lambda::Version', 'Retain', 'Retain'],
  ];

  /** The body-hash function of a template and every version of it: type, DeletionPolicy, UpdateReplacePolicy. */
  function bodyHashPolicies(template: Template): string[][] {
    const resources = template.toJSON().Resources as Record<string, any>;
    const functions = Object.keys(template.findResources('AWS::Lambda::Function', { Properties: { Description: expectDescription() } }));
    expect(functions).toHaveLength(1);
    const versions = Object.keys(resources).filter((id) => resources[id].Type === 'AWS::Lambda::Version' && resources[id].Properties.FunctionName?.Ref === functions[0]);
    return [...functions, ...versions].map((id) => [resources[id].Type, resources[id].DeletionPolicy, resources[id].UpdateReplacePolicy]);
  }

  const deletionProblems = (template: Template, app: App) =>
    templateLimitProblems(template.toJSON(), { assetDirectory: app.outdir }).filter((p) => p.limit === 'lambda-edge-deletion');

  test('a stack in us-east-1 retains the function and its version', () => {
    const { app, template } = build(lambdaBlog);
    expect(bodyHashPolicies(template)).toEqual(RETAINED);
    expect(deletionProblems(template, app)).toEqual([]);
  });

  test('from eu-west-1, the edge-lambda-stack in us-east-1 retains the function and its version', () => {
    const { app, stack } = build(lambdaBlog, 'eu-west-1');
    const [edgeStack] = app.node.children.filter((c): c is Stack => c instanceof Stack && c !== stack);
    expect(edgeStack.stackName).toMatch(/^edge-lambda-stack-/);
    const edge = Template.fromStack(edgeStack);
    expect(bodyHashPolicies(edge)).toEqual(RETAINED);
    expect(deletionProblems(edge, app)).toEqual([]);
  });
});

function expectDescription() {
  return 'MultiZoneDistribution: x-amz-content-sha256 of request bodies for Lambda function URL zones behind origin access control';
}
