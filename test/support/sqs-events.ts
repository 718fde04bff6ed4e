import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { EVENT_SOURCE } from '../../lambdas/core/event-sources.js';
import type { DeliveryMessage } from '../../lambdas/core/model.js';
import { localLambdaContext } from '../../local/lambda-context.js';

/*
 * Factories for what the SQS event source mapping hands a handler: records, batches, and the Lambda
 * context. Bodies are built the way the producers of each queue build them (EventBridge for the ingest
 * queue, the router's DeliveryMessage JSON for the delivery queue).
 */

export const INGEST_QUEUE_ARN = 'arn:aws:sqs:eu-west-1:000000000000:commbox-ingest';
export const DELIVERY_QUEUE_ARN = 'arn:aws:sqs:eu-west-1:000000000000:commbox-deliveries';

export interface RecordOptions {
  readonly messageId?: string;
  /** SQS's ApproximateReceiveCount: 1 on the first receive. */
  readonly receiveCount?: number;
  readonly receiptHandle?: string;
  readonly eventSourceARN?: string;
}

let sequence = 0;

/** An SQS record with `body` as it is; ids are unique unless given. */
export function anSqsRecord(body: string, options: RecordOptions = {}): SQSRecord {
  sequence += 1;
  const messageId = options.messageId ?? `msg-${sequence}`;
  return {
    messageId,
    receiptHandle: options.receiptHandle ?? `receipt-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: String(options.receiveCount ?? 1),
      SentTimestamp: '1772600000000',
      SenderId: 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: '1772600000001',
    },
    messageAttributes: {},
    md5OfBody: 'not-checked',
    eventSource: 'aws:sqs',
    eventSourceARN: options.eventSourceARN ?? INGEST_QUEUE_ARN,
    awsRegion: 'eu-west-1',
  };
}

export function anSqsEvent(...records: SQSRecord[]): SQSEvent {
  return { Records: records };
}

export interface EnvelopeOptions {
  /** EventBridge's own event id. */
  readonly id?: string;
  readonly detailType?: string;
  readonly source?: string;
  readonly detail?: unknown;
  readonly time?: string;
}

/** An EventBridge event as the ingest rule puts it in the SQS body. */
export function anEventBridgeEnvelope(options: EnvelopeOptions = {}): Record<string, unknown> {
  sequence += 1;
  return {
    version: '0',
    id: options.id ?? `eb-${sequence}`,
    'detail-type': options.detailType ?? 'Object.OnNew',
    source: options.source ?? EVENT_SOURCE,
    account: '000000000000',
    time: options.time ?? '2026-03-04T05:06:07Z',
    region: 'eu-west-1',
    resources: [],
    detail: options.detail ?? {},
  };
}

/** An ingest-queue record carrying `envelope` (an EventBridge event). */
export function anIngestRecord(envelope: unknown, options: RecordOptions = {}): SQSRecord {
  return anSqsRecord(JSON.stringify(envelope), { eventSourceARN: INGEST_QUEUE_ARN, ...options });
}

/** A delivery-queue record carrying `message`, as the router queued it. */
export function aDeliveryRecord(message: DeliveryMessage, options: RecordOptions = {}): SQSRecord {
  return anSqsRecord(JSON.stringify(message), { eventSourceARN: DELIVERY_QUEUE_ARN, ...options });
}

/** A Lambda context with every field set (the local runtime's); the handlers read only the request id. */
export function aLambdaContext(functionName = 'commbox-webhooks-test'): Context {
  return localLambdaContext(functionName, 30_000, 'c6af9ac6-7b61-11e6-9a41-93e812345678');
}
