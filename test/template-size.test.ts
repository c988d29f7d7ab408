/**
 * The template and the custom resource's event stay small whatever the
 * routing table's size: the table travels as S3 assets that the sync
 * handler and the tools read ("Understand CloudFormation quotas": 1 MB
 * template from S3; "Lambda quotas": 1 MB asynchronous payload).
 */
import * as fs from 'fs';
import * as path from 'path';
import { OverrideDefinition } from '../lib';
import { SynthesizedSite } from 'multizone-cli';
import { synth } from './support/sites';

jest.setTimeout(600_000);

/** Overrides under distinct first segments, one flag each: the table and the flags both grow with them. */
const overrides = (count: number): OverrideDefinition[] =>
  Array.from({ length: count }, (_, i) => ({ flag: `flag-${i}`, pathPatterns: [`/f-${i}/*`], zone: i % 2 ? 'blog' : 'dashboard' }));

/**
 * 3,000, not the matrix's 5,000: planning behaviors is quadratic in the
 * overrides today (9 minutes for 5,000 on a loaded 2-core machine, where
 * the template measured 48,846 bytes against 48,774 for 1,000).
 */
const OVERRIDES = 3000;

describe(`${OVERRIDES} overrides`, () => {
  const big = synth({ overrides: overrides(OVERRIDES) });
  /** Enough overrides to fill every cache behavior: from here on, only the assets grow. */
  const fewer = synth({ overrides: overrides(200) });
  const json = (t: unknown) => Buffer.byteLength(JSON.stringify(t));
  const syncProperties = (t: Record<string, any>) => Object.values<any>(t.Resources).find((r) => r.Type === 'Custom::MultiZoneKvsSync').Properties;

  test('make a template far under 1 MB, the size 200 overrides make', () => {
    const bytes = json(big.template.toJSON());
    expect(bytes).toBeLessThan(200_000);
    expect(Math.abs(bytes - json(fewer.template.toJSON()))).toBeLessThan(1000);
  });

  test('give the sync custom resource properties of a few hundred bytes, so an update event (old and new) stays tiny', () => {
    const properties = syncProperties(big.template.toJSON());
    expect(Object.keys(properties).sort()).toEqual(['Functions', 'KeyValueStoreArn', 'ServiceToken', 'Site', 'SiteName', 'TableBucket', 'TableKey', 'Version']);
    expect(json(properties)).toBeLessThan(4096);
  });

  test('put every entry and flag in the table asset, which the site reads back and routes by', async () => {
    const site = SynthesizedSite.fromTemplate(big.template.toJSON(), { assetDirectory: big.assemblyDir });
    expect(site.table.overrides).toHaveLength(OVERRIDES);
    expect(Object.keys(site.storeEntries).filter((k) => k.startsWith('flag-'))).toHaveLength(OVERRIDES);
    expect((await site.serve(`/f-${OVERRIDES - 1}/page`, { flags: { [`flag-${OVERRIDES - 1}`]: 'on' } })).zone).toBe('blog');
    expect((await site.serve(`/f-${OVERRIDES - 2}/page`, { flags: { [`flag-${OVERRIDES - 2}`]: 'on' } })).zone).toBe('dashboard');
    expect((await site.serve(`/f-${OVERRIDES - 2}/page`)).zone).toBe('home');
  });

  test('a template read without its assets says where they should be', () => {
    const template = big.template.toJSON();
    const elsewhere = fs.mkdtempSync(path.join(big.assemblyDir, '..', 'no-assets-'));
    expect(() => SynthesizedSite.fromTemplate(template, { assetDirectory: elsewhere })).toThrow(
      /^Template: routing table asset asset\.[0-9a-f]{64}\.json not found next to the template \(in .*\); synthesize with cdk synth/,
    );
    expect(() => SynthesizedSite.fromTemplate(template)).toThrow(/^Template: routing table asset asset\.[0-9a-f]{64}\.json not given; read the template with its cloud assembly/);
  });
});
