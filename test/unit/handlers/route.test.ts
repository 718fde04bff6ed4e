import { FullBatchFailureError } from '@aws-lambda-powertools/batch';
import { SendMessageBatchCommand, type SendMessageBatchCommandInput, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_BATCH_BYTES } from '../../../lambdas/adapters/sqs-delivery-queue.js';
import { logger } from '../../../lambdas/commons/logger.js';
import { deliveryIdFor } from '../../../lambdas/core/ids.js';
import type { Subscription } from '../../../lambdas/core/model.js';
import { handler, useRoutingDeps } from '../../../lambdas/route.js';
import { QUEUES } from '../../../lib/definitions.js';
import { stubAwsEnvironment } from '../../support/aws-env.js';
import { FakeTable } from '../../support/dynamo-fake.js';
import { exampleData } from '../../support/factories.js';
import { recordSdkCalls } from '../../support/sdk-calls.js';
import {
  aLambdaContext,
  anEventBridgeEnvelope,
  anIngestRecord,
  anSqsEvent,
  anSqsRecord,
} from '../../support/sqs-events.js';
import { aStoredSubscription, subscriptionItem } from '../../support/stored-items.js';

/*
 * The route handler's wiring: SQS records in, a batch response out, through the real adapters on a
 * fake table and a stubbed SQS client. What routing decides (matching, idempotency, arrival time,
 * rejections) is tested at the use case, test/unit/core/routing.test.ts.
 */

// Network rule: the SDK is stubbed at the client classes, so no request leaves the process; the
// endpoints and credentials below only make sure that a stub that failed to apply would hit a closed
// loopback port instead of AWS (or the instance metadata service).

const TABLE_NAME = 'commbox-webhooks-test';
const QUEUE_URL = 'http://127.0.0.1:1/000000000000/commbox-deliveries';
const NOW = new Date('2026-03-04T05:06:07.000Z');
/** When EventBridge received the events (their envelope's `time`): a little before they are routed. */
const EB_TIME = '2026-03-04T05:06:05.000Z';

const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
recordSdkCalls('route');
let table: FakeTable;

beforeEach(() => {
  vi.stubEnv('TABLE_NAME', TABLE_NAME);
  vi.stubEnv('DELIVERY_QUEUE_URL', QUEUE_URL);
  vi.stubEnv('RETENTION_DAYS', '30');
  stubAwsEnvironment();
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
  logger.setLogLevel('SILENT');
  table = new FakeTable().install(ddb);
  sqs.on(SendMessageBatchCommand).callsFake(async (input: SendMessageBatchCommandInput) => acceptAll(input));
});

afterEach(() => {
  useRoutingDeps(undefined);
  ddb.reset();
  sqs.reset();
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

/** SQS's answer to a SendMessageBatch: every entry queued, unless the batch is over its size limit. */
function acceptAll(input: SendMessageBatchCommandInput) {
  const bytes = (input.Entries ?? []).reduce(
    (sum, entry) => sum + Buffer.byteLength(entry.MessageBody ?? ''),
    0,
  );
  if (bytes > MAX_BATCH_BYTES) {
    throw Object.assign(new Error('Batch requests cannot be longer than 262144 bytes'), {
      name: 'BatchRequestTooLong',
    });
  }
  return {
    Successful: (input.Entries ?? []).map((entry) => ({
      Id: entry.Id,
      MessageId: `sqs-${entry.Id}`,
      MD5OfMessageBody: 'not-checked',
    })),
    Failed: [],
  };
}

/** Every message the router queued, parsed, in the order sent. */
function sentMessages(): unknown[] {
  return sqs
    .commandCalls(SendMessageBatchCommand)
    .flatMap((call) => call.args[0].input.Entries ?? [])
    .map((entry): unknown => JSON.parse(entry.MessageBody ?? ''));
}

function eventKeysIn(input: SendMessageBatchCommandInput): string[] {
  return (input.Entries ?? []).map((entry) => {
    const body: unknown = JSON.parse(entry.MessageBody ?? '{}');
    return typeof body === 'object' && body !== null && 'eventKey' in body ? String(body.eventKey) : '';
  });
}

interface RecordOptions {
  readonly ebId?: string;
  readonly producerId?: string;
  readonly brand?: string;
  readonly messageId?: string;
  readonly receiveCount?: number;
  /** The envelope's `time`; EB_TIME unless given. */
  readonly time?: string;
  readonly detailType?: string;
  readonly data?: Record<string, unknown>;
}

/** An ingest record of an acme Object.OnNew with the catalogue's example data, unless told otherwise. */
function anOnNewRecord(options: RecordOptions = {}): SQSRecord {
  const {
    ebId = 'eb-1',
    producerId,
    brand = 'acme',
    messageId,
    receiveCount,
    time = EB_TIME,
    detailType = 'Object.OnNew',
    data = exampleData('Object', 'OnNew'),
  } = options;
  const envelope = anEventBridgeEnvelope({
    id: ebId,
    detailType,
    time,
    detail: { brand, ...(producerId && { id: producerId }), data },
  });
  return anIngestRecord(envelope, { ...(messageId && { messageId }), ...(receiveCount && { receiveCount }) });
}

/** The event as a delivery message carries it. */
const inlineEvent = (receivedAt = EB_TIME) => ({
  entity: 'Object',
  event: 'OnNew',
  receivedAt,
  data: exampleData('Object', 'OnNew'),
});

function seedSubscriptions(...subscriptions: Subscription[]): void {
  table.seed(...subscriptions.map(subscriptionItem));
}

const invoke = (...records: SQSRecord[]) => handler(anSqsEvent(...records), aLambdaContext('route'));

describe('routing a valid event', () => {
  it('queues one delivery for each matching subscription on the delivery queue and reports no failure', async () => {
    const orders = aStoredSubscription();
    seedSubscriptions(orders, aStoredSubscription({ events: [{ name: 'OnNewChild' }] }));

    const response = await invoke(anOnNewRecord({ producerId: 'evt-1' }));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(sqs.commandCalls(SendMessageBatchCommand)[0]?.args[0].input.QueueUrl).toBe(QUEUE_URL);
    expect(sentMessages()).toEqual([
      {
        v: 1,
        brand: 'acme',
        subscriptionId: orders.id,
        deliveryId: deliveryIdFor(EB_TIME, 'acme/evt-1', orders.id),
        eventKey: 'acme/evt-1',
        event: inlineEvent(),
      },
    ]);
  });
});

describe('idempotency', () => {
  it('logs the outcome of each record: the event routed, and a copy of it under another envelope as a duplicate', async () => {
    seedSubscriptions(aStoredSubscription());
    const info = vi.spyOn(logger, 'info');

    const response = await invoke(
      anOnNewRecord({ ebId: 'eb-1', producerId: 'ord-42', messageId: 'first' }),
      anOnNewRecord({ ebId: 'eb-2', producerId: 'ord-42', messageId: 'second' }),
    );

    expect(response.batchItemFailures).toEqual([]);
    expect(sentMessages()).toHaveLength(1);
    const outcomes = info.mock.calls
      .filter(([message]) => String(message).startsWith('event '))
      .map(([message, fields]) => `${String(message)} ${(fields as { eventKey?: string }).eventKey}`);
    expect(outcomes.sort()).toEqual(['event duplicate acme/ord-42', 'event routed acme/ord-42']);
  });
});

describe('rejecting invalid events', () => {
  it('keeps a body that is not JSON as a rejected event, logs its reason, and does not retry it', async () => {
    seedSubscriptions(aStoredSubscription());
    const warn = vi.spyOn(logger, 'warn');

    const response = await invoke(anSqsRecord('{"detail-type": "Object.OnNew", ', { messageId: 'bad' }));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
    expect(warn).toHaveBeenCalledWith('event rejected', {
      messageId: 'bad',
      reason: 'not an EventBridge event',
    });
    expect(ddb.commandCalls(PutCommand).map((call) => call.args[0].input.Item?.reason)).toEqual([
      'not an EventBridge event',
    ]);
  });
});

describe('partial batch failures', () => {
  const threeEvents = () =>
    [1, 2, 3].map((n) => anOnNewRecord({ producerId: `evt-${n}`, messageId: `m-${n}` }));

  it('reports only the records in the SendMessageBatch call that failed', async () => {
    seedSubscriptions(aStoredSubscription());
    const twelveEvents = Array.from({ length: 12 }, (_, n) =>
      anOnNewRecord({ producerId: `evt-${n}`, messageId: `m-${n}` }),
    );
    let failedKeys: string[] = [];
    sqs.on(SendMessageBatchCommand).callsFake(async (input: SendMessageBatchCommandInput) => {
      if ((input.Entries ?? []).length < 10) {
        failedKeys = eventKeysIn(input);
        throw new Error('SQS throttled this batch');
      }
      return acceptAll(input);
    });

    const response = await invoke(...twelveEvents);

    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(2);
    expect(failedKeys).toHaveLength(2);
    expect(response.batchItemFailures.map((failure) => failure.itemIdentifier).sort()).toEqual(
      failedKeys.map((key) => `m-${key.slice('acme/evt-'.length)}`).sort(),
    );
  });

  it('reports only the record with an entry SQS answered as Failed', async () => {
    seedSubscriptions(aStoredSubscription(), aStoredSubscription());
    sqs.on(SendMessageBatchCommand).callsFake(async (input: SendMessageBatchCommandInput) => {
      const answer = acceptAll(input);
      const failedId = String(eventKeysIn(input).indexOf('acme/evt-2'));
      return {
        Successful: answer.Successful.filter((entry) => entry.Id !== failedId),
        Failed: [{ Id: failedId, SenderFault: false, Code: 'InternalError', Message: 'try again' }],
      };
    });

    const response = await invoke(...threeEvents());

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-2' }] });
  });

  it('reports a record whose claim could not be written, beside a record that was routed', async () => {
    seedSubscriptions(aStoredSubscription());
    table.failWhen(
      (request) => request.operation === 'Put' && request.input.Item?.key === 'acme/evt-2',
      new Error('ProvisionedThroughputExceededException'),
    );

    const response = await invoke(...threeEvents());

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-2' }] });
    expect(
      sentMessages()
        .map((message) => (message as { eventKey: string }).eventKey)
        .sort(),
    ).toEqual(['acme/evt-1', 'acme/evt-3']);
  });

  it('reports to each of two concurrent invocations only its own records', async () => {
    seedSubscriptions(aStoredSubscription());
    sqs.on(SendMessageBatchCommand).callsFake(async (input: SendMessageBatchCommandInput) => {
      const keys = eventKeysIn(input);
      await new Promise((resolve) => setTimeout(resolve, keys.includes('acme/slow-fail') ? 50 : 0));
      const answer = acceptAll(input);
      const failing = new Set(keys.flatMap((key, index) => (key.endsWith('fail') ? [String(index)] : [])));
      return {
        Successful: answer.Successful.filter((entry) => !failing.has(entry.Id ?? '')),
        Failed: [...failing].map((Id) => ({ Id, SenderFault: false, Code: 'InternalError' })),
      };
    });
    const record = (id: string) => anOnNewRecord({ producerId: id, messageId: id });

    const [first, second] = await Promise.all([
      invoke(record('slow-fail'), record('ok-1')),
      invoke(record('fast-fail'), record('ok-2')),
    ]);

    expect(first).toEqual({ batchItemFailures: [{ itemIdentifier: 'slow-fail' }] });
    expect(second).toEqual({ batchItemFailures: [{ itemIdentifier: 'fast-fail' }] });
  });

  it('throws when every record of the batch fails, so SQS retries the whole batch', async () => {
    seedSubscriptions(aStoredSubscription());
    sqs.on(SendMessageBatchCommand).rejects(new Error('SQS is unavailable'));

    await expect(invoke(...threeEvents())).rejects.toThrow(FullBatchFailureError);
  });
});

describe('failed records', () => {
  it('logs why a record failed, with its event key, the error and the receive count, at WARN and at ERROR on its last receive', async () => {
    seedSubscriptions(aStoredSubscription());
    table.failWhen(
      (request) => request.operation === 'Put',
      Object.assign(new Error('table is down'), { name: 'InternalServerError' }),
    );
    const warn = vi.spyOn(logger, 'warn');
    const error = vi.spyOn(logger, 'error');

    await expect(
      invoke(anOnNewRecord({ producerId: 'evt-1', messageId: 'm-1', receiveCount: 2 })),
    ).rejects.toThrow(FullBatchFailureError);
    await expect(
      invoke(
        anOnNewRecord({ producerId: 'evt-1', messageId: 'm-1', receiveCount: QUEUES.ingest.maxReceiveCount }),
      ),
    ).rejects.toThrow(FullBatchFailureError);

    const expected = (receiveCount: number) => ({
      messageId: 'm-1',
      eventKey: 'acme/evt-1',
      errorClass: 'InternalServerError',
      errorMessage: 'table is down',
      receiveCount,
      maxReceiveCount: QUEUES.ingest.maxReceiveCount,
    });
    expect(warn.mock.calls.filter(([message]) => String(message).startsWith('record failed'))).toEqual([
      [expect.any(String), expected(2)],
    ]);
    expect(error.mock.calls.filter(([message]) => String(message).startsWith('record failed'))).toEqual([
      [expect.stringContaining('DLQ'), expected(QUEUES.ingest.maxReceiveCount)],
    ]);
  });
});
