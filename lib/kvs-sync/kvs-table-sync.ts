import { createHash } from 'crypto';
import { CfnElement, CustomResource, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { throwIfProblems } from '../errors';
import { isInternalKey } from '../flags';
import { handlerAssetDir } from '../handler-assets';
import { jsonFileAsset } from '../json-asset';
import { SINCE_KEY_SEGMENT, SITE_ID, TABLE_FILE_NAME, TABLE_VERSION, TableFile, TemplateRelease, sinceKey, tableKeyPrefix } from './table-file';

/** Properties for a KvsTableSync. */
export interface KvsTableSyncProps {
  /** The store whose construct-owned keys are kept in sync. */
  readonly keyValueStore: cloudfront.IKeyValueStore;
  /** The site's id in the store, 10 hex characters (`siteKeyId`): every key the sync writes for the site is under `mz-site:<site>:`. */
  readonly site: string;
  /**
   * The site's name, shown to the syncs of other sites sharing the store.
   *
   * @default - the site id
   */
  readonly siteName?: string;
  /** How many of the site's functions are associated with the store, counted against the store's quota with the other sites'. */
  readonly functionCount: number;
  /** The construct-owned keys and their values; every key starts with `mz-site:<site>:<version>:`. */
  readonly entries: Record<string, string>;
  /** Version of the routing table, 8 hex characters: the segment after the site in every entry key. */
  readonly version: string;
  /** Flag keys and their initial values, written only while the key is missing so runtime flips survive deploys. */
  readonly initialFlags: Record<string, string>;
  /**
   * Create the preview signing secret (`preview:secret`, 32 random bytes)
   * when the store lacks it; it is never overwritten or deleted.
   *
   * @default false
   */
  readonly createPreviewSecret?: boolean;
  /**
   * The zones with releases and their template's deployment id: each
   * zone's release record is created when missing and told of a new
   * deployment id; the records of other zones are deleted.
   *
   * @default - no zone has releases
   */
  readonly releases?: Record<string, TemplateRelease>;
}

/**
 * Keeps a site's routing keys in a CloudFront KeyValueStore in sync on
 * every deploy.
 *
 * A KeyValueStore's `ImportSource` only seeds the store when it is created;
 * this custom resource writes `entries` on every deploy, creates the flags
 * of `initialFlags` that do not exist yet, records the site
 * (`mz-site:<site>:@site`: its name and function count) and when each table
 * version became current (`mz-site:<site>:<version>:@since`), and deletes
 * the site's versions replaced longer ago than the handler's retention
 * window. With `createPreviewSecret` it also creates the preview signing
 * secret if missing. On delete it removes the site's keys and leaves the
 * flags and the secret alone.
 *
 * Several sites may share a store: each sync writes and deletes only keys
 * under its own `mz-site:<site>:`, and a deploy that would take the sites'
 * functions past the store's quota fails before writing anything.
 *
 * The entries and flags travel as an S3 file asset (`tableAsset`, JSON
 * `{ "entries": {...}, "initialFlags": {...} }`), not in the template:
 * the resource's properties (`KeyValueStoreArn`, `Version`, `TableBucket`,
 * `TableKey`, `PreviewSecret`, the site's `Site`, `SiteName` and
 * `Functions`) stay a few hundred bytes whatever the table's size, and so
 * does the event CloudFormation sends the provider.
 *
 * Use one KvsTableSync per site and store. All instances in a stack share
 * one handler function and provider.
 *
 * @resource Custom::MultiZoneKvsSync
 */
export class KvsTableSync extends Construct {
  /** The asset holding the entries and initial flags, which the handler reads at deploy. */
  public readonly tableAsset: s3assets.Asset;

  constructor(scope: Construct, id: string, props: KvsTableSyncProps) {
    super(scope, id);
    throwIfProblems(propsProblems(id, props));

    // Only with releases: the table files (and asset hashes) of sites without them stay as they were.
    const file: TableFile = { entries: props.entries, initialFlags: props.initialFlags, ...(props.releases && { releases: props.releases }) };
    this.tableAsset = jsonFileAsset(this, 'Table', TABLE_FILE_NAME, file);
    const provider = KvsSyncProvider.getOrCreate(this);
    provider.grantSync(props.keyValueStore, this.tableAsset);

    // The property names are the handler's contract (KvsSyncProperties).
    new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::MultiZoneKvsSync',
      properties: {
        KeyValueStoreArn: props.keyValueStore.keyValueStoreArn,
        Site: props.site,
        SiteName: props.siteName ?? props.site,
        Functions: props.functionCount,
        Version: props.version,
        TableBucket: this.tableAsset.s3BucketName,
        TableKey: this.tableAsset.s3ObjectKey,
        // Only when asked: templates of sites without previews stay as they were.
        ...(props.createPreviewSecret && { PreviewSecret: 'create-if-missing' }),
      },
    });
  }
}

/** Why the props cannot be synced; the handler relies on each of these to never touch a key it does not own. */
function propsProblems(id: string, props: KvsTableSyncProps): string[] {
  const problems: string[] = [];
  if (!TABLE_VERSION.test(props.version)) {
    problems.push(`KvsTableSync "${id}": version "${props.version}" must be 8 hex characters`);
  }
  if (!SITE_ID.test(props.site)) {
    problems.push(`KvsTableSync "${id}": site "${props.site}" must be 10 hex characters`);
  }
  const entryPrefix = tableKeyPrefix(props.site, props.version);
  for (const key of Object.keys(props.entries)) {
    if (!key.startsWith(entryPrefix)) {
      problems.push(`KvsTableSync "${id}": entry key "${key}" must start with "${entryPrefix}"`);
    } else if (key === sinceKey(props.site, props.version)) {
      problems.push(`KvsTableSync "${id}": entry key "${key}" is the handler's own record of when the version became current ("${SINCE_KEY_SEGMENT}")`);
    }
  }
  for (const key of Object.keys(props.initialFlags)) {
    if (isInternalKey(key)) {
      problems.push(`KvsTableSync "${id}": flag key "${key}" must not contain ":" (the construct's own keys have one)`);
    }
  }
  return problems;
}

/**
 * A site's id in a store: 10 hex characters of the SHA-256 of its top-level
 * stack's name and its construct path. Known at synth, the same on every
 * deploy, and different for every site of an account and region; the same
 * stack deployed in two regions on one store gets the same id, which the
 * handler detects from the stack ARNs and refuses.
 */
export function siteKeyId(site: Construct): string {
  let stack = Stack.of(site);
  // A nested stack's name is a token: its parent's is not.
  while (stack.nestedStackParent) stack = stack.nestedStackParent;
  return createHash('sha256').update(`${stack.stackName}\n${site.node.path}`).digest('hex').slice(0, 10);
}

/** The handler function and provider, one per stack, shared by every KvsTableSync in it. */
class KvsSyncProvider extends Construct {
  /** Finds the stack's provider, creating it on first use. */
  public static getOrCreate(scope: Construct): KvsSyncProvider {
    const stack = Stack.of(scope);
    const id = 'MultiZoneKvsSyncProvider';
    return (stack.node.tryFindChild(id) as KvsSyncProvider | undefined) ?? new KvsSyncProvider(stack, id);
  }

  /** The service token of the custom resources. */
  public readonly serviceToken: string;

  private readonly handler: lambda.Function;

  private constructor(scope: Construct, id: string) {
    super(scope, id);
    this.handler = new lambda.Function(this, 'Handler', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(handlerAssetDir('kvs-sync', 'KvsTableSync')),
      // Listing and rewriting a full store (5 MB) takes a few hundred calls.
      timeout: Duration.minutes(5),
      description: 'Keeps the multi-zone routing keys of CloudFront KeyValueStores in sync',
    });
    const provider = new cr.Provider(this, 'Provider', { onEventHandler: this.handler });
    this.serviceToken = provider.serviceToken;
    this.acknowledgeNagFindings(provider);
  }

  /**
   * Acknowledges the cdk-nag (AwsSolutions) findings of the handler and
   * its provider, on each resource concerned, with the reason: users of
   * the construct cannot act on them. Everything else is left to the
   * stack's owner.
   */
  private acknowledgeNagFindings(provider: cr.Provider): void {
    const basicExecution = 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]';
    const logsOnly = 'The AWS managed AWSLambdaBasicExecutionRole only lets the function write its own CloudWatch Logs; a custom copy would grant the same.';
    const frameworkRole = provider.node.findChild('framework-onEvent').node.findChild('ServiceRole');
    Validations.of(this.handler.role!).acknowledge({ id: basicExecution, reason: logsOnly });
    Validations.of(frameworkRole).acknowledge({ id: basicExecution, reason: logsOnly });
    Validations.of(this.handler).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'The sync handler runs on a pinned Node.js LTS runtime that its bundle targets; it moves to a newer one deliberately, with the bundle target.',
    });
    Validations.of(frameworkRole.node.findChild('DefaultPolicy')).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.handler.node.defaultChild as CfnElement)}.Arn>:*]`,
      reason: 'The custom resource framework may invoke any version of the one sync handler function; the wildcard covers its versions only.',
    });
  }

  /** Lets the handler read and write the keys of `store` and read `table`, and nothing else. */
  public grantSync(store: cloudfront.IKeyValueStore, table: s3assets.Asset): void {
    this.handler.addToRolePolicy(new iam.PolicyStatement({
      actions: [
        'cloudfront-keyvaluestore:DescribeKeyValueStore',
        'cloudfront-keyvaluestore:ListKeys',
        'cloudfront-keyvaluestore:UpdateKeys',
      ],
      resources: [store.keyValueStoreArn],
    }));
    // The one object, not the assets bucket (shared by every stack of the account and region).
    this.handler.addToRolePolicy(new iam.PolicyStatement({
      actions: ['s3:GetObject'],
      resources: [table.bucket.arnForObjects(table.s3ObjectKey)],
    }));
  }
}
