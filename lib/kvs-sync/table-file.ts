/**
 * The file `KvsTableSync` writes as an S3 asset and its handler reads: what
 * the store gets from one deploy. Kept out of the template so neither the
 * template nor the custom resource event grows with the table. Shared by
 * the construct and the bundled handler, so it imports nothing of the CDK.
 */

import { INTERNAL_KEY_PREFIX } from '../flags';

/** Name of the asset file (its directory is a fresh one, so the asset's hash is of this content alone). */
export const TABLE_FILE_NAME = 'kvs-table.json';

/** The asset file's JSON. */
export interface TableFile {
  /** Construct-owned keys and their values, every key under `mz:<version>:`. */
  readonly entries: Record<string, string>;
  /** Flag keys and initial values, written only while the key is missing. */
  readonly initialFlags: Record<string, string>;
}

/** Last segment of the key recording when a table version became current (an ISO 8601 time). */
export const SINCE_KEY_SEGMENT = '@since';

/** The key recording when `version` became current: `mz:<version>:@since`. */
export function sinceKey(version: string): string {
  return `${INTERNAL_KEY_PREFIX}${version}:${SINCE_KEY_SEGMENT}`;
}
