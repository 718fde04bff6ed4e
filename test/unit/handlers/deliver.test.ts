import type { IncomingHttpHeaders } from 'node:http';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { ChangeMessageVisibilityCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
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
import { deliveryDeps } from '../../../lambdas/commons/delivery-deps.js';
import { logger } from '../../../lambdas/commons/logger.js';
import { readConfig } from '../../../lambdas/config.js';
import { deliveryIdFor } from '../../../lambdas/core/ids.js';
import type { DeliveryEvent, DeliveryMessage, Subscription } from '../../../lambdas/core/model.js';
import { expiresAtEpoch } from '../../../lambdas/core/model.js';
import type { ListenerPoster, ListenerResult } from '../../../lambdas/core/ports.js';
import { generateSecret, webhookId } from '../../../lambdas/core/signing.js';
import { verifyWebhook, WebhookVerificationError } from '../../../lambdas/core/verify.js';
import { handler, useDeliveryDeps } from '../../../lambdas/deliver.js';
import { stubAwsEnvironment } from '../../support/aws-env.js';
import { FakeTable } from '../../support/dynamo-fake.js';
import { exampleData } from '../../support/factories.js';
import {
  aClosedLoopbackUrl,
  type LoopbackListener,
  startLoopbackListener,
} from '../../support/loopback-listener.js';
import { aDeliveryRecord, aLambdaContext, anSqsEvent, anSqsRecord } from '../../support/sqs-events.js';
import { aStoredSubscription, subscriptionItem } from '../../support/stored-items.js';

// Network rule: listeners are http.Servers of ours on 127.0.0.1 and subscriptions name them by IP
// literal, which the SSRF guard never resolves; the SDK is stubbed at the client classes, and its
// endpoints point at a closed loopback port in case a stub did not apply.

const TABLE_NAME = 'commbox-webhooks-test';
const QUEUE_URL = 'http://127.0.0.1:1/000000000000/commbox-deliveries';
const NOW = new Date('2026-03-04T05:06:07.000Z');
const DAY_MS = 24 * 60 * 60 * 1000;

const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
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
  sqs.on(ChangeMessageVisibilityCommand).resolves({});
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
  readonly event: DeliveryEvent & { readonly key: string };
  readonly message: DeliveryMessage;
}

/** acme's Object.OnNew `key` with the catalogue's example data, as a delivery message carries it. */
function anEvent(key = 'acme/evt-1'): DeliveryEvent & { readonly key: string } {
  return {
    key,
    entity: 'Object',
    event: 'OnNew',
    receivedAt: '2026-03-04T05:06:00.000Z',
    data: exampleData('Object', 'OnNew'),
  };
}

/** Seeds a subscription (to the loopback listener unless `url` is given); the message carries the event. */
function aDelivery(overrides: Partial<Subscription> = {}): Delivery {
  const subscription = aStoredSubscription({
    url: listener.url(),
    headers: { 'X-Team': 'blue' },
    ...overrides,
  });
  const { key, ...event } = anEvent();
  table.seed(subscriptionItem(subscription));
  return {
    subscription,
    event: { key, ...event },
    message: {
      v: 1,
      brand: subscription.brand,
      subscriptionId: subscription.id,
      deliveryId: deliveryIdFor(event.receivedAt, key, subscription.id),
      eventKey: key,
      event,
    },
  };
}

const invoke = (...records: SQSRecord[]) => handler(anSqsEvent(...records), aLambdaContext('deliver'));

/** The delivery's item as the handler left it. */
const deliveryItem = ({ message }: Delivery) =>
  table.item(`SUB#${message.subscriptionId}`, `DLV#${message.deliveryId}`);

const subscriptionNow = ({ subscription }: Delivery) =>
  table.item(`BRAND#${subscription.brand}`, `SUB#${subscription.id}`);

/** Whether `received` carries a valid signature by `secret` alone. */
const verifies = (secret: string, received: { headers: IncomingHttpHeaders; body: string }) => {
  try {
    verifyWebhook({
      headers: received.headers,
      body: received.body,
      secrets: secret,
      now: NOW,
      parseJson: false,
    });
    return true;
  } catch (error) {
    if (error instanceof WebhookVerificationError) return false;
    throw error;
  }
};

describe('delivering a webhook', () => {
  it('POSTs the signed JSON payload with its content type and custom header, and records the success', async () => {
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
    expect(verified.timestamp).toBe(NOW.getTime() / 1000);
    expect(verified.payload).toEqual({
      Event: {
        Subscription: 'Object',
        Name: 'OnNew',
        Brand: 'acme',
        Object: expect.objectContaining({ Id: 901731, StreamId: 71 }),
      },
    });
    expect(deliveryItem(delivery)).toMatchObject({
      id: delivery.message.deliveryId,
      subscriptionId: delivery.subscription.id,
      eventKey: 'acme/evt-1',
      webhookId: verified.id,
      status: 'succeeded',
      attempts: [{ attempt: 1, at: NOW.toISOString(), statusCode: 200, durationMs: expect.any(Number) }],
    });
    // A success at the first attempt has nothing to append to: the delivery is put whole, in one write.
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    const writes = ddb.commandCalls(PutCommand).map((call) => call.args[0].input);
    expect(writes).toEqual([{ TableName: TABLE_NAME, Item: deliveryItem(delivery) }]);
    expect(deliveryItem(delivery)).toEqual({
      pk: `SUB#${delivery.subscription.id}`,
      sk: `DLV#${delivery.message.deliveryId}`,
      expiresAt: expiresAtEpoch(delivery.event.receivedAt, 30),
      id: delivery.message.deliveryId,
      subscriptionId: delivery.subscription.id,
      brand: 'acme',
      eventKey: 'acme/evt-1',
      webhookId: verified.id,
      entity: 'Object',
      event: 'OnNew',
      receivedAt: delivery.event.receivedAt,
      data: JSON.stringify(delivery.event.data),
      status: 'succeeded',
      createdAt: NOW.toISOString(),
      updatedAt: NOW.toISOString(),
      attempts: [{ attempt: 1, at: NOW.toISOString(), statusCode: 200, durationMs: expect.any(Number) }],
    });
    expect(sqs.commandCalls(ChangeMessageVisibilityCommand)).toHaveLength(0);
  });

  it('sends a SOAP subscription a signed envelope as text/xml with a SOAPAction', async () => {
    const delivery = aDelivery({ format: 'soap' });

    await invoke(aDeliveryRecord(delivery.message));

    const [received] = listener.received;
    expect(received?.headers['content-type']).toBe('text/xml; charset=utf-8');
    expect(received?.headers.soapaction).toBe('""');
    expect(received?.body).toMatch(/^<\?xml version="1.0" encoding="utf-8"\?><soap:Envelope /);
    expect(received?.body).toContain(
      '<Event Subscription="Object" Name="OnNew" Brand="acme"><Object><Id>901731</Id>',
    );
    expect(received && verifies(delivery.subscription.secrets[0]?.secret ?? '', received)).toBe(true);
    expect(deliveryItem(delivery)?.status).toBe('succeeded');
  });

  it('delivers a test event even while the subscription is paused', async () => {
    const delivery = aDelivery({ status: 'paused' });

    const response = await invoke(aDeliveryRecord({ ...delivery.message, test: true }));

    expect(response.batchItemFailures).toEqual([]);
    expect(listener.received).toHaveLength(1);
    expect(deliveryItem(delivery)?.status).toBe('succeeded');
  });

  it('delivers with one read, the subscription: the event rides in the message', async () => {
    const subscription = aStoredSubscription({ url: listener.url() });
    table.seed(subscriptionItem(subscription));
    const { key, ...event } = anEvent('acme/evt-7');
    const message: DeliveryMessage = {
      v: 1,
      brand: 'acme',
      subscriptionId: subscription.id,
      deliveryId: deliveryIdFor(event.receivedAt, key, subscription.id),
      eventKey: key,
      event,
    };

    const response = await invoke(aDeliveryRecord(message));

    expect(response.batchItemFailures).toEqual([]);
    const [received] = listener.received;
    expect(JSON.parse(received?.body ?? '{}').Event).toMatchObject({
      Subscription: 'Object',
      Name: 'OnNew',
      Brand: 'acme',
      Object: expect.objectContaining({ Id: 901731 }),
    });
    const reads = ddb.commandCalls(GetCommand).map((call) => call.args[0].input.Key);
    expect(reads).toEqual([{ pk: 'BRAND#acme', sk: `SUB#${subscription.id}` }]);
    expect(table.item(`SUB#${subscription.id}`, `DLV#${message.deliveryId}`)).toMatchObject({
      status: 'succeeded',
      eventKey: 'acme/evt-7',
      receivedAt: event.receivedAt,
      data: JSON.stringify(event.data),
      expiresAt: expiresAtEpoch(event.receivedAt, 30),
    });
  });

  it('drops, with its reason, a message whose event the catalogue does not know', async () => {
    const delivery = aDelivery();
    const message = { ...delivery.message, event: { ...delivery.event, event: 'OnVanished' } };
    const info = vi.spyOn(logger, 'info');

    const response = await invoke(aDeliveryRecord(message));

    expect(response.batchItemFailures).toEqual([]);
    expect(listener.received).toHaveLength(0);
    expect(deliveryItem(delivery)).toBeUndefined();
    expect(info).toHaveBeenCalledWith(
      'delivery dropped',
      expect.objectContaining({ reason: 'the catalogue has no Object.OnVanished' }),
    );
  });
});

describe('a batch of deliveries', () => {
  it('reads the subscriptions of three records with one consistent BatchGetItem', async () => {
    const deliveries = ['/a', '/b', '/c'].map((path) => aDelivery({ url: listener.url(path) }));

    const response = await invoke(...deliveries.map((delivery) => aDeliveryRecord(delivery.message)));

    expect(response.batchItemFailures).toEqual([]);
    expect(listener.received.map((received) => received.path).sort()).toEqual(['/a', '/b', '/c']);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
    expect(ddb.commandCalls(BatchGetCommand).map((call) => call.args[0].input)).toEqual([
      {
        RequestItems: {
          [TABLE_NAME]: {
            Keys: deliveries.map(({ subscription }) => ({ pk: 'BRAND#acme', sk: `SUB#${subscription.id}` })),
            ConsistentRead: true,
          },
        },
      },
    ]);
  });

  it('writes the first-attempt successes of one batch with one BatchWriteItem', async () => {
    // A listener client that answers every POST at once, once all three were made: their records are
    // written in the same turn (real sockets answer in turns of their own).
    const posted: (() => void)[] = [];
    const poster: ListenerPoster = {
      post: () =>
        new Promise<ListenerResult>((resolve) => {
          posted.push(() => resolve({ outcome: { kind: 'response', status: 200 }, durationMs: 12 }));
          if (posted.length === 3) for (const answer of posted) answer();
        }),
    };
    useDeliveryDeps({ ...deliveryDeps(readConfig()), listener: poster });
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
      expect(deliveryItem(delivery)).toMatchObject({
        status: 'succeeded',
        attempts: [{ attempt: 1, statusCode: 200, durationMs: 12 }],
      });
    }
  });

  it('retries every first-attempt success of a batch whose BatchWriteItem failed', async () => {
    const posted: (() => void)[] = [];
    const poster: ListenerPoster = {
      post: () =>
        new Promise<ListenerResult>((resolve) => {
          posted.push(() => resolve({ outcome: { kind: 'response', status: 200 }, durationMs: 12 }));
          if (posted.length === 2) for (const answer of posted) answer();
        }),
    };
    useDeliveryDeps({ ...deliveryDeps(readConfig()), listener: poster });
    table.failWhen((request) => request.operation === 'BatchWrite', new Error('InternalServerError'));
    const records = ['a', 'b'].map((path) =>
      aDeliveryRecord(aDelivery({ url: listener.url(`/${path}`) }).message, { messageId: path }),
    );

    const response = await invoke(...records);

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'a' }, { itemIdentifier: 'b' }]);
    expect(table.itemsUnder('SUB#')).toEqual([]);
  });
});

describe('retrying', () => {
  it('retries a 503 after its Retry-After delay, leaving the delivery pending', async () => {
    const delivery = aDelivery();
    listener.answer(() => ({ status: 503, headers: { 'Retry-After': '30' }, body: 'busy' }));
    const record = aDeliveryRecord(delivery.message, { receiveCount: 1 });

    const response = await invoke(record);

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: record.messageId }] });
    expect(sqs.commandCalls(ChangeMessageVisibilityCommand).map((call) => call.args[0].input)).toEqual([
      { QueueUrl: QUEUE_URL, ReceiptHandle: record.receiptHandle, VisibilityTimeout: 30 },
    ]);
    expect(deliveryItem(delivery)).toMatchObject({
      status: 'pending',
      nextAttemptAt: new Date(NOW.getTime() + 30_000).toISOString(),
      attempts: [{ attempt: 1, statusCode: 503, error: 'HTTP 503: busy' }],
    });
    expect(deliveryItem(delivery)).not.toHaveProperty('failureReason');
  });

  it('retries a refused connection after the next delay of the schedule', async () => {
    const delivery = aDelivery({ url: await aClosedLoopbackUrl() });
    const record = aDeliveryRecord(delivery.message);

    const response = await invoke(record);

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(sqs.commandCalls(ChangeMessageVisibilityCommand)[0]?.args[0].input.VisibilityTimeout).toBe(5);
    expect(deliveryItem(delivery)).toMatchObject({
      status: 'pending',
      attempts: [{ attempt: 1, error: 'connection failed (ECONNREFUSED)' }],
    });
  });

  it("follows the subscription's own retry schedule over the default", async () => {
    const delivery = aDelivery({ retrySchedule: [0, 120] });
    listener.answer(() => ({ status: 500 }));

    await invoke(aDeliveryRecord(delivery.message));

    expect(sqs.commandCalls(ChangeMessageVisibilityCommand)[0]?.args[0].input.VisibilityTimeout).toBe(120);
  });

  it('gives up after the last attempt of the schedule: the delivery fails and the message is deleted', async () => {
    const delivery = aDelivery();
    listener.answer(() => ({ status: 500, body: 'still broken' }));

    const response = await invoke(aDeliveryRecord(delivery.message, { receiveCount: 3 }));

    expect(response.batchItemFailures).toEqual([]);
    expect(sqs.commandCalls(ChangeMessageVisibilityCommand)).toHaveLength(0);
    expect(deliveryItem(delivery)).toMatchObject({
      status: 'failed',
      gsi1pk: `DLV#${delivery.subscription.id}#failed`,
      failureReason: 'HTTP 500; gave up after 3 attempts',
      attempts: [{ attempt: 3, statusCode: 500, error: 'HTTP 500; gave up after 3 attempts: still broken' }],
    });
    expect(deliveryItem(delivery)).not.toHaveProperty('nextAttemptAt');
  });

  it('sends the same webhook-id on a retry and appends every attempt to the delivery', async () => {
    const delivery = aDelivery();
    listener.answer(() => ({ status: 500 }));
    await invoke(aDeliveryRecord(delivery.message, { receiveCount: 1 }));
    listener.answer(() => ({ status: 200 }));
    vi.setSystemTime(new Date(NOW.getTime() + 5_000));

    const response = await invoke(aDeliveryRecord(delivery.message, { receiveCount: 2 }));

    expect(response.batchItemFailures).toEqual([]);
    const ids = listener.received.map((received) => received.headers['webhook-id']);
    expect(ids).toEqual([webhookId('acme/evt-1', delivery.subscription.id), ids[0]]);
    expect(deliveryItem(delivery)).toMatchObject({
      status: 'succeeded',
      createdAt: NOW.toISOString(),
      attempts: [
        { attempt: 1, statusCode: 500 },
        { attempt: 2, statusCode: 200 },
      ],
    });
    expect(deliveryItem(delivery)).not.toHaveProperty('nextAttemptAt');
  });

  it('reports only the record whose listener asks for a retry in a mixed batch', async () => {
    const failing = aDelivery({ url: listener.url('/fail') });
    const healthy = aDelivery({ url: listener.url('/ok') });
    listener.answer((request) => ({ status: request.path === '/fail' ? 500 : 200 }));
    const retried = aDeliveryRecord(failing.message, { messageId: 'to-fail' });

    const response = await invoke(retried, aDeliveryRecord(healthy.message, { messageId: 'to-ok' }));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'to-fail' }] });
    expect(
      sqs.commandCalls(ChangeMessageVisibilityCommand).map((call) => call.args[0].input.ReceiptHandle),
    ).toEqual([retried.receiptHandle]);
    expect(deliveryItem(failing)?.status).toBe('pending');
    expect(deliveryItem(healthy)?.status).toBe('succeeded');
  });

  it('returns every record of a batch of retries without throwing', async () => {
    const first = aDelivery({ url: listener.url('/a') });
    const second = aDelivery({ url: listener.url('/b') });
    listener.answer(() => ({ status: 503 }));

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
  it('disables the subscription when the listener answers 410 Gone, and does not retry', async () => {
    const delivery = aDelivery();
    listener.answer(() => ({ status: 410 }));

    const response = await invoke(aDeliveryRecord(delivery.message));

    expect(response.batchItemFailures).toEqual([]);
    expect(sqs.commandCalls(ChangeMessageVisibilityCommand)).toHaveLength(0);
    expect(subscriptionNow(delivery)).toMatchObject({
      status: 'disabled',
      disabledReason: 'the listener answered 410 Gone',
      updatedAt: NOW.toISOString(),
      version: 2,
    });
    const disable = ddb
      .commandCalls(UpdateCommand)
      .map((call) => call.args[0].input)
      .find((input) => input.Key?.sk === `SUB#${delivery.subscription.id}`);
    expect(disable?.ExpressionAttributeValues).toMatchObject({
      ':disabled': 'disabled',
      ':reason': 'the listener answered 410 Gone',
    });
    expect(deliveryItem(delivery)).toMatchObject({ status: 'failed', attempts: [{ statusCode: 410 }] });
  });

  it.each(['paused', 'disabled'] as const)(
    'records a failed attempt for a %s subscription without calling its listener',
    async (status) => {
      const delivery = aDelivery({ status });

      const response = await invoke(aDeliveryRecord(delivery.message));

      expect(response.batchItemFailures).toEqual([]);
      expect(listener.received).toHaveLength(0);
      expect(deliveryItem(delivery)).toMatchObject({
        status: 'failed',
        failureReason: `the subscription is ${status}`,
        attempts: [{ attempt: 1, durationMs: 0, error: `the subscription is ${status}` }],
      });
    },
  );

  it('drops a delivery whose subscription was deleted: no call, no record, no retry', async () => {
    const delivery = aDelivery();
    const orphan = { ...delivery.message, subscriptionId: 'sub_DELETEDDELETED00' };

    const response = await invoke(aDeliveryRecord(orphan));

    expect(response.batchItemFailures).toEqual([]);
    expect(listener.received).toHaveLength(0);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
    expect(table.itemsUnder('SUB#')).toEqual([]);
  });

  it('delivers a legacy message without its event (queued by an older build) from the event item that build stored', async () => {
    const delivery = aDelivery();
    const { event: _event, ...legacy } = delivery.message;
    const { key, ...event } = delivery.event;
    table.seed({ ...event, key, brand: 'acme', envelopeId: 'eb-1', pk: `EVENT#${key}`, sk: 'EVENT' });

    const response = await invoke(anSqsRecord(JSON.stringify(legacy), { messageId: 'legacy' }));

    expect(response.batchItemFailures).toEqual([]);
    expect(JSON.parse(listener.received[0]?.body ?? '{}').Event.Object).toMatchObject({ Id: 901731 });
    // Its record keeps the event from now on.
    expect(deliveryItem(delivery)).toMatchObject({ status: 'succeeded', data: JSON.stringify(event.data) });
  });

  it('drops a legacy message without its event whose event item expired (or is a claim without data)', async () => {
    const delivery = aDelivery();
    const { event: _event, ...legacy } = delivery.message;
    const info = vi.spyOn(logger, 'info');
    table.seed({ key: 'acme/evt-1', brand: 'acme', envelopeId: 'eb-1', pk: 'EVENT#acme/evt-1', sk: 'EVENT' });

    const response = await invoke(anSqsRecord(JSON.stringify(legacy), { messageId: 'legacy' }));

    expect(response.batchItemFailures).toEqual([]);
    expect(listener.received).toHaveLength(0);
    expect(table.itemsUnder('SUB#')).toEqual([]);
    expect(info).toHaveBeenCalledWith(
      'delivery dropped',
      expect.objectContaining({ reason: 'the event has expired' }),
    );
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

    const response = await invoke(anSqsRecord(body, { messageId: 'malformed' }));

    expect(response.batchItemFailures).toEqual([]);
    expect(listener.received).toHaveLength(0);
    expect(ddb.calls()).toHaveLength(0);
  });
});

describe('signing secrets', () => {
  it('signs with both secrets during a rotation, and each signature verifies with its own secret', async () => {
    const previous = generateSecret();
    const current = generateSecret();
    const { message } = aDelivery({
      secrets: [
        {
          secret: previous,
          createdAt: '2026-01-01T00:00:00.000Z',
          expiresAt: new Date(NOW.getTime() + DAY_MS).toISOString(),
        },
        { secret: current, createdAt: NOW.toISOString() },
      ],
    });

    await invoke(aDeliveryRecord(message));

    const [received] = listener.received;
    const signatures = String(received?.headers['webhook-signature']).split(' ');
    expect(signatures).toHaveLength(2);
    for (const [index, secret] of [previous, current].entries()) {
      const alone = {
        headers: { ...received?.headers, 'webhook-signature': signatures[index] },
        body: received?.body ?? '',
      };
      expect(verifies(secret, alone)).toBe(true);
    }
  });

  it('no longer signs with a secret whose overlap has expired', async () => {
    const expired = generateSecret();
    const current = generateSecret();
    const { message } = aDelivery({
      secrets: [
        {
          secret: expired,
          createdAt: '2026-01-01T00:00:00.000Z',
          expiresAt: new Date(NOW.getTime() - 1000).toISOString(),
        },
        { secret: current, createdAt: '2026-03-03T05:06:07.000Z' },
      ],
    });

    await invoke(aDeliveryRecord(message));

    const [received] = listener.received;
    expect(String(received?.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(received && verifies(current, received)).toBe(true);
    expect(received && verifies(expired, received)).toBe(false);
  });
});

describe('the failing clock', () => {
  it('starts at the first failure after a success', async () => {
    const delivery = aDelivery();
    listener.answer(() => ({ status: 500 }));

    await invoke(aDeliveryRecord(delivery.message));

    expect(subscriptionNow(delivery)).toMatchObject({ status: 'active', failingSince: NOW.toISOString() });
  });

  it('keeps the subscription active while it has failed for less than DISABLE_AFTER_DAYS', async () => {
    const failingSince = new Date(NOW.getTime() - 4 * DAY_MS).toISOString();
    const delivery = aDelivery({ failingSince });
    listener.answer(() => ({ status: 500 }));

    await invoke(aDeliveryRecord(delivery.message));

    expect(subscriptionNow(delivery)).toMatchObject({ status: 'active', failingSince });
  });

  it('disables a subscription that has failed for DISABLE_AFTER_DAYS, and says why', async () => {
    const failingSince = new Date(NOW.getTime() - 6 * DAY_MS).toISOString();
    const delivery = aDelivery({ failingSince });
    listener.answer(() => ({ status: 500 }));

    await invoke(aDeliveryRecord(delivery.message, { receiveCount: 3 }));

    expect(subscriptionNow(delivery)).toMatchObject({
      status: 'disabled',
      disabledReason: `no successful delivery for 5 days (failing since ${failingSince})`,
    });
    expect(deliveryItem(delivery)?.status).toBe('failed');
  });

  it('is cleared by a success', async () => {
    const delivery = aDelivery({ failingSince: new Date(NOW.getTime() - DAY_MS).toISOString() });

    await invoke(aDeliveryRecord(delivery.message));

    expect(subscriptionNow(delivery)).not.toHaveProperty('failingSince');
    expect(subscriptionNow(delivery)?.status).toBe('active');
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
    expect(table.itemsUnder('SUB#')).toEqual([]);
  });

  it('writes a success that needed a retry', async () => {
    const delivery = aDelivery();

    await invoke(aDeliveryRecord(delivery.message, { receiveCount: 2 }));

    expect(deliveryItem(delivery)).toMatchObject({ status: 'succeeded', attempts: [{ attempt: 2 }] });
  });
});

describe('infrastructure failures', () => {
  it('retries a delivery whose attempt could not be recorded, although its listener was called', async () => {
    // A success after a retry: appended to the delivery with an UpdateItem, which fails.
    const delivery = aDelivery();
    table.failWhen(
      (request) =>
        request.operation === 'Update' && request.input.Key?.sk === `DLV#${delivery.message.deliveryId}`,
      new Error('ProvisionedThroughputExceededException'),
    );
    const record = aDeliveryRecord(delivery.message, { messageId: 'unrecorded', receiveCount: 2 });

    const response = await invoke(
      record,
      aDeliveryRecord(aDelivery({ url: listener.url('/other') }).message),
    );

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'unrecorded' }]);
    expect(listener.received.map((received) => received.path).sort()).toEqual(['/hook', '/other']);
    expect(deliveryItem(delivery)).toBeUndefined();
  });

  it('retries a first-attempt success whose delivery could not be put, although its listener was called', async () => {
    const delivery = aDelivery();
    table.failWhen(
      (request) =>
        request.operation === 'Put' && request.input.Item?.sk === `DLV#${delivery.message.deliveryId}`,
      new Error('ProvisionedThroughputExceededException'),
    );

    const response = await invoke(aDeliveryRecord(delivery.message, { messageId: 'unrecorded' }));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'unrecorded' }]);
    expect(listener.received).toHaveLength(1);
    expect(deliveryItem(delivery)).toBeUndefined();
  });

  it('retries a delivery whose subscription could not be read, without calling the listener', async () => {
    const delivery = aDelivery();
    table.failWhen(
      (request) => request.operation === 'Get' && request.input.Key?.sk === `SUB#${delivery.subscription.id}`,
      new Error('InternalServerError'),
    );
    const record = aDeliveryRecord(delivery.message, { messageId: 'unread' });

    const response = await invoke(record);

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'unread' }]);
    expect(listener.received).toHaveLength(0);
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
  it('opens the circuit after five failures in a row and defers the next delivery without calling the listener', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const delivery = aDelivery();
    listener.answer(() => ({ status: 503 }));
    for (let failure = 0; failure < 5; failure += 1) {
      await invoke(aDeliveryRecord(delivery.message, { receiveCount: 1 }));
    }
    const calls = listener.received.length;

    const response = await invoke(
      aDeliveryRecord(delivery.message, { receiveCount: 2, messageId: 'deferred' }),
    );

    expect(listener.received).toHaveLength(calls);
    expect(response.batchItemFailures).toEqual([]);
    const entry = sqs.commandCalls(SendMessageBatchCommand)[0]?.args[0].input.Entries?.[0];
    expect(entry?.DelaySeconds).toBe(30);
    // The receive that was deferred made no attempt; the one before it did, and keeps its place.
    expect(JSON.parse(entry?.MessageBody ?? '{}')).toMatchObject({
      deliveryId: delivery.message.deliveryId,
      attemptsBefore: 1,
      runAttemptsBefore: 1,
    });
  });

  it('lets a probe through once the cool-down has passed, and closes the circuit on its success', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const delivery = aDelivery();
    listener.answer(() => ({ status: 500 }));
    for (let failure = 0; failure < 5; failure += 1) await invoke(aDeliveryRecord(delivery.message));
    listener.answer(() => ({ status: 200 }));
    vi.setSystemTime(new Date(NOW.getTime() + 31_000));
    const calls = listener.received.length;

    await invoke(aDeliveryRecord(delivery.message));
    await invoke(aDeliveryRecord(delivery.message));

    expect(listener.received).toHaveLength(calls + 2);
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
  });

  /** Ten deliveries to one listener, which answers after `delayMs`; the peak of its requests in flight. */
  function tenToOneListener(delayMs: number) {
    let inFlight = 0;
    const peak = { value: 0 };
    listener.answer(() => {
      inFlight += 1;
      peak.value = Math.max(peak.value, inFlight);
      setTimeout(() => {
        inFlight -= 1;
      }, delayMs);
      return { status: 200, delayMs };
    });
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const records = Array.from({ length: 10 }, (_, n) =>
      aDeliveryRecord(aDelivery().message, { messageId: `m-${n}` }),
    );
    return { records, peak };
  }

  it('delivers a full batch for one quick listener in one invocation, at most eight requests at a time', async () => {
    const { records, peak } = tenToOneListener(50);

    const response = await invoke(...records);

    expect(response.batchItemFailures).toEqual([]);
    expect(listener.received).toHaveLength(10);
    expect(peak.value).toBe(8);
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
  });

  it('defers, without an attempt, the deliveries that wait longer than half a second for a slow listener', async () => {
    const { records, peak } = tenToOneListener(800);

    const response = await invoke(...records);

    expect(response.batchItemFailures).toEqual([]);
    expect(listener.received).toHaveLength(8);
    expect(peak.value).toBe(8);
    const deferred = sqs
      .commandCalls(SendMessageBatchCommand)
      .flatMap((call) => call.args[0].input.Entries ?? []);
    expect(deferred).toHaveLength(2);
    expect(deferred.map((entry) => entry.DelaySeconds)).toEqual([1, 1]);
  });

  it('frees a half-open circuit whose probe failed before anything was sent, and retries the record', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const delivery = aDelivery();
    let mode: 'fail' | 'throw' | 'ok' = 'fail';
    let posts = 0;
    const poster: ListenerPoster = {
      post: async () => {
        if (mode === 'throw') throw new Error('a bug before the request');
        posts += 1;
        return { outcome: { kind: 'response', status: mode === 'fail' ? 503 : 200 }, durationMs: 1 };
      },
    };
    useDeliveryDeps({ ...deliveryDeps(readConfig()), listener: poster });
    for (let failure = 0; failure < 5; failure += 1) await invoke(aDeliveryRecord(delivery.message));
    vi.setSystemTime(new Date(NOW.getTime() + 31_000));
    mode = 'throw';

    const probe = await invoke(aDeliveryRecord(delivery.message, { messageId: 'probe' }));
    mode = 'ok';
    vi.setSystemTime(new Date(NOW.getTime() + 31_000 + 301_000));
    const next = await invoke(aDeliveryRecord(delivery.message, { messageId: 'next' }));

    expect(probe.batchItemFailures).toEqual([{ itemIdentifier: 'probe' }]);
    // Past the (doubled) cool-down a new probe goes: the one that threw did not keep the circuit probing.
    expect(next.batchItemFailures).toEqual([]);
    expect(posts).toBe(6);
  });

  it('keeps delivering to a healthy listener while another one has an open circuit', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const broken = aDelivery({ url: listener.url('/broken') });
    listener.answer((request) => ({ status: request.path === '/broken' ? 500 : 200 }));
    for (let failure = 0; failure < 5; failure += 1) await invoke(aDeliveryRecord(broken.message));
    const healthy = aDelivery({ id: 'sub_healthyhealthyheal', url: listener.url('/healthy') });

    const response = await invoke(
      aDeliveryRecord(broken.message, { messageId: 'broken' }),
      aDeliveryRecord(healthy.message, { messageId: 'healthy' }),
    );

    expect(response.batchItemFailures).toEqual([]);
    expect(listener.received.filter((received) => received.path === '/healthy')).toHaveLength(1);
    expect(listener.received.filter((received) => received.path === '/broken')).toHaveLength(5);
  });
});

describe('operational events', () => {
  const eventBridge = mockClient(EventBridgeClient);
  const putDetailTypes = () =>
    eventBridge
      .commandCalls(PutEventsCommand)
      .flatMap((call) => call.args[0].input.Entries ?? [])
      .map((entry) => ({
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

    expect(putDetailTypes()).toEqual([
      {
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

  it('puts Delivery.Exhausted when the last attempt fails', async () => {
    const delivery = aDelivery();
    listener.answer(() => ({ status: 500 }));

    await invoke(aDeliveryRecord(delivery.message, { receiveCount: 3 }));

    expect(putDetailTypes()).toEqual([
      {
        source: 'commbox.webhooks',
        type: 'Delivery.Exhausted',
        detail: expect.objectContaining({
          deliveryId: delivery.message.deliveryId,
          webhookId: webhookId('acme/evt-1', delivery.subscription.id),
          reason: 'HTTP 500; gave up after 3 attempts',
        }),
      },
    ]);
  });

  it('puts Subscription.Recovered when a failing subscription succeeds again', async () => {
    const failingSince = new Date(NOW.getTime() - DAY_MS).toISOString();
    const delivery = aDelivery({ failingSince });

    await invoke(aDeliveryRecord(delivery.message));

    expect(putDetailTypes()).toEqual([
      {
        source: 'commbox.webhooks',
        type: 'Subscription.Recovered',
        detail: expect.objectContaining({ failingSince }),
      },
    ]);
  });

  it('says nothing when a subscription that failed only briefly succeeds again, but clears its failing mark', async () => {
    const failingSince = new Date(NOW.getTime() - 60_000).toISOString();
    const delivery = aDelivery({ failingSince });

    await invoke(aDeliveryRecord(delivery.message));

    expect(putDetailTypes()).toEqual([]);
    expect(subscriptionNow(delivery)).not.toHaveProperty('failingSince');
  });

  it('still records the delivery when the bus refuses the event', async () => {
    eventBridge.on(PutEventsCommand).rejects(new Error('AccessDeniedException'));
    const delivery = aDelivery();
    listener.answer(() => ({ status: 410 }));

    const response = await invoke(aDeliveryRecord(delivery.message));

    expect(response.batchItemFailures).toEqual([]);
    expect(subscriptionNow(delivery)).toMatchObject({ status: 'disabled' });
  });
});
