/**
 * The environment the handlers read: variable names and the defaults of unset ones. The CDK stack and the
 * local runtime set these names. No dependencies, so the slim authorizer can import it.
 */
export const ENV = {
  tableName: 'TABLE_NAME',
  deliveryQueueUrl: 'DELIVERY_QUEUE_URL',
  eventBusName: 'EVENT_BUS_NAME',
  allowLocalTargets: 'ALLOW_LOCAL_TARGETS',
  refusedListenerPorts: 'REFUSED_LISTENER_PORTS',
  deliveryTimeoutMs: 'DELIVERY_TIMEOUT_MS',
  retrySchedule: 'RETRY_SCHEDULE',
  retentionDays: 'RETENTION_DAYS',
  disableAfterDays: 'DISABLE_AFTER_DAYS',
  deliveryLog: 'DELIVERY_LOG',
  /** The KMS key (id, ARN or alias) that wraps the data keys of secret fields; set in AWS. */
  secretsKmsKeyId: 'SECRETS_KMS_KEY_ID',
  /** Instead of KMS, locally: the key file (`$DATA_DIR/secret.key`) that wraps them. */
  secretsKeyFile: 'SECRETS_KEY_FILE',
  maxSubscriptionsPerBrand: 'MAX_SUBSCRIPTIONS_PER_BRAND',
  /**
   * Brands with a delivery queue of their own (a dedicated lane), as JSON `{"<brand>": "<queue URL>"}`;
   * every other brand's deliveries go to DELIVERY_QUEUE_URL.
   */
  dedicatedLanes: 'DEDICATED_LANES',
  /**
   * Tests: an open circuit's first and longest cool-down in seconds (`first,max`), which also pace the
   * probe of its parked deliveries; unset, 30 and 300 (lambdas/core/circuit-breaker.ts).
   */
  circuitCooldownSeconds: 'CIRCUIT_COOLDOWN_SECONDS',
} as const;

import type { DeliveryLogMode } from './core/delivery-log.js';

export { DELIVERY_LOG_MODES, type DeliveryLogMode } from './core/delivery-log.js';

/** The one statement of each default; the stack, `npm start` and the handlers all use these. */
export const DEFAULTS = {
  /** One POST to a listener; longer counts as a failed attempt. */
  deliveryTimeoutMs: 15_000,
  /** Event and delivery records expire (DynamoDB TTL) this many days after they were written. */
  retentionDays: 30,
  /** A subscription with no successful delivery for this many days is disabled. */
  disableAfterDays: 5,
  deliveryLog: 'full' as DeliveryLogMode,
  /**
   * A brand's subscriptions: one event fans out to each, so this bounds what one brand's event costs
   * every other brand (498 subscriptions slowed another brand's deliveries from ~60 ms to ~1.1 s).
   */
  maxSubscriptionsPerBrand: 100,
} as const;
