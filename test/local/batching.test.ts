import { randomBytes, randomUUID } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { BatchWriteCommand, type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { type FauxqsServer, startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../lambdas/adapters/dynamo-common.js';
import { DynamoDeliveryStore } from '../../lambdas/adapters/dynamo-deliveries.js';
import { DynamoEventStore } from '../../lambdas/adapters/dynamo-events.js';
import { DynamoSubscriptionStore } from '../../lambdas/adapters/dynamo-subscriptions.js';
import { SqsDeliveryQueue } from '../../lambdas/adapters/sqs-delivery-queue.js';
import { deliveryIdFor } from '../../lambdas/core/ids.js';
import type { DeliveryMessage, EventClaim } from '../../lambdas/core/model.js';
import { MAX_EVENT_DATA_BYTES } from '../../lambdas/core/routing.js';
import { type DynamoServer, startDynamoServer } from '../../local/aws-emulators/dynamo-server.js';
import { createTableInput } from '../../local/table.js';
import { aStoredSubscription } from '../support/stored-items.js';

/*
 * The batched reads and writes of the adapters against the local DynamoDB (dynalite, which checks
 * BatchGetItem and BatchWriteItem as DynamoDB does) and the local SQS (fauxqs, which checks the size
 * of a SendMessageBatch as SQS does); and the event store's claim, a conditional PutItem that dynalite
 * evaluates as DynamoDB does.
 */

const TABLE_NAME = 'webhooks';
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

let server: DynamoServer;
let raw: DynamoDBClient;
let client: DynamoDBDocumentClient;
let fauxqs: FauxqsServer;
let sqs: SQSClient;

beforeAll(async () => {
  server = await startDynamoServer({ port: 0 });
  const config = { endpoint: server.endpoint, region: 'us-east-1', credentials };
  raw = new DynamoDBClient(config);
  client = createDocumentClient(config);
  await raw.send(new CreateTableCommand(createTableInput(TABLE_NAME)));
  fauxqs = await startFauxqs({ port: 0, logger: false });
  sqs = new SQSClient({ endpoint: fauxqs.address, region: 'us-east-1', credentials });
});

afterAll(async () => {
  raw?.destroy();
  client?.destroy();
  sqs?.destroy();
  await server?.stop();
  await fauxqs?.stop();
});

const aBrand = () => `brand-${randomBytes(4).toString('hex')}`;

function anEvent(brand: string, id: string, envelopeId: string): EventClaim {
  return { key: `${brand}/${id}`, brand, receivedAt: new Date().toISOString(), envelopeId };
}

/** The claim stored under `key`, without its table attributes. */
async function storedClaim(key: string): Promise<unknown> {
  const { Item: item } = await client.send(
    new GetCommand({ TableName: TABLE_NAME, Key: { pk: `EVENT#${key}`, sk: 'EVENT' }, ConsistentRead: true }),
  );
  if (!item) return undefined;
  const { pk: _pk, sk: _sk, expiresAt: _expiresAt, ...claim } = item;
  return claim;
}

describe('the event store on the local DynamoDB', () => {
  it('claims an event for its envelope: first true, the same envelope again true, another envelope false', async () => {
    const store = new DynamoEventStore(client, TABLE_NAME);
    const brand = aBrand();
    const event = anEvent(brand, 'e-1', 'eb-1');
    const copy = anEvent(brand, 'e-1', 'eb-2');

    expect(await store.claim(event, 1_900_000_000)).toBe(true);
    expect(await store.claim(event, 1_900_000_000)).toBe(true);
    expect(await store.claim(copy, 1_900_000_000)).toBe(false);

    expect(await storedClaim(event.key)).toEqual(event);
  });

  it('lets exactly one of three envelopes claiming one key at the same moment win', async () => {
    const store = new DynamoEventStore(client, TABLE_NAME);
    const brand = aBrand();
    const copies = ['eb-1', 'eb-2', 'eb-3'].map((envelopeId) => anEvent(brand, 'e-1', envelopeId));

    const answers = await Promise.all(copies.map((copy) => store.claim(copy, 1_900_000_000)));

    expect(answers.filter(Boolean)).toHaveLength(1);
    expect(await storedClaim(`${brand}/e-1`)).toEqual(copies[answers.indexOf(true)]);
  });

  it('claims different keys independently', async () => {
    const store = new DynamoEventStore(client, TABLE_NAME);
    const brand = aBrand();
    const events = ['e-1', 'e-2', 'e-3'].map((id) => anEvent(brand, id, 'eb-1'));

    const answers = await Promise.all(events.map((event) => store.claim(event, 1_900_000_000)));

    expect(answers).toEqual([true, true, true]);
    expect(await storedClaim(`${brand}/e-2`)).toEqual(events[1]);
    expect(await storedClaim(`${brand}/e-4`)).toBeUndefined();
  });
});

describe('the subscription and delivery stores on the local DynamoDB', () => {
  it('relies on this: the local DynamoDB, like DynamoDB, refuses a BatchWriteItem naming a key twice', async () => {
    const Item = { pk: `TEST#${randomBytes(4).toString('hex')}`, sk: 'X' };
    await expect(
      client.send(
        new BatchWriteCommand({
          RequestItems: { [TABLE_NAME]: [{ PutRequest: { Item } }, { PutRequest: { Item } }] },
        }),
      ),
    ).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('reads the subscriptions of one turn together, and shares the active listing of one brand and entity', async () => {
    const store = new DynamoSubscriptionStore(client, TABLE_NAME);
    const brand = aBrand();
    const orders = aStoredSubscription({ brand: brand, name: 'Orders' });
    const invoices = aStoredSubscription({ brand: brand, name: 'Invoices' });
    await store.create(orders, 100);
    await store.create(invoices, 100);

    const [first, missing, second] = await Promise.all([
      store.get(brand, orders.id),
      store.get(brand, 'sub_AAAAAAAAAAAAAAAA'),
      store.get(brand, invoices.id),
    ]);
    const [active, again] = await Promise.all([
      store.listActive(brand, 'Object'),
      store.listActive(brand, 'Object'),
    ]);

    expect([first, missing, second]).toEqual([orders, undefined, invoices]);
    expect(active.map((subscription) => subscription.id).sort()).toEqual([orders.id, invoices.id].sort());
    expect(again).toEqual(active);
  });

  it('puts first-attempt successes whole, and reads each back as a delivery', async () => {
    const store = new DynamoDeliveryStore(client, TABLE_NAME);
    const subscriptionId = `sub_${randomBytes(12).toString('base64url')}`;
    const receivedAt = '2026-03-04T05:06:07.000Z';
    const records = ['e-1', 'e-2'].map((id) => ({
      delivery: {
        id: deliveryIdFor(receivedAt, `acme/${id}`, subscriptionId),
        subscriptionId,
        brand: 'acme',
        eventKey: `acme/${id}`,
        webhookId: `msg_${id}`,
        entity: 'Object' as const,
        event: 'OnNew',
        receivedAt,
        data: { Id: id },
        status: 'succeeded' as const,
        createdAt: receivedAt,
      },
      attempt: { attempt: 1, at: receivedAt, durationMs: 10, statusCode: 200 },
      expiresAt: 1_900_000_000,
    }));

    await Promise.all(records.map((record) => store.recordAttempt(record)));

    for (const record of records) {
      expect(await store.get(subscriptionId, record.delivery.id)).toEqual({
        ...record.delivery,
        attempts: [record.attempt],
        updatedAt: record.attempt.at,
      });
    }
    const page = await store.list(subscriptionId, { status: 'succeeded', limit: 10 });
    expect(page.items).toHaveLength(2);
  });

  it('keeps succeeded deliveries out of gsi1 and pending or failed ones in it, moving a delivery as it changes', async () => {
    const store = new DynamoDeliveryStore(client, TABLE_NAME);
    const subscriptionId = `sub_${randomBytes(12).toString('base64url')}`;
    const receivedAt = '2026-03-04T05:06:07.000Z';
    const delivery = {
      id: deliveryIdFor(receivedAt, 'acme/e-1', subscriptionId),
      subscriptionId,
      brand: 'acme',
      eventKey: 'acme/e-1',
      webhookId: 'msg_e-1',
      entity: 'Object' as const,
      event: 'OnNew',
      receivedAt,
      data: { Id: 1 },
      createdAt: receivedAt,
    };
    const attempt = (n: number, statusCode: number) => ({
      attempt: n,
      at: receivedAt,
      durationMs: 10,
      statusCode,
    });
    const ids = async (status: 'pending' | 'failed' | 'succeeded') =>
      (await store.list(subscriptionId, { status, limit: 10 })).items.map((item) => item.id);

    await store.recordAttempt({
      delivery: { ...delivery, status: 'pending' },
      attempt: attempt(1, 500),
      expiresAt: 1_900_000_000,
    });
    expect([await ids('pending'), await ids('succeeded')]).toEqual([[delivery.id], []]);

    await store.recordAttempt({
      delivery: { ...delivery, status: 'succeeded' },
      attempt: attempt(2, 200),
      expiresAt: 1_900_000_000,
    });
    expect([await ids('pending'), await ids('succeeded')]).toEqual([[], [delivery.id]]);
    expect((await store.get(subscriptionId, delivery.id))?.data).toEqual({ Id: 1 });

    expect(await store.markPending(subscriptionId, delivery.id, receivedAt)).toBe(true);
    expect([await ids('pending'), await ids('succeeded')]).toEqual([[delivery.id], []]);
  });
});

describe('the delivery queue on the local SQS', () => {
  it('queues a large event for ten subscriptions, every SendMessageBatch within what SQS accepts', async () => {
    const { QueueUrl: queueUrl = '' } = await sqs.send(
      new CreateQueueCommand({ QueueName: `deliveries-${randomUUID()}` }),
    );
    const queue = new SqsDeliveryQueue(sqs, queueUrl);
    const data = { Id: 1, Message: 'x'.repeat(MAX_EVENT_DATA_BYTES - 1_000) };
    const messages: DeliveryMessage[] = Array.from({ length: 10 }, (_, n) => ({
      v: 1,
      brand: 'acme',
      subscriptionId: `sub_${String(n).padStart(16, '0')}`,
      deliveryId: deliveryIdFor('2026-03-04T05:06:07.000Z', 'acme/big', `sub_${n}`),
      eventKey: 'acme/big',
      event: { entity: 'Object', event: 'OnNew', receivedAt: '2026-03-04T05:06:07.000Z', data },
    }));

    expect(await queue.send(messages)).toEqual([]);

    const received: string[] = [];
    for (;;) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      if (Messages.length === 0) break;
      for (const message of Messages) received.push(JSON.parse(message.Body ?? '{}').subscriptionId);
    }
    expect(received.sort()).toEqual(messages.map((message) => message.subscriptionId).sort());
  });
});
