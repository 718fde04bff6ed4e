import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDocumentClient } from '../../../lambdas/adapters/dynamo-common.js';
import { DynamoDeliveryStore } from '../../../lambdas/adapters/dynamo-deliveries.js';
import { DynamoSubscriptionStore } from '../../../lambdas/adapters/dynamo-subscriptions.js';
import { deliveryDeps } from '../../../lambdas/commons/delivery-deps.js';
import { logger } from '../../../lambdas/commons/logger.js';
import { readConfig } from '../../../lambdas/config.js';
import { deliveryIdFor } from '../../../lambdas/core/ids.js';
import type { DeliveryEvent, DeliveryMessage, Subscription } from '../../../lambdas/core/model.js';
import type { ListenerPoster, ListenerResult } from '../../../lambdas/core/ports.js';
import { slotIntervalMs } from '../../../lambdas/core/rate-limit.js';
import { webhookId } from '../../../lambdas/core/signing.js';
import { verifyWebhook } from '../../../lambdas/core/verify.js';
import { handler, useDeliveryDeps } from '../../../lambdas/deliver.js';
import { QUEUES } from '../../../lib/definitions.js';
import { stubAwsEnvironment } from '../../support/aws-env.js';
import { FakeTable } from '../../support/dynamo-fake.js';
import { exampleData } from '../../support/factories.js';
import { type LoopbackListener, startLoopbackListener } from '../../support/loopback-listener.js';
import { recordSdkCalls } from '../../support/sdk-calls.js';
import { aDeliveryRecord, aLambdaContext, anSqsEvent, anSqsRecord } from '../../support/sqs-events.js';
import { aStoredSubscription, subscriptionItem } from '../../support/stored-items.js';

/*
 * The deliver handler's wiring: SQS records in, a batch response out, through the real adapters on a
 * fake table, a real listener on loopback and stubbed SQS and EventBridge clients. What a delivery does
 * (retries, health, signing, isolation) is tested at the use case, test/unit/core/delivery.test.ts.
 */

// Network rule: listeners are http.Servers of ours on 127.0.0.1 and subscriptions name them by IP
// literal, which the SSRF guard never resolves; the SDK is stubbed at the client classes, and its
// endpoints point at a closed loopback port in case a stub did not apply.

const TABLE_NAME = 'commbox-webhooks-test';
const QUEUE_URL = 'http://127.0.0.1:1/000000000000/commbox-deliveries';
const NOW = new Date('2026-03-04T05:06:07.000Z');
const DAY_MS = 24 * 60 * 60 * 1000;

const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
recordSdkCalls('deliver');
let table: FakeTable;
let listener: LoopbackListener;

beforeAll(async () => {
  listener = await startLoopbackListener();
});

afterAll(async () => {
  await listener.close();
});

beforeEach(() => {
  vi.stubEnv('TABLE_NAME', TABLE_NAME);
  vi.stubEnv('DELIVERY_QUEUE_URL', QUEUE_URL);
  vi.stubEnv('ALLOW_LOCAL_TARGETS', 'true');
  vi.stubEnv('RETRY_SCHEDULE', '0,5,10');
  vi.stubEnv('DELIVERY_TIMEOUT_MS', '2000');
  vi.stubEnv('DISABLE_AFTER_DAYS', '5');
  vi.stubEnv('DELIVERY_LOG', 'full');
  stubAwsEnvironment();
  // Only Date is faked: sockets and timers stay real.
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
  logger.setLogLevel('SILENT');
  table = new FakeTable().install(ddb);
  sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
  listener.received.length = 0;
  listener.answer(() => ({ status: 200, body: 'ok' }));
});

afterEach(() => {
  useDeliveryDeps(undefined);
  ddb.reset();
  sqs.reset();
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

interface Delivery {
  readonly subscription: Subscription;
  readonly event: DeliveryEvent;
  readonly message: DeliveryMessage;
}

/** Seeds a subscription (to the loopback listener unless `url` is given); the message carries the event. */
function aDelivery(overrides: Partial<Subscription> = {}): Delivery {
  const subscription = aStoredSubscription({
    url: listener.url(),
    headers: { 'X-Team': 'blue' },
    ...overrides,
  });
  const event: DeliveryEvent = {
    entity: 'Object',
    event: 'OnNew',
    receivedAt: '2026-03-04T05:06:00.000Z',
    data: exampleData('Object', 'OnNew'),
  };
  table.seed(subscriptionItem(subscription));
  return {
    subscription,
    event,
    message: {
      v: 1,
      brand: subscription.brand,
      subscriptionId: subscription.id,
      deliveryId: deliveryIdFor(event.receivedAt, 'acme/evt-1', subscription.id),
      eventKey: 'acme/evt-1',
      event,
    },
  };
}

const invoke = (...records: SQSRecord[]) => handler(anSqsEvent(...records), aLambdaContext('deliver'));

/** The message of attempt `attempt` of its schedule, as the retry before it queued it. */
const atAttempt = (message: DeliveryMessage, attempt: number): DeliveryMessage => ({
  ...message,
  attemptsBefore: attempt - 1,
  runAttemptsBefore: attempt - 1,
});

/** What the handler queued: each entry's delay, group and message. */
const queued = () =>
  sqs.commandCalls(SendMessageBatchCommand).flatMap((call) =>
    (call.args[0].input.Entries ?? []).map((entry) => ({
      queueUrl: call.args[0].input.QueueUrl,
      delaySeconds: entry.DelaySeconds,
      groupId: entry.MessageGroupId,
      message: JSON.parse(entry.MessageBody ?? '{}') as DeliveryMessage,
    })),
  );

/*
 * Reads back through the adapters on a client of the test's own (the same fake table answers it), not the
 * container's client: what the test reads must not count as a command the deliver function sends.
 */
const readBack = createDocumentClient();

/** The delivery as the handler left it in the table, read back through its adapter. */
const stored = ({ message }: Delivery) =>
  new DynamoDeliveryStore(readBack, TABLE_NAME).get(message.subscriptionId, message.deliveryId);

const subscriptionNow = ({ subscription }: Delivery) =>
  new DynamoSubscriptionStore(readBack, TABLE_NAME).get(subscription.brand, subscription.id);

/** A listener client that answers every POST with 200 at once, once `count` were made. */
function answeringTogether(count: number): ListenerPoster {
  const posted: (() => void)[] = [];
  return {
    post: () =>
      new Promise<ListenerResult>((resolve) => {
        posted.push(() => resolve({ outcome: { kind: 'response', status: 200 }, durationMs: 12 }));
        if (posted.length === count) for (const answer of posted) answer();
      }),
  };
}

describe('delivering a webhook', () => {
  it('POSTs the signed payload to the listener over HTTP and records the success in the table', async () => {
    const delivery = aDelivery();
    const [secret] = delivery.subscription.secrets;

    const response = await invoke(aDeliveryRecord(delivery.message));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(listener.received).toHaveLength(1);
    const [received] = listener.received;
    expect(received?.method).toBe('POST');
    expect(received?.path).toBe('/hook');
    expect(received?.headers['content-type']).toBe('application/json');
    expect(received?.headers['x-team']).toBe('blue');
    const verified = verifyWebhook({
      headers: received?.headers ?? {},
      body: received?.body ?? '',
      secrets: secret?.secret ?? '',
      now: NOW,
    });
    expect(verified.id).toBe(webhookId('acme/evt-1', delivery.subscription.id));
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
    expect(await stored(delivery)).toMatchObject({
      id: delivery.message.deliveryId,
      webhookId: verified.id,
      status: 'succeeded',
      data: delivery.event.data,
      attempts: [{ attempt: 1, at: NOW.toISOString(), statusCode: 200, durationMs: expect.any(Number) }],
    });
  });

  it('logs a dropped delivery with its reason and does not retry it', async () => {
    const delivery = aDelivery();
    const message = { ...delivery.message, event: { ...delivery.event, event: 'OnVanished' } };
    const info = vi.spyOn(logger, 'info');

    const response = await invoke(aDeliveryRecord(message));

    expect(response.batchItemFailures).toEqual([]);
    expect(listener.received).toHaveLength(0);
    expect(info).toHaveBeenCalledWith(
      'delivery dropped',
      expect.objectContaining({ reason: 'the catalogue has no Object.OnVanished' }),
    );
  });
});

describe('a batch of deliveries', () => {
  it("takes a rate-limited subscription's slots from its bucket in the table, one after the other", async () => {
    const delivery = aDelivery({ maxRequestsPerSecond: 100 });

    const response = await invoke(aDeliveryRecord(delivery.message), aDeliveryRecord(delivery.message));

    expect(response.batchItemFailures).toEqual([]);
    expect(listener.received).toHaveLength(2);
    // Two slots were taken, one interval apart: the next token is due two intervals after the first.
    expect(table.item(`RATE#${delivery.subscription.id}`, 'RATE')?.dueAt).toBe(
      NOW.getTime() + 2 * slotIntervalMs(100),
    );
  });

  it('leaves the bucket alone for a subscription without a limit', async () => {
    const delivery = aDelivery();

    await invoke(aDeliveryRecord(delivery.message));

    expect(listener.received).toHaveLength(1);
    expect(table.item(`RATE#${delivery.subscription.id}`, 'RATE')).toBeUndefined();
    const updates = ddb.commandCalls(UpdateCommand).map((call) => String(call.args[0].input.Key?.pk));
    expect(updates.filter((pk) => pk.startsWith('RATE#'))).toEqual([]);
  });

  it('reads the subscriptions of three records with one consistent BatchGetItem', async () => {
    const deliveries = ['/a', '/b', '/c'].map((path) => aDelivery({ url: listener.url(path) }));

    const response = await invoke(...deliveries.map((delivery) => aDeliveryRecord(delivery.message)));

    expect(response.batchItemFailures).toEqual([]);
    expect(listener.received.map((received) => received.path).sort()).toEqual(['/a', '/b', '/c']);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
    const reads = ddb
      .commandCalls(BatchGetCommand)
      .map((call) => call.args[0].input.RequestItems?.[TABLE_NAME]);
    expect(reads).toHaveLength(1);
    expect(reads[0]?.Keys).toHaveLength(3);
    expect(reads[0]?.ConsistentRead).toBe(true);
  });

  it('writes the first-attempt successes of one batch with one BatchWriteItem', async () => {
    // The POSTs are answered at once, once all three were made: their records are written in the same
    // turn (real sockets answer in turns of their own).
    useDeliveryDeps({ ...deliveryDeps(readConfig()), listener: answeringTogether(3) });
    const deliveries = ['/a', '/b', '/c'].map((path) => aDelivery({ url: listener.url(path) }));

    const response = await invoke(...deliveries.map((delivery) => aDeliveryRecord(delivery.message)));

    expect(response.batchItemFailures).toEqual([]);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    const writes = ddb
      .commandCalls(BatchWriteCommand)
      .map((call) => call.args[0].input.RequestItems?.[TABLE_NAME]);
    expect(writes).toHaveLength(1);
    expect(writes[0]?.map((request) => request.PutRequest?.Item?.id).sort()).toEqual(
      deliveries.map(({ message }) => message.deliveryId).sort(),
    );
    for (const delivery of deliveries) {
      expect(await stored(delivery)).toMatchObject({
        status: 'succeeded',
        attempts: [{ attempt: 1, statusCode: 200, durationMs: 12 }],
      });
    }
  });

  it('retries every first-attempt success of a batch whose BatchWriteItem failed', async () => {
    useDeliveryDeps({ ...deliveryDeps(readConfig()), listener: answeringTogether(2) });
    table.failWhen((request) => request.operation === 'BatchWrite', new Error('InternalServerError'));
    const deliveries = ['a', 'b'].map((path) => aDelivery({ url: listener.url(`/${path}`) }));

    const response = await invoke(
      ...deliveries.map((delivery, n) => aDeliveryRecord(delivery.message, { messageId: ['a', 'b'][n] })),
    );

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'a' }, { itemIdentifier: 'b' }]);
    for (const delivery of deliveries) expect(await stored(delivery)).toBeUndefined();
  });
});

describe('retrying', () => {
  it('queues a retry as a new message delayed by the Retry-After, and lets the received record succeed', async () => {
    const delivery = aDelivery();
    listener.answer(() => ({ status: 503, headers: { 'Retry-After': '30' }, body: 'busy' }));
    const record = aDeliveryRecord(delivery.message, { receiveCount: 1 });

    const response = await invoke(record);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(queued()).toEqual([
      {
        queueUrl: QUEUE_URL,
        delaySeconds: 30,
        groupId: delivery.subscription.brand,
        message: { ...delivery.message, attemptsBefore: 1, runAttemptsBefore: 1 },
      },
    ]);
    expect(await stored(delivery)).toMatchObject({
      status: 'pending',
      attempts: [{ attempt: 1, statusCode: 503, error: 'HTTP 503: busy' }],
    });
  });

  it("counts attempts from the message, not from SQS's receive count", async () => {
    const delivery = aDelivery();
    listener.answer(() => ({ status: 500 }));

    // A message handed over again (a crash before its delete) is the same attempt, not the next one.
    const response = await invoke(aDeliveryRecord(atAttempt(delivery.message, 2), { receiveCount: 7 }));

    expect(response.batchItemFailures).toEqual([]);
    expect(queued().map((entry) => [entry.delaySeconds, entry.message.runAttemptsBefore])).toEqual([[10, 2]]);
    expect((await stored(delivery))?.attempts).toEqual([expect.objectContaining({ attempt: 2 })]);
  });

  it('fails the record, for SQS to hand it over again, when its retry could not be queued', async () => {
    const delivery = aDelivery();
    listener.answer(() => ({ status: 503 }));
    sqs.on(SendMessageBatchCommand).rejects(new Error('SQS is unavailable'));
    const record = aDeliveryRecord(delivery.message, { messageId: 'unqueued' });

    const response = await invoke(record);

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'unqueued' }] });
    expect((await stored(delivery))?.status).toBe('pending');
  });

  it('gives up after the last attempt of RETRY_SCHEDULE: the record succeeds and the delivery fails', async () => {
    const delivery = aDelivery();
    listener.answer(() => ({ status: 500, body: 'still broken' }));

    const response = await invoke(aDeliveryRecord(atAttempt(delivery.message, 3)));

    expect(response.batchItemFailures).toEqual([]);
    expect(queued()).toEqual([]);
    expect(await stored(delivery)).toMatchObject({
      status: 'failed',
      failureReason: 'HTTP 500; gave up after 3 attempts',
    });
  });

  it('queues again only the delivery whose listener asks for a retry in a mixed batch', async () => {
    const failing = aDelivery({ url: listener.url('/fail') });
    const healthy = aDelivery({ url: listener.url('/ok') });
    listener.answer((request) => ({ status: request.path === '/fail' ? 500 : 200 }));

    const response = await invoke(
      aDeliveryRecord(failing.message, { messageId: 'to-fail' }),
      aDeliveryRecord(healthy.message, { messageId: 'to-ok' }),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(queued().map((entry) => entry.message.deliveryId)).toEqual([failing.message.deliveryId]);
    expect((await stored(failing))?.status).toBe('pending');
    expect((await stored(healthy))?.status).toBe('succeeded');
  });

  it('sends a message that is not due yet on for the rest of its wait, in hops of at most 900 s', async () => {
    const delivery = aDelivery();
    const dueAt = new Date(NOW.getTime() + 2 * 60 * 60 * 1000).toISOString();

    const response = await invoke(aDeliveryRecord({ ...atAttempt(delivery.message, 2), dueAt }));

    expect(response.batchItemFailures).toEqual([]);
    expect(listener.received).toHaveLength(0);
    expect(queued()).toEqual([
      expect.objectContaining({ delaySeconds: 900, message: { ...atAttempt(delivery.message, 2), dueAt } }),
    ]);
  });

  it('returns every record of a batch none of whose retries could be queued, without throwing', async () => {
    const first = aDelivery({ url: listener.url('/a') });
    const second = aDelivery({ url: listener.url('/b') });
    listener.answer(() => ({ status: 503 }));
    sqs.on(SendMessageBatchCommand).rejects(new Error('SQS is unavailable'));

    const response = await invoke(
      aDeliveryRecord(first.message, { messageId: 'a' }),
      aDeliveryRecord(second.message, { messageId: 'b' }),
    );

    expect(response.batchItemFailures).toEqual(
      expect.arrayContaining([{ itemIdentifier: 'a' }, { itemIdentifier: 'b' }]),
    );
    expect(response.batchItemFailures).toHaveLength(2);
  });

  it('reports to each of two concurrent invocations only its own records', async () => {
    // Retries that cannot be queued fail their records.
    sqs.on(SendMessageBatchCommand).rejects(new Error('SQS is unavailable'));
    listener.answer((request) => ({
      status: request.path.endsWith('fail') ? 500 : 200,
      delayMs: request.path === '/slow-fail' ? 50 : 0,
    }));
    const recordTo = (path: string, messageId: string) =>
      aDeliveryRecord(aDelivery({ url: listener.url(path) }).message, { messageId });

    const [first, second] = await Promise.all([
      invoke(recordTo('/slow-fail', 'm-0'), recordTo('/ok-1', 'm-1')),
      invoke(recordTo('/fast-fail', 'm-2'), recordTo('/ok-2', 'm-3')),
    ]);

    expect(first).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-0' }] });
    expect(second).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-2' }] });
  });
});

describe("the subscription's state", () => {
  it('disables in the table a subscription that has failed for DISABLE_AFTER_DAYS', async () => {
    const failingSince = new Date(NOW.getTime() - 6 * DAY_MS).toISOString();
    const delivery = aDelivery({ failingSince });
    listener.answer(() => ({ status: 500 }));

    await invoke(aDeliveryRecord(atAttempt(delivery.message, 3)));

    expect(await subscriptionNow(delivery)).toMatchObject({
      status: 'disabled',
      disabledReason: `no successful delivery for 5 days (failing since ${failingSince})`,
    });
  });

  it.each([
    { case: 'a body that is not JSON', body: 'deliver please' },
    { case: 'an unknown message version', body: JSON.stringify({ v: 2, brand: 'acme' }) },
    {
      case: 'a message without a subscription',
      body: JSON.stringify({ v: 1, brand: 'acme', eventKey: 'k' }),
    },
  ])('drops $case without failing the record', async ({ body }) => {
    aDelivery();
    const error = vi.spyOn(logger, 'error');

    const response = await invoke(anSqsRecord(body, { messageId: 'malformed' }));

    expect(response.batchItemFailures).toEqual([]);
    expect(listener.received).toHaveLength(0);
    expect(ddb.calls()).toHaveLength(0);
    expect(error).toHaveBeenCalledWith('malformed delivery message dropped', { messageId: 'malformed' });
  });
});

describe('the failures-only delivery log', () => {
  beforeEach(() => {
    vi.stubEnv('DELIVERY_LOG', 'failures');
  });

  it('writes nothing for a success at the first attempt', async () => {
    const delivery = aDelivery();

    const response = await invoke(aDeliveryRecord(delivery.message));

    expect(response.batchItemFailures).toEqual([]);
    expect(listener.received).toHaveLength(1);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(0);
  });
});

describe('infrastructure failures', () => {
  it('retries a delivery whose attempt could not be recorded, although its listener was called', async () => {
    const delivery = aDelivery();
    table.failWhen(
      (request) => request.operation === 'Update' || request.operation === 'Put',
      new Error('ProvisionedThroughputExceededException'),
    );
    const record = aDeliveryRecord(delivery.message, { messageId: 'unrecorded', receiveCount: 2 });

    const response = await invoke(record);

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'unrecorded' }]);
    expect(listener.received).toHaveLength(1);
    expect(await stored(delivery)).toBeUndefined();
  });

  it('logs why a delivery record failed, with event, subscription, delivery, error and receive count, at ERROR on its last receive', async () => {
    const delivery = aDelivery();
    table.failWhen(
      (request) => request.operation === 'Get' && request.input.Key?.sk === `SUB#${delivery.subscription.id}`,
      Object.assign(new Error('table is down'), { name: 'InternalServerError' }),
    );
    const warn = vi.spyOn(logger, 'warn');
    const error = vi.spyOn(logger, 'error');

    await invoke(aDeliveryRecord(delivery.message, { messageId: 'unread', receiveCount: 3 }));
    await invoke(
      aDeliveryRecord(delivery.message, {
        messageId: 'unread',
        receiveCount: QUEUES.delivery.maxReceiveCount,
      }),
    );

    const expected = (receiveCount: number) => ({
      messageId: 'unread',
      eventKey: delivery.message.eventKey,
      subscriptionId: delivery.subscription.id,
      deliveryId: delivery.message.deliveryId,
      errorClass: 'InternalServerError',
      errorMessage: 'table is down',
      receiveCount,
      maxReceiveCount: QUEUES.delivery.maxReceiveCount,
    });
    const failures = (spy: typeof warn) =>
      spy.mock.calls.filter(([message]) => String(message).startsWith('record failed'));
    expect(failures(warn)).toEqual([[expect.any(String), expected(3)]]);
    expect(failures(error)).toEqual([
      [expect.stringContaining('DLQ'), expected(QUEUES.delivery.maxReceiveCount)],
    ]);
  });

  it('logs no failure for a delivery whose retry is queued: a retry is not an error', async () => {
    const delivery = aDelivery();
    listener.answer(() => ({ status: 503, body: 'busy' }));
    const warn = vi.spyOn(logger, 'warn');
    const error = vi.spyOn(logger, 'error');

    const response = await invoke(aDeliveryRecord(delivery.message, { messageId: 'busy', receiveCount: 1 }));

    expect(response.batchItemFailures).toEqual([]);
    const failures = [...warn.mock.calls, ...error.mock.calls].filter(([message]) =>
      String(message).startsWith('record failed'),
    );
    expect(failures).toEqual([]);
  });

  it('retries every delivery of a batch whose subscriptions could not be read, calling no listener', async () => {
    table.failWhen((request) => request.operation === 'BatchGet', new Error('InternalServerError'));
    const records = ['/a', '/b'].map((path, n) =>
      aDeliveryRecord(aDelivery({ url: listener.url(path) }).message, { messageId: `unread-${n}` }),
    );

    const response = await invoke(...records);

    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: 'unread-0' },
      { itemIdentifier: 'unread-1' },
    ]);
    expect(listener.received).toHaveLength(0);
  });
});

describe('listener isolation', () => {
  it('parks a delivery whose circuit is open in the table, deletes its message and queues one probe, delayed 30 s', async () => {
    const delivery = aDelivery();
    listener.answer(() => ({ status: 503 }));
    for (let failure = 0; failure < 5; failure += 1) {
      await invoke(aDeliveryRecord(delivery.message, { receiveCount: 1 }));
    }
    const calls = listener.received.length;
    const retries = queued().length;

    const response = await invoke(aDeliveryRecord(atAttempt(delivery.message, 2), { messageId: 'parked' }));

    expect(listener.received).toHaveLength(calls);
    expect(response.batchItemFailures).toEqual([]);
    const { brand, id } = delivery.subscription;
    const parkedSince = String(table.item(`BRAND#${brand}`, `SUB#${id}`)?.parkedSince);
    expect(parkedSince).toMatch(new RegExp(`^${NOW.toISOString().replaceAll('.', '\\.')}/[0-9a-f]{12}$`));
    expect(queued().slice(retries)).toEqual([
      {
        queueUrl: QUEUE_URL,
        delaySeconds: 30,
        groupId: brand,
        message: {
          v: 1,
          brand,
          subscriptionId: id,
          deliveryId: 'circuit-probe',
          eventKey: 'circuit-probe',
          circuit: { step: 'probe', parkedSince, backoffSeconds: 30 },
        },
      },
    ]);
    expect(table.item(`SUB#${id}`, `DLV#${delivery.message.deliveryId}`)).toMatchObject({
      status: 'parked',
      parkedAt: NOW.toISOString(),
      runAttemptsBefore: 1,
      gsi1pk: `DLV#${id}#parked`,
      gsi1sk: delivery.message.deliveryId,
    });
  });

  it('probes the oldest parked delivery, and after a success drains the parked ones back onto the queue', async () => {
    const delivery = aDelivery();
    const { brand, id } = delivery.subscription;
    listener.answer(() => ({ status: 503 }));
    for (let failure = 0; failure < 5; failure += 1) {
      await invoke(aDeliveryRecord(delivery.message, { receiveCount: 1 }));
    }
    await invoke(aDeliveryRecord(atAttempt(delivery.message, 2), { messageId: 'parked' }));
    const [probe] = queued().filter((entry) => entry.message.circuit?.step === 'probe');
    listener.answer(() => ({ status: 200 }));
    const calls = listener.received.length;

    const probed = await invoke(aDeliveryRecord(probe?.message as DeliveryMessage, { messageId: 'probe' }));

    expect(probed.batchItemFailures).toEqual([]);
    expect(listener.received).toHaveLength(calls + 1);
    expect(table.item(`BRAND#${brand}`, `SUB#${id}`)?.parkedSince).toBeUndefined();
    expect(table.item(`SUB#${id}`, `DLV#${delivery.message.deliveryId}`)).toMatchObject({
      status: 'succeeded',
    });
    const [drain] = queued().filter((entry) => entry.message.circuit?.step === 'drain');
    expect(drain).toMatchObject({ delaySeconds: undefined, groupId: brand });

    // Nothing is left parked: the drain finds none and stops.
    const drained = await invoke(aDeliveryRecord(drain?.message as DeliveryMessage, { messageId: 'drain' }));
    expect(drained.batchItemFailures).toEqual([]);
    expect(queued().filter((entry) => entry.message.circuit?.step === 'drain')).toHaveLength(1);
  });

  it('delivers a full batch for one quick listener in one invocation, at most eight requests at a time', async () => {
    let inFlight = 0;
    let peak = 0;
    listener.answer(() => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      setTimeout(() => {
        inFlight -= 1;
      }, 50);
      return { status: 200, delayMs: 50 };
    });
    const records = Array.from({ length: 10 }, (_, n) =>
      aDeliveryRecord(aDelivery().message, { messageId: `m-${n}` }),
    );

    const response = await invoke(...records);

    expect(response.batchItemFailures).toEqual([]);
    expect(listener.received).toHaveLength(10);
    expect(peak).toBe(8);
  });
});

describe('operational events', () => {
  const eventBridge = mockClient(EventBridgeClient);
  const putEvents = () =>
    eventBridge
      .commandCalls(PutEventsCommand)
      .flatMap((call) => call.args[0].input.Entries ?? [])
      .map((entry) => ({
        bus: entry.EventBusName,
        source: entry.Source,
        type: entry.DetailType,
        detail: JSON.parse(entry.Detail ?? '{}'),
      }));

  beforeEach(() => {
    vi.stubEnv('EVENT_BUS_NAME', 'webhooks-bus');
    vi.stubEnv('AWS_ENDPOINT_URL_EVENTBRIDGE', 'http://127.0.0.1:1');
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: '1' }] });
  });
  afterEach(() => eventBridge.reset());

  it('puts Subscription.Disabled on the bus when a listener answers 410 Gone', async () => {
    const delivery = aDelivery();
    listener.answer(() => ({ status: 410 }));

    await invoke(aDeliveryRecord(delivery.message));

    expect(putEvents()).toEqual([
      {
        bus: 'webhooks-bus',
        source: 'commbox.webhooks',
        type: 'Subscription.Disabled',
        detail: expect.objectContaining({
          brand: 'acme',
          subscriptionId: delivery.subscription.id,
          reason: 'the listener answered 410 Gone',
        }),
      },
    ]);
  });

  it('still records the delivery when the bus refuses the event', async () => {
    eventBridge.on(PutEventsCommand).rejects(new Error('AccessDeniedException'));
    const delivery = aDelivery();
    listener.answer(() => ({ status: 410 }));

    const response = await invoke(aDeliveryRecord(delivery.message));

    expect(response.batchItemFailures).toEqual([]);
    expect(await subscriptionNow(delivery)).toMatchObject({ status: 'disabled' });
    expect(await stored(delivery)).toMatchObject({ status: 'failed' });
  });
});
