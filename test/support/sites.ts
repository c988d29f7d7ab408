import { App, Stack, Stage } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import { MultiZoneDistribution, MultiZoneDistributionProps, ZoneDefinition } from '../../lib';
import { SynthesizedSite } from 'multizone-cli';

/** An HTTPS origin per zone, its domain named for the zone. */
export const origin = (zone: string) => new origins.HttpOrigin(`${zone}.example.com`);

/** The seed's three zones. */
export const seedZones = (): ZoneDefinition[] => [
  { name: 'blog', origin: origin('blog'), pathPatterns: ['/blog', '/blog/*'], assetPrefix: '/blog-static' },
  { name: 'dashboard', origin: origin('dashboard'), pathPatterns: ['/dashboard', '/dashboard/*'], assetPrefix: '/dashboard-static' },
];

/** Where siteStack puts the site. */
export interface SiteStackPlace {
  /** @default - a fresh App */
  readonly app?: App;
  /** @default 'TestStack' */
  readonly id?: string;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default - the stack id */
  readonly stackName?: string;
}

/**
 * A stack with one MultiZoneDistribution `Site` over the seed's zones;
 * `extra` builds props that need the stack (parameters, certificates).
 */
export function siteStack(props: Partial<MultiZoneDistributionProps> = {}, extra?: (stack: Stack) => Partial<MultiZoneDistributionProps>, place: SiteStackPlace = {}): Stack {
  const stack = new Stack(place.app ?? new App(), place.id ?? 'TestStack', {
    stackName: place.stackName,
    env: { account: '123456789012', region: place.region ?? 'us-east-1' },
  });
  new MultiZoneDistribution(stack, 'Site', {
    defaultZone: { name: 'home', origin: origin('home') },
    zones: seedZones(),
    ...props,
    ...extra?.(stack),
  });
  return stack;
}

/**
 * Synthesizes one MultiZoneDistribution in a fresh stack; `assemblyDir` is
 * the cloud assembly it went to, with the site's assets beside the template.
 */
export function synth(props: Partial<MultiZoneDistributionProps> = {}): { stack: Stack; site: MultiZoneDistribution; template: Template; assemblyDir: string } {
  const stack = siteStack(props);
  const site = stack.node.findChild('Site') as MultiZoneDistribution;
  const template = Template.fromStack(stack);
  return { stack, site, template, assemblyDir: Stage.of(stack)!.outdir };
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
