/**
 * multizone-cli: the `multizone` command's parts as a library. For tests of
 * your own stack, SynthesizedSite reads the synthesized template back and
 * serves a request as CloudFront would, running the distribution's own
 * CloudFront Function:
 *
 *   const site = SynthesizedSite.fromStack(stack);
 *   expect((await site.serve('/blog/x', { flags: { 'blog-v2': 'on' } })).zone).toBe('home');
 */
export * from './synthesized-site';
export {
  FunctionResponse,
  FunctionSandbox,
  KvsLookup,
  SandboxResult,
  ViewerRequestEvent,
  ViewerResponseEvent,
  setCookieHeaders,
  viewerRequestEvent,
  viewerResponseEvent,
} from './edge-function/sandbox';
export { AssignedOrigin, OriginUpdate, OriginUpdateOptions, UpdatedOrigin, originUpdateProblem } from './edge-function/origin-update';
export { LocalEdge, LocalEdgeOptions, startLocalEdge } from './local-edge/server';
export { DEFAULT_RELEASES_FILE, LocalReleases, readLocalReleases, releasesFileBeside, writeLocalRelease } from './local-edge/releases-file';
export { main } from './cli';
