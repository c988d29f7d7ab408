import { Names, Stack, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { REGION_NAME_ROOM } from './limits';

/**
 * A name for a CloudFront resource whose names are unique in the account
 * across every region (CloudFront is global): aws-cdk-lib's
 * `Names.uniqueResourceName` (stack name, construct path and a hash of it)
 * followed by `-<region>`, so the same stack in two regions takes two
 * names. Only letters, digits, `-` and `_`; at most `maxLength`
 * characters, reserving REGION_NAME_ROOM for a region known only at deploy
 * (the name is then an `Fn::Join` on `AWS::Region`).
 */
export function regionalResourceName(construct: IConstruct, maxLength: number): string {
  const region = Stack.of(construct).region;
  const regionLength = Token.isUnresolved(region) ? REGION_NAME_ROOM : region.length;
  const base = Names.uniqueResourceName(construct, { maxLength: maxLength - regionLength - 1, allowedSpecialCharacters: '-_' });
  return `${base}-${region}`;
}
