import * as fs from 'fs';
import * as path from 'path';

/**
 * The directory holding a bundled Lambda handler (`dist/handlers/<name>`,
 * written by `npm run bundle`): the nearest one above this file, so it is
 * found from `lib` (ts-jest, ts-node) and from `dist/lib` (compiled,
 * installed package) alike.
 */
export function handlerAssetDir(name: string, owner: string): string {
  const bundle = path.join('dist', 'handlers', name, 'index.js');
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, bundle))) return path.dirname(path.join(dir, bundle));
    if (path.dirname(dir) === dir) {
      throw new Error(`${owner}: no ${bundle} above ${__dirname}; run \`npm run build\` first`);
    }
  }
}
