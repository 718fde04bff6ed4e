import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { routingDeps } from './commons/deps.js';
import { logger } from './commons/logger.js';
import { readConfig } from './config.js';
import { type RoutingDeps, routeEvent } from './core/routing.js';

let deps: RoutingDeps | undefined;

/**
 * Consumer of the ingest queue: each record is one EventBridge event. An invalid event is logged with its
 * reason and kept as a rejected record (the record succeeds: it is never retried). A record fails, alone,
 * only when storing or queueing failed, and SQS retries it.
 */
async function routeRecord(record: SQSRecord): Promise<void> {
  deps ??= routingDeps(readConfig());
  let envelope: unknown;
  try {
    envelope = JSON.parse(record.body);
  } catch {
    envelope = undefined;
  }
  const result = await routeEvent(deps, envelope);
  if (result.outcome === 'rejected') {
    logger.warn('event rejected', { messageId: record.messageId, reason: result.reason });
  } else {
    logger.info(`event ${result.outcome}`, { ...result });
  }
}

export async function handler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  // A processor per invocation: it holds the batch's state, and the local runtime may run two batches at once.
  return processPartialResponse(event, routeRecord, new BatchProcessor(EventType.SQS), { context });
}

/** For tests and the local runtime: replace the dependencies built from the environment. */
export function useRoutingDeps(replacement: RoutingDeps | undefined): void {
  deps = replacement;
}
