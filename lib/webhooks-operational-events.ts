import { Duration } from 'aws-cdk-lib';
import { type IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { SnsTopic, SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { OPERATIONAL_RULE_PATTERN } from './definitions.js';

export interface OperationalEventsProps {
  readonly eventBus: IEventBus;
  /**
   * Also publish each operational event to this topic (a chat hook, a pager, e-mail).
   * @default - the queue only
   */
  readonly topic?: ITopic;
}

/**
 * Where the platform's own events (`commbox.webhooks`: Subscription.Disabled, Delivery.Exhausted,
 * Subscription.Recovered, ...) go: a rule on the service bus to a queue a team consumes (and, when
 * given, a topic). Events EventBridge cannot hand over go to the queue's DLQ.
 */
export class OperationalEvents extends Construct {
  public readonly rule: Rule;
  /** The operational events, kept 4 days for a consumer to read. */
  public readonly queue: Queue;
  /** Events the rule could not put on the queue, and messages a consumer failed 5 times on. */
  public readonly dlq: Queue;

  constructor(scope: Construct, id: string, props: OperationalEventsProps) {
    super(scope, id);
    this.dlq = new Queue(this, 'Dlq', {
      retentionPeriod: Duration.days(14),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.queue = new Queue(this, 'Queue', {
      retentionPeriod: Duration.days(4),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.dlq, maxReceiveCount: 5 },
    });
    this.rule = new Rule(this, 'Rule', {
      eventBus: props.eventBus,
      description: 'Operational events of the webhooks platform (commbox.webhooks) to the team that runs it',
      eventPattern: { source: [...OPERATIONAL_RULE_PATTERN.source] },
      targets: [
        new SqsQueue(this.queue, { deadLetterQueue: this.dlq }),
        ...(props.topic ? [new SnsTopic(props.topic, { deadLetterQueue: this.dlq })] : []),
      ],
    });
  }
}
