import { FullBatchFailureError } from '@aws-lambda-powertools/batch';
import { SendMessageBatchCommand, type SendMessageBatchCommandInput, SQSClient } from '@aws-sdk/client-sqs';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_BATCH_BYTES } from '../../../lambdas/adapters/sqs-delivery-queue.js';
import { logger } from '../../../lambdas/commons/logger.js';
import { deliveryIdFor } from '../../../lambdas/core/ids.js';
import { deliveryMessageSchema, type Subscription } from '../../../lambdas/core/model.js';
import { MAX_EVENT_DATA_BYTES, MAX_EVENT_DATA_DEPTH } from '../../../lambdas/core/routing.js';
import { handler, useRoutingDeps } from '../../../lambdas/route.js';
import { stubAwsEnvironment } from '../../support/aws-env.js';
import { FakeTable } from '../../support/dynamo-fake.js';
import { exampleData } from '../../support/factories.js';
import {
  aLambdaContext,
  anEventBridgeEnvelope,
  anIngestRecord,
  anSqsEvent,
  anSqsRecord,
} from '../../support/sqs-events.js';
import {
  anEventClaim,
  aStoredSubscription,
  claimItem,
  subscriptionItem,
} from '../../support/stored-items.js';

// Network rule: the SDK is stubbed at the client classes, so no request leaves the process; the
// endpoints and credentials below only make sure that a stub that failed to apply would hit a closed
// loopback port instead of AWS (or the instance metadata service).

const TABLE_NAME = 'commbox-webhooks-test';
const QUEUE_URL = 'http://127.0.0.1:1/000000000000/commbox-deliveries';
const NOW = new Date('2026-03-04T05:06:07.000Z');
/** When EventBridge received the events (their envelope's `time`): a little before they are routed. */
const EB_TIME = '2026-03-04T05:06:05.000Z';
const EXPIRES_AT = Date.parse(EB_TIME) / 1000 + 30 * 24 * 60 * 60;
const DELIVERY_ID = /^dlv_[0-9a-z]{9}[0-9a-f]{16}$/;

const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
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

/** One field of every message queued, each message checked against the delivery queue's schema. */
function sentField(field: 'subscriptionId' | 'eventKey' | 'deliveryId'): string[] {
  return sentMessages().map((message) => deliveryMessageSchema.parse(message)[field]);
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
  return anIngestRecord(envelope, messageId ? { messageId } : {});
}

/** The claim routing leaves for a producer id of acme: the key and who owns it, never the data. */
function routedEventItem(key: string, overrides: Record<string, unknown> = {}) {
  return {
    pk: `EVENT#${key}`,
    sk: 'EVENT',
    key,
    brand: 'acme',
    receivedAt: EB_TIME,
    envelopeId: 'eb-1',
    expiresAt: EXPIRES_AT,
    ...overrides,
  };
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
  it('queues one delivery for each matching active subscription of the brand', async () => {
    const orders = aStoredSubscription();
    const audit = aStoredSubscription({ events: [{ name: 'OnNew', channels: [71] }] });
    seedSubscriptions(
      orders,
      audit,
      aStoredSubscription({ events: [{ name: 'OnNewChild' }] }),
      aStoredSubscription({ events: [{ name: 'OnNew', channels: [72] }] }),
      aStoredSubscription({ status: 'paused' }),
      aStoredSubscription({ entity: 'Tag', events: [{ name: 'OnChange' }] }),
      aStoredSubscription({ brand: 'globex' }),
    );

    const response = await invoke(anOnNewRecord({ producerId: 'evt-1' }));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(sqs.commandCalls(SendMessageBatchCommand)[0]?.args[0].input.QueueUrl).toBe(QUEUE_URL);
    const expected = [orders, audit].map((subscription) => ({
      v: 1,
      brand: 'acme',
      subscriptionId: subscription.id,
      deliveryId: deliveryIdFor(EB_TIME, 'acme/evt-1', subscription.id),
      eventKey: 'acme/evt-1',
      event: inlineEvent(),
    }));
    expect(sentMessages()).toEqual(expect.arrayContaining(expected));
    expect(sentMessages()).toHaveLength(2);
  });

  it('claims a producer id with one conditional PutItem of the claim alone: key, envelope id, EventBridge time, expiry', async () => {
    seedSubscriptions(aStoredSubscription());

    await invoke(anOnNewRecord({ ebId: 'eb-1', producerId: 'evt-1' }));

    expect(table.item('EVENT#acme/evt-1', 'EVENT')).toEqual(routedEventItem('acme/evt-1'));
    expect(table.item('EVENT#acme/evt-1', 'EVENT')).toMatchObject({ envelopeId: 'eb-1' });
    const puts = ddb.commandCalls(PutCommand).map((call) => call.args[0].input);
    expect(puts).toEqual([
      {
        TableName: TABLE_NAME,
        Item: routedEventItem('acme/evt-1'),
        ConditionExpression: 'attribute_not_exists(pk) OR envelopeId = :envelopeId',
        ExpressionAttributeValues: { ':envelopeId': 'eb-1' },
      },
    ]);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
  });

  it('claims the event before it reads the subscriptions and queues its deliveries, and writes nothing after', async () => {
    seedSubscriptions(aStoredSubscription(), aStoredSubscription());
    const storedWhenQueued: unknown[] = [];
    sqs.on(SendMessageBatchCommand).callsFake(async (input: SendMessageBatchCommandInput) => {
      storedWhenQueued.push(table.item('EVENT#acme/evt-1', 'EVENT'));
      return acceptAll(input);
    });

    await invoke(anOnNewRecord({ producerId: 'evt-1' }));

    expect(storedWhenQueued).toEqual([routedEventItem('acme/evt-1')]);
    const calls = ddb.calls().map((call) => call.args[0].constructor.name);
    expect(calls).toEqual(['PutCommand', 'QueryCommand']);
    expect(table.item('EVENT#acme/evt-1', 'EVENT')).toEqual(routedEventItem('acme/evt-1'));
  });

  it('puts the event in every message, as it was accepted, so a delivery need not read it back', async () => {
    const subscription = aStoredSubscription();
    seedSubscriptions(subscription);

    await invoke(anOnNewRecord({ producerId: 'evt-1' }));

    const [message] = sentMessages().map((sent) => deliveryMessageSchema.parse(sent));
    expect(message?.event).toEqual(inlineEvent());
    expect(message?.deliveryId).toBe(deliveryIdFor(EB_TIME, 'acme/evt-1', subscription.id));
  });

  it('queues a large event for ten subscriptions in SendMessageBatch calls SQS accepts', async () => {
    const subscriptions = Array.from({ length: 10 }, () => aStoredSubscription());
    seedSubscriptions(...subscriptions);
    const data = exampleData('Object', 'OnNew', { Message: 'x'.repeat(MAX_EVENT_DATA_BYTES - 1_000) });

    const response = await invoke(anOnNewRecord({ producerId: 'big', data }));

    expect(response.batchItemFailures).toEqual([]);
    const batches = sqs.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input.Entries ?? []);
    for (const entries of batches) {
      const bytes = entries.reduce((sum, entry) => sum + Buffer.byteLength(entry.MessageBody ?? ''), 0);
      expect(bytes).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    }
    expect(new Set(sentField('subscriptionId'))).toEqual(new Set(subscriptions.map((sub) => sub.id)));
    expect(table.item('EVENT#acme/big', 'EVENT')).toEqual(routedEventItem('acme/big'));
  });

  it('sends 23 matching subscriptions in three SendMessageBatch calls of 10, 10 and 3', async () => {
    const subscriptions = Array.from({ length: 23 }, () => aStoredSubscription());
    seedSubscriptions(...subscriptions);

    const response = await invoke(anOnNewRecord());

    expect(response.batchItemFailures).toEqual([]);
    const sizes = sqs.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input.Entries?.length);
    expect(sizes).toEqual([10, 10, 3]);
    expect(new Set(sentField('subscriptionId'))).toEqual(
      new Set(subscriptions.map((subscription) => subscription.id)),
    );
  });

  it("reads every page of the brand's subscriptions", async () => {
    table = new FakeTable({ pageSize: 4 }).install(ddb);
    const subscriptions = Array.from({ length: 9 }, () => aStoredSubscription());
    seedSubscriptions(...subscriptions);

    await invoke(anOnNewRecord());

    expect(ddb.commandCalls(QueryCommand)).toHaveLength(3);
    expect(sentMessages()).toHaveLength(9);
  });

  it('claims an event no subscription wants as routed, without sending anything', async () => {
    seedSubscriptions(aStoredSubscription({ events: [{ name: 'OnNewChild' }] }));

    const response = await invoke(anOnNewRecord({ producerId: 'evt-1' }));

    expect(response.batchItemFailures).toEqual([]);
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
    expect(table.item('EVENT#acme/evt-1', 'EVENT')).toEqual(routedEventItem('acme/evt-1'));
  });

  it('matches a subscription created just before the event, reading strongly consistent', async () => {
    const created = aStoredSubscription({ createdAt: NOW.toISOString(), updatedAt: NOW.toISOString() });
    seedSubscriptions(created);

    await invoke(anOnNewRecord());

    expect(sentMessages()).toEqual([expect.objectContaining({ subscriptionId: created.id })]);
    const query = ddb.commandCalls(QueryCommand)[0]?.args[0].input;
    expect(query?.ConsistentRead).toBe(true);
    expect(query?.TableName).toBe(TABLE_NAME);
  });

  it("queries only the event's brand, and never delivers another brand's subscription", async () => {
    // A foreign subscription filed under acme's partition (corrupt data) must not receive acme's events.
    const misfiled = { ...subscriptionItem(aStoredSubscription({ brand: 'globex' })), pk: 'BRAND#acme' };
    table.seed(misfiled, subscriptionItem(aStoredSubscription({ brand: 'globex' })));

    const response = await invoke(anOnNewRecord({ brand: 'acme' }));

    expect(response.batchItemFailures).toEqual([]);
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input.ExpressionAttributeValues).toMatchObject({
      ':pk': 'BRAND#acme',
      ':entity': 'Object',
    });
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
  });
});

describe('idempotency', () => {
  it('uses the producer id as the idempotency key when there is one', async () => {
    seedSubscriptions(aStoredSubscription());

    await invoke(anOnNewRecord({ ebId: 'eb-77', producerId: 'ord-42' }));

    expect(table.item('EVENT#acme/ord-42', 'EVENT')).toBeDefined();
    expect(sentMessages()).toEqual([expect.objectContaining({ eventKey: 'acme/ord-42' })]);
  });

  it("keys an event without a producer id by EventBridge's id, unique to its put, and writes nothing for it", async () => {
    seedSubscriptions(aStoredSubscription());

    const response = await invoke(anOnNewRecord({ ebId: 'eb-77' }));

    expect(response.batchItemFailures).toEqual([]);
    expect(sentMessages()).toEqual([expect.objectContaining({ eventKey: 'acme/eb-77' })]);
    expect(ddb.calls().map((call) => call.args[0].constructor.name)).toEqual(['QueryCommand']);
    expect(table.itemsUnder('EVENT#')).toEqual([]);
  });

  it('drops a producer event put again under another EventBridge id as a duplicate, sending nothing', async () => {
    seedSubscriptions(aStoredSubscription());
    const info = vi.spyOn(logger, 'info');

    await invoke(anOnNewRecord({ ebId: 'eb-1', producerId: 'ord-42' }));
    const second = await invoke(anOnNewRecord({ ebId: 'eb-2', producerId: 'ord-42' }));

    expect(second.batchItemFailures).toEqual([]);
    expect(sentMessages()).toHaveLength(1);
    // The duplicate reads no subscription, and the first envelope keeps its claim.
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(1);
    expect(table.item('EVENT#acme/ord-42', 'EVENT')).toEqual(routedEventItem('acme/ord-42'));
    expect(info).toHaveBeenCalledWith(
      'event duplicate',
      expect.objectContaining({ eventKey: 'acme/ord-42' }),
    );
  });

  it('drops an event whose key another envelope claimed, with one conditional PutItem and nothing else', async () => {
    seedSubscriptions(aStoredSubscription());
    const claimed = anEventClaim({
      key: 'acme/evt-1',
      envelopeId: 'eb-0',
      receivedAt: '2026-03-04T05:00:00.000Z',
    });
    table.seed(claimItem(claimed));

    const response = await invoke(anOnNewRecord({ ebId: 'eb-1', producerId: 'evt-1' }));

    expect(response.batchItemFailures).toEqual([]);
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
    expect(ddb.commandCalls(PutCommand).map((call) => call.args[0].input.ExpressionAttributeValues)).toEqual([
      { ':envelopeId': 'eb-1' },
    ]);
    expect(table.item('EVENT#acme/evt-1', 'EVENT')).toEqual(claimItem(claimed));
  });

  it('routes a redelivered envelope again, with the same messages: it owns its claim (a crash may have lost its sends)', async () => {
    const subscription = aStoredSubscription();
    seedSubscriptions(subscription);
    const record = anOnNewRecord({ ebId: 'eb-1', producerId: 'evt-1' });

    await invoke(record);
    vi.setSystemTime(new Date(NOW.getTime() + 60_000));
    const again = await invoke(record);

    expect(again.batchItemFailures).toEqual([]);
    const [first, second, ...rest] = sentMessages();
    expect(rest).toEqual([]);
    expect(second).toEqual(first);
    expect(first).toMatchObject({ deliveryId: deliveryIdFor(EB_TIME, 'acme/evt-1', subscription.id) });
    expect(table.item('EVENT#acme/evt-1', 'EVENT')).toEqual(routedEventItem('acme/evt-1'));
  });

  it('routes again, with the same delivery ids, an envelope whose earlier routing could not queue, and drops another copy meanwhile', async () => {
    const subscription = aStoredSubscription();
    seedSubscriptions(subscription);
    const record = anOnNewRecord({ ebId: 'eb-1', producerId: 'evt-1', messageId: 'crashing' });
    let sqsIsDown = true;
    sqs.on(SendMessageBatchCommand).callsFake(async (input: SendMessageBatchCommandInput) => {
      if (sqsIsDown) throw new Error('SQS is unavailable');
      return acceptAll(input);
    });

    // The first routing claims the event, then cannot queue (a whole-batch failure: the handler throws).
    await expect(invoke(record)).rejects.toThrow(FullBatchFailureError);
    const firstTry = sentMessages();
    expect(firstTry).toHaveLength(1);
    expect(table.itemsUnder('EVENT#')).toEqual([routedEventItem('acme/evt-1')]);

    // Another copy of the producer's event (another envelope) comes before the retry: a duplicate.
    sqsIsDown = false;
    const copy = await invoke(anOnNewRecord({ ebId: 'eb-2', producerId: 'evt-1', messageId: 'copy' }));
    expect(copy.batchItemFailures).toEqual([]);
    expect(sentMessages()).toHaveLength(1);

    // SQS hands the first record over again a minute later: its envelope still owns the key.
    vi.setSystemTime(new Date(NOW.getTime() + 60_000));
    const response = await invoke(record);

    expect(response.batchItemFailures).toEqual([]);
    const retried = sentMessages().slice(firstTry.length);
    expect(retried).toEqual(firstTry);
    expect(retried).toEqual([
      {
        v: 1,
        brand: 'acme',
        subscriptionId: subscription.id,
        deliveryId: deliveryIdFor(EB_TIME, 'acme/evt-1', subscription.id),
        eventKey: 'acme/evt-1',
        event: inlineEvent(),
      },
    ]);
    expect(table.item('EVENT#acme/evt-1', 'EVENT')).toEqual(routedEventItem('acme/evt-1'));
  });

  it('fails a record whose claim could not be written, queueing nothing, and routes it when redelivered', async () => {
    const subscription = aStoredSubscription();
    seedSubscriptions(subscription);
    const record = anOnNewRecord({ producerId: 'evt-1', messageId: 'crashing' });
    let tableIsDown = true;
    table.failWhen(
      (request) =>
        tableIsDown && request.operation === 'Put' && request.input.Item?.pk === 'EVENT#acme/evt-1',
      new Error('InternalServerError'),
    );

    await expect(invoke(record)).rejects.toThrow(FullBatchFailureError);
    expect(sentMessages()).toEqual([]);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
    expect(table.itemsUnder('EVENT#')).toEqual([]);

    tableIsDown = false;
    const response = await invoke(record);

    expect(response.batchItemFailures).toEqual([]);
    expect(sentMessages()).toEqual([
      expect.objectContaining({ deliveryId: deliveryIdFor(EB_TIME, 'acme/evt-1', subscription.id) }),
    ]);
    expect(table.item('EVENT#acme/evt-1', 'EVENT')).toEqual(routedEventItem('acme/evt-1'));
  });

  it('routes exactly one of two records of one batch with the same producer id (two envelopes)', async () => {
    const subscription = aStoredSubscription();
    seedSubscriptions(subscription);
    const info = vi.spyOn(logger, 'info');

    const response = await invoke(
      anOnNewRecord({ ebId: 'eb-1', producerId: 'ord-42', messageId: 'first' }),
      anOnNewRecord({ ebId: 'eb-2', producerId: 'ord-42', messageId: 'second' }),
    );

    expect(response.batchItemFailures).toEqual([]);
    expect(sentMessages()).toEqual([
      expect.objectContaining({ deliveryId: deliveryIdFor(EB_TIME, 'acme/ord-42', subscription.id) }),
    ]);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(2);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(1);
    const [stored, ...others] = table.itemsUnder('EVENT#');
    expect(others).toEqual([]);
    expect(['eb-1', 'eb-2']).toContain(stored?.envelopeId);
    expect(stored).toEqual(routedEventItem('acme/ord-42', { envelopeId: stored?.envelopeId }));
    const outcomes = info.mock.calls
      .map(([message]) => String(message))
      .filter((message) => message.startsWith('event '));
    expect(outcomes.sort()).toEqual(['event duplicate', 'event routed']);
  });
});

describe('the arrival time', () => {
  it('is the envelope time, so delivery ids do not depend on when the event is routed', async () => {
    const subscription = aStoredSubscription();
    seedSubscriptions(subscription);
    vi.setSystemTime(new Date(Date.parse(EB_TIME) + 3 * 60 * 60 * 1000));

    await invoke(anOnNewRecord({ producerId: 'evt-1' }));

    expect(sentField('subscriptionId')).toEqual([subscription.id]);
    expect(sentMessages()).toEqual([
      expect.objectContaining({ deliveryId: deliveryIdFor(EB_TIME, 'acme/evt-1', subscription.id) }),
    ]);
    expect(table.item('EVENT#acme/evt-1', 'EVENT')?.receivedAt).toBe(EB_TIME);
  });

  it.each([
    { case: 'no time', time: '' },
    { case: 'a time that is not a date', time: 'yesterday-ish' },
    { case: 'a time before 1970', time: '1969-07-20T20:17:40Z' },
    { case: 'a time in the future', time: '2099-01-01T00:00:00Z' },
    { case: 'a time older than the ingest queue keeps a message', time: '2026-02-15T00:00:00Z' },
  ])('is the routing time for an envelope with $case (producers may set `time`)', async ({ time }) => {
    const subscription = aStoredSubscription();
    seedSubscriptions(subscription);

    const response = await invoke(anOnNewRecord({ producerId: 'evt-1', time }));

    expect(response.batchItemFailures).toEqual([]);
    const [message] = sentMessages().map((sent) => deliveryMessageSchema.parse(sent));
    expect(message?.deliveryId).toBe(deliveryIdFor(NOW.toISOString(), 'acme/evt-1', subscription.id));
    expect(message?.deliveryId).toMatch(DELIVERY_ID);
    expect(message?.event?.receivedAt).toBe(NOW.toISOString());
    expect(table.item('EVENT#acme/evt-1', 'EVENT')).toMatchObject({
      receivedAt: NOW.toISOString(),
      expiresAt: NOW.getTime() / 1000 + 30 * 24 * 60 * 60,
    });
  });
});

describe('a batch of events', () => {
  it('queries once per brand and entity, and claims each event with a conditional PutItem of its own', async () => {
    const acmeObjects = aStoredSubscription();
    const acmeTags = aStoredSubscription({ entity: 'Tag', events: [{ name: 'OnAdd' }] });
    const globexObjects = aStoredSubscription({ brand: 'globex' });
    seedSubscriptions(acmeObjects, acmeTags, globexObjects);
    const records = [
      anOnNewRecord({ ebId: 'eb-1', producerId: 'evt-1' }),
      anOnNewRecord({ ebId: 'eb-2', producerId: 'evt-2' }),
      anOnNewRecord({ ebId: 'eb-3', producerId: 'evt-3' }),
      anOnNewRecord({ ebId: 'eb-4', producerId: 'evt-4', brand: 'globex' }),
      anOnNewRecord({
        ebId: 'eb-5',
        producerId: 'tag-1',
        detailType: 'Tag.OnAdd',
        data: exampleData('Tag', 'OnAdd'),
      }),
    ];

    const response = await invoke(...records);

    expect(response.batchItemFailures).toEqual([]);
    const keys = ['acme/evt-1', 'acme/evt-2', 'acme/evt-3', 'globex/evt-4', 'acme/tag-1'];
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(0);
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(0);
    const queried = ddb
      .commandCalls(QueryCommand)
      .map((call) => call.args[0].input.ExpressionAttributeValues)
      .map((values) => `${values?.[':pk']} ${values?.[':entity']}`);
    expect(queried.sort()).toEqual(['BRAND#acme Object', 'BRAND#acme Tag', 'BRAND#globex Object']);
    const claims = ddb.commandCalls(PutCommand).map((call) => call.args[0].input);
    expect(
      claims.map((claim) => `${claim.Item?.key} ${claim.ExpressionAttributeValues?.[':envelopeId']}`).sort(),
    ).toEqual(keys.map((key, n) => `${key} eb-${n + 1}`).sort());
    expect(
      table
        .itemsUnder('EVENT#')
        .map((item) => item.key)
        .sort(),
    ).toEqual([...keys].sort());
    expect(sentField('eventKey').sort()).toEqual([...keys].sort());
    const bySubscription = Object.fromEntries(
      [acmeObjects, acmeTags, globexObjects].map((sub) => [
        sub.id,
        sentMessages().filter((message) => deliveryMessageSchema.parse(message).subscriptionId === sub.id)
          .length,
      ]),
    );
    expect(bySubscription).toEqual({ [acmeObjects.id]: 3, [acmeTags.id]: 1, [globexObjects.id]: 1 });
  });

  it('claims each record of a batch for its own key, dropping only the one another envelope claimed', async () => {
    seedSubscriptions(aStoredSubscription());
    const claimed = anEventClaim({ key: 'acme/evt-2', envelopeId: 'eb-0' });
    table.seed(claimItem(claimed));

    const response = await invoke(
      anOnNewRecord({ ebId: 'eb-1', producerId: 'evt-1' }),
      anOnNewRecord({ ebId: 'eb-2', producerId: 'evt-2' }),
      anOnNewRecord({ ebId: 'eb-3', producerId: 'evt-3' }),
    );

    expect(response.batchItemFailures).toEqual([]);
    expect(sentField('eventKey').sort()).toEqual(['acme/evt-1', 'acme/evt-3']);
    expect(table.item('EVENT#acme/evt-2', 'EVENT')).toEqual(claimItem(claimed));
    expect(table.item('EVENT#acme/evt-3', 'EVENT')).toEqual(
      routedEventItem('acme/evt-3', { envelopeId: 'eb-3' }),
    );
  });
});

describe('rejecting invalid events', () => {
  const deep = (levels: number): Record<string, unknown> => {
    let value: Record<string, unknown> = { Id: 1 };
    for (let i = 0; i < levels; i++) value = { Nested: value };
    return { Id: 1, Extra: value };
  };
  const valid = { brand: 'acme', id: 'evt-9', data: exampleData('Object', 'OnNew') };

  it.each([
    {
      case: 'an unknown detail type',
      body: JSON.stringify(anEventBridgeEnvelope({ detailType: 'Object.OnExplode', detail: valid })),
      reason: 'unknown detail type "Object.OnExplode"',
      detailType: 'Object.OnExplode',
    },
    {
      case: 'a foreign source',
      body: JSON.stringify(anEventBridgeEnvelope({ source: 'acme.billing', detail: valid })),
      reason: 'source "acme.billing" is not commbox',
      detailType: 'Object.OnNew',
    },
    {
      case: 'data that fails its schema',
      body: JSON.stringify(
        anEventBridgeEnvelope({ detail: { ...valid, data: { Id: 'not-a-number', StreamId: 71 } } }),
      ),
      reason: 'data does not fit Object.OnNew: Id ',
      detailType: 'Object.OnNew',
    },
    {
      case: 'a detail without a brand',
      body: JSON.stringify(anEventBridgeEnvelope({ detail: { data: valid.data } })),
      reason: 'detail: brand',
      detailType: 'Object.OnNew',
    },
    {
      case: 'a body that is not JSON',
      body: '{"detail-type": "Object.OnNew", ',
      reason: 'not an EventBridge event',
      detailType: undefined,
    },
    {
      case: 'oversize data',
      body: JSON.stringify(
        anEventBridgeEnvelope({
          detail: { ...valid, data: { Id: 1, Message: 'x'.repeat(MAX_EVENT_DATA_BYTES) } },
        }),
      ),
      reason: `bytes as queued; the limit is ${MAX_EVENT_DATA_BYTES}`,
      detailType: 'Object.OnNew',
    },
    {
      case: 'data under the limit as UTF-8 but over it once queued (U+FFFE travels escaped, 6 bytes)',
      body: JSON.stringify(
        anEventBridgeEnvelope({
          detail: { ...valid, data: { Id: 1, Message: '\uFFFE'.repeat(MAX_EVENT_DATA_BYTES / 4) } },
        }),
      ),
      reason: `bytes as queued; the limit is ${MAX_EVENT_DATA_BYTES}`,
      detailType: 'Object.OnNew',
    },
    {
      case: 'data holding an unpaired surrogate (DynamoDB could not store it)',
      body: JSON.stringify(
        anEventBridgeEnvelope({ detail: { ...valid, data: { ...valid.data, Message: 'half \ud83d' } } }),
      ),
      reason: 'not valid Unicode',
      detailType: 'Object.OnNew',
    },
    {
      case: 'data with an unpaired surrogate in a key',
      body: JSON.stringify(
        anEventBridgeEnvelope({ detail: { ...valid, data: { ...valid.data, Extra: { '\udc00': 1 } } } }),
      ),
      reason: 'not valid Unicode',
      detailType: 'Object.OnNew',
    },
    {
      case: 'data nested too deep',
      body: JSON.stringify(
        anEventBridgeEnvelope({ detail: { ...valid, data: deep(MAX_EVENT_DATA_DEPTH + 1) } }),
      ),
      reason: `data is nested deeper than ${MAX_EVENT_DATA_DEPTH}`,
      detailType: 'Object.OnNew',
    },
  ])(
    'keeps $case as a rejected event with its reason, sends nothing and does not retry it',
    async ({ body, reason, detailType }) => {
      seedSubscriptions(aStoredSubscription());
      const response = await invoke(anSqsRecord(body, { messageId: 'bad' }));

      expect(response).toEqual({ batchItemFailures: [] });
      expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
      expect(table.itemsUnder('EVENT#')).toEqual([]);
      const rejected = table.itemsUnder('REJECTED#');
      expect(rejected).toHaveLength(1);
      expect(rejected[0]).toMatchObject({ pk: 'REJECTED#2026-03-04', receivedAt: NOW.toISOString() });
      expect(String(rejected[0]?.sk)).toMatch(/^2026-03-04T05:06:07\.000Z#[0-9a-f]{8}$/);
      expect(String(rejected[0]?.reason)).toContain(reason);
      expect(rejected[0]?.detailType).toBe(detailType);
      expect(rejected[0]).not.toHaveProperty('data');
    },
  );

  it('names the producer id and brand of a rejected event, so it can be traced', async () => {
    const envelope = anEventBridgeEnvelope({
      id: 'eb-5',
      detailType: 'Object.OnNew',
      detail: { brand: 'acme', id: 'ord-5', data: { Id: 'x' } },
    });

    await invoke(anIngestRecord(envelope));

    expect(table.itemsUnder('REJECTED#')[0]).toMatchObject({ brand: 'acme', eventId: 'ord-5' });
  });
});

describe('partial batch failures', () => {
  const threeEvents = () =>
    [1, 2, 3].map((n) => anOnNewRecord({ producerId: `evt-${n}`, messageId: `m-${n}` }));

  it('queues the deliveries of a whole batch together: ten events at fan-out 1 are one SendMessageBatch', async () => {
    seedSubscriptions(aStoredSubscription());
    const tenEvents = Array.from({ length: 10 }, (_, n) =>
      anOnNewRecord({ producerId: `evt-${n}`, messageId: `m-${n}` }),
    );

    const response = await invoke(...tenEvents);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(1);
    expect(sentField('eventKey').sort()).toEqual(tenEvents.map((_, n) => `acme/evt-${n}`).sort());
  });

  it('reports only the records in the SendMessageBatch call that failed (their claims stay, for the retry)', async () => {
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
    expect(table.itemsUnder('EVENT#')).toHaveLength(12);
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
    expect(table.itemsUnder('EVENT#')).toHaveLength(3);
  });

  it('reports every record whose claim could not be written, queueing nothing, and routes them when redelivered', async () => {
    const subscription = aStoredSubscription();
    seedSubscriptions(subscription);
    let tableIsDown = true;
    table.failWhen(
      (request) =>
        tableIsDown && request.operation === 'Put' && String(request.input.Item?.pk).startsWith('EVENT#'),
      new Error('ProvisionedThroughputExceededException'),
    );
    const rejected = anIngestRecord('not an event', { messageId: 'rejected' });

    const response = await invoke(...threeEvents(), rejected);

    expect(response).toEqual({
      batchItemFailures: [{ itemIdentifier: 'm-1' }, { itemIdentifier: 'm-2' }, { itemIdentifier: 'm-3' }],
    });
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
    expect(table.itemsUnder('EVENT#')).toEqual([]);
    expect(table.itemsUnder('REJECTED#')).toHaveLength(1);

    tableIsDown = false;
    const retried = await invoke(...threeEvents());

    expect(retried.batchItemFailures).toEqual([]);
    expect(sentField('deliveryId').sort()).toEqual(
      [1, 2, 3].map((n) => deliveryIdFor(EB_TIME, `acme/evt-${n}`, subscription.id)).sort(),
    );
    expect(table.itemsUnder('EVENT#')).toHaveLength(3);
  });

  it("reports a record whose brand's subscriptions could not be read, and routes it when redelivered", async () => {
    seedSubscriptions(aStoredSubscription(), aStoredSubscription({ brand: 'globex' }));
    let globexIsDown = true;
    table.failWhen(
      (request) =>
        globexIsDown &&
        request.operation === 'Query' &&
        request.input.ExpressionAttributeValues?.[':pk'] === 'BRAND#globex',
      new Error('InternalServerError'),
    );
    const globex = anOnNewRecord({ brand: 'globex', ebId: 'eb-9', producerId: 'evt-9', messageId: 'globex' });

    const response = await invoke(anOnNewRecord({ producerId: 'evt-1', messageId: 'acme' }), globex);

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'globex' }] });
    expect(table.item('EVENT#acme/evt-1', 'EVENT')).toEqual(routedEventItem('acme/evt-1'));
    expect(sentMessages()).toEqual([expect.objectContaining({ eventKey: 'acme/evt-1' })]);
    // Its claim was written before the read failed, so the same envelope routes it on redelivery.
    expect(table.item('EVENT#globex/evt-9', 'EVENT')).toMatchObject({ envelopeId: 'eb-9' });

    globexIsDown = false;
    const retried = await invoke(globex);

    expect(retried.batchItemFailures).toEqual([]);
    expect(sentField('eventKey')).toEqual(['acme/evt-1', 'globex/evt-9']);
  });

  it('reports an invalid event whose rejection could not be kept, so it is not lost', async () => {
    table.failWhen(
      (request) => request.operation === 'Put' && String(request.input.Item?.pk).startsWith('REJECTED#'),
      new Error('InternalServerError'),
    );
    const bad = anSqsRecord('not json', { messageId: 'bad' });

    const response = await invoke(bad, anOnNewRecord({ messageId: 'fine' }));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'bad' }] });
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
