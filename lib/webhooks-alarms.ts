import { Duration } from 'aws-cdk-lib';
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

/** The alarms the service raises; see docs/DEPLOY.md for what each one means. */
export interface WebhooksAlarms {
  readonly ingestDlqDepth: Alarm;
  readonly deliveryDlqDepth: Alarm;
  readonly ingestQueueAge: Alarm;
  readonly deliveryQueueAge: Alarm;
  readonly apiErrors: Alarm;
  readonly authorizerErrors: Alarm;
  readonly routeErrors: Alarm;
  readonly deliverErrors: Alarm;
}

/** Ingest should drain within seconds; five minutes means route is failing or far behind. */
const INGEST_AGE_THRESHOLD = Duration.minutes(5);
/** A retry legitimately waits up to 12 h in the delivery queue; past 13 h something is stuck. */
const DELIVERY_AGE_THRESHOLD = Duration.hours(13);

/** What the alarms watch. */
export interface AlarmedParts {
  readonly ingestQueue: Queue;
  readonly ingestDlq: Queue;
  readonly deliveryQueue: Queue;
  readonly deliveryDlq: Queue;
  readonly functions: Readonly<Record<'api' | 'authorizer' | 'route' | 'deliver', WebhooksFunction>>;
  /** Where the alarms notify, on alarm and on recovery. */
  readonly topic?: ITopic;
}

/** DLQ depth, oldest message age and function errors, each with what it means for an operator. */
export function createWebhooksAlarms(scope: Construct, parts: AlarmedParts): WebhooksAlarms {
  const { topic } = parts;
  const oneMinute = Duration.minutes(1);
  const alarm = (id: string, metric: Metric, threshold: number, description: string, inclusive = true) => {
    const created = metric.createAlarm(scope, id, {
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: inclusive
        ? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        : ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    if (topic) {
      created.addAlarmAction(new SnsAction(topic));
      created.addOkAction(new SnsAction(topic));
    }
    return created;
  };
  const dlqDepth = (id: string, dlq: Queue, description: string) =>
    alarm(
      id,
      dlq.metricApproximateNumberOfMessagesVisible({ period: oneMinute, statistic: Stats.MAXIMUM }),
      1,
      description,
    );
  const queueAge = (id: string, queue: Queue, threshold: Duration, description: string) =>
    alarm(
      id,
      queue.metricApproximateAgeOfOldestMessage({ period: oneMinute, statistic: Stats.MAXIMUM }),
      threshold.toSeconds(),
      description,
      false,
    );
  const functionErrors = (id: string, fn: WebhooksFunction, name: string) =>
    alarm(
      id,
      fn.metricErrors({ period: Duration.minutes(5), statistic: Stats.SUM }),
      1,
      `The ${name} function failed (threw or timed out) in the last 5 minutes.`,
    );

  return {
    ingestDlqDepth: dlqDepth(
      'IngestDlqDepthAlarm',
      parts.ingestDlq,
      'Events were given up on (route failed 5 times, or EventBridge could not queue them). Inspect, fix, redrive.',
    ),
    deliveryDlqDepth: dlqDepth(
      'DeliveryDlqDepthAlarm',
      parts.deliveryDlq,
      'Delivery messages were given up on (deliver crashed on them 25 times). Inspect, fix, redrive.',
    ),
    ingestQueueAge: queueAge(
      'IngestQueueAgeAlarm',
      parts.ingestQueue,
      INGEST_AGE_THRESHOLD,
      'Events wait in the ingest queue for more than 5 minutes: route is failing or far behind.',
    ),
    deliveryQueueAge: queueAge(
      'DeliveryQueueAgeAlarm',
      parts.deliveryQueue,
      DELIVERY_AGE_THRESHOLD,
      'A delivery waits for more than 13 hours (retries wait at most 12 h): deliver is failing or far behind.',
    ),
    apiErrors: functionErrors('ApiErrorsAlarm', parts.functions.api, 'api'),
    authorizerErrors: functionErrors('AuthorizerErrorsAlarm', parts.functions.authorizer, 'authorizer'),
    routeErrors: functionErrors('RouteErrorsAlarm', parts.functions.route, 'route'),
    deliverErrors: functionErrors('DeliverErrorsAlarm', parts.functions.deliver, 'deliver'),
  };
}
