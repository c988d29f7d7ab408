import { CfnOutput, Duration, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { CrossZonePrefetch, MultiZoneDistribution } from '../lib';

/** Where the example's zones run: an https URL or a bare host name (https assumed). */
export interface ExampleZoneOrigins {
  readonly home: string;
  readonly blog: string;
  readonly dashboard: string;
}

/** Properties of the example site. */
export interface ExampleSiteStackProps extends StackProps {
  /** Zone origins. */
  readonly zoneOrigins: ExampleZoneOrigins;
  /**
   * Custom domain and its us-east-1 certificate ARN.
   *
   * @default - the CloudFront domain only
   */
  readonly domainName?: string;
  readonly certificateArn?: string;
  /**
   * ARN of a WAFv2 web ACL (scope CLOUDFRONT, in us-east-1) to put in front
   * of the site; also read from the `webAclArn` context value.
   *
   * @default - no web ACL
   */
  readonly webAclArn?: string;
  /**
   * Speculation Rules across zones.
   *
   * @default - prefetch on hover, sign-out links excluded
   */
  readonly crossZonePrefetch?: CrossZonePrefetch;
}

/** The example origins, used when neither context nor environment names others. */
export const EXAMPLE_ZONE_ORIGINS: ExampleZoneOrigins = {
  home: 'https://home.example.com',
  blog: 'https://blog.example.com',
  dashboard: 'https://dashboard.example.com',
};

/** An origin for a zone URL: https unless the URL says http (local or private zones). */
export function zoneOrigin(url: string): cloudfront.IOrigin {
  const parsed = new URL(url.includes('://') ? url : `https://${url}`);
  const http = parsed.protocol === 'http:';
  const port = parsed.port ? Number(parsed.port) : undefined;
  return new origins.HttpOrigin(parsed.hostname, {
    protocolPolicy: http ? cloudfront.OriginProtocolPolicy.HTTP_ONLY : cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
    httpPort: http ? port : undefined,
    httpsPort: http ? undefined : port,
  });
}

/**
 * The seed's site: home as the default zone, the blog and the dashboard with
 * their own asset prefixes, a flag that moves /checkout to the dashboard, and
 * a zone flag, new-nav, that every zone reads to show its new navigation.
 */
export class ExampleSiteStack extends Stack {
  public readonly site: MultiZoneDistribution;

  constructor(scope: Construct, id: string, props: ExampleSiteStackProps) {
    super(scope, id, props);
    const webAclArn: string | undefined = props.webAclArn ?? this.node.tryGetContext('webAclArn');

    // The secret CloudFront sends to every zone (header x-origin-verify); zones refuse requests without it.
    // The template holds only a dynamic reference, resolved by CloudFormation at deploy.
    const originVerifySecret = new secretsmanager.Secret(this, 'OriginVerifySecret', {
      description: 'Value of the x-origin-verify header CloudFront sends to the multi-zone example\'s zones',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });
    Validations.of(originVerifySecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'Rotated by hand in three steps (README, Security): zones must accept the new value before CloudFront sends it, which an automatic rotation cannot coordinate.',
    });

    // Standard access logs; CloudFront writes them with ACLs, so the bucket keeps ACLs enabled.
    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
    });
    Validations.of(accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This bucket receives the distribution\'s access logs; logging access to it would need yet another log bucket.',
    });

    this.site = new MultiZoneDistribution(this, 'Site', {
      defaultZone: { name: 'home', origin: zoneOrigin(props.zoneOrigins.home) },
      // Each zone's next.config matches its assetPrefix: assetPrefix '/blog-static' and
      // images: { path: '/blog-static/_next/image' } (next/image does not follow assetPrefix).
      zones: [
        {
          name: 'blog',
          origin: zoneOrigin(props.zoneOrigins.blog),
          pathPatterns: ['/blog', '/blog/*'],
          assetPrefix: '/blog-static',
          pagesRouter: true,
          // The blog ships on its own (`multizone release blog ...`): the build behind its origin is release v1 (NEXT_DEPLOYMENT_ID=v1).
          releases: { deploymentId: 'v1' },
        },
        {
          name: 'dashboard',
          origin: zoneOrigin(props.zoneOrigins.dashboard),
          pathPatterns: ['/dashboard', '/dashboard/*'],
          assetPrefix: '/dashboard-static',
        },
      ],
      overrides: [{ flag: 'new-checkout', pathPatterns: ['/checkout', '/checkout/*'], zone: 'dashboard', preview: true }],
      flags: { 'new-checkout': 'off', 'new-nav': 'off' },
      // Decided at the edge per viewer and forwarded to every zone (x-multizone-flags), so home, blog and dashboard show the new navigation together.
      zoneFlags: ['new-nav'],
      // Links across zones are fetched on hover, except those whose GET signs the viewer out.
      crossZonePrefetch: props.crossZonePrefetch ?? CrossZonePrefetch.prefetch({ eagerness: 'moderate', exclude: ['/logout', '/dashboard/signout*'] }),
      domainNames: props.domainName ? [props.domainName] : undefined,
      certificate: props.certificateArn ? acm.Certificate.fromCertificateArn(this, 'Certificate', props.certificateArn) : undefined,
      comment: 'Multi-zone example site',
      originVerifyHeader: { value: originVerifySecret.secretValue },
      logBucket: accessLogs,
      logFilePrefix: 'cloudfront/',
      webAclId: webAclArn,
    });
    const distribution = this.site.distribution.node.defaultChild!;
    Validations.of(distribution).acknowledge({
      id: 'AwsSolutions-CFR1',
      reason: 'A public site for viewers everywhere; pass geoRestriction to MultiZoneDistribution where law or licensing requires it.',
    });
    if (!webAclArn) {
      Validations.of(distribution).acknowledge({
        id: 'AwsSolutions-CFR2',
        reason: 'The example leaves the web ACL to the deployer (-c webAclArn=...): WAF rules depend on the zones, and a web ACL has a monthly cost.',
      });
    }
    if (!props.certificateArn) {
      Validations.of(distribution).acknowledge({
        id: 'AwsSolutions-CFR4',
        reason: 'Without a custom domain the distribution serves the *.cloudfront.net certificate, whose TLS policy CloudFront fixes; with -c domainName and -c certificateArn the construct sets TLSv1.2_2021.',
      });
    }
    new CfnOutput(this, 'SiteDomainName', { value: this.site.distribution.distributionDomainName });
  }
}
