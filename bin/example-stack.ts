import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import { Construct } from 'constructs';
import { MultiZoneDistribution } from '../lib';

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
 * their own asset prefixes, and a flag that moves /checkout to the dashboard.
 */
export class ExampleSiteStack extends Stack {
  public readonly site: MultiZoneDistribution;

  constructor(scope: Construct, id: string, props: ExampleSiteStackProps) {
    super(scope, id, props);
    this.site = new MultiZoneDistribution(this, 'Site', {
      defaultZone: { name: 'home', origin: zoneOrigin(props.zoneOrigins.home) },
      zones: [
        { name: 'blog', origin: zoneOrigin(props.zoneOrigins.blog), pathPatterns: ['/blog', '/blog/*'], assetPrefix: '/blog-static', pagesRouter: true },
        {
          name: 'dashboard',
          origin: zoneOrigin(props.zoneOrigins.dashboard),
          pathPatterns: ['/dashboard', '/dashboard/*'],
          assetPrefix: '/dashboard-static',
        },
      ],
      overrides: [{ flag: 'new-checkout', pathPatterns: ['/checkout', '/checkout/*'], zone: 'dashboard' }],
      flags: { 'new-checkout': 'off' },
      domainNames: props.domainName ? [props.domainName] : undefined,
      certificate: props.certificateArn ? acm.Certificate.fromCertificateArn(this, 'Certificate', props.certificateArn) : undefined,
      comment: 'Multi-zone example site',
    });
    new CfnOutput(this, 'SiteDomainName', { value: this.site.distribution.distributionDomainName });
  }
}
