import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';

/**
 * An S3 file asset of `data` as JSON, written into a fresh temporary
 * directory at synth: the asset's hash is of the content alone, so the same
 * data makes the same asset (and template) on every synth.
 */
export function jsonFileAsset(scope: Construct, id: string, fileName: string, data: unknown): s3assets.Asset {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'multizone-asset-'));
  const file = path.join(dir, fileName);
  fs.writeFileSync(file, JSON.stringify(data));
  return new s3assets.Asset(scope, id, { path: file });
}
