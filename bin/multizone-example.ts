#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { EXAMPLE_ZONE_ORIGINS, ExampleSiteStack } from './example-stack';

// Zone origins come from context (-c blogOrigin=...) or the environment (BLOG_ORIGIN=...), else the examples.
const app = new App();
const setting = (name: string, env: string): string | undefined => app.node.tryGetContext(name) ?? process.env[env];

new ExampleSiteStack(app, setting('stackName', 'MULTIZONE_STACK_NAME') ?? 'MultiZoneExample', {
  zoneOrigins: {
    home: setting('homeOrigin', 'HOME_ORIGIN') ?? EXAMPLE_ZONE_ORIGINS.home,
    blog: setting('blogOrigin', 'BLOG_ORIGIN') ?? EXAMPLE_ZONE_ORIGINS.blog,
    dashboard: setting('dashboardOrigin', 'DASHBOARD_ORIGIN') ?? EXAMPLE_ZONE_ORIGINS.dashboard,
  },
  domainName: setting('domainName', 'MULTIZONE_DOMAIN_NAME'),
  certificateArn: setting('certificateArn', 'MULTIZONE_CERTIFICATE_ARN'),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
