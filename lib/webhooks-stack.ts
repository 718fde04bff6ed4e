import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { WebhooksService, type WebhooksServiceProps } from './webhooks-service.js';

export interface WebhooksStackProps extends StackProps {
  /**
   * Configuration of the service (retry schedule, retention, alarm topic, ...), or a function of the
   * stack that returns it (to import a topic, a key or a bus into the stack first).
   * @default - the service's defaults
   */
  readonly service?: WebhooksServiceProps | ((stack: WebhooksStack) => WebhooksServiceProps);
}

/** The deployable stack: the webhooks service and the outputs an operator needs after `cdk deploy`. */
export class WebhooksStack extends Stack {
  public readonly service: WebhooksService;

  constructor(scope: Construct, id: string, props: WebhooksStackProps = {}) {
    super(scope, id, props);
    const serviceProps = typeof props.service === 'function' ? props.service(this) : props.service;
    this.service = new WebhooksService(this, 'Webhooks', serviceProps);
    const { service } = this;

    const output = (name: string, value: string, description: string) =>
      new CfnOutput(this, name, { value, description });
    output('ApiUrl', service.apiUrl, 'Base URL of the webhooks API');
    output(
      'EventBusName',
      service.eventBus.eventBusName,
      'Put CommBox events on this bus (source "commbox")',
    );
    output('TableName', service.table.tableName, 'The table: set TABLE_NAME to it for `npm run keys`');
    output('IngestQueueUrl', service.ingestQueue.queueUrl, 'Events waiting for routing');
    output('IngestDlqUrl', service.ingestDlq.queueUrl, 'Events given up on');
    output('DeliveryQueueUrl', service.deliveryQueue.queueUrl, 'Deliveries waiting for an attempt');
    output('DeliveryDlqUrl', service.deliveryDlq.queueUrl, 'Delivery messages given up on');
    output(
      'IngestDlqArn',
      service.ingestDlq.queueArn,
      'Redrive: aws sqs start-message-move-task --source-arn',
    );
    output(
      'DeliveryDlqArn',
      service.deliveryDlq.queueArn,
      'Redrive: aws sqs start-message-move-task --source-arn',
    );
    output(
      'OperationalEventsQueueUrl',
      service.operationalEvents.queue.queueUrl,
      'Subscription.Disabled, Delivery.Exhausted, Subscription.Recovered, ... (source commbox.webhooks)',
    );
    output('EventBusArn', service.eventBus.eventBusArn, 'Replay destination (aws events start-replay)');
    output('IngestArchiveArn', service.ingestArchive.archiveArn, 'Replay source: the archived ingest events');
    output(
      'IngestRuleArn',
      service.ingestRule.ruleArn,
      'Replay filter: only the ingest rule gets replayed events',
    );
    output(
      'AlarmTopicArn',
      service.alarmTopic.topicArn,
      'Every alarm notifies this topic: subscribe a person',
    );
  }
}
