import { Duration } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  type Alarm,
  ComparisonOperator,
  type Metric,
  Stats,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { WebhooksFunction } from './webhooks-function.js';

/** The alarms the service raises; docs/RUNBOOK.md has a section for each (its anchor is in the description). */
export interface WebhooksAlarms {
  readonly ingestDlqDepth: Alarm;
  readonly deliveryDlqDepth: Alarm;
  /** Ingest lag: the oldest event waiting for routing. */
  readonly ingestQueueAge: Alarm;
  readonly deliveryQueueAge: Alarm;
  readonly apiServerErrors: Alarm;
  readonly apiErrors: Alarm;
  readonly authorizerErrors: Alarm;
  readonly routeErrors: Alarm;
  readonly deliverErrors: Alarm;
  readonly apiThrottles: Alarm;
  readonly authorizerThrottles: Alarm;
  readonly routeThrottles: Alarm;
  readonly deliverThrottles: Alarm;
}

/**
 * An ingest record that fails is received again after the queue's visibility timeout (180 s); one that
 * failed twice for a passing reason is 6 minutes old. Ten minutes means route keeps failing or lags far.
 */
export const INGEST_AGE_THRESHOLD = Duration.minutes(10);
/** A few 5xx can be a cold start over the integration timeout; five in five minutes is a fault. */
export const API_5XX_THRESHOLD = 5;

/**
 * How old a delivery message may legitimately be. A retry keeps the same message (its visibility is set
 * to the next delay), and SQS counts a message's age from its first send, not from its last receive:
 * a delivery on its last attempt is as old as the whole schedule. The threshold is the schedule's
 * total plus an hour of slack.
 */
export function deliveryAgeThreshold(schedule: readonly number[]): Duration {
  const total = schedule.reduce((sum, delay) => sum + delay, 0);
  return Duration.seconds(total + 3600);
}

/** What the alarms watch. */
export interface AlarmedParts {
  readonly ingestQueue: Queue;
  readonly ingestDlq: Queue;
  readonly deliveryQueue: Queue;
  readonly deliveryDlq: Queue;
  readonly httpApi: HttpApi;
  readonly functions: Readonly<Record<'api' | 'authorizer' | 'route' | 'deliver', WebhooksFunction>>;
  /** The oldest age a delivery message reaches in normal operation (deliveryAgeThreshold). */
  readonly deliveryAgeThreshold: Duration;
  /** Where every alarm notifies, on alarm and on recovery. */
  readonly topic: ITopic;
}

const runbook = (anchor: string) => ` Runbook: docs/RUNBOOK.md#${anchor}`;

/** DLQ depth, queue age, API 5xx, and each function's errors and throttles, all to the topic. */
/** Alarms that notify `topic` when they fire and when they recover. */
function alarmBuilders(scope: Construct, topic: ITopic) {
  const action = new SnsAction(topic);
  const fiveMinutes = Duration.minutes(5);
  const alarm = (
    id: string,
    metric: Metric,
    options: { threshold: number; description: string; inclusive?: boolean; periods?: number },
  ) => {
    const created = metric.createAlarm(scope, id, {
      threshold: options.threshold,
      evaluationPeriods: options.periods ?? 1,
      comparisonOperator:
        options.inclusive === false
          ? ComparisonOperator.GREATER_THAN_THRESHOLD
          : ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: options.description,
    });
    created.addAlarmAction(action);
    created.addOkAction(action);
    return created;
  };
  const dlqDepth = (id: string, dlq: Queue, description: string) =>
    alarm(
      id,
      dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: Stats.MAXIMUM }),
      {
        threshold: 1,
        description,
      },
    );
  const queueAge = (id: string, queue: Queue, threshold: Duration, description: string) =>
    alarm(
      id,
      queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: Stats.MAXIMUM }),
      {
        threshold: threshold.toSeconds(),
        description,
        inclusive: false,
      },
    );
  return { alarm, dlqDepth, queueAge, fiveMinutes };
}

export function createWebhooksAlarms(scope: Construct, parts: AlarmedParts): WebhooksAlarms {
  const { alarm, dlqDepth, queueAge, fiveMinutes } = alarmBuilders(scope, parts.topic);
  const functionErrors = (id: string, fn: WebhooksFunction, name: string) =>
    alarm(id, fn.metricErrors({ period: fiveMinutes, statistic: Stats.SUM }), {
      threshold: 1,
      description: `The ${name} function failed (threw or timed out) in the last 5 minutes.${runbook('function-errors')}`,
    });
  // The API's functions answer people: one refused invocation is worth a look. The queue consumers are
  // retried by their event source mappings: only throttling that lasts 15 minutes is.
  const throttles = (id: string, fn: WebhooksFunction, name: string, sustained: boolean) =>
    alarm(id, fn.metricThrottles({ period: fiveMinutes, statistic: Stats.SUM }), {
      threshold: 1,
      periods: sustained ? 3 : 1,
      description: `Lambda refused invocations of the ${name} function (concurrency limit)${sustained ? ' for 15 minutes' : ''}.${runbook('throttles')}`,
    });
  const { api, authorizer, route, deliver } = parts.functions;

  return {
    ingestDlqDepth: dlqDepth(
      'IngestDlqDepthAlarm',
      parts.ingestDlq,
      `Events were given up on (route failed 5 times, or EventBridge could not queue them). Inspect, fix, redrive.${runbook('ingest-dlq-depth')}`,
    ),
    deliveryDlqDepth: dlqDepth(
      'DeliveryDlqDepthAlarm',
      parts.deliveryDlq,
      `Delivery messages were given up on (deliver crashed on them 25 times). Inspect, fix, redrive.${runbook('delivery-dlq-depth')}`,
    ),
    ingestQueueAge: queueAge(
      'IngestQueueAgeAlarm',
      parts.ingestQueue,
      INGEST_AGE_THRESHOLD,
      `Ingest lag: an event waits for routing for more than 10 minutes; route is failing or far behind.${runbook('ingest-lag')}`,
    ),
    deliveryQueueAge: queueAge(
      'DeliveryQueueAgeAlarm',
      parts.deliveryQueue,
      parts.deliveryAgeThreshold,
      `A delivery message is older than its whole retry schedule plus an hour: deliver is failing or far behind.${runbook('delivery-queue-age')}`,
    ),
    apiServerErrors: alarm(
      'ApiServerErrorsAlarm',
      parts.httpApi.metricServerError({ period: fiveMinutes, statistic: Stats.SUM }),
      {
        threshold: API_5XX_THRESHOLD,
        description: `The API answered 5xx ${API_5XX_THRESHOLD} times or more in 5 minutes.${runbook('api-5xx')}`,
      },
    ),
    apiErrors: functionErrors('ApiErrorsAlarm', api, 'api'),
    authorizerErrors: functionErrors('AuthorizerErrorsAlarm', authorizer, 'authorizer'),
    routeErrors: functionErrors('RouteErrorsAlarm', route, 'route'),
    deliverErrors: functionErrors('DeliverErrorsAlarm', deliver, 'deliver'),
    apiThrottles: throttles('ApiThrottlesAlarm', api, 'api', false),
    authorizerThrottles: throttles('AuthorizerThrottlesAlarm', authorizer, 'authorizer', false),
    routeThrottles: throttles('RouteThrottlesAlarm', route, 'route', true),
    deliverThrottles: throttles('DeliverThrottlesAlarm', deliver, 'deliver', true),
  };
}

/** What a dedicated lane's alarms watch (lib/webhooks-lanes.ts). */
export interface AlarmedLane {
  readonly brand: string;
  readonly queue: Queue;
  readonly dlq: Queue;
  readonly ingest?: { readonly queue: Queue; readonly dlq: Queue };
}

/**
 * A dedicated lane's queues get the alarms of the shared ones (same thresholds, same runbook sections),
 * named after the brand.
 */
export function createLaneAlarms(
  scope: Construct,
  lane: AlarmedLane,
  options: { readonly topic: ITopic; readonly deliveryAgeThreshold: Duration },
): Alarm[] {
  const { dlqDepth, queueAge } = alarmBuilders(scope, options.topic);
  const id = `Lane-${lane.brand}`;
  const alarms = [
    dlqDepth(
      `${id}-DeliveryDlqDepthAlarm`,
      lane.dlq,
      `Delivery messages of brand ${lane.brand}'s lane were given up on (deliver crashed on them 25 times). Inspect, fix, redrive.${runbook('delivery-dlq-depth')}`,
    ),
    queueAge(
      `${id}-DeliveryQueueAgeAlarm`,
      lane.queue,
      options.deliveryAgeThreshold,
      `A delivery message in brand ${lane.brand}'s lane is older than its whole retry schedule plus an hour.${runbook('delivery-queue-age')}`,
    ),
  ];
  if (lane.ingest) {
    alarms.push(
      dlqDepth(
        `${id}-IngestDlqDepthAlarm`,
        lane.ingest.dlq,
        `Events of brand ${lane.brand} were given up on (route failed 5 times, or EventBridge could not queue them). Inspect, fix, redrive.${runbook('ingest-dlq-depth')}`,
      ),
      queueAge(
        `${id}-IngestQueueAgeAlarm`,
        lane.ingest.queue,
        INGEST_AGE_THRESHOLD,
        `Ingest lag in brand ${lane.brand}'s lane: an event waits for routing for more than 10 minutes.${runbook('ingest-lag')}`,
      ),
    );
  }
  return alarms;
}
