import { Duration, Stack } from 'aws-cdk-lib';
import type { EventPattern, IEventBus } from 'aws-cdk-lib/aws-events';
import { Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { detailSchema } from '../lambdas/core/routing.js';
import { ENV } from '../lambdas/environment.js';
import { INGEST_RULE_PATTERN, QUEUES, type QueueDefinition } from './definitions.js';
import type { WebhooksFunction } from './webhooks-function.js';
import { grantLaneQueues } from './webhooks-permissions.js';

/*
 * Dedicated lanes (docs/DEPLOY.md "Dedicated lanes"): brands far larger than the others get a delivery
 * queue, DLQ and event source mapping of their own, so their backlog never queues in front of anyone
 * else's deliveries; with `ownIngest`, also an EventBridge rule and ingest queue of their own, the shared
 * rule excluding them. The handlers learn the lanes from DEDICATED_LANES (brand → queue URL): every
 * delivery a brand's event causes, its retries and resends included, goes to that brand's lane.
 */

/** A brand with a lane of its own. */
export interface DedicatedLane {
  /** The brand, as producers put it in `detail.brand`. */
  readonly brand: string;
  /** MaximumConcurrency of the lane's event source mapping on the deliver function (2 to 1,000). */
  readonly maxConcurrency: number;
  /**
   * Also an EventBridge rule and ingest queue (+ DLQ) of its own, consumed by route, for a brand whose
   * bursts would otherwise delay every other brand's events on their way to route. The shared ingest rule
   * then matches every brand but this one.
   * @default false
   */
  readonly ownIngest?: boolean;
  /**
   * MaximumConcurrency of route on the lane's own ingest queue (2 to 1,000), when `ownIngest`.
   * @default 5
   */
  readonly ingestMaxConcurrency?: number;
}

/** A lane as built: its delivery queue and DLQ, and its ingest rule and queues when it has its own. */
export interface BuiltLane {
  readonly brand: string;
  readonly queue: Queue;
  readonly dlq: Queue;
  readonly ingest?: { readonly rule: Rule; readonly queue: Queue; readonly dlq: Queue };
}

/**
 * SQS event source mappings take a MaximumConcurrency of 2 to 1,000.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html#events-sqs-max-concurrency
 */
export const MAPPING_CONCURRENCY = { min: 2, max: 1_000 } as const;
const DEFAULT_LANE_INGEST_CONCURRENCY = 5;
/**
 * At most this many lanes: each adds about 100 bytes (brand and queue URL) to DEDICATED_LANES, and a
 * function's environment variables may hold 4 KB in all; a platform with more big brands than this wants
 * a deployment per group of brands, not one queue each.
 * https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
 */
export const MAX_DEDICATED_LANES = 20;

/**
 * The rule pattern of the shared ingest queue: every CommBox event but those of brands with an ingest
 * lane of their own. Events without a brand still go there (route rejects them with their reason):
 * `anything-but` matches only a field that exists.
 */
export function sharedIngestPattern(ownIngestBrands: readonly string[]): EventPattern {
  const source = [...INGEST_RULE_PATTERN.source];
  if (ownIngestBrands.length === 0) return { source };
  return {
    source,
    detail: {
      $or: [{ brand: [{ 'anything-but': [...ownIngestBrands] }] }, { brand: [{ exists: false }] }],
    },
  };
}

/** The rule pattern of a brand's own ingest queue. */
export function laneIngestPattern(brand: string): EventPattern {
  return { source: [...INGEST_RULE_PATTERN.source], detail: { brand: [brand] } };
}

/**
 * Refuses lanes the service could not run: a brand producers could not send (route's rule), a brand
 * twice, a concurrency a mapping does not take, or lanes that need more concurrency than the deliver
 * function has reserved (Lambda would throttle the mappings, and throttled messages come back again and
 * again until they reach the DLQ).
 */
export function validateLanes(
  lanes: readonly DedicatedLane[],
  sharedMaxConcurrency: number,
  reservedConcurrency: number | undefined,
): void {
  const fail = (message: string): never => {
    throw new Error(`WebhooksService: ${message}`);
  };
  if (lanes.length > MAX_DEDICATED_LANES)
    fail(
      `dedicatedLanes: at most ${MAX_DEDICATED_LANES} lanes (their queue URLs share the functions' 4 KB of environment)`,
    );
  const brandRule = detailSchema.shape.brand;
  const seen = new Set<string>();
  for (const lane of lanes) {
    if (!brandRule.safeParse(lane.brand).success)
      fail(
        `dedicatedLanes: ${JSON.stringify(lane.brand)} is not a brand (letters, digits, ".", "_", "-"; 1 to 100)`,
      );
    if (seen.has(lane.brand)) fail(`dedicatedLanes: ${lane.brand} has more than one lane`);
    seen.add(lane.brand);
    for (const [name, value] of [
      ['maxConcurrency', lane.maxConcurrency],
      ['ingestMaxConcurrency', lane.ingestMaxConcurrency],
    ] as const) {
      if (value !== undefined && !isMappingConcurrency(value))
        fail(
          `dedicatedLanes: ${lane.brand}'s ${name} must be a whole number from 2 to 1000 (SQS event source mappings)`,
        );
    }
  }
  if (reservedConcurrency === undefined) return;
  if (!Number.isInteger(reservedConcurrency) || reservedConcurrency < 1)
    fail('functions.deliver.reservedConcurrency must be a whole number, 1 or more');
  const total = sharedMaxConcurrency + lanes.reduce((sum, lane) => sum + lane.maxConcurrency, 0);
  if (total > (reservedConcurrency ?? 0)) {
    const parts = [
      `shared ${sharedMaxConcurrency}`,
      ...lanes.map((lane) => `${lane.brand} ${lane.maxConcurrency}`),
    ];
    fail(
      `the delivery lanes may run ${total} deliver invocations at once (${parts.join(' + ')}), more than ` +
        `functions.deliver.reservedConcurrency (${reservedConcurrency}): lower deliveryMaxConcurrency or a lane's ` +
        'maxConcurrency, or reserve more',
    );
  }
}

const isMappingConcurrency = (value: number) =>
  Number.isInteger(value) && value >= MAPPING_CONCURRENCY.min && value <= MAPPING_CONCURRENCY.max;

interface LaneTargets {
  readonly eventBus: IEventBus;
  readonly queueWithDlq: (name: string, definition: QueueDefinition) => { queue: Queue; dlq: Queue };
  readonly functions: Readonly<Record<'api' | 'route' | 'deliver', WebhooksFunction>>;
}

/** Builds each lane, connects it to route and deliver, and tells the handlers where each brand's lane is. */
export function addDedicatedLanes(
  scope: Construct,
  lanes: readonly DedicatedLane[],
  targets: LaneTargets,
): BuiltLane[] {
  const { api, route, deliver } = targets.functions;
  const built = lanes.map((lane): BuiltLane => {
    const id = `Lane-${lane.brand}`;
    const { queue, dlq } = targets.queueWithDlq(`${id}-Delivery`, QUEUES.delivery);
    deliver.addEventSource(eventSource(queue, QUEUES.delivery, lane.maxConcurrency));
    if (!lane.ownIngest) return { brand: lane.brand, queue, dlq };
    const ingest = targets.queueWithDlq(`${id}-Ingest`, QUEUES.ingest);
    const rule = new Rule(scope, `${id}-IngestRule`, {
      eventBus: targets.eventBus,
      description: `CommBox entity events of brand ${lane.brand} to its own ingest queue`,
      eventPattern: laneIngestPattern(lane.brand),
      targets: [new SqsQueue(ingest.queue, { deadLetterQueue: ingest.dlq })],
    });
    route.addEventSource(
      eventSource(ingest.queue, QUEUES.ingest, lane.ingestMaxConcurrency ?? DEFAULT_LANE_INGEST_CONCURRENCY),
    );
    return { brand: lane.brand, queue, dlq, ingest: { rule, ...ingest } };
  });
  if (built.length === 0) return built;
  const map = Stack.of(scope).toJsonString(
    Object.fromEntries(built.map((lane) => [lane.brand, lane.queue.queueUrl])),
  );
  // Everything that sends deliveries: route, deliver (retries, deferrals) and the API (tests, resends).
  for (const fn of [api, route, deliver]) fn.addEnvironment(ENV.dedicatedLanes, map);
  grantLaneQueues(
    { api, route, deliver },
    built.map((lane) => lane.queue),
  );
  return built;
}

function eventSource(queue: Queue, definition: QueueDefinition, maxConcurrency: number): SqsEventSource {
  return new SqsEventSource(queue, {
    batchSize: definition.batchSize,
    maxBatchingWindow: Duration.seconds(definition.maxBatchingWindowSeconds),
    reportBatchItemFailures: true,
    maxConcurrency,
  });
}
