import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { buildProgram, main, setDeployedFlagsHandler } from '../packages/multizone-cli/src/cli';
import { CliIO } from '../packages/multizone-cli/src/cli/io';
import { MultiZoneValidationError } from '../lib/errors';
import { rolloutBucket } from '../lib/flags';
import { writeFlag } from '../packages/multizone-cli/src/local-edge/flag-file';
import { LocalEdge, startLocalEdge } from '../packages/multizone-cli/src/local-edge/server';
import { SynthesizedSite } from '../packages/multizone-cli/src/synthesized-site';
import { synth } from './support/sites';
import { randomBytes } from 'crypto';

jest.setTimeout(30_000);

const ROOT = path.resolve(__dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'multizone-local-edge-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The seed's site with the example's override: /checkout moves to the dashboard while new-checkout is on. */
const synthesized = synth({
  overrides: [{ flag: 'new-checkout', pathPatterns: ['/checkout', '/checkout/*'], zone: 'dashboard' }],
  flags: { 'new-checkout': 'off' },
  // explain --ip names the viewer IP's bucket: viewers are bucketed by IP here, not by the visitor cookie.
  visitorCookie: false,
});
const template: Record<string, any> = synthesized.template.toJSON();
/** Templates are read where cdk synth writes them: in the cloud assembly, beside their assets. */
const assetDirectory = synthesized.assemblyDir;
const templateFile = path.join(assetDirectory, 'site.template.json');
fs.writeFileSync(templateFile, JSON.stringify(template));

/** A template written beside its assets, as cdk synth leaves it. */
function templateFileOf(s: ReturnType<typeof synth>, name: string): string {
  const file = path.join(s.assemblyDir, `${name}.template.json`);
  fs.writeFileSync(file, JSON.stringify(s.template.toJSON()));
  return file;
}

/** The same site bucketing viewers by IP (no visitor cookie). */
const ipTemplateFile = templateFileOf(
  synth({ overrides: [{ flag: 'new-checkout', pathPatterns: ['/checkout', '/checkout/*'], zone: 'dashboard' }], flags: { 'new-checkout': 'off' }, visitorCookie: false }),
  'ip-site',
);

/** The site with zone flags: new-nav (no override) and new-checkout (which also moves /checkout), decided per visitor (mz-vid). */
const flaggedSynth = synth({
  overrides: [{ flag: 'new-checkout', pathPatterns: ['/checkout', '/checkout/*'], zone: 'dashboard' }],
  flags: { 'new-checkout': 'off', 'new-nav': '50%' },
  zoneFlags: ['new-nav', 'new-checkout'],
});
const flaggedTemplateFile = templateFileOf(flaggedSynth, 'flagged');

/** What a test zone saw of one request. */
interface Seen {
  zone: string;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** Websocket connections the zones accepted: a server's close() no longer sees them. */
const upgradedSockets = new Set<import('stream').Duplex>();

/** A tiny zone: echoes what it received as JSON, plus a streaming endpoint, an upload endpoint and a websocket echo. */
function zoneServer(zone: string): http.Server {
  const server = http.createServer((req, res) => {
    const seen: Seen = { zone, method: req.method!, url: req.url!, headers: req.headers };
    if (req.url!.endsWith('/stream')) {
      // Three chunks 150 ms apart: a buffering proxy would deliver them together.
      res.writeHead(200, { 'content-type': 'text/plain', 'x-zone': zone });
      let n = 0;
      const tick = () => {
        res.write(`chunk ${n}\n`);
        if (++n < 3) setTimeout(tick, 150);
        else res.end();
      };
      tick();
      return;
    }
    if (req.url!.endsWith('/upload')) {
      // Answers as soon as the first body chunk arrives, before the body ends.
      let total = 0;
      req.once('data', () => res.writeHead(200, { 'content-type': 'text/plain' }).write('got first chunk\n'));
      req.on('data', (c: Buffer) => (total += c.length));
      req.on('end', () => res.end(`total ${total}\n`));
      return;
    }
    // A zone setting its own framing policy, a header a policy may remove, or a cookie of its own; a missing page.
    const own = req.url!.includes('frame-deny')
      ? { 'x-frame-options': 'DENY', 'x-powered-by': 'zone' }
      : req.url!.includes('own-cookie')
        ? { 'set-cookie': ['zone-session=abc; Path=/; HttpOnly'] }
        : {};
    res.writeHead(req.url!.includes('missing') ? 404 : 200, { 'content-type': 'application/json', 'x-zone': zone, ...own });
    res.end(JSON.stringify(seen));
  });
  server.on('upgrade', (req, socket) => {
    upgradedSockets.add(socket);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nx-zone: ${zone}\r\nx-path: ${req.url}\r\nx-seen-xfh: ${req.headers['x-forwarded-host'] ?? ''}\r\n\r\n`);
    socket.on('data', (d) => socket.write(`${zone} echoes ${d}`));
  });
  return server;
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(url: string, options: http.RequestOptions = {}, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, ...options }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const seenBy = async (url: string, options: http.RequestOptions = {}): Promise<Seen> => JSON.parse((await request(url, options)).body);

const zoneNames = ['home', 'blog', 'dashboard'];
const zones: Record<string, http.Server> = {};
const zoneUrls: Record<string, string> = {};
const site = SynthesizedSite.fromTemplate(template, { assetDirectory });
const flagsFile = path.join(tmp, 'flags.json');
const lines: string[] = [];
let edge: LocalEdge;

beforeAll(async () => {
  for (const name of zoneNames) {
    zones[name] = zoneServer(name);
    zoneUrls[name] = `http://127.0.0.1:${await listen(zones[name])}`;
  }
  edge = await startLocalEdge({ site, zoneUrls, flagsFile, host: '127.0.0.1', log: (l) => lines.push(l) });
});

afterAll(async () => {
  await edge?.close();
  for (const socket of upgradedSockets) socket.destroy();
  for (const s of Object.values(zones)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

describe('local edge: routing as the template states it', () => {
  test.each([
    ['/', 'home'],
    ['/about', 'home'],
    ['/blogger', 'home'],
    ['/blog', 'blog'],
    ['/blog/post-1', 'blog'],
    ['/blog-static/_next/static/chunks/a.js', 'blog'],
    ['/_next/static/chunks/main.js', 'home'],
    ['/dashboard', 'dashboard'],
    ['/dashboard/settings', 'dashboard'],
    ['/dashboard-static/_next/static/css/a.css', 'dashboard'],
    ['/checkout', 'home'],
  ])('%s is answered by %s', async (uri, zone) => {
    const reply = await request(`${edge.url}${uri}`);
    expect(reply.status).toBe(200);
    expect(reply.headers['x-zone']).toBe(zone);
    expect(reply.headers['x-multizone-route']).toMatch(new RegExp(`^zone=${zone}; behavior=`));
    expect((JSON.parse(reply.body) as Seen).url).toBe(uri);
  });

  test('the route header names the behavior and whether the function ran', async () => {
    expect((await request(`${edge.url}/blog/post-1`)).headers['x-multizone-route']).toBe('zone=blog; behavior=/blog/*; function');
    expect((await request(`${edge.url}/blog-static/a.js`)).headers['x-multizone-route']).toBe('zone=blog; behavior=/blog-static/*');
  });
});

describe('local edge: what reaches the zone (origin request policy)', () => {
  test('a page: Host is the zone\'s own, x-forwarded-host the viewer\'s, and headers, cookies and query string pass as sent', async () => {
    const seen = await seenBy(`${edge.url}/blog/post-1?b=2&a=%20x&flag`, {
      headers: { host: 'www.example.test:8080', cookie: 'session=abc; theme=dark', 'x-custom': 'yes', 'user-agent': 'jest', origin: 'http://www.example.test:8080' },
    });
    expect(seen.headers.host).toBe(new URL(zoneUrls.blog).host);
    expect(seen.headers['x-forwarded-host']).toBe('www.example.test:8080');
    expect(seen.url).toBe('/blog/post-1?b=2&a=%20x&flag');
    expect(seen.headers.cookie).toBe('session=abc; theme=dark');
    expect(seen.headers['x-custom']).toBe('yes');
    expect(seen.headers['user-agent']).toBe('jest');
    expect(seen.headers.origin).toBe('http://www.example.test:8080');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers.via).toContain('multizone-local-edge');
  });

  test('a viewer cannot spoof the internal zone header', async () => {
    const seen = await seenBy(`${edge.url}/dashboard`, { headers: { 'x-multizone-zone': 'evil' } });
    expect(seen.headers['x-multizone-zone']).not.toBe('evil');
  });

  test('an asset (CachingOptimized, no origin request policy): no cookies, no query string, no viewer headers, no x-forwarded-host', async () => {
    const seen = await seenBy(`${edge.url}/_next/static/chunks/main.js?v=1`, {
      headers: { host: 'www.example.test', cookie: 'session=abc', 'x-custom': 'yes', 'accept-encoding': 'gzip' },
    });
    expect(seen.url).toBe('/_next/static/chunks/main.js');
    expect(seen.headers.host).toBe(new URL(zoneUrls.home).host);
    expect(seen.headers.cookie).toBeUndefined();
    expect(seen.headers['x-custom']).toBeUndefined();
    expect(seen.headers['x-forwarded-host']).toBeUndefined();
    expect(seen.headers['accept-encoding']).toBe('gzip');
    expect(seen.headers['user-agent']).toBe('Amazon CloudFront');
  });

  test('a method the behavior does not allow is refused with 403, as CloudFront does', async () => {
    const reply = await request(`${edge.url}/blog-static/a.js`, { method: 'POST' }, 'x');
    expect(reply.status).toBe(403);
    expect(reply.body).toContain('GET, HEAD, OPTIONS');
  });

  test('the origins\' custom headers: literal ones are sent over the viewer\'s, referenced ones only when given', async () => {
    const t = JSON.parse(JSON.stringify(template));
    const dist = Object.values<any>(t.Resources).find((r) => r.Type === 'AWS::CloudFront::Distribution');
    for (const o of dist.Properties.DistributionConfig.Origins) {
      o.OriginCustomHeaders = [
        { HeaderName: 'X-Zone-Secret', HeaderValue: `literal-${o.Id}` },
        { HeaderName: 'x-origin-verify', HeaderValue: { 'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: 'Secret' }, ':SecretString:::}}']] } },
      ];
    }
    const withHeaders = SynthesizedSite.fromTemplate(t, { assetDirectory });
    const plain = await startLocalEdge({ site: withHeaders, zoneUrls, flagsFile, host: '127.0.0.1' });
    const given = await startLocalEdge({ site: withHeaders, zoneUrls, flagsFile, host: '127.0.0.1', originHeaders: { 'X-Origin-Verify': 's3cret' } });
    try {
      expect(plain.zones.find((z) => z.zone === 'blog')?.unresolvedOriginHeaders).toEqual(['x-origin-verify']);
      const seen = await seenBy(`${plain.url}/blog/a`, { headers: { 'x-zone-secret': 'spoofed' } });
      expect(seen.headers['x-zone-secret']).toMatch(/^literal-.*blog/);
      expect(seen.headers['x-origin-verify']).toBeUndefined();
      expect((await seenBy(`${given.url}/_next/static/a.js`)).headers['x-origin-verify']).toBe('s3cret');
    } finally {
      await plain.close();
      await given.close();
    }
  });

  test('the response headers policy applies: managed security headers, the zone\'s own value kept unless the policy overrides', async () => {
    expect(site.behaviorFor('/blog-static/x.js').behavior.raw.ResponseHeadersPolicyId).toBe('67f7725c-6f97-4210-82d7-5512b31e9d03');
    const asset = await request(`${edge.url}/blog-static/x.js`);
    expect(asset.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(asset.headers['speculation-rules']).toBeUndefined();
    const page = await request(`${edge.url}/blog/a`);
    // Pages: the same security headers, and the Speculation Rules file named.
    expect(page.headers['speculation-rules']).toBe('"/_multizone/speculation-rules.json"');
    expect(page.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['strict-transport-security']).toBe('max-age=31536000');
    expect((await request(`${edge.url}/blog/frame-deny`)).headers['x-frame-options']).toBe('DENY');
  });

  test('the Speculation Rules file is answered by the edge itself, as the template\'s function answers it', async () => {
    const before = lines.length;
    const rules = await request(`${edge.url}/_multizone/speculation-rules.json`);
    expect(rules.status).toBe(200);
    expect(rules.headers['content-type']).toBe('application/speculationrules+json');
    expect(JSON.parse(rules.body).prefetch[0].where.and[0]).toEqual({ href_matches: [{ pathname: '/*' }] });
    expect(lines.slice(before).join('\n')).toContain('answered by the function');
    const again = await request(`${edge.url}/_multizone/speculation-rules.json`, { headers: { 'if-none-match': String(rules.headers.etag) } });
    expect(again.status).toBe(304);
  });

  test('a response headers policy of the template: custom headers, overrides and removals', async () => {
    const t = JSON.parse(JSON.stringify(template));
    t.Resources.Custom = {
      Type: 'AWS::CloudFront::ResponseHeadersPolicy',
      Properties: {
        ResponseHeadersPolicyConfig: {
          Name: 'custom',
          CustomHeadersConfig: { Items: [{ Header: 'X-Site', Value: 'multi', Override: false }] },
          SecurityHeadersConfig: {
            ContentSecurityPolicy: { ContentSecurityPolicy: "default-src 'self'", Override: true },
            FrameOptions: { FrameOption: 'SAMEORIGIN', Override: true },
          },
          RemoveHeadersConfig: { Items: [{ Header: 'X-Powered-By' }] },
        },
      },
    };
    const dist = Object.values<any>(t.Resources).find((r) => r.Type === 'AWS::CloudFront::Distribution');
    for (const b of dist.Properties.DistributionConfig.CacheBehaviors) b.ResponseHeadersPolicyId = { Ref: 'Custom' };
    const local = await startLocalEdge({ site: SynthesizedSite.fromTemplate(t, { assetDirectory }), zoneUrls, flagsFile, host: '127.0.0.1' });
    try {
      const reply = await request(`${local.url}/blog/frame-deny`);
      expect(reply.headers['x-site']).toBe('multi');
      expect(reply.headers['content-security-policy']).toBe("default-src 'self'");
      // The zone said DENY; this policy overrides it.
      expect(reply.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(reply.headers['x-powered-by']).toBeUndefined();
    } finally {
      await local.close();
    }
  });

  test('POST to a page reaches the zone with its body', async () => {
    const reply = await request(`${edge.url}/dashboard/upload`, { method: 'POST', headers: { 'content-type': 'text/plain' } }, 'hello world');
    expect(reply.status).toBe(200);
    expect(reply.body).toContain('total 11');
  });
});

describe('local edge: next/image (the image cache policy)', () => {
  const image = '/blog-static/_next/image?url=%2Fblog-static%2Fcat.png&w=640&q=75';
  const viewer = {
    host: 'www.example.test',
    accept: 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8',
    cookie: 'session=abc',
    'x-custom': 'yes',
    'accept-encoding': 'gzip, br',
  };

  test('a zone\'s image path: url, w and q and the reduced Accept reach the zone; no other query, cookie or header, no viewer host', async () => {
    const reply = await request(`${edge.url}${image}&utm_source=mail`, { headers: viewer });
    expect(reply.headers['x-multizone-route']).toBe('zone=blog; behavior=/blog-static/_next/image; function');
    const seen: Seen = JSON.parse(reply.body);
    expect(seen.zone).toBe('blog');
    expect(seen.url).toBe(image);
    expect(seen.headers.accept).toBe('image/avif,image/webp');
    expect(seen.headers.cookie).toBeUndefined();
    expect(seen.headers['x-custom']).toBeUndefined();
    expect(seen.headers['accept-encoding']).toBeUndefined();
    expect(seen.headers['x-forwarded-host']).toBeUndefined();
    expect(seen.headers.host).toBe(new URL(zoneUrls.blog).host);
  });

  test('the default zone\'s /_next/image goes to home the same way', async () => {
    const seen = await seenBy(`${edge.url}/_next/image?url=%2Fcat.png&w=64&q=75`, { headers: viewer });
    expect(seen.zone).toBe('home');
    expect(seen.url).toBe('/_next/image?url=%2Fcat.png&w=64&q=75');
    expect(seen.headers.accept).toBe('image/avif,image/webp');
    expect(seen.headers.cookie).toBeUndefined();
  });

  test('HEAD is allowed, POST refused', async () => {
    expect((await request(`${edge.url}${image}`, { method: 'HEAD' })).status).toBe(200);
    expect((await request(`${edge.url}${image}`, { method: 'POST' }, 'x')).status).toBe(403);
  });

  test('without the image behaviors (the template before them), <assetPrefix>/* took the request and the zone got neither query nor Accept', async () => {
    const t = JSON.parse(JSON.stringify(template));
    const dist = Object.values<any>(t.Resources).find((r) => r.Type === 'AWS::CloudFront::Distribution');
    const config = dist.Properties.DistributionConfig;
    config.CacheBehaviors = config.CacheBehaviors.filter((b: any) => !b.PathPattern.endsWith('/_next/image'));
    const before = await startLocalEdge({ site: SynthesizedSite.fromTemplate(t, { assetDirectory }), zoneUrls, flagsFile, host: '127.0.0.1' });
    try {
      const reply = await request(`${before.url}${image}`, { headers: viewer });
      expect(reply.headers['x-multizone-route']).toBe('zone=blog; behavior=/blog-static/*');
      const seen: Seen = JSON.parse(reply.body);
      expect(seen.url).toBe('/blog-static/_next/image');
      expect(seen.headers.accept).toBeUndefined();
    } finally {
      await before.close();
    }
  });
});

describe('local edge: streaming', () => {
  test('a response streams: the first chunk arrives before the zone has finished', async () => {
    const arrivals: number[] = [];
    const start = Date.now();
    await new Promise<void>((resolve, reject) => {
      http
        .get(`${edge.url}/blog/stream`, { agent: false }, (res) => {
          res.on('data', () => arrivals.push(Date.now() - start));
          res.on('end', () => resolve());
        })
        .on('error', reject);
    });
    expect(arrivals.length).toBeGreaterThanOrEqual(2);
    expect(arrivals[arrivals.length - 1] - arrivals[0]).toBeGreaterThanOrEqual(200);
  });

  test('a request body streams: the zone answers its first chunk while the viewer is still sending', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.request(`${edge.url}/dashboard/upload`, { method: 'POST', agent: false, headers: { 'content-type': 'application/octet-stream' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
          // Only now send the rest: a proxy that buffered the body would never get here.
          if (text === 'got first chunk\n') req.end('second part');
        });
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.flushHeaders();
      req.write('first part ');
    });
    expect(body).toBe('got first chunk\ntotal 22\n');
  });
});

describe('local edge: a pooled connection the zone closed', () => {
  test('a GET sent on a connection the zone had just closed is sent again on a new one; a POST is not', async () => {
    // Answers the first request of each connection, then drops the connection on the next one, as a zone closing an idle connection does.
    const closing = http.createServer((req, res) => {
      const socket = req.socket as import('net').Socket & { served?: number };
      socket.served = (socket.served ?? 0) + 1;
      if (socket.served > 1) {
        socket.destroy();
        return;
      }
      req.resume();
      req.on('end', () => res.end(`ok ${req.method}`));
    });
    const url = `http://127.0.0.1:${await listen(closing)}`;
    const log: string[] = [];
    const flaky = await startLocalEdge({ site, zoneUrls: { ...zoneUrls, home: url }, flagsFile, host: '127.0.0.1', log: (l) => log.push(l) });
    try {
      expect((await request(`${flaky.url}/about`)).body).toBe('ok GET');
      const again = await request(`${flaky.url}/about`);
      expect([again.status, again.body]).toEqual([200, 'ok GET']);
      expect(log.some((l) => /zone home at .*: socket hang up \(sent again on a new connection\)/.test(l))).toBe(true);
      expect((await request(`${flaky.url}/about`, { method: 'POST' }, 'x')).body).toBe('ok POST');
      const post = await request(`${flaky.url}/about`, { method: 'POST' }, 'x');
      expect(post.status).toBe(502);
    } finally {
      await flaky.close();
      closing.closeAllConnections();
      await new Promise((r) => closing.close(r));
    }
  });
});

describe('local edge: flags from the flag file', () => {
  afterEach(() => fs.rmSync(flagsFile, { force: true }));

  test('a flag flipped in the file takes effect on the next request, no restart', async () => {
    expect((await request(`${edge.url}/checkout`)).headers['x-zone']).toBe('home');
    writeFlag('new-checkout', 'on', flagsFile);
    expect((await request(`${edge.url}/checkout`)).headers['x-zone']).toBe('dashboard');
    expect((await request(`${edge.url}/checkout/pay`)).headers['x-zone']).toBe('dashboard');
    // Other paths stay put.
    expect((await request(`${edge.url}/about`)).headers['x-zone']).toBe('home');
    writeFlag('new-checkout', 'off', flagsFile);
    expect((await request(`${edge.url}/checkout`)).headers['x-zone']).toBe('home');
    writeFlag('new-checkout', '100%', flagsFile);
    expect((await request(`${edge.url}/checkout`)).headers['x-zone']).toBe('dashboard');
    fs.rmSync(flagsFile);
    expect((await request(`${edge.url}/checkout`)).headers['x-zone']).toBe('home');
  });

  test('a flag file that is not JSON: a 500 page naming the file, and the edge keeps running', async () => {
    fs.writeFileSync(flagsFile, '{ not json');
    const reply = await request(`${edge.url}/checkout`);
    expect(reply.status).toBe(500);
    expect(reply.body).toContain(flagsFile);
    fs.rmSync(flagsFile);
    expect((await request(`${edge.url}/checkout`)).status).toBe(200);
  });
});

describe('local edge: websockets', () => {
  test('an upgrade is routed like any request and proxied both ways', async () => {
    const { headers, echoed } = await new Promise<{ headers: http.IncomingHttpHeaders; echoed: string }>((resolve, reject) => {
      const req = http.request(`${edge.url}/blog-static/_next/webpack-hmr`, {
        agent: false,
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' },
      });
      req.on('upgrade', (res, socket) => {
        socket.once('data', (d) => {
          resolve({ headers: res.headers, echoed: d.toString() });
          socket.destroy();
        });
        socket.write('ping');
      });
      req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
      req.on('error', reject);
      req.end();
    });
    expect(headers['x-zone']).toBe('blog');
    expect(headers['x-path']).toBe('/blog-static/_next/webpack-hmr');
    expect(echoed).toBe('blog echoes ping');
  });

  test('a page websocket passes the function\'s x-forwarded-host', async () => {
    const headers = await new Promise<http.IncomingHttpHeaders>((resolve, reject) => {
      const req = http.request(`${edge.url}/dashboard/live`, {
        agent: false,
        headers: { host: 'site.test', connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' },
      });
      req.on('upgrade', (res, socket) => {
        socket.destroy();
        resolve(res.headers);
      });
      req.on('error', reject);
      req.end();
    });
    expect(headers['x-zone']).toBe('dashboard');
    expect(headers['x-seen-xfh']).toBe('site.test');
  });
});

describe('local edge: bad input', () => {
  test('a zone URL that refuses connections: a 502 page naming the zone and URL; other zones keep working', async () => {
    const down = `http://127.0.0.1:${await closedPort()}`;
    const local = await startLocalEdge({ site, zoneUrls: { ...zoneUrls, blog: down }, flagsFile, host: '127.0.0.1' });
    try {
      const reply = await request(`${local.url}/blog/post-1`);
      expect(reply.status).toBe(502);
      expect(reply.headers['content-type']).toContain('text/html');
      expect(reply.body).toContain('<b>blog</b>');
      expect(reply.body).toContain(down);
      expect((await request(`${local.url}/`)).headers['x-zone']).toBe('home');
      // A websocket to the dead zone gets the same page, and no crash.
      const ws = await new Promise<number>((resolve) => {
        const req = http.request(`${local.url}/blog/live`, { agent: false, headers: { connection: 'Upgrade', upgrade: 'websocket' } });
        req.on('response', (res) => resolve(res.statusCode!));
        req.on('upgrade', () => resolve(101));
        req.on('error', () => resolve(-1));
        req.end();
      });
      expect(ws).toBe(502);
    } finally {
      await local.close();
    }
  });

  test('an unknown zone in the zone URLs is refused before listening', async () => {
    await expect(startLocalEdge({ site, zoneUrls: { blgo: 'http://localhost:1' } })).rejects.toThrow(MultiZoneValidationError);
    await expect(startLocalEdge({ site, zoneUrls: { blgo: 'http://localhost:1' } })).rejects.toThrow('Zone "blgo": the template has no such zone (its zones: home, blog, dashboard)');
    await expect(startLocalEdge({ site, zoneUrls: { blog: 'localhost:3001' } })).rejects.toThrow('is not an http:// or https:// URL');
  });

  test('a zone whose origin is a CloudFormation reference and has no URL: 502 telling how to give one', async () => {
    const t = JSON.parse(JSON.stringify(template));
    const dist = Object.values<any>(t.Resources).find((r) => r.Type === 'AWS::CloudFront::Distribution');
    dist.Properties.DistributionConfig.Origins.find((o: any) => o.Id.includes('blog')).DomainName = { 'Fn::GetAtt': ['Bucket', 'RegionalDomainName'] };
    const local = await startLocalEdge({ site: SynthesizedSite.fromTemplate(t, { assetDirectory }), zoneUrls: { home: zoneUrls.home, dashboard: zoneUrls.dashboard }, flagsFile, host: '127.0.0.1' });
    try {
      expect(local.zones.find((z) => z.zone === 'blog')?.source).toBe('none');
      const reply = await request(`${local.url}/blog`);
      expect(reply.status).toBe(502);
      expect(reply.body).toContain('--zone blog=http://localhost:PORT');
    } finally {
      await local.close();
    }
  });

  test('a response the function returns itself is sent as is', async () => {
    const t = JSON.parse(JSON.stringify(template));
    t.Resources[site.behaviorFor('/blog/x').behavior.viewerRequestFunction!].Properties.FunctionCode =
      "import cf from 'cloudfront';\nasync function handler(event) {\n  return { statusCode: 302, statusDescription: 'Found', headers: { location: { value: 'https://elsewhere.test' + event.request.uri } }, cookies: { seen: { value: '1', attributes: 'Path=/' } } };\n}";
    const local = await startLocalEdge({ site: SynthesizedSite.fromTemplate(t, { assetDirectory }), zoneUrls, flagsFile, host: '127.0.0.1' });
    try {
      const reply = await request(`${local.url}/blog/x`);
      expect(reply.status).toBe(302);
      expect(reply.headers.location).toBe('https://elsewhere.test/blog/x');
      expect(reply.headers['set-cookie']).toEqual(['seen=1; Path=/']);
      // No function on asset behaviors: they still reach the zone.
      expect((await request(`${local.url}/blog-static/a.js`)).headers['x-zone']).toBe('blog');
    } finally {
      await local.close();
    }
  });

  test('a function that throws: 503, as CloudFront answers', async () => {
    const t = JSON.parse(JSON.stringify(template));
    t.Resources[site.behaviorFor('/blog/x').behavior.viewerRequestFunction!].Properties.FunctionCode = "import cf from 'cloudfront';\nfunction handler(event) {\n  throw new Error('boom');\n}";
    const local = await startLocalEdge({ site: SynthesizedSite.fromTemplate(t, { assetDirectory }), zoneUrls, flagsFile, host: '127.0.0.1' });
    try {
      const reply = await request(`${local.url}/blog/x`);
      expect(reply.status).toBe(503);
      expect(reply.body).toContain('boom');
    } finally {
      await local.close();
    }
  });

  test('the edge logs one line per request naming the zone and behavior', () => {
    expect(lines.some((l) => /^GET \/blog\/post-1 -> blog \(\/blog\/\*, function\) 200 \d+ ms$/.test(l))).toBe(true);
  });
});

/** Runs the CLI in-process, capturing its output. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => (out += t.endsWith('\n') ? t : `${t}\n`), err: (t) => (err += t.endsWith('\n') ? t : `${t}\n`) };
  const code = await main(['node', 'multizone', ...args], io);
  return { code, out, err };
}

const noFlagFile = path.join(tmp, 'absent', 'flags.json');

describe('CLI: explain', () => {
  test('/checkout with the flag on: the /checkout behavior, the function ran and chose the dashboard', async () => {
    const r = await cli('explain', '/checkout', '--flag', 'new-checkout=on', '--template', templateFile, '--flags-file', noFlagFile);
    expect(r.code).toBe(0);
    expect(r.out).toContain('GET /checkout');
    expect(r.out).toMatch(/behavior +#\d+ of \d+: \/checkout \(first match in CloudFront's order\) -> origin \S+ \(home\)/);
    expect(r.out).toMatch(/function +\S+ \(viewer-request\) ran: selected origin \S*dashboard/);
    expect(r.out).toMatch(/zone +dashboard \(origin \S*dashboard/);
    expect(r.out).toContain('new-checkout=on (--flag)');
  });

  test('/checkout with the flag off (its initial value): home', async () => {
    const r = await cli('explain', '/checkout', '--template', templateFile, '--flags-file', noFlagFile);
    expect(r.out).toMatch(/zone +home /);
    expect(r.out).toContain("new-checkout=off (template's initial value)");
    expect(r.out).toContain("kept the behavior's origin");
  });

  test('the local flag file counts, and --flag beats it', async () => {
    const file = path.join(tmp, 'explain-flags.json');
    writeFlag('new-checkout', 'on', file);
    expect((await cli('explain', '/checkout', '--template', templateFile, '--flags-file', file)).out).toMatch(/zone +dashboard/);
    expect((await cli('explain', '/checkout', '--template', templateFile, '--flags-file', file, '--flag', 'new-checkout=off')).out).toMatch(/zone +home/);
  });

  test('an asset: no function, never moved', async () => {
    const r = await cli('explain', '/blog-static/_next/static/a.js', '--template', templateFile, '--flags-file', noFlagFile);
    expect(r.out).toContain('function   none on this behavior');
    expect(r.out).toMatch(/zone +blog /);
    expect(r.out).toContain('assets never move');
  });

  test('--json', async () => {
    const r = await cli('explain', '/blog/post-1', '--json', '--template', templateFile, '--flags-file', noFlagFile);
    const parsed = JSON.parse(r.out);
    expect(parsed).toMatchObject({ uri: '/blog/post-1', zone: 'blog', functionRan: true, behavior: { pathPattern: '/blog/*' } });
  });

  test('--ip under a percentage, on a site bucketing by IP: the viewer\'s bucket, and the zone the function chose agrees with it', async () => {
    const seen = new Set<string>();
    for (let i = 1; i <= 20; i++) {
      const ip = `192.0.2.${i}`;
      const r = await cli('explain', '/checkout', '--flag', 'new-checkout=25%', '--ip', ip, '--template', ipTemplateFile, '--flags-file', noFlagFile);
      expect(r.code).toBe(0);
      const m = new RegExp(`new-checkout=25% \\(--flag\\), bucket (\\d+) for ${ip.replace(/\./g, '\\.')}: (on|off)`).exec(r.out);
      expect(m).not.toBeNull();
      const [bucket, state] = [Number(m![1]), m![2]];
      expect(state).toBe(bucket < 25 ? 'on' : 'off');
      expect(r.out).toMatch(new RegExp(`zone +${state === 'on' ? 'dashboard' : 'home'} `));
      seen.add(state);
    }
    // Twenty viewers at 25%: both sides of the rollout were explained.
    expect([...seen].sort()).toEqual(['off', 'on']);
  });

  test('without --ip, a percentage names the default viewer IP; on and off show no bucket', async () => {
    const r = await cli('explain', '/checkout', '--flag', 'new-checkout=25%', '--template', ipTemplateFile, '--flags-file', noFlagFile);
    expect(r.out).toMatch(/new-checkout=25% \(--flag\), bucket \d+ for the default viewer IP 192\.0\.2\.10 \(pass --ip\): (on|off)/);
    expect((await cli('explain', '/checkout', '--flag', 'new-checkout=on', '--ip', '192.0.2.1', '--template', ipTemplateFile, '--flags-file', noFlagFile)).out).not.toContain('bucket');
  });

  test('x-forwarded-host: the template\'s first alias, else the cloudfront.net domain; --host over both', async () => {
    const withAlias = JSON.parse(JSON.stringify(template));
    withAlias.Resources[site.logicalId].Properties.DistributionConfig.Aliases = ['shop.example.org', 'www.shop.example.org'];
    const aliasFile = path.join(assetDirectory, 'alias.template.json');
    fs.writeFileSync(aliasFile, JSON.stringify(withAlias));
    const aliased = await cli('explain', '/blog/post-1', '--template', aliasFile, '--flags-file', noFlagFile);
    expect(aliased.out).toContain('x-forwarded-host: shop.example.org (set by the function)');
    expect(JSON.parse((await cli('explain', '/blog/post-1', '--json', '--template', aliasFile, '--flags-file', noFlagFile)).out).host).toBe('shop.example.org');
    const plain = await cli('explain', '/blog/post-1', '--template', templateFile, '--flags-file', noFlagFile);
    expect(plain.out).toMatch(/x-forwarded-host: d[0-9a-z]+\.cloudfront\.net \(set by the function\)/);
    const given = await cli('explain', '/blog/post-1', '--host', 'preview.example.net', '--template', aliasFile, '--flags-file', noFlagFile);
    expect(given.out).toContain('x-forwarded-host: preview.example.net (set by the function)');
  });
});

describe('CLI: routes', () => {
  test('every behavior in CloudFront order with zone, kind and function, the overrides, and a picture', async () => {
    const r = await cli('routes', '--template', templateFile, '--flags-file', noFlagFile);
    expect(r.code).toBe(0);
    const rows = r.out.split('\n').filter((l) => /^\s+\d+\s{2}/.test(l));
    expect(rows.map((l) => l.trim().split(/\s{2,}/)[1])).toEqual(site.behaviors.map((b) => (b.pathPattern === '*' ? '* (default)' : b.pathPattern)));
    expect(r.out).toMatch(/\/blog-static\/\*\s+blog\s+asset\s+-/);
    expect(r.out).toMatch(/\/checkout\s+home\s+override\s+\S+/);
    expect(r.out).toMatch(/\* \(default\)\s+home\s+default/);
    expect(r.out).toMatch(/\/checkout\s+-> dashboard\s+while new-checkout is on\s+now: off/);
    expect(r.out).toContain('Picture');
    expect(r.out).toMatch(/`- if new-checkout is on -> dashboard/);
    expect(r.out).toMatch(/\/_multizone\/speculation-rules\.json\s+home\s+speculation-rules\s+SiteSpeculationRules/);
    expect(r.out).toMatch(/prefetched\s+\/blog\/\*, \/blog\s+-> blog/);
    expect(r.out).toMatch(/\/\*\s+-> home\s+\(every other path\)/);
    expect(r.out).toMatch(/never\s+\/_next\/\*, \/_multizone\/\*, \/dashboard-static\/\*, \/blog-static\/\*/);
    expect(r.out).toMatch(/excluded\s+none/);
    expect(r.out).toMatch(/\/_multizone\/speculation-rules\.json -- f -+> answered by f, no zone asked/);
  });

  test('--json: what is prefetched, by zone, and what never is, read from the template\'s rules function', async () => {
    const r = await cli('routes', '--template', templateFile, '--flags-file', noFlagFile, '--json');
    expect(r.code).toBe(0);
    const prefetch = JSON.parse(r.out).prefetch;
    expect(prefetch.action).toBe('prefetch');
    expect(prefetch.prefetched.map((t: any) => [t.zone, t.patterns])).toEqual([['blog', ['/blog/*', '/blog']], ['dashboard', ['/dashboard/*', '/dashboard']], ['home', ['/*']]]);
    expect(prefetch.never).toEqual(['/_next/*', '/_multizone/*', '/dashboard-static/*', '/blog-static/*']);
    expect(prefetch.excluded).toEqual([]);
  });

  test('routes past the behavior quota are listed as overflow, under the default behavior', async () => {
    const overflowSynth = synth({ maxCacheBehaviors: 4 });
    const small = overflowSynth.template.toJSON();
    const file = path.join(overflowSynth.assemblyDir, 'overflow.template.json');
    fs.writeFileSync(file, JSON.stringify(small));
    const overflowSite = SynthesizedSite.fromStack(overflowSynth.stack);
    const carried = new Set(overflowSite.behaviors.map((b) => b.pathPattern));
    const overflowed = overflowSite.table.routes.filter((x) => !carried.has(x.pattern));
    expect(overflowed.length).toBeGreaterThan(0);
    const r = await cli('routes', '--template', file, '--flags-file', noFlagFile);
    expect(r.out).toContain('Overflow (past the behavior quota');
    for (const o of overflowed) expect(r.out).toMatch(new RegExp(`[+\`]- ${o.pattern.replace(/[*.?]/g, '\\$&')} +-> ${o.zone}`));
    // And the edge routes them as the function does.
    const blogRoute = overflowed.find((o) => o.zone === 'blog' && o.kind === 'page');
    if (blogRoute) expect((await cli('explain', blogRoute.pattern.replace('*', 'x'), '--template', file, '--flags-file', noFlagFile)).out).toMatch(/zone +blog /);
  });
});

describe('CLI: flags --local', () => {
  test('set, get and list work on the flag file', async () => {
    const file = path.join(tmp, 'cli-flags.json');
    const set = await cli('flags', 'set', 'new-checkout', '25%', '--local', '--flags-file', file);
    expect(set.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ 'new-checkout': '25%' });
    expect((await cli('flags', 'get', 'new-checkout', '--local', '--flags-file', file)).out).toBe('25%\n');
    expect((await cli('flags', 'list', '--local', '--flags-file', file)).out).toMatch(/^new-checkout\s+25%/m);
  });

  test('a flag the template does not have: refused in one line naming the known flags, as explain refuses it', async () => {
    const file = path.join(tmp, 'unknown-flags.json');
    const set = await cli('flags', 'set', 'nope', 'on', '--local', '--flags-file', file, '--template', templateFile);
    expect(set.code).toBe(1);
    expect(set.err.trim()).toBe('multizone: flags set nope: the template has no flag "nope" (its flags: new-checkout)');
    expect(fs.existsSync(file)).toBe(false);
    const explain = await cli('explain', '/checkout', '--flag', 'nope=on', '--template', templateFile, '--flags-file', file);
    expect(explain.code).toBe(1);
    expect(explain.err.trim()).toBe('multizone: --flag nope=on: the template has no flag "nope" (its flags: new-checkout)');
    // A flag the template has is written.
    expect((await cli('flags', 'set', 'new-checkout', 'on', '--local', '--flags-file', file, '--template', templateFile)).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ 'new-checkout': 'on' });
  });

  test('a bad value: one line, exit 1, the file untouched', async () => {
    const file = path.join(tmp, 'bad-flags.json');
    const r = await cli('flags', 'set', 'new-checkout', 'maybe', '--local', '--flags-file', file);
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain('"on", "off" or a whole percentage');
    expect(fs.existsSync(file)).toBe(false);
  });

  test('without --local and no deployed-site handler: a one-line hint and exit 1', async () => {
    const program = buildProgram({ out: () => undefined, err: () => undefined });
    setDeployedFlagsHandler(undefined);
    program.exitOverride();
    await expect(program.parseAsync(['node', 'multizone', 'flags', 'list'])).rejects.toThrow('use --local, or deploy and pass --stack');
  });

  test('without --local, the registered handler gets the call', async () => {
    const calls: unknown[] = [];
    const program = buildProgram({ out: () => undefined, err: () => undefined });
    setDeployedFlagsHandler({
      list: async () => void calls.push('list'),
      get: async (name) => void calls.push(['get', name]),
      set: async (name, value) => void calls.push(['set', name, value]),
    });
    try {
      await program.parseAsync(['node', 'multizone', 'flags', 'set', 'new-checkout', 'on']);
      await program.parseAsync(['node', 'multizone', 'flags', 'get', 'new-checkout']);
      expect(calls).toEqual([
        ['set', 'new-checkout', 'on'],
        ['get', 'new-checkout'],
      ]);
    } finally {
      setDeployedFlagsHandler(undefined);
    }
  });
});

describe('CLI: errors are one clear line and a non-zero exit', () => {
  test.each([
    [['dev', '--zone', 'blgo=http://localhost:3001'], '--zone: Zone "blgo": the template has no such zone (its zones: home, blog, dashboard)'],
    [['dev', '--zone', 'blog'], '--zone blog: expected name=value'],
    [['explain', '/checkout', '--flag', 'new-checkout=yes'], '--flag new-checkout=yes: value "yes" must be'],
    [['explain', '/checkout', '--flag', 'old-checkout=on'], 'the template has no flag "old-checkout" (its flags: new-checkout)'],
    [['explain', 'checkout'], 'the path must start with "/"'],
  ])('%j', async (args, message) => {
    const r = await cli(...args, '--template', templateFile, '--flags-file', noFlagFile);
    expect(r.code).toBe(1);
    expect(r.err).toContain(message);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  test('a template away from its cloud assembly: the routing table asset it misses, and where it looked', async () => {
    const file = path.join(tmp, 'moved.template.json');
    fs.writeFileSync(file, JSON.stringify(template));
    const r = await cli('routes', '--template', file);
    expect(r.code).toBe(1);
    expect(r.err.trim()).toMatch(new RegExp(
      `^multizone: template ${file}: routing table asset asset\\.[0-9a-f]{64}\\.json not found next to the template \\(in ${tmp}\\); synthesize with cdk synth`,
    ));
  });

  test('a template without a MultiZoneDistribution', async () => {
    const file = path.join(tmp, 'other.template.json');
    fs.writeFileSync(file, JSON.stringify({ Resources: { Bucket: { Type: 'AWS::S3::Bucket' } } }));
    const r = await cli('routes', '--template', file);
    expect(r.code).toBe(1);
    expect(r.err.trim()).toBe(`multizone: template ${file}: no MultiZoneDistribution found (no AWS::CloudFront::Distribution with MultiZone metadata)`);
  });

  test('a template that does not exist', async () => {
    const r = await cli('routes', '--template', path.join(tmp, 'nope.json'));
    expect(r.code).toBe(1);
    expect(r.err).toContain('nope.json: no such file');
  });
});

describe('CLI: --version', () => {
  test('prints the package version and exits 0', async () => {
    const r = await cli('--version');
    expect(r.code).toBe(0);
    expect(r.out).toBe(`${JSON.parse(fs.readFileSync(path.join(ROOT, 'packages', 'multizone-cli', 'package.json'), 'utf8')).version}\n`);
  });
});

describe('bin/multizone.js', () => {
  test('runs without a build; an error exits 1 with one line and no stack trace', () => {
    const ok = spawnSync(process.execPath, [path.join(ROOT, 'packages', 'multizone-cli', 'bin', 'multizone.js'), 'explain', '/blog', '--template', templateFile, '--flags-file', noFlagFile], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/zone +blog /);
    const bad = spawnSync(process.execPath, [path.join(ROOT, 'packages', 'multizone-cli', 'bin', 'multizone.js'), 'routes', '--template', path.join(tmp, 'nope.json')], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });

  test('an AWS command failing without credentials: exactly one line on stderr, no notice of the AWS SDK\'s', () => {
    const home = fs.mkdtempSync(path.join(tmp, 'home-'));
    // No credentials anywhere, no instance metadata, and an endpoint that answers nothing, should a request go out.
    const env = { PATH: process.env.PATH, HOME: home, AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true', AWS_ENDPOINT_URL: 'http://127.0.0.1:9' };
    const kvsArn = 'arn:aws:cloudfront::123456789012:key-value-store/0f6a1c2e-0000-4000-8000-000000000000';
    const r = spawnSync(process.execPath, [path.join(ROOT, 'packages', 'multizone-cli', 'bin', 'multizone.js'), 'flags', 'set', 'new-checkout', 'on', '--kvs-arn', kvsArn], { encoding: 'utf8', env });
    expect([r.status, r.stdout]).toEqual([1, '']);
    expect(r.stderr.split('\n')).toEqual([expect.stringMatching(/^multizone: GetKey "new-checkout": no AWS credentials found; /), '']);
  }, 120_000);

  test('dev serves the template until stopped', async () => {
    const port = await closedPort();
    const child = spawn(process.execPath, [path.join(ROOT, 'packages', 'multizone-cli', 'bin', 'multizone.js'), 'dev', '--template', templateFile, '--port', String(port), '--host', '127.0.0.1', '--flags-file', noFlagFile, ...zoneNames.flatMap((z) => ['--zone', `${z}=${zoneUrls[z]}`])], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      const deadline = Date.now() + 20_000;
      // The banner's last line is its flags line; the lines before it may arrive in separate chunks.
      while (!out.includes('  flags: ') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      expect(out).toContain(`http://localhost:${port}`);
      expect(out).toMatch(/blog\s+-> http:\/\/127\.0\.0\.1:\d+/);
      expect((await request(`http://127.0.0.1:${port}/blog/post-1`)).headers['x-zone']).toBe('blog');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    expect(child.exitCode).toBe(0);
  });
});

describe('local edge: zone flags and the visitor cookie', () => {
  const zoneFlagsFile = path.join(tmp, 'zone-flags.json');
  let flagged: LocalEdge;
  beforeAll(async () => {
    flagged = await startLocalEdge({ site: SynthesizedSite.fromTemplate(flaggedSynth.template.toJSON(), { assetDirectory: flaggedSynth.assemblyDir }), zoneUrls, flagsFile: zoneFlagsFile, host: '127.0.0.1' });
  });
  afterAll(() => flagged?.close());
  afterEach(() => fs.rmSync(zoneFlagsFile, { force: true }));

  const pages = ['/', '/about', '/blog', '/blog/post-1', '/dashboard/settings', '/checkout'];
  const mzVid = (reply: Reply) => ((reply.headers['set-cookie'] ?? []) as string[]).find((c) => c.startsWith('mz-vid='));

  test('every page request carries the decisions the function made; the viewer\'s own header never reaches a zone; assets carry none', async () => {
    writeFlag('new-nav', 'on', zoneFlagsFile);
    const spoof = { 'x-multizone-flags': 'new-checkout=on,new-nav=off' };
    for (const p of pages) {
      const seen = await seenBy(`${flagged.url}${p}`, { headers: spoof });
      expect([p, seen.headers['x-multizone-flags']]).toEqual([p, 'new-checkout=off,new-nav=on']);
    }
    for (const asset of ['/blog-static/_next/static/a.js', '/_next/static/chunks/main.js']) {
      expect([asset, (await seenBy(`${flagged.url}${asset}`, { headers: spoof })).headers['x-multizone-flags']]).toEqual([asset, undefined]);
    }
  });

  test('a flag that also moves a path: the zone that answers and the decision it reads agree', async () => {
    writeFlag('new-checkout', 'on', zoneFlagsFile);
    const seen = await seenBy(`${flagged.url}/checkout`);
    expect(seen.zone).toBe('dashboard');
    expect(seen.headers['x-multizone-flags']).toMatch(/^new-checkout=on,new-nav=(on|off)$/);
  });

  test('mz-vid: the first response sets it, that request is bucketed by it, and sent back it is kept, re-sent unchanged, in every zone', async () => {
    writeFlag('new-nav', '50%', zoneFlagsFile);
    const states = new Set<string>();
    for (let i = 0; i < 24; i++) {
      const first = await request(`${flagged.url}/blog/post-1`);
      const set = mzVid(first);
      expect(set).toMatch(/^mz-vid=[0-9a-f]{32}; Secure; HttpOnly; SameSite=Lax; Path=\/; Max-Age=\d+$/);
      const vid = /^mz-vid=([0-9a-f]{32})/.exec(set!)![1];
      const decided = JSON.parse(first.body).headers['x-multizone-flags'];
      expect(decided).toBe(`new-checkout=off,new-nav=${rolloutBucket('new-nav', vid) < 50 ? 'on' : 'off'}`);
      for (const p of ['/', '/dashboard', '/blog/post-2']) {
        const again = await request(`${flagged.url}${p}`, { headers: { cookie: `mz-vid=${vid}` } });
        expect([p, mzVid(again), JSON.parse(again.body).headers['x-multizone-flags']]).toEqual([p, set, decided]);
      }
      states.add(decided);
    }
    // Every request came from 127.0.0.1: only the visitor id can split them.
    expect(states.size).toBe(2);
  });

  test('the zone\'s own Set-Cookie and headers pass beside mz-vid; a zone error (404) runs no viewer-response function', async () => {
    const reply = await request(`${flagged.url}/blog/own-cookie`);
    expect(reply.status).toBe(200);
    expect(reply.headers['set-cookie']).toEqual(expect.arrayContaining(['zone-session=abc; Path=/; HttpOnly', expect.stringMatching(/^mz-vid=/)]));
    expect(reply.headers['x-zone']).toBe('blog');
    expect(reply.headers['content-type']).toBe('application/json');
    expect(reply.headers['x-multizone-route']).toMatch(/^zone=blog; behavior=\/blog\/\*; function$/);
    const missing = await request(`${flagged.url}/blog/missing`);
    expect(missing.status).toBe(404);
    expect(missing.headers['set-cookie']).toBeUndefined();
  });

  test('a response still streams through the viewer-response function', async () => {
    const arrivals: number[] = [];
    const start = Date.now();
    let cookie: string | undefined;
    await new Promise<void>((resolve, reject) => {
      http
        .get(`${flagged.url}/blog/stream`, { agent: false }, (res) => {
          cookie = ((res.headers['set-cookie'] ?? []) as string[]).find((c) => c.startsWith('mz-vid='));
          res.on('data', () => arrivals.push(Date.now() - start));
          res.on('end', () => resolve());
        })
        .on('error', reject);
    });
    expect(cookie).toBeDefined();
    expect(arrivals.length).toBeGreaterThanOrEqual(2);
    expect(arrivals[arrivals.length - 1] - arrivals[0]).toBeGreaterThanOrEqual(200);
  });

  test('flags set --local: the next request in every zone reads the new value, for the same visitor', async () => {
    const cookie = `mz-vid=${randomBytes(16).toString('hex')}`;
    for (const value of ['on', 'off', 'on']) {
      expect((await cli('flags', 'set', 'new-nav', value, '--local', '--flags-file', zoneFlagsFile, '--template', flaggedTemplateFile)).code).toBe(0);
      for (const p of ['/', '/blog/post-1', '/dashboard']) {
        const seen = await seenBy(`${flagged.url}${p}`, { headers: { cookie } });
        expect([p, seen.headers['x-multizone-flags']]).toEqual([p, `new-checkout=off,new-nav=${value}`]);
      }
    }
  });
});

describe('CLI: explain, zone flags', () => {
  const explain = (...args: string[]) => cli('explain', ...args, '--template', flaggedTemplateFile, '--flags-file', noFlagFile);

  test('a page: the decisions header the zone gets, and each zone flag\'s value', async () => {
    const r = await explain('/blog/post-1', '--flag', 'new-nav=on');
    expect(r.code).toBe(0);
    expect(r.out).toContain('zone flags x-multizone-flags: new-checkout=off,new-nav=on (set by the function, forwarded to the zone)');
    expect(r.out).toContain('new-nav=on (--flag)');
    expect(r.out).toContain("new-checkout=off (template's initial value)");
    const moved = await explain('/checkout', '--flag', 'new-checkout=on');
    expect(moved.out).toMatch(/zone +dashboard /);
    expect(moved.out).toContain('x-multizone-flags: new-checkout=on,new-nav=');
  });

  test('an asset: no decisions are sent', async () => {
    expect((await explain('/blog-static/_next/static/a.js')).out).toContain('zone flags none sent: no function decides them on this behavior');
  });

  test('--visitor under a percentage: the visitor\'s bucket per flag, and the decision the function forwards agrees with it', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const vid = randomBytes(16).toString('hex');
      const r = await explain('/dashboard', '--flag', 'new-nav=50%', '--visitor', vid);
      const m = new RegExp(`new-nav=50% \\(--flag\\), bucket (\\d+) for mz-vid ${vid}: (on|off)`).exec(r.out);
      expect(m).not.toBeNull();
      expect(m![2]).toBe(Number(m![1]) < 50 ? 'on' : 'off');
      expect(r.out).toContain(`x-multizone-flags: new-checkout=off,new-nav=${m![2]} `);
      seen.add(m![2]);
    }
    expect([...seen].sort()).toEqual(['off', 'on']);
  });

  test('without --visitor, a new visitor: its bucket is random; --json carries the header', async () => {
    expect((await explain('/dashboard', '--flag', 'new-nav=50%')).out).toMatch(/new-nav=50% \(--flag\), for a new visitor, whose mz-vid the edge makes up on this request \(pass --visitor ID for a returning one\): a random bucket/);
    const json = JSON.parse((await explain('/dashboard', '--flag', 'new-nav=on', '--json')).out);
    expect(json.zoneFlags).toEqual({ header: 'new-checkout=off,new-nav=on', forwarded: true });
  });

  test('a --visitor the edge would not write, or on a site bucketing by IP: one line, exit 1', async () => {
    const bad = await explain('/dashboard', '--visitor', 'not-hex');
    expect([bad.code, bad.err.trim()]).toEqual([1, 'multizone: --visitor not-hex: not a visitor id the edge writes (32 hex characters, the value of the mz-vid cookie)']);
    const byIp = await cli('explain', '/checkout', '--visitor', 'a'.repeat(32), '--template', ipTemplateFile, '--flags-file', noFlagFile);
    expect([byIp.code, byIp.err.trim()]).toEqual([1, `multizone: --visitor ${'a'.repeat(32)}: this site buckets viewers by IP (no bucketCookie, no mz-vid); pass --ip`]);
  });

  test('--ip where buckets follow mz-vid: refused in one line saying to pass --visitor, nothing printed', async () => {
    const r = await explain('/checkout', '--flag', 'new-checkout=25%', '--ip', '203.0.113.7');
    expect([r.code, r.out, r.err]).toEqual([
      1,
      '',
      'multizone: --ip 203.0.113.7: this site buckets viewers by their mz-vid visitor id, not by IP (visitorCookie, the default); pass --visitor <id> instead (a returning viewer\'s mz-vid, 32 hex characters)\n',
    ]);
  });

  test('--visitor gives the same bucket and zone on every run', async () => {
    const runs = await Promise.all(Array.from({ length: 4 }, () => explain('/checkout', '--flag', 'new-checkout=25%', '--visitor', '3f2a9c0d4b5e6f708192a3b4c5d6e7f8')));
    expect(runs[0].out).toMatch(/new-checkout=25% \(--flag\), bucket \d+ for mz-vid 3f2a9c0d4b5e6f708192a3b4c5d6e7f8: (on|off)/);
    expect(new Set(runs.map((r) => r.out)).size).toBe(1);
  });

  test('--ip that is not an address: refused naming the value, on any site', async () => {
    for (const file of [flaggedTemplateFile, ipTemplateFile]) {
      const r = await cli('explain', '/checkout', '--ip', 'not-an-ip', '--template', file, '--flags-file', noFlagFile);
      expect([r.code, r.out, r.err]).toEqual([1, '', 'multizone: --ip not-an-ip: not an IPv4 or IPv6 address\n']);
    }
    expect((await cli('explain', '/checkout', '--flag', 'new-checkout=25%', '--ip', '2001:db8::7', '--template', ipTemplateFile, '--flags-file', noFlagFile)).out).toMatch(/bucket \d+ for 2001:db8::7: (on|off)/);
  });

  test('with a bucketCookie, --ip decides for a viewer without the cookie, --visitor for one with it; both at once are refused', async () => {
    const cookieFile = templateFileOf(
      synth({ overrides: [{ flag: 'new-checkout', pathPatterns: ['/checkout', '/checkout/*'], zone: 'dashboard' }], flags: { 'new-checkout': 'off' }, bucketCookie: 'uid' }),
      'cookie-site',
    );
    const run = (...args: string[]) => cli('explain', '/checkout', '--flag', 'new-checkout=25%', ...args, '--template', cookieFile, '--flags-file', noFlagFile);
    expect((await run('--ip', '203.0.113.7')).out).toMatch(/bucket \d+ for 203\.0\.113\.7, without a uid cookie \(pass --visitor VALUE\): (on|off)/);
    expect((await run('--visitor', 'user-42')).out).toMatch(/bucket \d+ for uid user-42: (on|off)/);
    const both = await run('--ip', '203.0.113.7', '--visitor', 'user-42');
    expect([both.code, both.err]).toEqual([1, 'multizone: --ip 203.0.113.7: with --visitor, buckets follow the uid cookie, not the IP (the IP counts only for a viewer without the cookie); pass one of them\n']);
  });
});

describe('local edge: a viewer-response function of the template', () => {
  // The seed's site, with hand-written viewer-response functions on /blog/* and /dashboard/*: any association counts, not only the construct's.
  const withFunctions = JSON.parse(JSON.stringify(template));
  const config = withFunctions.Resources[site.logicalId].Properties.DistributionConfig;
  const attach = (pattern: string, id: string, code: string) => {
    withFunctions.Resources[id] = { Type: 'AWS::CloudFront::Function', Properties: { Name: id, AutoPublish: true, FunctionCode: code, FunctionConfig: { Comment: id, Runtime: 'cloudfront-js-2.0' } } };
    const behavior = config.CacheBehaviors.find((b: any) => b.PathPattern === pattern);
    behavior.FunctionAssociations = [...(behavior.FunctionAssociations ?? []), { EventType: 'viewer-response', FunctionARN: { 'Fn::GetAtt': [id, 'FunctionARN'] } }];
  };
  attach(
    '/blog/*',
    'StampResponse',
    "function handler(event) { var r = event.response; r.headers['x-stamp'] = { value: event.request.uri }; delete r.headers['x-zone']; r.cookies['stamp'] = { value: String(r.statusCode), attributes: 'Path=/' }; r.statusDescription = 'Stamped'; return r; }",
  );
  attach('/dashboard/*', 'BrokenResponse', "function handler(event) { throw new Error('boom'); }");
  // Fails on any response but a zone's: the local edge must run it once, on the zone's response.
  attach(
    '/blog',
    'ZoneResponseOnly',
    "function handler(event) { var r = event.response; if (!r.headers['x-zone']) throw new Error('ran on a response no zone sent'); r.headers['x-seen-zone'] = { value: r.headers['x-zone'].value }; return r; }",
  );
  // Reads the store, as a viewer-response function may on CloudFront.
  attach(
    '/dashboard',
    'StoreResponse',
    "import cf from 'cloudfront';\nvar kvs = cf.kvs();\nasync function handler(event) { var r = event.response; r.headers['x-new-checkout'] = { value: await kvs.get('new-checkout', { format: 'string' }) }; return r; }",
  );
  const responseFlagsFile = path.join(tmp, 'response-flags.json');
  const withFunctionsSite = SynthesizedSite.fromTemplate(withFunctions, { assetDirectory });
  let custom: LocalEdge;
  beforeAll(async () => {
    writeFlag('new-checkout', 'on', responseFlagsFile);
    custom = await startLocalEdge({ site: withFunctionsSite, zoneUrls, flagsFile: responseFlagsFile, host: '127.0.0.1' });
  });
  afterAll(() => custom?.close());

  test('its header and cookie changes reach the viewer, with the zone\'s body', async () => {
    const reply = await request(`${custom.url}/blog/post-1`);
    expect(reply.status).toBe(200);
    expect(reply.headers['x-stamp']).toBe('/blog/post-1');
    expect(reply.headers['x-zone']).toBeUndefined();
    expect(reply.headers['set-cookie']).toEqual(['stamp=200; Path=/']);
    expect(JSON.parse(reply.body).zone).toBe('blog');
    // Other behaviors are untouched.
    expect((await request(`${custom.url}/about`)).headers['x-zone']).toBe('home');
  });

  test('a zone\'s 404 goes out as the zone sent it; a function that throws is a 503', async () => {
    const missing = await request(`${custom.url}/blog/missing`);
    expect([missing.status, missing.headers['x-zone'], missing.headers['x-stamp']]).toEqual([404, 'blog', undefined]);
    const broken = await request(`${custom.url}/dashboard/settings`);
    expect(broken.status).toBe(503);
    // The page names the function that failed: the viewer-response one, not the viewer-request function that ran fine.
    expect(broken.body).toMatch(/The viewer-response function of behavior <code>\/dashboard\/\*<\/code> failed: boom/);
  });

  test('it runs once per request, on the zone\'s response only', async () => {
    const reply = await request(`${custom.url}/blog`);
    expect([reply.status, reply.headers['x-seen-zone']]).toEqual([200, 'blog']);
  });

  test('it reads the store as the request did: the flag file\'s values over the template\'s', async () => {
    const reply = await request(`${custom.url}/dashboard`);
    expect([reply.status, reply.headers['x-new-checkout']]).toEqual([200, 'on']);
  });

  test('SynthesizedSite: skipViewerResponse leaves the function to respond, which reads the request\'s store values', async () => {
    await expect(withFunctionsSite.serve('/blog')).rejects.toThrow('ran on a response no zone sent');
    const skipped = await withFunctionsSite.serve('/blog', { skipViewerResponse: true });
    expect(skipped.setCookies).toEqual([]);
    const zoneSent = { statusCode: 200, headers: { 'x-zone': { value: 'blog' } } };
    expect((await withFunctionsSite.respond(skipped, zoneSent)).headers['x-seen-zone']).toEqual({ value: 'blog' });

    const read = async (flags?: Record<string, string>) => {
      const served = await withFunctionsSite.serve('/dashboard', { flags, skipViewerResponse: true });
      return (await withFunctionsSite.respond(served, { statusCode: 200 })).headers['x-new-checkout']?.value;
    };
    expect(await read({ 'new-checkout': 'on' })).toBe('on');
    // The template's initial value where the request gave none.
    expect(await read()).toBe('off');
  });
});
