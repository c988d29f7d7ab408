/**
 * The release record's pure steps (lib/releases/record.ts): what each step
 * leaves in the record, each refusal's message, pruning to the store's
 * value limit, and a property over any sequence of steps.
 */
import { createHmac } from 'crypto';
import * as fc from 'fast-check';
import { MultiZoneErrors } from '../lib/errors';
import {
  MAX_RELEASE_RECORD_BYTES,
  ReleaseRecord,
  addRelease,
  deploymentIdProblem,
  encodeRecord,
  initialRecord,
  parseReleaseRecord,
  promote,
  reconcileTemplate,
  releaseOrigin,
  releasePreviewEntry,
  roleOf,
  rollback,
} from '../lib/releases/record';

const NOW = 1_765_000_000;
const DAY = 86_400;
const V2 = 'https://v2.blog.example.com';
const V3 = 'https://v3.blog.example.com';

const bytes = (rec: ReleaseRecord) => Buffer.byteLength(encodeRecord(rec));
/** v1 (the template's build) replaced by v2, a day of pinning. */
const v2Current = () => addRelease(initialRecord('v1'), { zone: 'blog', id: 'v2', origin: V2 }, NOW, DAY);

describe('parsing', () => {
  test('a record parses back from its value', () => {
    const rec = addRelease(v2Current(), { zone: 'blog', id: 'v3', origin: V3, canary: 25 }, NOW, DAY);
    expect(parseReleaseRecord(encodeRecord(rec))).toEqual(rec);
  });

  test.each([
    ['no value', undefined],
    ['not JSON', '{"v":1,'],
    ['JSON that is no object', '"v1"'],
    ['another format', '{"v":2,"t":"v1","c":"v1","r":{"v1":""}}'],
    ['no current', '{"v":1,"t":"v1","r":{"v1":""}}'],
    ['a current that is no release', '{"v":1,"t":"v1","c":"v2","r":{"v1":""}}'],
    ['releases that are no map of strings', '{"v":1,"t":"v1","c":"v1","r":{"v1":1}}'],
    ['releases as an array', '{"v":1,"t":"v1","c":"0","r":[""]}'],
    ['pins that are no numbers', '{"v":1,"t":"v1","c":"v1","r":{"v1":""},"u":{"v0":"soon"}}'],
    ['a canary without a share', '{"v":1,"t":"v1","c":"v1","r":{"v1":""},"k":["v2"]}'],
    ['previews that are no list of ids', '{"v":1,"t":"v1","c":"v1","r":{"v1":""},"p":"pr7"}'],
    ['a history with a number', '{"v":1,"t":"v1","c":"v1","r":{"v1":""},"h":[0]}'],
  ])('%s is no record', (_name, value) => {
    expect(parseReleaseRecord(value)).toBeUndefined();
  });
});

describe('deployment ids and origins', () => {
  test.each(['v1', 'A-b_c.9', 'x'.repeat(64)])('%s is a deployment id', (id) => {
    expect(deploymentIdProblem(id)).toBeUndefined();
  });

  test.each(['', 'x'.repeat(65), 'v 1', 'v1/..', 'vé', 'v1"><script>'])('%j is not', (id) => {
    expect(deploymentIdProblem(id)).toBe(`deployment id "${id}" must be 1 to 64 letters, digits, "_", "." or "-"`);
  });

  const deployed = { local: false, functionUrlZone: false };

  test('an origin keeps its scheme, host, port and path, without the trailing slash', () => {
    expect(releaseOrigin('blog', 'https://V2.Example.com:8443/app/', deployed)).toBe('https://v2.example.com:8443/app');
    expect(releaseOrigin('blog', 'http://localhost:3001/', { local: true, functionUrlZone: false })).toBe('http://localhost:3001');
  });

  test.each([
    ['not-a-url', deployed, 'is not a URL (e.g. https://v2.blog.example.com)'],
    ['http://v2.example.com', deployed, 'must be https:// (CloudFront reaches release origins over HTTPS)'],
    ['http://localhost:3001', deployed, 'must be https:// (CloudFront reaches release origins over HTTPS)'],
    ['http://10.0.0.1:3001', { local: true, functionUrlZone: false }, 'must be https://, or http://localhost or http://127.0.0.1 on the local edge'],
    ['https://u:p@v2.example.com', deployed, 'must not carry credentials, a query string or a fragment'],
    ['https://v2.example.com/?a=1', deployed, 'must not carry credentials, a query string or a fragment'],
    ['https://abc.lambda-url.eu-west-1.on.aws', deployed, 'is a Lambda function URL, but the zone\'s own origin is not one: only function URL zones hash request bodies for origin access control'],
  ])('refuses %s', (text, options, why) => {
    expect(() => releaseOrigin('blog', text, options)).toThrow(`Zone "blog": origin "${text}" ${why}`);
  });

  test('a function URL zone takes a function URL release', () => {
    expect(releaseOrigin('blog', 'https://abc.lambda-url.eu-west-1.on.aws/', { local: false, functionUrlZone: true })).toBe('https://abc.lambda-url.eu-west-1.on.aws');
  });
});

describe('steps', () => {
  test('a new record has the template build as its current and only release', () => {
    expect(initialRecord('v1')).toEqual({ v: 1, t: 'v1', c: 'v1', r: { v1: '' } });
  });

  test('a release becomes current; the one it replaces keeps its viewers for maxAge and is the rollback target', () => {
    expect(v2Current()).toEqual({ v: 1, t: 'v1', c: 'v2', r: { v1: '', v2: V2 }, u: { v1: NOW + DAY }, h: ['v1'] });
  });

  test('a canary leaves the current alone; a second canary replaces the first, which keeps its viewers', () => {
    const one = addRelease(v2Current(), { zone: 'blog', id: 'v3', origin: V3, canary: 25 }, NOW, DAY);
    expect(one).toMatchObject({ c: 'v2', k: ['v3', 25], r: { v1: '', v2: V2, v3: V3 } });
    const two = addRelease(one, { zone: 'blog', id: 'v4', origin: 'https://v4.x', canary: 50 }, NOW + 10, DAY);
    expect(two).toMatchObject({ c: 'v2', k: ['v4', 50], u: { v1: NOW + DAY, v3: NOW + 10 + DAY } });
  });

  test('a release made current ends the canary, which keeps its viewers', () => {
    const canary = addRelease(v2Current(), { zone: 'blog', id: 'v3', origin: V3, canary: 25 }, NOW, DAY);
    const rec = addRelease(canary, { zone: 'blog', id: 'v4', origin: 'https://v4.x' }, NOW + 10, DAY);
    expect(rec.k).toBeUndefined();
    expect(rec).toMatchObject({ c: 'v4', h: ['v1', 'v2'], u: { v3: NOW + 10 + DAY, v2: NOW + 10 + DAY } });
  });

  test('the first preview creates the signing secret; later ones keep it', () => {
    const one = addRelease(v2Current(), { zone: 'blog', id: 'pr7', origin: 'https://pr7.x', preview: true }, NOW, DAY);
    expect(one).toMatchObject({ c: 'v2', p: ['pr7'], s: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const two = addRelease(one, { zone: 'blog', id: 'pr8', origin: 'https://pr8.x', preview: true }, NOW, DAY);
    expect(two).toMatchObject({ p: ['pr7', 'pr8'], s: one.s });
  });

  test.each([
    [{ id: 'v 3', origin: V3 }, 'Zone "blog": deployment id "v 3" must be 1 to 64 letters, digits, "_", "." or "-"'],
    [{ id: 'v2', origin: V3 }, 'Zone "blog": deployment id "v2" is already a release of the zone (current); give each build its own id'],
    [{ id: 'v1', origin: V3 }, `Zone "blog": deployment id "v1" is already a release of the zone (pinned until ${new Date((NOW + DAY) * 1000).toISOString()}); give each build its own id`],
    [{ id: 'v3', origin: V3, canary: 101 }, 'Zone "blog": canary 101% must be a whole percentage from 0% to 100%'],
    [{ id: 'v3', origin: V3, canary: -1 }, 'Zone "blog": canary -1% must be a whole percentage from 0% to 100%'],
    [{ id: 'v3', origin: V3, canary: 2.5 }, 'Zone "blog": canary 2.5% must be a whole percentage from 0% to 100%'],
    [{ id: 'v3', origin: V3, canary: 5, preview: true }, 'Zone "blog": a release is a canary or a preview, not both'],
  ])('refuses to add %j', (release, message) => {
    const rec = v2Current();
    const before = encodeRecord(rec);
    expect(() => addRelease(rec, { zone: 'blog', ...release }, NOW, DAY)).toThrow(message);
    expect(encodeRecord(rec)).toBe(before);
  });

  test('promote: the canary becomes current', () => {
    const canary = addRelease(v2Current(), { zone: 'blog', id: 'v3', origin: V3, canary: 25 }, NOW, DAY);
    expect(promote(canary, 'blog', NOW + 60, DAY)).toMatchObject({ c: 'v3', h: ['v1', 'v2'], u: { v1: NOW + DAY, v2: NOW + 60 + DAY } });
    expect(promote(canary, 'blog', NOW + 60, DAY).k).toBeUndefined();
  });

  test('promote: without a canary, the only preview becomes current', () => {
    const preview = addRelease(v2Current(), { zone: 'blog', id: 'pr7', origin: 'https://pr7.x', preview: true }, NOW, DAY);
    const rec = promote(preview, 'blog', NOW, DAY);
    expect(rec).toMatchObject({ c: 'pr7', h: ['v1', 'v2'] });
    expect(rec.p).toBeUndefined();
  });

  test('promote refuses without a canary, naming the previews when there are several', () => {
    expect(() => promote(v2Current(), 'blog', NOW, DAY)).toThrow('Zone "blog": nothing to promote: no canary');
    let rec = v2Current();
    for (const id of ['pr7', 'pr8']) rec = addRelease(rec, { zone: 'blog', id, origin: `https://${id}.x`, preview: true }, NOW, DAY);
    expect(() => promote(rec, 'blog', NOW, DAY)).toThrow(
      'Zone "blog": nothing to promote: no canary and 2 previews (pr7, pr8): promote one by releasing it again under a new id',
    );
  });

  test('rollback drops the canary, which leaves the record, and records who and when', () => {
    const canary = addRelease(v2Current(), { zone: 'blog', id: 'v3', origin: V3, canary: 25 }, NOW, DAY);
    const rec = rollback(canary, 'blog', 'alarm:blog-5xx', NOW + 100);
    expect(rec).toMatchObject({ c: 'v2', r: { v1: '', v2: V2 }, b: ['alarm:blog-5xx', NOW + 100, 'v3'] });
    expect(rec.k).toBeUndefined();
    expect(rec.r.v3).toBeUndefined();
  });

  test('rollback returns the current to the previous one, unpinned, and the rolled-back release leaves', () => {
    const rec = rollback(v2Current(), 'blog', 'cli:ana', NOW + 100);
    expect(rec).toEqual({ v: 1, t: 'v1', c: 'v1', r: { v1: '' }, b: ['cli:ana', NOW + 100, 'v2'] });
  });

  test('rollbacks go back through the history, newest first', () => {
    let rec = v2Current();
    rec = addRelease(rec, { zone: 'blog', id: 'v3', origin: V3 }, NOW + 10, DAY);
    rec = rollback(rec, 'blog', 'cli:ana', NOW + 20);
    expect([rec.c, rec.h]).toEqual(['v2', ['v1']]);
    rec = rollback(rec, 'blog', 'cli:ana', NOW + 30);
    expect([rec.c, rec.h]).toEqual(['v1', undefined]);
  });

  test('rollback keeps 64 characters of who', () => {
    expect(rollback(v2Current(), 'blog', `alarm:${'a'.repeat(100)}`, NOW).b![0]).toBe(`alarm:${'a'.repeat(58)}`);
  });

  test('rollback refuses with nothing to roll back', () => {
    expect(() => rollback(initialRecord('v1'), 'blog', 'cli:ana', NOW)).toThrow('Zone "blog": nothing to roll back: no canary and no earlier release');
  });

  test('reconcile: no record yet is the initial record; the same template changes nothing', () => {
    expect(reconcileTemplate(undefined, 'v1', NOW, DAY)).toEqual(initialRecord('v1'));
    const rec = v2Current();
    expect(reconcileTemplate(rec, 'v1', NOW + 10, DAY)).toBe(rec);
  });

  test('reconcile: a deployed template build becomes current; a current release elsewhere keeps its viewers and is the rollback target', () => {
    const rec = reconcileTemplate(v2Current(), 'v5', NOW + 10, DAY);
    // v1 was the template origin's build, gone with the deploy.
    expect(rec).toEqual({ v: 1, t: 'v5', c: 'v5', r: { v2: V2, v5: '' }, u: { v2: NOW + 10 + DAY }, h: ['v2'] });
  });
});

describe('pruning', () => {
  test('pins past their time go, and with them releases nothing else needs', () => {
    const canary = addRelease(v2Current(), { zone: 'blog', id: 'v3', origin: V3, canary: 25 }, NOW, DAY);
    const replaced = addRelease(canary, { zone: 'blog', id: 'v4', origin: 'https://v4.x', canary: 25 }, NOW, 60);
    expect(replaced.r.v3).toBe(V3);
    const later = addRelease(replaced, { zone: 'blog', id: 'pr7', origin: 'https://pr7.x', preview: true }, NOW + 61, DAY);
    expect(later.r.v3).toBeUndefined();
    expect(later.u).toEqual({ v1: NOW + DAY });
    // v1's pin ends too, but it stays: it is the rollback target.
    expect(addRelease(later, { zone: 'blog', id: 'pr8', origin: 'https://pr8.x', preview: true }, NOW + DAY, DAY)).toMatchObject({ r: { v1: '' }, h: ['v1'] });
  });

  test('past 1024 bytes, the oldest rollback targets go first', () => {
    const origin = (id: string) => `https://${id}.${'x'.repeat(60)}.example.com`;
    let rec = initialRecord('v1');
    // Pins of 0 s: only the history keeps them.
    for (let i = 2; i <= 14; i++) rec = addRelease(rec, { zone: 'blog', id: `v${i}`, origin: origin(`v${i}`) }, NOW + i, 0);
    expect(bytes(rec)).toBeLessThanOrEqual(MAX_RELEASE_RECORD_BYTES);
    expect(rec.c).toBe('v14');
    expect(rec.h![rec.h!.length - 1]).toBe('v13');
    expect(rec.h).not.toContain('v1');
    expect(Object.keys(rec.r).sort()).toEqual([...rec.h!, 'v14'].sort());
  });

  test('a rollback is never refused for room: replaced releases lose their pins, soonest-ending first', () => {
    let rec = initialRecord('v1');
    // Canaries replacing one another: each keeps its viewers, none is a rollback target; the record ends just under 1 KB.
    for (let i = 0; i < 14; i++) rec = addRelease(rec, { zone: 'blog', id: `c${i}`, origin: `https://c${i}.${'x'.repeat(30)}.com`, canary: 10 }, NOW + i, DAY);
    expect(bytes(rec)).toBeGreaterThan(1000);
    const back = rollback(rec, 'blog', `alarm:${'a'.repeat(58)}`, NOW + 20);
    expect(bytes(back)).toBeLessThanOrEqual(MAX_RELEASE_RECORD_BYTES);
    expect(back).toMatchObject({ c: 'v1', b: [`alarm:${'a'.repeat(58)}`, NOW + 20, 'c13'] });
    // The earliest pin went; the later ones keep their viewers.
    expect(back.r.c0).toBeUndefined();
    expect(back.u).toMatchObject({ c12: NOW + 13 + DAY });
    // The other steps still refuse rather than drop what viewers have.
    expect(() => addRelease(rec, { zone: 'blog', id: 'c14', origin: `https://c14.${'x'.repeat(30)}.com`, canary: 10 }, NOW + 20, DAY)).toThrow(/the releases would take \d+ bytes/);
  });

  test('a release that does not fit beside what viewers still need is refused, naming the way out', () => {
    let rec = initialRecord('v1');
    const add = () => {
      for (let i = 0; i < 20; i++) rec = addRelease(rec, { zone: 'blog', id: `pr${i}`, origin: `https://pr${i}.${'x'.repeat(60)}.example.com`, preview: true }, NOW, DAY);
    };
    expect(add).toThrow(/^Zone "blog": the releases would take \d+ bytes, over the 1024 bytes of one KeyValueStore value; promote or roll back the canary, remove previews/);
    expect(bytes(rec)).toBeLessThanOrEqual(MAX_RELEASE_RECORD_BYTES);
  });
});

describe('roles and preview cookies', () => {
  test('roleOf names what a release is now', () => {
    const rec = addRelease(v2Current(), { zone: 'blog', id: 'v3', origin: V3, canary: 25 }, NOW, DAY);
    expect(['v2', 'v3', 'v1'].map((id) => roleOf(rec, id, NOW))).toEqual(['current', 'canary 25%', `pinned until ${new Date((NOW + DAY) * 1000).toISOString()}`]);
    expect(roleOf(rec, 'v1', NOW + DAY)).toBe('earlier (rollback target)');
  });

  test('a preview entry is the zone, id and expiry, signed with HMAC-SHA256 of them', () => {
    const secret = 'ab'.repeat(32);
    const entry = releasePreviewEntry('blog', 'pr7', NOW, secret);
    expect(entry).toBe(`blog.pr7.${NOW}.${createHmac('sha256', secret).update(`blog.pr7.${NOW}`).digest('hex')}`);
    expect(releasePreviewEntry('blog', 'pr7', NOW, 'cd'.repeat(32))).not.toBe(entry);
  });
});

describe('any sequence of steps', () => {
  type Step =
    | { op: 'add'; id: string; origin: string; canary?: number; preview?: boolean }
    | { op: 'promote' }
    | { op: 'rollback' }
    | { op: 'reconcile'; id: string };

  // A few short ids, so sequences repeat them (duplicates, ids coming back after a rollback), and long ones, so records fill up.
  const id = fc.oneof(fc.constantFrom('v1', 'v2', 'v3', 'pr7'), fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/));
  const origin = fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 150 })).map((n) => `https://${'o'.repeat(n)}.example.com`);
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ op: fc.constant('add' as const), id, origin }),
    fc.record({ op: fc.constant('add' as const), id, origin, canary: fc.integer({ min: 0, max: 100 }) }),
    fc.record({ op: fc.constant('add' as const), id, origin, preview: fc.constant(true) }),
    fc.constant<Step>({ op: 'promote' }),
    fc.constant<Step>({ op: 'rollback' }),
    fc.record({ op: fc.constant('reconcile' as const), id }),
  );
  const run = fc.array(fc.record({ step, wait: fc.integer({ min: 0, max: 2 * DAY }), maxAge: fc.integer({ min: 0, max: 2 * DAY }) }), { maxLength: 40 });

  function apply(rec: ReleaseRecord, s: Step, now: number, maxAge: number): ReleaseRecord {
    switch (s.op) {
      case 'add':
        return addRelease(rec, { zone: 'blog', id: s.id, origin: s.origin, canary: s.canary, preview: s.preview }, now, maxAge);
      case 'promote':
        return promote(rec, 'blog', now, maxAge);
      case 'rollback':
        // The longest who a record keeps: the most a rollback adds.
        return rollback(rec, 'blog', `alarm:${'a'.repeat(58)}`, now);
      case 'reconcile':
        return reconcileTemplate(rec, s.id, now, maxAge);
    }
  }

  test('the record parses back, fits one value, names only releases it has, and never returns to a rolled-back release', () => {
    fc.assert(
      fc.property(run, (steps) => {
        let rec = initialRecord('v1');
        let now = NOW;
        /** Releases rolled back and not released again since. */
        const rolledBack = new Set<string>();
        for (const { step: s, wait, maxAge } of steps) {
          now += wait;
          if (s.op === 'reconcile' && deploymentIdProblem(s.id)) continue;
          let next: ReleaseRecord;
          try {
            next = apply(rec, s, now, maxAge);
          } catch (error) {
            // A refusal is a one-line validation error, and the record stays as it was.
            expect(MultiZoneErrors.isValidationError(error)).toBe(true);
            expect((error as Error).message).toMatch(/^Zone "blog": [^\n]+$/);
            // A rollback only refuses when there is nothing to roll back: it must work when it matters most.
            if (s.op === 'rollback') expect([(error as Error).message, rec.k, rec.h]).toEqual(['Zone "blog": nothing to roll back: no canary and no earlier release', undefined, undefined]);
            continue;
          }
          if (s.op === 'add' || s.op === 'reconcile') rolledBack.delete(s.id);
          if (s.op === 'rollback') {
            expect(rolledBack.has(next.c)).toBe(false);
            rolledBack.add(next.b![2]);
          }
          rec = next;
          expect(parseReleaseRecord(encodeRecord(rec))).toEqual(rec);
          expect(bytes(rec)).toBeLessThanOrEqual(MAX_RELEASE_RECORD_BYTES);
          const named = [rec.c, ...(rec.k ? [rec.k[0]] : []), ...(rec.p ?? []), ...(rec.h ?? [])];
          for (const x of named) expect([x, rec.r[x]]).toEqual([x, expect.any(String)]);
          expect(Object.keys(rec.r).filter((x) => rolledBack.has(x))).toEqual([]);
        }
      }),
      { numRuns: 300 },
    );
  });
});
