import { Arn, ArnFormat, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { throwIfProblems } from './errors';
import { handlerAssetDir } from './handler-assets';
import { SITE_ID, releaseKey } from './kvs-sync/table-file';
import { MAX_EVENT_AGE_SECONDS, RollbackInput, STORE_ARN_ENV } from './release-rollback/input';
import { ZoneReleases } from './zone-releases';
import { siteKeyId } from './kvs-sync/kvs-table-sync';

/** A zone rolled back by an alarm. */
export interface ZoneRollback {
  /** The zone's name. */
  readonly zone: string;
  /** The store key of the zone's release record (`releaseKey(site, zone)`). */
  readonly key: string;
  /** Rolls the zone back when it goes into ALARM. */
  readonly alarm: cloudwatch.IAlarm;
}

/** Properties for a ReleaseRollback. */
export interface ReleaseRollbackProps {
  /** The store holding the zones' release records. */
  readonly store: cloudfront.IKeyValueStore;
  /** The zones with a rollback alarm, at least one. */
  readonly zones: readonly ZoneRollback[];
}

/** Delivery attempts EventBridge makes to the function (within MAX_EVENT_AGE_SECONDS): throttled invocations, Lambda service errors. */
const DELIVERY_ATTEMPTS = 10;

/**
 * Rolls a site's zones back when their alarms go into ALARM, as
 * `multizone rollback <zone>` does: the canary is dropped, else the current
 * release returns to the previous one, and the alarm and the time are
 * recorded in the zone's release record.
 *
 * One function for the site, allowed to describe the one store and read
 * and write its keys; one EventBridge rule per zone, on the default bus,
 * matching its alarm's change into ALARM and handing the function the
 * zone, its record's key, the alarm and the event. A rule per zone rather
 * than per alarm keeps one target per rule, whichever zones share an alarm.
 *
 * No dead-letter queue: an event that cannot be handled within
 * MAX_EVENT_AGE_SECONDS is one to drop, not to replay, since a late
 * rollback would take out a release the alarm never judged. A failure
 * shows in the function's log and its Errors metric, and
 * `multizone rollback` does the same by hand.
 */
export class ReleaseRollback extends Construct {
  /** The rollback function (its Errors metric shows rollbacks that failed). */
  public readonly handler: lambda.IFunction;

  constructor(scope: Construct, id: string, props: ReleaseRollbackProps) {
    super(scope, id);
    throwIfProblems(propsProblems(id, props, Stack.of(this)));
    const fn = this.rollbackFunction(props.store);
    this.handler = fn;
    for (const zone of props.zones) {
      const rule = new events.Rule(this, `Rule-${zone.zone}`, {
        description: `Rolls zone "${zone.zone}" back when its rollback alarm goes into ALARM`,
        eventPattern: {
          source: ['aws.cloudwatch'],
          detailType: ['CloudWatch Alarm State Change'],
          resources: [zone.alarm.alarmArn],
          detail: { state: { value: ['ALARM'] } },
        },
      });
      rule.addTarget(new targets.LambdaFunction(fn, {
        event: events.RuleTargetInput.fromObject(ruleInput(zone)),
        retryAttempts: DELIVERY_ATTEMPTS,
        maxEventAge: Duration.seconds(MAX_EVENT_AGE_SECONDS),
      }));
    }
  }

  /** The function, with a role that may write its own log and the store's keys, nothing else. */
  private rollbackFunction(store: cloudfront.IKeyValueStore): lambda.Function {
    const logGroup = new logs.LogGroup(this, 'Logs', {
      // The log is the history of automatic rollbacks (the record keeps only the last).
      retention: logs.RetentionDays.ONE_YEAR,
      // The records it tells about go with the site.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['cloudfront-keyvaluestore:DescribeKeyValueStore', 'cloudfront-keyvaluestore:GetKey', 'cloudfront-keyvaluestore:PutKey'],
      resources: [store.keyValueStoreArn],
    }));
    const fn = new lambda.Function(this, 'Handler', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(handlerAssetDir('release-rollback', 'ReleaseRollback')),
      role,
      logGroup,
      environment: { [STORE_ARN_ENV]: store.keyValueStoreArn },
      // A few store calls per attempt, and MAX_ROLLBACK_ATTEMPTS of them at most.
      timeout: Duration.seconds(30),
      // Lambda's own retries of a run that threw (the store throttled or unreachable), within the age a rollback is still right.
      retryAttempts: 2,
      maxEventAge: Duration.seconds(MAX_EVENT_AGE_SECONDS),
      description: 'Rolls zone releases back when their rollback alarms go into ALARM',
    });
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'The rollback function runs on a pinned Node.js LTS runtime that its bundle targets; it moves to a newer one deliberately, with the bundle target.',
    });
    return fn;
  }
}

/** The rule's input: the zone, its key and alarm, and the event fields the handler reads (RollbackInput). */
function ruleInput(zone: ZoneRollback): RollbackInput {
  return {
    zone: zone.zone,
    key: zone.key,
    alarmArn: zone.alarm.alarmArn,
    event: {
      'source': events.EventField.source,
      'detail-type': events.EventField.detailType,
      'time': events.EventField.time,
      'resources': events.EventField.fromPath('$.resources') as unknown as string[],
      'detail': {
        alarmName: events.EventField.fromPath('$.detail.alarmName'),
        state: { value: events.EventField.fromPath('$.detail.state.value') },
      },
    },
  };
}

/** Why the props cannot be rolled back: the handler writes only the release records named here. */
function propsProblems(id: string, props: ReleaseRollbackProps, stack: Stack): string[] {
  if (props.zones.length === 0) return [`ReleaseRollback "${id}": zones must name at least one zone`];
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const { zone, key } of props.zones) {
    if (seen.has(zone)) problems.push(`Zone "${zone}": given twice to ReleaseRollback "${id}"`);
    seen.add(zone);
    const site = key.split(':')[1] ?? '';
    if (!SITE_ID.test(site) || key !== releaseKey(site, zone)) {
      problems.push(`Zone "${zone}": release record key "${key}" must be mz-site:<site>:@release:${zone}`);
    }
  }
  return [...problems, ...props.zones.flatMap((z) => alarmPlaceProblems(z, stack))];
}

/** The rule sees an alarm's state changes only on the default bus of the alarm's own account and Region (lib/limits.ts, alarm-events-own-region). */
function alarmPlaceProblems({ zone, alarm }: ZoneRollback, stack: Stack): string[] {
  // Imported alarms name their place in their ARN only (their `env` is the importing stack's).
  const { account, region } = Arn.split(alarm.alarmArn, ArnFormat.COLON_RESOURCE_NAME);
  const differs = (a = '', b: string) => !Token.isUnresolved(a) && !Token.isUnresolved(b) && a !== b;
  if (!differs(account, stack.account) && !differs(region, stack.region)) return [];
  return [
    `Zone "${zone}": rollbackAlarm is in account ${account} and Region ${region}, but the site is in account ${stack.account} and Region ${stack.region}: `
    + 'CloudWatch sends an alarm\'s state changes only to EventBridge in its own account and Region, so it would never roll the zone back',
  ];
}

/** A zone of the site's props, with its releases. */
interface ZoneWithRollback {
  readonly name: string;
  readonly releases?: ZoneReleases;
}

/**
 * The site's automatic rollbacks: one function for the zones whose
 * releases name a `rollbackAlarm`, each alarm's rule sending it that
 * zone; none when no zone names one.
 */
export function rollBackOnAlarms(site: Construct, store: cloudfront.IKeyValueStore, zones: ZoneWithRollback[]): ReleaseRollback | undefined {
  const watched = zones.filter((z) => z.releases?.rollbackAlarm !== undefined);
  if (watched.length === 0) return undefined;
  const id = siteKeyId(site);
  return new ReleaseRollback(site, 'ReleaseRollback', {
    store,
    zones: watched.map((z) => ({ zone: z.name, key: releaseKey(id, z.name), alarm: z.releases!.rollbackAlarm! })),
  });
}
