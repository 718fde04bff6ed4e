/*
 * Infrastructure definitions: the CDK stack (lib/) and the local runtime (local/) build the queues, the
 * functions' settings and the EventBridge rules from these. Names the handlers read themselves (environment
 * variables, event sources, table keys) live with the handlers in lambdas/. No CDK import here.
 */
import { EVENT_SOURCE, OPERATIONAL_EVENT_SOURCE } from '../lambdas/core/event-sources.js';

/** The EventBridge rule pattern for entity events. */
export const INGEST_RULE_PATTERN = { source: [EVENT_SOURCE] } as const;

/** The rule pattern for the platform's operational events (to a log group in AWS, printed locally). */
export const OPERATIONAL_RULE_PATTERN = { source: [OPERATIONAL_EVENT_SOURCE] } as const;

export interface QueueDefinition {
  /** Longer than the consuming function's timeout (AWS recommends 6x). */
  readonly visibilityTimeoutSeconds: number;
  /** Receives before a message moves to the DLQ. */
  readonly maxReceiveCount: number;
  readonly retentionSeconds: number;
  /** Event source mapping: records per invocation and how long to gather them. */
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
}

const DAY = 24 * 60 * 60;

export const QUEUES = {
  /**
   * EventBridge → route. A record that keeps failing (5 receives) goes to the DLQ, never loops forever.
   * Retention below the DLQs' 14 days: SQS expires a dead letter by its first send.
   */
  ingest: {
    visibilityTimeoutSeconds: 180,
    maxReceiveCount: 5,
    retentionSeconds: 4 * DAY,
    batchSize: 10,
    maxBatchingWindowSeconds: 1,
  },
  /**
   * route → deliver. A message makes at most one attempt (a retry, a deferral or a hop is a new message),
   * so a receive count above one means the message was handed over again after a failure (a crash, the
   * table or the queue unreachable): 25 of them go to the DLQ. A message waits at most 900 s; retention
   * stays below the DLQs' 14 days.
   */
  delivery: {
    visibilityTimeoutSeconds: 360,
    maxReceiveCount: 25,
    retentionSeconds: 11 * DAY,
    batchSize: 10,
    maxBatchingWindowSeconds: 1,
  },
} as const satisfies Record<string, QueueDefinition>;

/**
 * Concurrent route batches: the ingest event source mapping's `MaximumConcurrency` (unless the stack's
 * `ingestMaxConcurrency` says otherwise) and the local route poller's. EventBridge's SQS target cannot set
 * a message group, so every brand's events share the ingest queue in arrival order: route must outrun
 * any producer's burst, or a quiet brand's event waits behind the burst. Measured with `npm run
 * isolation` (docs/RELIABILITY.md): at 4 locally, brand B's put→routed p99 was 1.5 s while brand A put
 * 5,000 events at once; at 16, 0.35 s while A put 20,000.
 */
export const INGEST_MAX_CONCURRENCY = 16;

/** Function settings shared by the stack and the local pollers. */
export const FUNCTIONS = {
  api: { entry: 'lambdas/api.ts', timeoutSeconds: 29, memoryMb: 512 },
  authorizer: { entry: 'lambdas/authorizer.ts', timeoutSeconds: 10, memoryMb: 256 },
  route: { entry: 'lambdas/route.ts', timeoutSeconds: 30, memoryMb: 512 },
  deliver: { entry: 'lambdas/deliver.ts', timeoutSeconds: 60, memoryMb: 512 },
} as const;
