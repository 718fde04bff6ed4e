import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../../lambdas/adapters/dynamo-common.js';
import { DynamoDeliveryStore } from '../../../lambdas/adapters/dynamo-deliveries.js';
import { deliveryIdFor, deliveryIdTimePrefix } from '../../../lambdas/core/ids.js';
import type { StoredDelivery } from '../../../lambdas/core/model.js';
import type { DeliveryAttemptRecord } from '../../../lambdas/core/ports.js';
import { FakeTable } from '../../support/dynamo-fake.js';

const TABLE = 'webhooks';
const ddb = mockClient(DynamoDBDocumentClient);
const store = new DynamoDeliveryStore(
  DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
  TABLE,
);

afterEach(() => {
  ddb.reset();
});

const SUB = 'sub_AAAAAAAAAAAAAAAA';
const RECEIVED = '2026-03-04T05:06:07.089Z';
const ID = deliveryIdFor(RECEIVED, 'acme/evt-1', SUB);
const EXPIRES = 1_800_000_000;

function aDelivery(overrides: Partial<StoredDelivery> = {}): StoredDelivery {
  return {
    id: ID,
    subscriptionId: SUB,
    brand: 'acme',
    eventKey: 'acme/evt-1',
    webhookId: 'msg_ABCDEFGHIJKLMNOPQRSTUVWXYZ234567',
    entity: 'Object',
    event: 'OnNew',
    receivedAt: RECEIVED,
    data: { Id: 1, Message: 'hello' },
    status: 'pending',
    attempts: [{ attempt: 1, at: '2026-03-04T05:06:08.000Z', durationMs: 120, statusCode: 500 }],
    createdAt: RECEIVED,
    updatedAt: '2026-03-04T05:06:08.000Z',
    ...overrides,
  };
}

/** The item of a delivery; in gsi1 unless it succeeded (the index is sparse). */
const stored = (delivery: StoredDelivery) => ({
  ...delivery,
  pk: `SUB#${delivery.subscriptionId}`,
  sk: `DLV#${delivery.id}`,
  ...(delivery.status !== 'succeeded' && {
    gsi1pk: `DLV#${delivery.subscriptionId}#${delivery.status}`,
    gsi1sk: delivery.id,
  }),
  expiresAt: EXPIRES,
});

describe('recording an attempt', () => {
  const {
    attempts: _attempts,
    updatedAt: _updatedAt,
    ...fields
  } = aDelivery({
    nextAttemptAt: '2026-03-04T05:06:13.000Z',
  });
  const attempt = { attempt: 1, at: '2026-03-04T05:06:08.000Z', durationMs: 120, statusCode: 500 };

  it('creates or extends the delivery with one UpdateItem that appends the attempt', async () => {
    ddb.on(UpdateCommand).resolves({});
    await store.recordAttempt({ delivery: fields, attempt, expiresAt: EXPIRES });

    expect(ddb.calls()).toHaveLength(1);
    const input = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(input?.Key).toEqual({ pk: `SUB#${SUB}`, sk: `DLV#${ID}` });
    expect(input?.ConditionExpression).toBeUndefined();
    const expression = input?.UpdateExpression ?? '';
    expect(expression).toContain('#attempts = list_append(if_not_exists(#attempts, :empty), :attempt)');
    expect(expression).toContain('#createdAt = if_not_exists(#createdAt, :createdAt)');
    expect(expression).toContain('#nextAttemptAt = :nextAttemptAt');
    // A later attempt also clears what a park set (lambdas/adapters/dynamo-parking.ts).
    expect(expression).toMatch(/ REMOVE #failureReason, #parkedAt, #runAttemptsBefore$/);
    expect(input?.ExpressionAttributeValues).toMatchObject({
      ':empty': [],
      ':attempt': [attempt],
      ':createdAt': RECEIVED,
      ':updatedAt': attempt.at,
      ':status': 'pending',
      ':gsi1pk': `DLV#${SUB}#pending`,
      ':gsi1sk': ID,
      ':expiresAt': EXPIRES,
      ':nextAttemptAt': '2026-03-04T05:06:13.000Z',
      ':webhookId': fields.webhookId,
      ':eventKey': 'acme/evt-1',
      ':receivedAt': RECEIVED,
      ':data': JSON.stringify({ Id: 1, Message: 'hello' }),
    });
  });

  it('sets the failure reason and removes the next attempt time once failed', async () => {
    ddb.on(UpdateCommand).resolves({});
    const { nextAttemptAt: _next, ...rest } = fields;
    const record: DeliveryAttemptRecord = {
      delivery: { ...rest, status: 'failed', failureReason: 'HTTP 500 after 8 attempts' },
      attempt,
      expiresAt: EXPIRES,
    };
    await store.recordAttempt(record);

    const input = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(input?.UpdateExpression).toContain('#failureReason = :failureReason');
    expect(input?.UpdateExpression).toMatch(/ REMOVE #nextAttemptAt, #parkedAt, #runAttemptsBefore$/);
    expect(input?.ExpressionAttributeValues).toMatchObject({
      ':gsi1pk': `DLV#${SUB}#failed`,
      ':failureReason': 'HTTP 500 after 8 attempts',
    });
  });
});

describe('recording a success at the first attempt', () => {
  const success = (deliveryId = ID) => {
    const {
      attempts: _attempts,
      updatedAt: _updatedAt,
      ...fields
    } = aDelivery({ id: deliveryId, status: 'succeeded' });
    return {
      delivery: fields,
      attempt: { attempt: 1, at: '2026-03-04T05:06:08.000Z', durationMs: 87, statusCode: 200 },
      expiresAt: EXPIRES,
    };
  };
  const wholeItem = (record: DeliveryAttemptRecord) => ({
    ...record.delivery,
    // Event data is stored as JSON text (docs/DATA-MODEL.md).
    data: JSON.stringify(record.delivery.data),
    attempts: [record.attempt],
    updatedAt: record.attempt.at,
    pk: `SUB#${SUB}`,
    sk: `DLV#${record.delivery.id}`,
    expiresAt: EXPIRES,
  });

  it("writes the delivery whole with one PutItem: its fields, its event's data, its attempt and expiry, no index keys", async () => {
    const table = new FakeTable().install(ddb);
    const record = success();

    await store.recordAttempt(record);

    expect(ddb.calls()).toHaveLength(1);
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Item: wholeItem(record),
    });
    expect(table.item(`SUB#${SUB}`, `DLV#${ID}`)).toEqual(wholeItem(record));
    expect(await store.get(SUB, ID)).toEqual({
      ...record.delivery,
      attempts: [record.attempt],
      updatedAt: record.attempt.at,
    });
  });

  it('writes the first-attempt successes of one turn with one BatchWriteItem', async () => {
    const table = new FakeTable().install(ddb);
    const records = ['acme/evt-1', 'acme/evt-2', 'acme/evt-3'].map((key) =>
      success(deliveryIdFor(RECEIVED, key, SUB)),
    );

    await Promise.all(records.map((record) => store.recordAttempt(record)));

    expect(ddb.calls()).toHaveLength(1);
    expect(ddb.commandCalls(BatchWriteCommand)[0]?.args[0].input).toEqual({
      RequestItems: { [TABLE]: records.map((record) => ({ PutRequest: { Item: wholeItem(record) } })) },
    });
    expect(table.itemsUnder(`SUB#${SUB}`)).toHaveLength(3);
  });

  it('rejects every success of a batch whose write failed', async () => {
    new FakeTable()
      .install(ddb)
      .failWhen((request) => request.operation === 'BatchWrite', new Error('InternalServerError'));
    const records = ['acme/evt-1', 'acme/evt-2'].map((key) => success(deliveryIdFor(RECEIVED, key, SUB)));

    const results = await Promise.allSettled(records.map((record) => store.recordAttempt(record)));

    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
  });

  it('appends a success after a retry to the stored delivery with an UpdateItem', async () => {
    const table = new FakeTable().install(ddb);
    const first = { attempt: 1, at: '2026-03-04T05:06:08.000Z', durationMs: 120, statusCode: 500 };
    const record = success();
    await store.recordAttempt({
      ...record,
      delivery: { ...record.delivery, status: 'pending', nextAttemptAt: '2026-03-04T05:06:13.000Z' },
      attempt: first,
    });
    const second = { attempt: 2, at: '2026-03-04T05:06:13.000Z', durationMs: 90, statusCode: 200 };

    await store.recordAttempt({ ...record, attempt: second });

    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(2);
    expect(table.item(`SUB#${SUB}`, `DLV#${ID}`)).toMatchObject({
      status: 'succeeded',
      attempts: [first, second],
      createdAt: RECEIVED,
      data: JSON.stringify(record.delivery.data),
    });
    // A success leaves the index: it was under the pending partition, and is under none now.
    expect(table.item(`SUB#${SUB}`, `DLV#${ID}`)).not.toHaveProperty('gsi1pk');
    expect(table.item(`SUB#${SUB}`, `DLV#${ID}`)).not.toHaveProperty('gsi1sk');
    expect(table.item(`SUB#${SUB}`, `DLV#${ID}`)).not.toHaveProperty('nextAttemptAt');
  });

  it.each(['pending', 'failed'] as const)(
    'records a %s first attempt with an UpdateItem, in gsi1 under its status',
    async (status) => {
      const table = new FakeTable().install(ddb);
      const record = success();

      await store.recordAttempt({ ...record, delivery: { ...record.delivery, status } });

      expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
      expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
      expect(table.item(`SUB#${SUB}`, `DLV#${ID}`)).toMatchObject({
        gsi1pk: `DLV#${SUB}#${status}`,
        gsi1sk: ID,
        data: JSON.stringify(record.delivery.data),
        receivedAt: RECEIVED,
      });
    },
  );
});

describe('setting a delivery back to pending', () => {
  it('moves it to the pending index partition and clears the failure reason', async () => {
    ddb.on(UpdateCommand).resolves({});
    expect(await store.markPending(SUB, ID, '2026-03-05T00:00:00.000Z')).toBe(true);
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: `SUB#${SUB}`, sk: `DLV#${ID}` },
      UpdateExpression:
        'SET #status = :pending, #gsi1pk = :gsi1pk, #gsi1sk = :gsi1sk, #updatedAt = :at REMOVE #failureReason',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: {
        '#status': 'status',
        '#gsi1pk': 'gsi1pk',
        '#gsi1sk': 'gsi1sk',
        '#updatedAt': 'updatedAt',
        '#failureReason': 'failureReason',
      },
      ExpressionAttributeValues: {
        ':pending': 'pending',
        ':gsi1pk': `DLV#${SUB}#pending`,
        ':gsi1sk': ID,
        ':at': '2026-03-05T00:00:00.000Z',
      },
    });
  });

  it('puts a succeeded delivery (not in the index) back into it, under pending', async () => {
    const table = new FakeTable().install(ddb).seed(stored(aDelivery({ status: 'succeeded' })));

    expect(await store.markPending(SUB, ID, '2026-03-05T00:00:00.000Z')).toBe(true);

    expect(table.item(`SUB#${SUB}`, `DLV#${ID}`)).toMatchObject({
      status: 'pending',
      gsi1pk: `DLV#${SUB}#pending`,
      gsi1sk: ID,
    });
  });

  it('answers false for a delivery that does not exist', async () => {
    ddb.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'x', $metadata: {} }));
    expect(await store.markPending(SUB, ID, '2026-03-05T00:00:00.000Z')).toBe(false);
  });
});

describe('reading a delivery', () => {
  it('reads consistently and strips the key, index and TTL attributes', async () => {
    ddb.on(GetCommand).resolves({ Item: stored(aDelivery()) });
    expect(await store.get(SUB, ID)).toEqual(aDelivery());
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: `SUB#${SUB}`, sk: `DLV#${ID}` },
      ConsistentRead: true,
    });
  });
});

describe('listing deliveries', () => {
  it('queries the base table newest first without a status filter', async () => {
    ddb.on(QueryCommand).resolves({ Items: [stored(aDelivery())] });
    const page = await store.list(SUB, { limit: 20 });

    expect(page).toEqual({ items: [aDelivery()] });
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': `SUB#${SUB}`, ':prefix': 'DLV#' },
      ScanIndexForward: false,
      Limit: 20,
    });
  });

  it('queries gsi1 newest first by status, and its cursor resumes with the full index key', async () => {
    const failed = aDelivery({ status: 'failed' });
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: [stored(failed)],
        LastEvaluatedKey: { pk: `SUB#${SUB}`, sk: `DLV#${ID}`, gsi1pk: `DLV#${SUB}#failed`, gsi1sk: ID },
      })
      .resolvesOnce({ Items: [] });

    const first = await store.list(SUB, { status: 'failed', limit: 1 });
    expect(first).toEqual({ items: [failed], cursor: encodeCursor(ID) });
    await store.list(SUB, { status: 'failed', limit: 1, cursor: first.cursor });

    const [query, next] = ddb.commandCalls(QueryCommand).map((call) => call.args[0].input);
    expect(query).toEqual({
      TableName: TABLE,
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :gsi1pk',
      ExpressionAttributeValues: { ':gsi1pk': `DLV#${SUB}#failed` },
      ScanIndexForward: false,
      Limit: 1,
    });
    expect(next?.ExclusiveStartKey).toEqual({
      pk: `SUB#${SUB}`,
      sk: `DLV#${ID}`,
      gsi1pk: `DLV#${SUB}#failed`,
      gsi1sk: ID,
    });
  });

  it('lists succeeded deliveries (not in the sparse index) by a filtered query of the partition, newest first', async () => {
    const at = (n: number) => `2026-03-04T05:06:${String(n).padStart(2, '0')}.000Z`;
    const deliveries = Array.from({ length: 9 }, (_, n) =>
      aDelivery({
        id: deliveryIdFor(at(n), `acme/evt-${n}`, SUB),
        status: n % 3 === 0 ? 'failed' : 'succeeded',
      }),
    );
    new FakeTable({ pageSize: 2 }).install(ddb).seed(...deliveries.map(stored));
    const succeeded = deliveries.filter((delivery) => delivery.status === 'succeeded').reverse();

    const first = await store.list(SUB, { status: 'succeeded', limit: 4 });
    const rest = [];
    for (let cursor = first.cursor; cursor !== undefined; ) {
      const page = await store.list(SUB, { status: 'succeeded', limit: 4, cursor });
      rest.push(...page.items);
      cursor = page.cursor;
    }

    expect(first.items).toEqual(succeeded.slice(0, 4));
    expect(first.cursor).toBe(encodeCursor(succeeded[3]?.id ?? ''));
    expect(rest).toEqual(succeeded.slice(4));
    const queries = ddb.commandCalls(QueryCommand).map((call) => call.args[0].input);
    expect(queries.every((query) => query.IndexName === undefined)).toBe(true);
    expect(queries[0]).toMatchObject({
      FilterExpression: '#status = :status',
      ExpressionAttributeValues: { ':status': 'succeeded' },
      ScanIndexForward: false,
    });
  });

  it('resumes after a cursor whose delivery expired between two pages', async () => {
    const at = (n: number) => `2026-03-04T05:06:${String(n).padStart(2, '0')}.000Z`;
    const deliveries = Array.from({ length: 4 }, (_, n) =>
      aDelivery({ id: deliveryIdFor(at(n), `acme/evt-${n}`, SUB) }),
    );
    const table = new FakeTable().install(ddb).seed(...deliveries.map(stored));
    const newestFirst = [...deliveries].reverse();

    const first = await store.list(SUB, { limit: 2 });
    table.expire(`SUB#${SUB}`, `DLV#${newestFirst[1]?.id}`);
    const second = await store.list(SUB, { limit: 2, cursor: first.cursor });

    expect(first.items.map((item) => item.id)).toEqual(newestFirst.slice(0, 2).map((item) => item.id));
    expect(second.items.map((item) => item.id)).toEqual(newestFirst.slice(2).map((item) => item.id));
  });

  it('refuses a cursor that does not carry a delivery id', async () => {
    await expect(
      store.list(SUB, { limit: 1, cursor: encodeCursor('sub_AAAAAAAAAAAAAAAA') }),
    ).rejects.toMatchObject({ status: 400, code: 'invalid_cursor', details: [{ field: 'cursor' }] });
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
  });
});

describe('listing deliveries between two instants', () => {
  const since = '2026-03-04T00:00:00.000Z';
  const until = '2026-03-05T00:00:00.000Z';

  it('queries the id range of the two instants oldest first', async () => {
    ddb.on(QueryCommand).resolves({ Items: [stored(aDelivery())] });
    expect(await store.listBetween(SUB, since, until, 100)).toEqual([aDelivery()]);

    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ExpressionAttributeValues: {
        ':pk': `SUB#${SUB}`,
        ':from': `DLV#dlv_${deliveryIdTimePrefix(since)}`,
        ':to': `DLV#dlv_${deliveryIdTimePrefix(until)}~`,
      },
      ScanIndexForward: true,
      Limit: 100,
    });
  });

  it('bounds include every delivery of both instants', () => {
    const from = `DLV#dlv_${deliveryIdTimePrefix(since)}`;
    const to = `DLV#dlv_${deliveryIdTimePrefix(until)}~`;
    for (const id of [deliveryIdFor(since, 'a/1', SUB), deliveryIdFor(until, 'a/2', SUB)]) {
      expect(`DLV#${id}` >= from && `DLV#${id}` <= to).toBe(true);
    }
    expect(`DLV#${deliveryIdFor('2026-03-05T00:00:00.001Z', 'a/3', SUB)}` > to).toBe(true);
  });

  it('follows pages until it has the limit, asking only for what is still missing', async () => {
    const second = aDelivery({ id: deliveryIdFor(RECEIVED, 'acme/evt-2', SUB) });
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [stored(aDelivery())], LastEvaluatedKey: { pk: `SUB#${SUB}`, sk: `DLV#${ID}` } })
      .resolvesOnce({
        Items: [stored(second)],
        LastEvaluatedKey: { pk: `SUB#${SUB}`, sk: `DLV#${second.id}` },
      });

    expect(await store.listBetween(SUB, since, until, 2)).toEqual([aDelivery(), second]);
    const queries = ddb.commandCalls(QueryCommand).map((call) => call.args[0].input);
    expect(queries).toHaveLength(2);
    expect(queries.map((query) => query.Limit)).toEqual([2, 1]);
    expect(queries[1]?.ExclusiveStartKey).toEqual({ pk: `SUB#${SUB}`, sk: `DLV#${ID}` });
  });
});
