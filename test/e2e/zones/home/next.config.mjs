import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** @type {import('next').NextConfig} */
const nextConfig = {
  // Default zone: no assetPrefix, so its assets are served from /_next/static/...
  // Pin the tracing root to this app (the repo root has its own package-lock.json).
  outputFileTracingRoot: path.dirname(fileURLToPath(import.meta.url)),
  eslint: { ignoreDuringBuilds: true },
};

export default nextConfig;
