/**
 * The release record after any sequence of steps (release as current,
 * canary or preview; promote; roll back; a deploy reconciling the template
 * build; time passing): it parses back as written, fits one store value,
 * and every release it points at is one it knows. A refused step throws a
 * validation error and nothing else.
 */
import * as fc from 'fast-check';
import { MultiZoneValidationError } from '../lib/errors';
import {
  MAX_RELEASE_RECORD_BYTES,
  ReleaseRecord,
  addRelease,
  encodeRecord,
  initialRecord,
  parseReleaseRecord,
  promote,
  reconcileTemplate,
  rollback,
} from '../lib/releases/record';

const MAX_AGE = 3600;

/** Deployment ids: a few short ones that recur, and long ones that fill the record. */
const deploymentId = fc.oneof(fc.constantFrom('v1', 'v2', 'v3', 'v4', 'pr7', 'pr8'), fc.stringMatching(/^[A-Za-z0-9_.-]{20,64}$/));
const originUrl = fc.stringMatching(/^[a-z0-9]{1,60}$/).map((host) => `https://${host}.example.com`);

type Step =
  | { kind: 'release'; id: string; origin: string; canary?: number; preview: boolean }
  | { kind: 'promote' }
  | { kind: 'rollback'; by: string }
  | { kind: 'reconcile'; templateId: string }
  | { kind: 'wait'; seconds: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('release' as const), id: deploymentId, origin: originUrl, canary: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }), preview: fc.boolean() }),
  fc.constant({ kind: 'promote' as const }),
  fc.record({ kind: fc.constant('rollback' as const), by: fc.constantFrom('cli:ana', 'alarm:blog-5xx') }),
  fc.record({ kind: fc.constant('reconcile' as const), templateId: deploymentId }),
  fc.record({ kind: fc.constant('wait' as const), seconds: fc.integer({ min: 0, max: 2 * MAX_AGE }) }),
);

function apply(rec: ReleaseRecord, s: Step, now: number): ReleaseRecord {
  switch (s.kind) {
    case 'release':
      return addRelease(rec, { zone: 'blog', id: s.id, origin: s.origin, canary: s.canary, preview: s.preview && s.canary === undefined }, now, MAX_AGE);
    case 'promote':
      return promote(rec, 'blog', now, MAX_AGE);
    case 'rollback':
      return rollback(rec, 'blog', s.by, now);
    case 'reconcile':
      return reconcileTemplate(rec, s.templateId, now, MAX_AGE);
    case 'wait':
      return rec;
  }
}

test('after any steps, the record parses back, fits 1024 bytes, and current, canary, previews and rollback targets are releases it knows', () => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
      let now = 1_765_000_000;
      let rec = initialRecord('v0');
      for (const s of steps) {
        if (s.kind === 'wait') now += s.seconds;
        try {
          rec = apply(rec, s, now);
        } catch (error) {
          expect(error).toBeInstanceOf(MultiZoneValidationError);
          continue;
        }
        const value = encodeRecord(rec);
        expect(Buffer.byteLength(value)).toBeLessThanOrEqual(MAX_RELEASE_RECORD_BYTES);
        expect(parseReleaseRecord(value)).toEqual(rec);
        expect(rec.r[rec.c]).toBeDefined();
        if (rec.k) expect(rec.r[rec.k[0]]).toBeDefined();
        if (rec.k) expect(rec.k[1] >= 0 && rec.k[1] <= 100).toBe(true);
        // What a rollback took out, no viewer reaches again.
        if (s.kind === 'rollback') expect(rec.r[rec.b![2]]).toBeUndefined();
        for (const id of [...(rec.p ?? []), ...(rec.h ?? [])]) expect(rec.r[id]).toBeDefined();
      }
    }),
    { numRuns: 500 },
  );
});
