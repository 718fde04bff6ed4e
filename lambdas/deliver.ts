import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { deliveryDeps } from './commons/delivery-deps.js';
import { logFailedRecord } from './commons/failed-records.js';
import { parseJsonOrUndefined } from './commons/json.js';
import { logger } from './commons/logger.js';
import { readConfig } from './config.js';
import { type DeliveryDeps, deliverMessage } from './core/delivery.js';
import { deliveryMessageSchema } from './core/model.js';

let deps: DeliveryDeps | undefined;

/** The delivery queue's maxReceiveCount (QUEUES.delivery), unless the stack says otherwise. */
const DELIVERY_MAX_RECEIVE_COUNT = 25;

/**
 * Consumer of the delivery queue: each record is at most one attempt of one delivery. Every outcome,
 * a retry included (queued again as a new, delayed message), lets the record succeed and be deleted; a
 * malformed message is logged and dropped. A record fails only when the attempt's outcome could not be
 * kept (a store or queue failure), and SQS hands it over again.
 */
async function deliverRecord(record: SQSRecord): Promise<void> {
  deps ??= deliveryDeps(readConfig());
  const message = deliveryMessageSchema.safeParse(parseJsonOrUndefined(record.body));
  if (!message.success) {
    logger.error('malformed delivery message dropped', { messageId: record.messageId });
    return;
  }
  try {
    const result = await deliverMessage(deps, message.data);
    logger.info(`delivery ${result.outcome}`, {
      deliveryId: message.data.deliveryId,
      subscriptionId: message.data.subscriptionId,
      ...result,
    });
  } catch (error) {
    const { eventKey, subscriptionId, deliveryId } = message.data;
    logFailedRecord(record, error, { eventKey, subscriptionId, deliveryId }, DELIVERY_MAX_RECEIVE_COUNT);
    throw error;
  }
}

export async function handler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  // A processor per invocation: it holds the batch's state, and the local runtime may run two batches at once.
  // A batch whose every record failed (the table unreachable) is reported record by record all the same.
  return processPartialResponse(event, deliverRecord, new BatchProcessor(EventType.SQS), {
    context,
    throwOnFullBatchFailure: false,
  });
}

/** For tests and the local runtime: replace the dependencies built from the environment. */
export function useDeliveryDeps(replacement: DeliveryDeps | undefined): void {
  deps = replacement;
}
