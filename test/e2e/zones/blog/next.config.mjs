import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** @type {import('next').NextConfig} */
const nextConfig = {
  // No basePath: the pages themselves live under pages/blog/.
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
