/**
 * The environment the handlers read: variable names and the defaults of unset ones. The CDK stack and the
 * local runtime set these names; nothing here has a dependency, so the slim authorizer can import it.
 */
export const ENV = {
  tableName: 'TABLE_NAME',
  deliveryQueueUrl: 'DELIVERY_QUEUE_URL',
  eventBusName: 'EVENT_BUS_NAME',
  allowLocalTargets: 'ALLOW_LOCAL_TARGETS',
  deliveryTimeoutMs: 'DELIVERY_TIMEOUT_MS',
  retrySchedule: 'RETRY_SCHEDULE',
  retentionDays: 'RETENTION_DAYS',
  disableAfterDays: 'DISABLE_AFTER_DAYS',
  deliveryLog: 'DELIVERY_LOG',
} as const;

/** `full` records every delivery; `failures` skips deliveries that succeed at their first attempt. */
export const DELIVERY_LOG_MODES = ['full', 'failures'] as const;
export type DeliveryLogMode = (typeof DELIVERY_LOG_MODES)[number];

/** The one statement of each default; the stack, `npm start` and the handlers all use these. */
export const DEFAULTS = {
  /** One POST to a listener; longer counts as a failed attempt. */
  deliveryTimeoutMs: 15_000,
  /** Event and delivery records expire (DynamoDB TTL) this many days after they were written. */
  retentionDays: 30,
  /** A subscription with no successful delivery for this many days is disabled. */
  disableAfterDays: 5,
  deliveryLog: 'full' as DeliveryLogMode,
} as const;
