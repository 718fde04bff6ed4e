import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { deliveryDeps } from './commons/delivery-deps.js';
import { logFailedRecord } from './commons/failed-records.js';
import { parseJsonOrUndefined } from './commons/json.js';
import { logger } from './commons/logger.js';
import { readConfig } from './config.js';
import { type DeliveryDeps, deliverMessage, RetryScheduled } from './core/delivery.js';
import { deliveryMessageSchema } from './core/model.js';

let deps: DeliveryDeps | undefined;

/** The delivery queue's maxReceiveCount (QUEUES.delivery), unless the stack says otherwise. */
const DELIVERY_MAX_RECEIVE_COUNT = 25;

/**
 * Consumer of the delivery queue: each record is one attempt of one delivery. A retry leaves the record
 * failed with its visibility set to the next delay; a malformed message is logged and dropped.
 */
async function deliverRecord(record: SQSRecord): Promise<void> {
  deps ??= deliveryDeps(readConfig());
  const message = deliveryMessageSchema.safeParse(parseJsonOrUndefined(record.body));
  if (!message.success) {
    logger.error('malformed delivery message dropped', { messageId: record.messageId });
    return;
  }
  try {
    const result = await deliverMessage(deps, message.data, {
      receiveCount: Number(record.attributes.ApproximateReceiveCount) || 1,
      receiptHandle: record.receiptHandle,
    });
    logger.info(`delivery ${result.outcome}`, {
      deliveryId: message.data.deliveryId,
      subscriptionId: message.data.subscriptionId,
      ...result,
    });
  } catch (error) {
    if (error instanceof RetryScheduled) {
      logger.info('delivery retry scheduled', {
        deliveryId: error.deliveryId,
        delaySeconds: error.delaySeconds,
      });
    } else {
      const { eventKey, subscriptionId, deliveryId } = message.data;
      logFailedRecord(record, error, { eventKey, subscriptionId, deliveryId }, DELIVERY_MAX_RECEIVE_COUNT);
    }
    throw error;
  }
}

export async function handler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  // A processor per invocation: it holds the batch's state, and the local runtime may run two batches at once.
  // A batch in which every delivery waits for a retry is normal, not a function error.
  return processPartialResponse(event, deliverRecord, new BatchProcessor(EventType.SQS), {
    context,
    throwOnFullBatchFailure: false,
  });
}

/** For tests and the local runtime: replace the dependencies built from the environment. */
export function useDeliveryDeps(replacement: DeliveryDeps | undefined): void {
  deps = replacement;
}
