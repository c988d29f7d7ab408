/**
 * SynthesizedSite as a user's own jest test uses it: their stack, built with
 * the package entries (`multizone-distribution`, `multizone-cli`), asked which
 * zone serves a path with a flag on or off.
 */
import { App, Stack } from 'aws-cdk-lib';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { SynthesizedSite } from 'multizone-cli';
import { MultiZoneDistribution } from 'multizone-distribution';

function userStack(): Stack {
  const app = new App();
  const stack = new Stack(app, 'WebStack');
  new s3.Bucket(stack, 'Uploads');
  new MultiZoneDistribution(stack, 'Web', {
    defaultZone: { name: 'home', origin: new origins.HttpOrigin('home.example.com') },
    zones: [{ name: 'blog', origin: new origins.HttpOrigin('blog.example.com'), pathPatterns: ['/blog/*'], assetPrefix: '/blog-static' }],
    overrides: [{ flag: 'blog-v2', pathPatterns: ['/blog/new/*'], zone: 'home' }],
  });
  return stack;
}

test('/blog/new/* moves to home while blog-v2 is on, and stays with blog while it is off', async () => {
  const site = SynthesizedSite.fromStack(userStack());
  expect((await site.serve('/blog/new/launch', { flags: { 'blog-v2': 'on' } })).zone).toBe('home');
  expect((await site.serve('/blog/new/launch', { flags: { 'blog-v2': 'off' } })).zone).toBe('blog');
  expect((await site.serve('/blog/new/launch')).zone).toBe('blog');
});

test('the flag moves only its own paths: the rest of /blog stays with blog', async () => {
  const site = SynthesizedSite.fromStack(userStack());
  const served = await site.serve('/blog/x', { flags: { 'blog-v2': 'on' } });
  expect(served.zone).toBe('blog');
  expect(served.behavior.pathPattern).toBe('/blog/*');
  expect((await site.serve('/about', { flags: { 'blog-v2': 'on' } })).zone).toBe('home');
});
