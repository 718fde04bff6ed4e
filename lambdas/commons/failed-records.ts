import type { SQSRecord } from 'aws-lambda';
import { logger } from './logger.js';

/**
 * The queue's maxReceiveCount, set by the stack on the queue consumers (QUEUES in lib/definitions.ts);
 * each handler passes its queue's value as the fallback for runtimes that do not set it.
 */
export const MAX_RECEIVE_COUNT_ENV = 'MAX_RECEIVE_COUNT';

/** What is known of the record that failed: the event, and the subscription and delivery where known. */
export interface FailedRecordContext {
  readonly eventKey?: string;
  readonly subscriptionId?: string;
  readonly deliveryId?: string;
}

/**
 * Logs why one record of a batch failed: its event key, subscription, the error's class and message and
 * the receive count; at WARN while SQS will hand it over again, at ERROR on its last receive, after which
 * it goes to the DLQ. Never the body: it holds customer data.
 */
export function logFailedRecord(
  record: SQSRecord,
  error: unknown,
  context: FailedRecordContext,
  defaultMaxReceiveCount: number,
): void {
  const receiveCount = Number(record.attributes.ApproximateReceiveCount) || 1;
  const maxReceiveCount = Number(process.env[MAX_RECEIVE_COUNT_ENV]) || defaultMaxReceiveCount;
  const last = receiveCount >= maxReceiveCount;
  const fields = {
    messageId: record.messageId,
    ...context,
    errorClass: error instanceof Error ? error.name : typeof error,
    errorMessage: error instanceof Error ? error.message : String(error),
    receiveCount,
    maxReceiveCount,
  };
  if (last) logger.error('record failed on its last receive: it goes to the DLQ', fields);
  else logger.warn('record failed: SQS hands it over again after its visibility timeout', fields);
}
