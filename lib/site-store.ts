import { Lazy } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { Construct, IConstruct } from 'constructs';
import { regionalResourceName } from './account-names';
import { EdgeFunctions } from './edge-functions';
import { encodeRoutingTable } from './edge-function/kvs-table';
import { KvsTableSync, siteKeyId } from './kvs-sync/kvs-table-sync';
import { TemplateRelease } from './kvs-sync/table-file';
import { storeFunctionProblems } from './kvs-sync/store-functions';
import { limitValue } from './limits';
import { RoutingTable } from './routing-plan';
import { BoundZone } from './zone-origins';

/**
 * The site's KeyValueStore: the one given, else its own, named for the
 * stack, construct path and region (store names are unique in the
 * account, across regions). Every site and function of the app on the
 * store counts against its quota, so the count waits for the whole app;
 * `siteOf` finds the site a construct belongs to.
 */
export function siteStore(site: Construct, given: cloudfront.IKeyValueStore | undefined, siteOf: (c: IConstruct) => IConstruct | undefined): cloudfront.IKeyValueStore {
  const store = given ?? ownStore(site);
  site.node.addValidation({ validate: () => storeFunctionProblems(site, store, siteOf) });
  return store;
}

function ownStore(site: Construct): cloudfront.KeyValueStore {
  const store: cloudfront.KeyValueStore = new cloudfront.KeyValueStore(site, 'Store', {
    keyValueStoreName: Lazy.string({ produce: () => regionalResourceName(store, limitValue('store-name')) }),
    comment: 'MultiZoneDistribution flags and routing table',
  });
  return store;
}

/**
 * Writes the routing table, the initial flags and the zones' first
 * release records into the store at deploy,
 * and gives the router the table's layout; the functions that read the
 * store go live only once it holds what they read. `zones` are bound, the
 * default zone first.
 */
export function syncStore(
  site: Construct,
  store: cloudfront.IKeyValueStore,
  table: RoutingTable,
  zones: BoundZone[],
  functions: EdgeFunctions,
  releases: Record<string, TemplateRelease> | undefined,
): KvsTableSync {
  const siteId = siteKeyId(site);
  const kvsTable = encodeRoutingTable(table, zones, siteId);
  functions.route(kvsTable, zones[0]);
  const readers = functions.readingStore;
  const sync = new KvsTableSync(site, 'TableSync', {
    keyValueStore: store,
    site: siteId,
    siteName: site.node.path,
    functionCount: readers.length,
    entries: kvsTable.entries,
    version: kvsTable.version,
    initialFlags: table.flags,
    createPreviewSecret: (table.previewFlags ?? []).length > 0,
    releases,
  });
  for (const fn of readers) fn.node.addDependency(sync);
  return sync;
}
