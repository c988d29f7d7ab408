/**
 * Reading the site's S3 file assets (the routing table, the store's
 * contents) back at synth or from a deployed stack: one reader for
 * SynthesizedSite and the limits checks.
 */
import * as fs from 'fs';
import * as path from 'path';
import { MultiZoneValidationError } from './errors';

/** Where the assets' contents come from. */
export interface SiteAssetSource {
  /**
   * The directory the template was synthesized into (the cloud assembly:
   * `cdk.out`, or `app.synth().directory`): the routing table's assets are
   * files there (`asset.<hash>.json`).
   *
   * @default - the assets must be given in `assets`
   */
  readonly assetDirectory?: string;
  /**
   * Asset contents by their path in the distribution's metadata
   * (`asset.<hash>.json`), for a template read without its assembly: a
   * deployed stack's, with its assets fetched from S3.
   *
   * @default - the assets are read from `assetDirectory`
   */
  readonly assets?: Record<string, string>;
}

/** The JSON of one of the site's assets, from the given contents or the assembly directory. */
export function readSiteAsset(assetPath: string, options: SiteAssetSource): any {
  let text = options.assets?.[assetPath];
  if (text === undefined && options.assetDirectory !== undefined) {
    try {
      text = fs.readFileSync(path.resolve(options.assetDirectory, assetPath), 'utf8');
    } catch {
      throw new MultiZoneValidationError(
        `Template: routing table asset ${assetPath} not found next to the template (in ${options.assetDirectory}); `
        + 'synthesize with cdk synth, which writes it there, and read the template from the same cloud assembly',
      );
    }
  }
  if (text === undefined) {
    throw new MultiZoneValidationError(
      `Template: routing table asset ${assetPath} not given; read the template with its cloud assembly (SynthesizedSite.fromTemplate(template, { assetDirectory }))`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new MultiZoneValidationError(`Template: routing table asset ${assetPath} is not JSON (${(e as Error).message})`);
  }
}
