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
export { LocalEdge, LocalEdgeOptions, startLocalEdge } from './local-edge/server';
export { main } from './cli';
