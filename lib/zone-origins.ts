import { Annotations, Names, Stack } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { Construct } from 'constructs';
import { regionalResourceName } from './account-names';
import { MultiZoneValidationError, throwIfProblems } from './errors';
import { dynamicReferenceCount, limitValue } from './limits';
import { MultiZoneDistributionProps } from './props';
import { DEFAULT_ORIGIN_VERIFY_HEADER, ZoneOrigin } from './zone-origin';

/** A zone as bound into the distribution. */
export interface BoundZone {
  /** The zone's name. */
  readonly name: string;
  /** The origin id the distribution gave the zone's origin: what the function selects. */
  readonly originId: string;
}

/**
 * The zones' origins, one a zone, under the scope `Zones`: bound by the
 * distribution, then checked against what CloudFront and CloudFormation
 * accept of them.
 */
export class ZoneOrigins {
  private readonly scope: Construct;
  private readonly origins: ZoneOrigin[];

  /** `distributionId` may be lazy: the zones' origins may be bound before the distribution exists (see ZoneOrigin). */
  constructor(private readonly site: Construct, props: MultiZoneDistributionProps, distributionId: string) {
    this.scope = new Construct(site, 'Zones');
    const verifyHeader = props.originVerifyHeader && {
      headerName: props.originVerifyHeader.headerName ?? DEFAULT_ORIGIN_VERIFY_HEADER,
      headerValue: props.originVerifyHeader.value.unsafeUnwrap(),
    };
    const zones = [props.defaultZone, ...(props.zones ?? [])];
    this.origins = zones.map((z) => new ZoneOrigin(z.name, z.origin, this.scope, distributionId, verifyHeader));
    refuseReleaseOrigins(zones.filter((z) => z.releases !== undefined).map((z) => this.of(z.name)));
  }

  /** The origin of a zone. */
  public of(zone: string): ZoneOrigin {
    return this.origins.find((z) => z.zone === zone)!;
  }

  /** The zones with the origin ids the distribution gave them, in the order given. */
  public bound(zones: string[]): BoundZone[] {
    return zones.map((name) => ({ name, originId: this.of(name).originId ?? '' }));
  }

  /** Warns of Lambda function URL zones whose origin access control keeps the viewer's Authorization from them. */
  public warnOfAuthorization(): void {
    for (const problem of this.origins.map((z) => z.authorizationProblem)) {
      if (problem) Annotations.of(this.site).addWarningV2('multizone:functionUrlAuthorization', problem);
    }
  }

  /** Warns of HTTP origins that can be reached around the distribution. */
  public warnOfReachableAround(): void {
    const exposed = this.origins.filter((z) => z.reachableAround).map((z) => z.zone);
    if (exposed.length > 0) {
      Annotations.of(this.site).addWarningV2(
        'multizone:unverifiedOrigin',
        `Zones ${exposed.join(', ')}: HTTP origins can be reached around the distribution; set originVerifyHeader and have the zones check it`,
      );
    }
  }

  /** Once the distribution has bound them: names their origin access controls, refuses what CloudFormation would, and checks every zone is in. */
  public checkBound(distribution: cloudfront.Distribution, verifyHeader: boolean): void {
    this.nameOriginAccessControls();
    refuseTooManyDynamicReferences(distribution, verifyHeader);
    const unbound = this.origins.filter((z) => z.originId === undefined).map((z) => z.zone);
    if (unbound.length > 0) {
      throw new MultiZoneValidationError(`Zones ${unbound.join(', ')}: origin was not added to the distribution`);
    }
  }

  /**
   * Origin access controls that zones' origins created under the
   * construct (`FunctionUrlOrigin.withOriginAccessControl`, ...) take a
   * name from aws-cdk-lib that lacks the region, while OAC names are
   * unique in the account: those keeping that default get the region in.
   */
  private nameOriginAccessControls(): void {
    for (const c of this.scope.node.findAll()) {
      if (!(c instanceof cloudfront.CfnOriginAccessControl) || !c.node.scope) continue;
      const config = Stack.of(this.site).resolve(c.originAccessControlConfig);
      if (config?.name === Names.uniqueResourceName(c.node.scope, { maxLength: 64 })) {
        c.addPropertyOverride('OriginAccessControlConfig.Name', regionalResourceName(c.node.scope, 64));
      }
    }
  }
}

/**
 * Refuses releases of zones whose origin the edge could not point at a
 * release ("Helper methods for origin modification"): a VPC origin cannot
 * be updated, and an origin path is inherited by every release, which can
 * set another but never none.
 */
function refuseReleaseOrigins(withReleases: ZoneOrigin[]): void {
  const vpc = withReleases.filter((z) => z.isVpcOrigin).map((z) => z.zone);
  const pathed = withReleases.filter((z) => !z.isVpcOrigin && z.originPath !== '');
  const problems = [
    ...(vpc.length > 0
      ? [`Zones ${vpc.join(', ')}: releases need an origin the edge can point at each release, and cf.updateRequestOrigin cannot update a VPC origin; serve the zone through an HTTPS origin (a load balancer or a function URL), or remove its releases`]
      : []),
    ...pathed.map(
      (z) =>
        `Zone "${z.zone}": its origin has the origin path "${z.originPath}", which every release would inherit (cf.updateRequestOrigin can set an origin path, never remove one); serve the zone from its origin's root, or remove its releases`,
    ),
  ];
  throwIfProblems(problems);
}

/** Refuses a distribution that alone holds more dynamic references than CloudFormation allows in a template. */
function refuseTooManyDynamicReferences(distribution: cloudfront.Distribution, verifyHeader: boolean): void {
  const config = (distribution.node.defaultChild as cloudfront.CfnDistribution).distributionConfig;
  const count = dynamicReferenceCount(Stack.of(distribution).resolve(config));
  const max = limitValue('dynamic-references');
  if (count <= max) return;
  const cause = verifyHeader
    ? `originVerifyHeader: its value is a dynamic reference ({{resolve:...}}) written into each HTTP origin, ${count} in the distribution`
    : `Distribution: its origins hold ${count} dynamic references ({{resolve:...}})`;
  throw new MultiZoneValidationError(
    `${cause}, and CloudFormation allows at most ${max} in a template ("Get values stored in other services using dynamic references"); ` +
      'pass the secret as SecretValue.cfnParameter(...) of a NoEcho CfnParameter (a Ref, not a dynamic reference), or protect some zones with origin access control instead',
  );
}
