/**
 * The contract between the rollback construct (lib/release-rollback.ts)
 * and its handler (handler.ts): what a rule hands the function. Neither
 * imports the other: the construct must not load the AWS SDK at synth, and
 * the handler bundle must not carry the CDK.
 */

/** The environment variable holding the ARN of the store the release records are in. */
export const STORE_ARN_ENV = 'RELEASE_STORE_ARN';

/**
 * An alarm's state change older than this is not acted on: the record may
 * have moved on since (a new release, a manual rollback), and a late
 * rollback would take out a release the alarm never judged. A delivery or
 * retry that takes longer is dropped, and the handler says so in its log.
 */
export const MAX_EVENT_AGE_SECONDS = 15 * 60;

/** The parts of a CloudWatch alarm state change event the handler reads. */
export interface AlarmStateChange {
  readonly source?: string;
  readonly 'detail-type'?: string;
  /** When the alarm changed state, ISO 8601 (to the second). */
  readonly time?: string;
  /** The alarm's ARN. */
  readonly resources?: readonly string[];
  readonly detail?: {
    readonly alarmName?: string;
    readonly state?: { readonly value?: string };
  };
}

/** A rule's input to the rollback function: one zone, the alarm that rolls it back, and the event. */
export interface RollbackInput {
  /** The zone's name. */
  readonly zone: string;
  /** The store key of the zone's release record. */
  readonly key: string;
  /** The ARN of the zone's rollback alarm: only its ALARM state rolls the zone back. */
  readonly alarmArn: string;
  readonly event: AlarmStateChange;
}
