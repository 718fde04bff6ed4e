import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { routingDeps } from './commons/deps.js';
import { logFailedRecord } from './commons/failed-records.js';
import { parseJsonOrUndefined } from './commons/json.js';
import { logger } from './commons/logger.js';
import { readConfig } from './config.js';
import { type RoutingDeps, routeEvents } from './core/routing.js';

let deps: RoutingDeps | undefined;

/** The ingest queue's maxReceiveCount (QUEUES.ingest), unless the stack says otherwise. */
const INGEST_MAX_RECEIVE_COUNT = 5;

/**
 * Consumer of the ingest queue: each record is one EventBridge event. The batch is routed together
 * (its deliveries queued with as few SendMessageBatch calls as fit), and each record reports its own
 * outcome. An invalid event is logged with its reason and kept as a rejected record (the record
 * succeeds: it is never retried). A record fails, alone, only when storing or queueing its own
 * deliveries failed, and SQS retries it.
 */
export async function handler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  deps ??= routingDeps(readConfig());
  const outcomes = await routeEvents(
    deps,
    event.Records.map((record) => parseJsonOrUndefined(record.body)),
  );
  const bodies = new Map(event.Records.map((record) => [record.messageId, record.body]));
  const byMessageId = new Map(event.Records.map((record, index) => [record.messageId, outcomes[index]]));
  const reportRecord = async (record: SQSRecord): Promise<void> => {
    const outcome = byMessageId.get(record.messageId);
    if (outcome?.status !== 'fulfilled') {
      const error: unknown = outcome?.reason ?? new Error('record was not routed');
      const eventKey = eventKeyOf(parseJsonOrUndefined(bodies.get(record.messageId) ?? ''));
      logFailedRecord(record, error, eventKey ? { eventKey } : {}, INGEST_MAX_RECEIVE_COUNT);
      throw error;
    }
    const result = outcome.value;
    if (result.outcome === 'rejected') {
      logger.warn('event rejected', { messageId: record.messageId, reason: result.reason });
    } else {
      logger.info(`event ${result.outcome}`, { ...result });
    }
  };
  // A processor per invocation: it holds the batch's state, and the local runtime may run two batches at once.
  return processPartialResponse(event, reportRecord, new BatchProcessor(EventType.SQS), { context });
}

/** The event's key as routing forms it (`<brand>/<producer id or EventBridge id>`), when the body has one. */
function eventKeyOf(envelope: unknown): string | undefined {
  const field = (value: unknown, name: string): unknown =>
    typeof value === 'object' && value !== null && name in value
      ? (value as Record<string, unknown>)[name]
      : undefined;
  const detail = field(envelope, 'detail');
  const brand = field(detail, 'brand');
  const id = field(detail, 'id') ?? field(envelope, 'id');
  return typeof brand === 'string' && typeof id === 'string' ? `${brand}/${id}` : undefined;
}

/** For tests and the local runtime: replace the dependencies built from the environment. */
export function useRoutingDeps(replacement: RoutingDeps | undefined): void {
  deps = replacement;
}
