import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import { MultiZoneDistribution, MultiZoneDistributionProps, SynthesizedSite, ZoneDefinition } from '../../lib';

/** An HTTPS origin per zone, its domain named for the zone. */
export const origin = (zone: string) => new origins.HttpOrigin(`${zone}.example.com`);

/** The seed's three zones. */
export const seedZones = (): ZoneDefinition[] => [
  { name: 'blog', origin: origin('blog'), pathPatterns: ['/blog', '/blog/*'], assetPrefix: '/blog-static' },
  { name: 'dashboard', origin: origin('dashboard'), pathPatterns: ['/dashboard', '/dashboard/*'], assetPrefix: '/dashboard-static' },
];

/**
 * Synthesizes one MultiZoneDistribution in a fresh stack; `assemblyDir` is
 * the cloud assembly it went to, with the site's assets beside the template.
 */
export function synth(props: Partial<MultiZoneDistributionProps> = {}): { stack: Stack; site: MultiZoneDistribution; template: Template; assemblyDir: string } {
  const app = new App();
  const stack = new Stack(app, 'TestStack', { env: { account: '123456789012', region: 'us-east-1' } });
  const site = new MultiZoneDistribution(stack, 'Site', {
    defaultZone: { name: 'home', origin: origin('home') },
    zones: seedZones(),
    ...props,
  });
  const template = Template.fromStack(stack);
  return { stack, site, template, assemblyDir: app.outdir };
}

/** The synthesized site, read back from the cloud assembly (template and assets) as CloudFront would serve it. */
export function served(props: Partial<MultiZoneDistributionProps> = {}): SynthesizedSite {
  return SynthesizedSite.fromStack(synth(props).stack);
}

/** The zone serving each URI. */
export async function zonesFor(site: SynthesizedSite, uris: string[], flags?: Record<string, string>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const uri of uris) out[uri] = (await site.serve(uri, { flags })).zone;
  return out;
}
