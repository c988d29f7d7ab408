import { Reference, Token, Tokenization } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { IConstruct } from 'constructs';
import { limitValue } from '../limits';

/**
 * What a store ARN names, the same in every stack of the app: the store
 * resource behind a reference (`store.keyValueStoreArn` and the
 * `keyValueStoreRef` aws-cdk-lib associates functions with are two tokens
 * for one attribute), else the ARN's text (an imported store).
 */
export function storeIdentity(arn: string): string {
  const fragments = Tokenization.reverseString(arn);
  const token = fragments.length === 1 ? fragments.firstToken : undefined;
  return token instanceof Reference ? `${token.target.node.path}#${token.displayName}` : arn;
}

/** The ARNs of the stores a function is associated with, as written in its configuration. */
function associatedArns(fn: cloudfront.CfnFunction): string[] {
  const associations = (fn.functionConfig as cloudfront.CfnFunction.FunctionConfigProperty).keyValueStoreAssociations;
  if (!Array.isArray(associations)) return [];
  return associations.map((a) => (a as cloudfront.CfnFunction.KeyValueStoreAssociationProperty).keyValueStoreArn).filter((arn) => typeof arn === 'string');
}

/**
 * Why the functions of the whole app associated with `store` pass the
 * store's quota, or nothing. Said once, by the first site on the store
 * (`siteOf` finds the site a function belongs to, undefined for a
 * function of no site), naming each site with its count and every other
 * function.
 */
export function storeFunctionProblems(site: IConstruct, store: IConstruct & { readonly keyValueStoreArn: string }, siteOf: (c: IConstruct) => IConstruct | undefined): string[] {
  const identity = storeIdentity(store.keyValueStoreArn);
  const functions = site.node.root.node.findAll().filter(
    (c): c is cloudfront.CfnFunction => c instanceof cloudfront.CfnFunction && associatedArns(c).some((arn) => storeIdentity(arn) === identity),
  );
  const max = limitValue('functions-per-key-value-store');
  const owners = functions.map((fn) => siteOf(fn));
  if (functions.length <= max || owners.find((o) => o !== undefined) !== site) return [];
  const counts = new Map<string, number>();
  functions.forEach((fn, i) => {
    const owner = owners[i] ? `site "${owners[i]!.node.path}"` : `function "${(fn.node.scope ?? fn).node.path}"`;
    counts.set(owner, (counts.get(owner) ?? 0) + 1);
  });
  const name = Token.isUnresolved(store.keyValueStoreArn) ? `"${store.node.path}"` : store.keyValueStoreArn;
  return [
    `keyValueStore: ${functions.length} CloudFront Functions of the app are associated with store ${name} `
      + `(${[...counts].map(([owner, n]) => `${owner} ${n}`).join(', ')}), at most ${max} allowed ("Quotas": functions per key value store); `
      + 'give some of the sites a store of their own',
  ];
}
