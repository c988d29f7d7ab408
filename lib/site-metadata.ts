import { CfnOutput, Lazy, Stack } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { BehaviorPlan } from './behaviors';
import { MultiZoneValidationError } from './errors';
import { jsonFileAsset } from './json-asset';
import { METADATA_KEY } from './metadata-key';
import { RoutingTable } from './routing-plan';
import { SitePlan } from './site-plan';
import { VISITOR_COOKIE } from './zone-flags';
import { BoundZone } from './zone-origins';

export { METADATA_KEY };

/** Name of the site asset's file: JSON `SiteAssetFile`. */
export const SITE_ASSET_FILE_NAME = 'multizone-site.json';

/** Where an S3 file asset of the site is: in the cloud assembly at synth, in S3 once deployed. */
export interface SiteAssetLocation {
  /** The staged file, relative to the directory of the template (the cloud assembly): `asset.<hash>.json`. */
  readonly path: string;
  /** The assets bucket's name: a CloudFormation expression in the template, resolved in what DescribeStackResource returns. */
  readonly bucket: string;
  /** The object key in that bucket. */
  readonly key: string;
}

/**
 * The distribution's `MultiZone` metadata: what is small. The routing
 * table and the overflow list grow with the overrides, so they travel in
 * the site asset and the store's contents in the sync's asset; the template
 * stays small whatever the table's size.
 */
export interface SiteMetadata {
  /** Zones and their origin ids. */
  readonly zones: BoundZone[];
  /** Whether the viewer's Host reaches zones as x-forwarded-host. */
  readonly forwardViewerHost: boolean;
  /** The site asset: `SiteAssetFile`. */
  readonly siteAsset: SiteAssetLocation;
  /** The asset the KeyValueStore sync reads (`{ entries, initialFlags }`), when the site has a store. */
  readonly storeAsset?: SiteAssetLocation;
  /** Flags decided at the edge for every page request and forwarded in `x-multizone-flags`, sorted by name (empty: none). */
  readonly zoneFlags: string[];
  /**
   * The cookie whose value rollout buckets follow: `bucketCookie`, else the
   * edge's visitor cookie (`mz-vid`, which the edge sets); absent when
   * viewers are bucketed by IP address.
   */
  readonly bucketCookie?: string;
  /** Whether the edge sets the visitor cookie (`mz-vid`) on the responses of behaviors that bucket viewers. */
  readonly visitorCookie: boolean;
  /**
   * The zones with releases, by name: the deployment id of the build behind
   * the zone's template origin, the store key of its release record
   * (`mz-site:<site>:@release:<zone>`), and how long a replaced release
   * keeps serving the viewers that name it, in seconds. Absent when no zone
   * has releases.
   */
  readonly releases?: { [zone: string]: { deploymentId: string; key: string; maxAgeSeconds: number } };
}

/** The site asset's JSON. */
export interface SiteAssetFile {
  /** The routing table the construct planned. */
  readonly table: RoutingTable;
  /** Patterns of the routes that overflowed to the function. */
  readonly overflow: string[];
}

/**
 * Suffixes of the stack outputs a MultiZoneDistribution writes; each
 * output's logical id is the construct's id (letters and digits only)
 * followed by the suffix, e.g. `SiteMultiZoneDistributionId`. The
 * `multizone` CLI finds a deployed site from these.
 */
export const STACK_OUTPUT_SUFFIXES = {
  distributionId: 'MultiZoneDistributionId',
  domainName: 'MultiZoneDomainName',
  functionName: 'MultiZoneRouterFunctionName',
  kvsArn: 'MultiZoneKvsArn',
} as const;

/** The site as the tools read it back: what `recordSite` writes down. */
export interface RecordedSite extends Construct {
  readonly distribution: cloudfront.Distribution;
  readonly routerFunction?: cloudfront.Function;
  readonly keyValueStore?: cloudfront.IKeyValueStore;
  readonly routingTable: RoutingTable;
  readonly behaviorPlan: BehaviorPlan;
  readonly boundZones: BoundZone[];
}

/**
 * Records the site for the tools that read it (the `multizone` CLI,
 * SynthesizedSite): the stack outputs (unless `stackOutputs` is false), the
 * site asset, and the distribution's `MultiZone` metadata; `storeAsset`,
 * the sync's asset, when the site has a store.
 */
export function recordSite(site: RecordedSite, plan: SitePlan, options: { bucketCookie?: string; stackOutputs?: boolean; storeAsset?: s3assets.Asset }): void {
  if (options.stackOutputs ?? true) addStackOutputs(site);
  const bucketCookie = options.bucketCookie ?? (site.behaviorPlan.needsVisitorCookie ? VISITOR_COOKIE : undefined);
  const siteFile: SiteAssetFile = { table: site.routingTable, overflow: site.behaviorPlan.overflow.map((r) => r.pattern) };
  const siteAsset = jsonFileAsset(site, 'SiteAsset', SITE_ASSET_FILE_NAME, siteFile);
  const location = (asset: s3assets.Asset): SiteAssetLocation => ({ path: asset.assetPath, bucket: asset.s3BucketName, key: asset.s3ObjectKey });
  (site.distribution.node.defaultChild as cloudfront.CfnDistribution).addMetadata(
    METADATA_KEY,
    Lazy.any({
      produce: (): SiteMetadata => ({
        zones: site.boundZones,
        forwardViewerHost: plan.forwardViewerHost,
        siteAsset: location(siteAsset),
        ...(options.storeAsset && { storeAsset: location(options.storeAsset) }),
        zoneFlags: plan.zoneFlags,
        ...(bucketCookie !== undefined && { bucketCookie }),
        visitorCookie: site.behaviorPlan.needsVisitorCookie,
      }),
    }),
  );
}

/** Outputs with export-free, stable logical ids: `<construct id><suffix>`. */
function addStackOutputs(site: RecordedSite): void {
  const prefix = site.node.id.replace(/[^A-Za-z0-9]/g, '');
  const outputs: Array<[string, string | undefined, string]> = [
    [STACK_OUTPUT_SUFFIXES.distributionId, site.distribution.distributionId, 'CloudFront distribution id'],
    [STACK_OUTPUT_SUFFIXES.domainName, site.distribution.distributionDomainName, 'CloudFront domain name of the distribution'],
    [STACK_OUTPUT_SUFFIXES.functionName, site.routerFunction?.functionName, 'Name of the viewer-request router function'],
    [STACK_OUTPUT_SUFFIXES.kvsArn, site.keyValueStore?.keyValueStoreArn, 'ARN of the KeyValueStore holding the flags'],
  ];
  const stack = Stack.of(site);
  for (const [suffix, value, description] of outputs) {
    if (value === undefined) continue;
    const logicalId = `${prefix}${suffix}`;
    if (stack.node.findAll().some((c) => c instanceof CfnOutput && stack.resolve(c.logicalId) === logicalId)) {
      throw new MultiZoneValidationError(
        `stackOutputs: stack ${stack.stackName} already has an output "${logicalId}"; give each MultiZoneDistribution of a stack its own id, or set stackOutputs: false`,
      );
    }
    new CfnOutput(site, suffix, { value, description: `MultiZoneDistribution ${site.node.path}: ${description}` }).overrideLogicalId(logicalId);
  }
}
