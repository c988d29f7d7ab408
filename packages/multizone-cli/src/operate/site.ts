/**
 * Finding a deployed MultiZoneDistribution: from its stack's outputs, from
 * ids given on the command line, or both (explicit ids win).
 */
import * as fs from 'fs';
import * as path from 'path';
import { DescribeStackResourceCommand, DescribeStacksCommand, GetTemplateCommand, Output } from '@aws-sdk/client-cloudformation';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { MultiZoneValidationError, BoundZone, METADATA_KEY, STACK_OUTPUT_SUFFIXES, SiteAssetLocation, SiteMetadata, RoutingTable } from 'multizone-distribution/internal';
import { SynthesizedSite } from '../synthesized-site';
import { AwsClients, AwsOptions, OperateError, awsCall } from './aws';

/** How the operator names the site on the command line. */
export interface SiteOptions extends AwsOptions {
  /** CloudFormation stack holding the site; its outputs give the ids below. */
  readonly stack?: string;
  /** Which site of the stack, by output prefix (the construct's id), when the stack holds several. */
  readonly site?: string;
  /** CloudFront distribution id. */
  readonly distributionId?: string;
  /** ARN of the KeyValueStore holding the flags. */
  readonly kvsArn?: string;
  /** Name of the router CloudFront Function. */
  readonly functionName?: string;
  /** A synthesized (or deployed) template file to read the routing table from, instead of the stack's. */
  readonly template?: string;
}

/** What the routing table and the zones' origins are, read from a template. */
export interface SiteTemplate {
  readonly table: RoutingTable;
  readonly zones: BoundZone[];
  /** The whole site the template describes (its metadata and origins, for the release commands). */
  readonly site: SynthesizedSite;
}

/** A deployed site: whichever of its ids could be found. */
export interface DeployedSite {
  /** How the site was named, for messages: `stack "X"` or `distribution E1`. */
  readonly label: string;
  readonly distributionId?: string;
  readonly domainName?: string;
  readonly functionName?: string;
  readonly kvsArn?: string;
  /** The routing table, from `--template` or the stack's template; undefined when neither is available. */
  readonly template: () => Promise<SiteTemplate | undefined>;
}

/** Finds the site: stack outputs first, then explicit ids on top. */
export async function findSite(clients: AwsClients, options: SiteOptions): Promise<DeployedSite> {
  let fromStack: Partial<Record<keyof typeof STACK_OUTPUT_SUFFIXES, string>> = {};
  let outputPrefix: string | undefined;
  if (options.stack) {
    const found = await stackOutputs(clients, options.stack, options.site);
    fromStack = found.values;
    outputPrefix = found.prefix;
  } else if (!options.distributionId && !options.kvsArn && !options.functionName) {
    throw new MultiZoneValidationError('Site: name it with --stack NAME, or with --distribution-id, --kvs-arn and --function-name');
  }

  let cached: Promise<SiteTemplate | undefined> | undefined;
  const template = () => {
    cached ??= loadTemplate(clients, options, outputPrefix);
    return cached;
  };
  return {
    label: options.stack ? `stack "${options.stack}"` : options.distributionId ? `distribution ${options.distributionId}` : 'the site',
    distributionId: options.distributionId ?? fromStack.distributionId,
    domainName: fromStack.domainName,
    functionName: options.functionName ?? fromStack.functionName,
    kvsArn: options.kvsArn ?? fromStack.kvsArn,
    template,
  };
}

/** The value of one id, or a one-line error telling how to give it. */
export function requireId(site: DeployedSite, id: 'distributionId' | 'kvsArn' | 'functionName'): string {
  const value = site[id];
  if (value) return value;
  const how = {
    distributionId: ['distribution id', STACK_OUTPUT_SUFFIXES.distributionId, '--distribution-id'],
    kvsArn: ['KeyValueStore (the site has flags only when it has overrides or overflow routes)', STACK_OUTPUT_SUFFIXES.kvsArn, '--kvs-arn'],
    functionName: ['router function (the site has one only when it has overrides or overflow routes)', STACK_OUTPUT_SUFFIXES.functionName, '--function-name'],
  }[id];
  throw new OperateError(`${site.label}: no ${how[0]}; the stack has no *${how[1]} output, pass ${how[2]}`);
}

/** Reads the site's outputs from its stack, choosing among several sites by prefix. */
async function stackOutputs(
  clients: AwsClients,
  stackName: string,
  site: string | undefined,
): Promise<{ prefix: string; values: Partial<Record<keyof typeof STACK_OUTPUT_SUFFIXES, string>> }> {
  const response = await awsCall(`DescribeStacks on "${stackName}"`, async () => {
    try {
      return await clients.cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    } catch (error) {
      if ((error as Error).name === 'ValidationError' && /does not exist/i.test((error as Error).message)) {
        throw new OperateError(`Stack "${stackName}" does not exist in this account and region; check --stack, --region and --profile`);
      }
      throw error;
    }
  });
  const stack = response.Stacks?.[0];
  if (!stack) throw new OperateError(`Stack "${stackName}" does not exist in this account and region; check --stack, --region and --profile`);
  const outputs: Output[] = stack.Outputs ?? [];
  const prefixes = outputs
    .map((o) => o.OutputKey ?? '')
    .filter((key) => key.endsWith(STACK_OUTPUT_SUFFIXES.distributionId))
    .map((key) => key.slice(0, -STACK_OUTPUT_SUFFIXES.distributionId.length));
  if (prefixes.length === 0) {
    throw new OperateError(
      `Stack "${stackName}" has no *${STACK_OUTPUT_SUFFIXES.distributionId} output: it holds no MultiZoneDistribution (or one deployed with stackOutputs: false); pass --distribution-id and --kvs-arn instead`,
    );
  }
  let prefix: string;
  if (site !== undefined) {
    if (!prefixes.includes(site)) throw new OperateError(`Stack "${stackName}": no site "${site}" (sites: ${prefixes.join(', ')})`);
    prefix = site;
  } else if (prefixes.length > 1) {
    throw new OperateError(`Stack "${stackName}" holds ${prefixes.length} sites (${prefixes.join(', ')}); choose one with --site`);
  } else {
    prefix = prefixes[0];
  }
  const value = (suffix: string) => outputs.find((o) => o.OutputKey === `${prefix}${suffix}`)?.OutputValue || undefined;
  return {
    prefix,
    values: {
      distributionId: value(STACK_OUTPUT_SUFFIXES.distributionId),
      domainName: value(STACK_OUTPUT_SUFFIXES.domainName),
      functionName: value(STACK_OUTPUT_SUFFIXES.functionName),
      kvsArn: value(STACK_OUTPUT_SUFFIXES.kvsArn),
    },
  };
}

/** The routing table from `--template`, else from the stack's deployed template. */
async function loadTemplate(clients: AwsClients, options: SiteOptions, outputPrefix: string | undefined): Promise<SiteTemplate | undefined> {
  let body: string;
  let source: string;
  if (options.template) {
    source = `Template ${options.template}`;
    try {
      body = fs.readFileSync(options.template, 'utf8');
    } catch (error) {
      throw new OperateError(`${source}: cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  } else if (options.stack) {
    source = `Template of stack "${options.stack}"`;
    const response = await awsCall(`GetTemplate on "${options.stack}"`, () =>
      clients.cloudFormation.send(new GetTemplateCommand({ StackName: options.stack, TemplateStage: 'Original' })),
    );
    body = response.TemplateBody ?? '';
  } else {
    return undefined;
  }
  let template: Record<string, any>;
  try {
    template = JSON.parse(body);
  } catch {
    throw new OperateError(`${source}: not JSON (a CDK-synthesized template is)`);
  }
  const outputKey = outputPrefix ? `${outputPrefix}${STACK_OUTPUT_SUFFIXES.distributionId}` : undefined;
  const ref: unknown = outputKey ? template.Outputs?.[outputKey]?.Value?.Ref : undefined;
  const distributionLogicalId = typeof ref === 'string' ? ref : undefined;
  // A template file sits in its cloud assembly with its assets; a deployed stack's assets are in its assets bucket.
  const assets = options.template ? undefined : await deployedAssets(clients, options.stack!, template, distributionLogicalId);
  try {
    const site = SynthesizedSite.fromTemplate(template, {
      distributionLogicalId,
      ...(options.template ? { assetDirectory: path.dirname(options.template) } : { assets }),
    });
    return { table: site.table, zones: site.zones, site };
  } catch (error) {
    throw new OperateError(`${source}: ${(error as Error).message}`);
  }
}

/**
 * The site's assets of a deployed stack, by their path in the metadata:
 * DescribeStackResource gives the distribution's metadata with the assets
 * bucket resolved (GetTemplate gives it as an expression).
 */
async function deployedAssets(clients: AwsClients, stack: string, template: Record<string, any>, logicalId: string | undefined): Promise<Record<string, string>> {
  const distribution = logicalId ?? Object.keys(template.Resources ?? {}).find((id) => template.Resources[id]?.Metadata?.[METADATA_KEY]);
  if (!distribution) return {};
  const detail = await awsCall(`DescribeStackResource ${distribution} of "${stack}"`, () =>
    clients.cloudFormation.send(new DescribeStackResourceCommand({ StackName: stack, LogicalResourceId: distribution })),
  );
  let metadata: Partial<SiteMetadata> | undefined;
  try {
    metadata = JSON.parse(detail.StackResourceDetail?.Metadata ?? '{}')[METADATA_KEY];
  } catch {
    throw new OperateError(`Stack "${stack}": the metadata of ${distribution} is not JSON`);
  }
  const assets: Record<string, string> = {};
  for (const location of [metadata?.siteAsset, metadata?.storeAsset].filter((l): l is SiteAssetLocation => l !== undefined)) {
    const object = await awsCall(`GetObject s3://${location.bucket}/${location.key} (the routing table of "${stack}")`, () =>
      clients.s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key })),
    );
    assets[location.path] = (await object.Body?.transformToString('utf-8')) ?? '';
  }
  return assets;
}

/** The template's routing table, or a one-line error saying how to provide one. */
export async function requireTemplate(site: DeployedSite, purpose: string): Promise<SiteTemplate> {
  const template = await site.template();
  if (!template) throw new OperateError(`${purpose} needs the routing table: pass --stack NAME, or --template cdk.out/<stack>.template.json`);
  return template;
}
