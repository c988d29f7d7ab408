import * as fs from 'fs';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { EXAMPLE_ZONE_ORIGINS, ExampleSiteStack } from '../bin/example-stack';
import { origin, seedZones, synth } from './support/sites';

/** The example app's context (cdk.json): its feature flags, as `cdk synth` gives them to the app. */
const exampleContext = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8')).context;

const exampleTemplate = () => {
  const app = new App({ context: exampleContext });
  const stack = new ExampleSiteStack(app, 'MultiZoneExample', { zoneOrigins: EXAMPLE_ZONE_ORIGINS });
  return Template.fromStack(stack).toJSON();
};

/** Logical ids whose resource differs between two templates, and those only one has. */
function changedResources(a: Record<string, any>, b: Record<string, any>): string[] {
  const ids = new Set([...Object.keys(a.Resources), ...Object.keys(b.Resources)]);
  return [...ids].filter((id) => JSON.stringify(a.Resources[id]) !== JSON.stringify(b.Resources[id])).sort();
}

describe('snapshot-friendly, stable templates', () => {
  test('the example stack', () => {
    expect(exampleTemplate()).toMatchSnapshot();
  });

  test('synthesizing twice gives identical templates', () => {
    expect(JSON.stringify(exampleTemplate())).toBe(JSON.stringify(exampleTemplate()));
  });

  test('no machine paths or timestamps in the template', () => {
    const text = JSON.stringify(exampleTemplate());
    expect(text).not.toContain(process.cwd());
    expect(text).not.toMatch(/20\d\d-\d\d-\d\dT\d\d:/);
  });

  test('reordering zones changes nothing', () => {
    const [blog, dashboard] = seedZones();
    const a = synth({ zones: [blog, dashboard] }).template.toJSON();
    const b = synth({ zones: [dashboard, blog] }).template.toJSON();
    expect(changedResources(a, b)).toEqual([]);
  });

  test('adding a zone changes only the distribution; no resource is renamed', () => {
    const a = synth({ forwardViewerHost: false }).template.toJSON();
    const b = synth({
      forwardViewerHost: false,
      zones: [...seedZones(), { name: 'shop', origin: origin('shop'), pathPatterns: ['/shop/*'] }],
    }).template.toJSON();
    const distribution = Object.keys(a.Resources).find((id) => a.Resources[id].Type === 'AWS::CloudFront::Distribution')!;
    expect(changedResources(a, b)).toEqual([distribution]);
    const origins = (t: any) => t.Resources[distribution].Properties.DistributionConfig.Origins.map((o: any) => o.Id).sort();
    expect(origins(b)).toEqual([...origins(a), 'zone-shop'].sort());
  });

  test('removing a zone removes only its routes and origin (and its asset prefix from the Speculation Rules)', () => {
    const a = synth({ forwardViewerHost: false }).template.toJSON();
    const b = synth({ forwardViewerHost: false, zones: seedZones().slice(1) }).template.toJSON();
    const distribution = Object.keys(a.Resources).find((id) => a.Resources[id].Type === 'AWS::CloudFront::Distribution')!;
    const rules = Object.keys(a.Resources).find((id) => id.startsWith('SiteSpeculationRules'))!;
    expect(changedResources(a, b)).toEqual([distribution, rules].sort());
    expect(a.Resources[rules].Properties.FunctionCode).toContain('/blog-static/*');
    expect(b.Resources[rules].Properties.FunctionCode).not.toContain('/blog-static/*');
    const patterns = (t: any) => t.Resources[distribution].Properties.DistributionConfig.CacheBehaviors.map((c: any) => c.PathPattern);
    expect(patterns(b)).toEqual(patterns(a).filter((p: string) => !p.startsWith('/blog')));
  });
});
