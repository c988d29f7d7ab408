import path from 'node:path';
import { fileURLToPath } from 'node:url';

// A release of the blog: NEXT_DEPLOYMENT_ID names the build (Next.js then adds
// ?dpl=<id> to its assets and x-deployment-id to its client requests, which the
// edge routes by), and each release builds into a folder of its own, so that
// `next start` with the same variable serves that build beside the others.
const deploymentId = process.env.NEXT_DEPLOYMENT_ID || undefined;

/** @type {import('next').NextConfig} */
const nextConfig = {
  deploymentId,
  distDir: deploymentId ? `.next-${deploymentId}` : '.next',
  // No basePath: the pages themselves live under pages/blog/ and app/blog/.
  // Assets are requested as /blog-static/_next/static/...; Next.js 15 serves
  // that prefix itself, so no rewrite is needed.
  assetPrefix: '/blog-static',
  // next/image is not under assetPrefix: its optimizer path moves under the
  // prefix too, so the edge sends it here and not to the default zone.
  images: { path: '/blog-static/_next/image' },
  outputFileTracingRoot: path.dirname(fileURLToPath(import.meta.url)),
  eslint: { ignoreDuringBuilds: true },
};

export default nextConfig;
