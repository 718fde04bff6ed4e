import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../../lambdas/adapters/dynamo-common.js';
import { DynamoSubscriptionStore } from '../../../lambdas/adapters/dynamo-subscriptions.js';
import type { Subscription } from '../../../lambdas/core/model.js';
import { FakeTable } from '../../support/dynamo-fake.js';

const TABLE = 'webhooks';
const ddb = mockClient(DynamoDBDocumentClient);
const store = new DynamoSubscriptionStore(
  DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
  TABLE,
);

afterEach(() => {
  ddb.reset();
});

const ID = 'sub_AAAAAAAAAAAAAAAA';

function aSubscription(overrides: Partial<Subscription> = {}): Subscription {
  return {
    id: ID,
    brand: 'acme',
    name: 'Orders',
    entity: 'Object',
    events: [{ name: 'OnNew' }],
    url: 'https://listener.example.com/hook',
    format: 'json',
    includeCompleteData: false,
    status: 'active',
    secrets: [{ secret: 'whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0', createdAt: '2026-01-01T00:00:00.000Z' }],
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    version: 1,
    ...overrides,
  };
}

const itemOf = (subscription: Subscription) => ({
  ...subscription,
  pk: `BRAND#${subscription.brand}`,
  sk: `SUB#${subscription.id}`,
});

const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: 'x',
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });
const conditionFailed = () => new ConditionalCheckFailedException({ message: 'x', $metadata: {} });

const transactInput = (index = 0) => ddb.commandCalls(TransactWriteCommand)[index]?.args[0].input;

describe('creating a subscription', () => {
  it('writes the subscription, its lowercased name lock and its brand count in one transaction, only if new and under the quota', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await store.create(aSubscription(), 100);

    expect(transactInput()?.TransactItems).toEqual([
      {
        Put: {
          TableName: TABLE,
          Item: { ...aSubscription(), pk: 'BRAND#acme', sk: `SUB#${ID}` },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Put: {
          TableName: TABLE,
          Item: { pk: 'BRAND#acme', sk: 'NAME#orders', subscriptionId: ID },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Update: {
          TableName: TABLE,
          Key: { pk: 'BRAND#acme', sk: 'COUNT' },
          UpdateExpression: 'SET #subscriptions = #subscriptions + :one',
          ConditionExpression: 'attribute_exists(#subscriptions) AND #subscriptions < :max',
          ExpressionAttributeNames: { '#subscriptions': 'subscriptions' },
          ExpressionAttributeValues: { ':one': 1, ':max': 100 },
        },
      },
    ]);
  });

  it('refuses the subscription past the quota with 409 subscription_quota_exceeded', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('None', 'None', 'ConditionalCheckFailed'));
    ddb.on(GetCommand).resolves({ Item: { pk: 'BRAND#acme', sk: 'COUNT', subscriptions: 100 } });

    await expect(store.create(aSubscription(), 100)).rejects.toMatchObject({
      status: 409,
      code: 'subscription_quota_exceeded',
      message: 'This brand has 100 subscriptions, the most its quota allows; delete one first',
    });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });

  it('seeds a missing brand count from its subscriptions, then creates', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled('None', 'None', 'ConditionalCheckFailed'))
      .resolves({});
    ddb.on(GetCommand).resolves({});
    ddb.on(QueryCommand).resolves({ Count: 7 });
    ddb.on(PutCommand).resolves({});

    await store.create(aSubscription(), 100);

    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': 'BRAND#acme', ':prefix': 'SUB#' },
      Select: 'COUNT',
    });
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Item: { pk: 'BRAND#acme', sk: 'COUNT', subscriptions: 7 },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(2);
  });

  it('maps a name-lock cancellation to 409 name_taken on the name field', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('None', 'ConditionalCheckFailed'));
    await expect(store.create(aSubscription(), 100)).rejects.toMatchObject({
      status: 409,
      code: 'name_taken',
      message: 'A subscription named "Orders" already exists',
      details: [{ field: 'name' }],
    });
  });

  it('passes any other cancellation through unchanged', async () => {
    const error = cancelled('TransactionConflict', 'None');
    ddb.on(TransactWriteCommand).rejects(error);
    await expect(store.create(aSubscription(), 100)).rejects.toBe(error);
  });
});

describe('reading subscriptions', () => {
  it('gets one by brand and id, consistently, without its table attributes', async () => {
    ddb.on(GetCommand).resolves({ Item: { ...aSubscription(), pk: 'BRAND#acme', sk: `SUB#${ID}` } });

    expect(await store.get('acme', ID)).toEqual(aSubscription());
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: 'BRAND#acme', sk: `SUB#${ID}` },
      ConsistentRead: true,
    });
  });

  it('returns undefined for an unknown id', async () => {
    ddb.on(GetCommand).resolves({});
    expect(await store.get('acme', ID)).toBeUndefined();
  });

  it('reads the subscriptions asked in one turn with one consistent BatchGetItem, answering each', async () => {
    const second = aSubscription({ id: 'sub_BBBBBBBBBBBBBBBB' });
    new FakeTable().install(ddb).seed(itemOf(aSubscription()), itemOf(second));

    const found = await Promise.all([
      store.get('acme', 'sub_BBBBBBBBBBBBBBBB'),
      store.get('acme', 'sub_CCCCCCCCCCCCCCCC'),
      store.get('acme', ID),
    ]);

    expect(found).toEqual([second, undefined, aSubscription()]);
    expect(ddb.calls()).toHaveLength(1);
    expect(ddb.commandCalls(BatchGetCommand)[0]?.args[0].input).toEqual({
      RequestItems: {
        [TABLE]: {
          Keys: ['sub_BBBBBBBBBBBBBBBB', 'sub_CCCCCCCCCCCCCCCC', ID].map((id) => ({
            pk: 'BRAND#acme',
            sk: `SUB#${id}`,
          })),
          ConsistentRead: true,
        },
      },
    });
  });

  it("never answers one brand's id with another brand's subscription in a shared batch", async () => {
    new FakeTable().install(ddb).seed(itemOf(aSubscription()));

    const [acme, globex] = await Promise.all([store.get('acme', ID), store.get('globex', ID)]);

    expect(acme).toEqual(aSubscription());
    expect(globex).toBeUndefined();
  });

  it('reads in a request of its own a subscription asked after the batch went', async () => {
    const table = new FakeTable().install(ddb);

    const before = await store.get('acme', ID);
    table.seed(itemOf(aSubscription()));
    const after = await store.get('acme', ID);

    expect([before, after]).toEqual([undefined, aSubscription()]);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(2);
  });

  it('rejects every caller of a batch read that failed', async () => {
    new FakeTable()
      .install(ddb)
      .failWhen((request) => request.operation === 'BatchGet', new Error('InternalServerError'));

    const results = await Promise.allSettled([
      store.get('acme', ID),
      store.get('acme', 'sub_BBBBBBBBBBBBBBBB'),
    ]);

    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
  });
});

describe('listing subscriptions', () => {
  const second = 'sub_BBBBBBBBBBBBBBBB';

  it('returns a cursor of the last id that resumes inside the caller brand partition', async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: [{ ...aSubscription(), pk: 'BRAND#acme', sk: `SUB#${ID}` }],
        LastEvaluatedKey: { pk: 'BRAND#acme', sk: `SUB#${ID}` },
      })
      .resolvesOnce({ Items: [{ ...aSubscription({ id: second }), pk: 'BRAND#acme', sk: `SUB#${second}` }] });

    const first = await store.list('acme', { limit: 1 });
    expect(first.items).toEqual([aSubscription()]);
    expect(first.cursor).toBe(encodeCursor(ID));

    const next = await store.list('acme', { limit: 1, cursor: first.cursor });
    expect(next).toEqual({ items: [aSubscription({ id: second })] });
    expect(next).not.toHaveProperty('cursor');

    const queries = ddb.commandCalls(QueryCommand).map((call) => call.args[0].input);
    expect(queries[0]).toEqual({
      TableName: TABLE,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': 'BRAND#acme', ':prefix': 'SUB#' },
      Limit: 1,
    });
    expect(queries[1]?.ExclusiveStartKey).toEqual({ pk: 'BRAND#acme', sk: `SUB#${ID}` });
  });

  it.each([
    [
      'a raw start key',
      Buffer.from(JSON.stringify({ pk: 'BRAND#other', sk: `SUB#${ID}` })).toString('base64url'),
    ],
    ['another kind of id', encodeCursor('dlv_00000000000000000000000000')],
    ['not base64url', 'sub_AAAA!'],
  ])('refuses a forged cursor (%s) as 400 invalid_cursor without querying', async (_, cursor) => {
    await expect(store.list('acme', { limit: 10, cursor })).rejects.toMatchObject({
      status: 400,
      code: 'invalid_cursor',
      details: [{ field: 'cursor' }],
    });
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
  });
});

describe('listing the active subscriptions of an entity', () => {
  it('reads consistently with a filter on entity and status and follows every page', async () => {
    const page2Key = { pk: 'BRAND#acme', sk: `SUB#${ID}` };
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: [{ ...aSubscription(), pk: 'BRAND#acme', sk: `SUB#${ID}` }],
        LastEvaluatedKey: page2Key,
      })
      .resolvesOnce({ Items: [], LastEvaluatedKey: { pk: 'BRAND#acme', sk: 'SUB#sub_CCCCCCCCCCCCCCCC' } })
      .resolvesOnce({ Items: [{ ...aSubscription({ id: 'sub_DDDDDDDDDDDDDDDD' }) }] });

    const active = await store.listActive('acme', 'Object');

    expect(active.map((subscription) => subscription.id)).toEqual([ID, 'sub_DDDDDDDDDDDDDDDD']);
    const queries = ddb.commandCalls(QueryCommand).map((call) => call.args[0].input);
    expect(queries).toHaveLength(3);
    expect(queries[0]).toEqual({
      TableName: TABLE,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      FilterExpression: '#entity = :entity AND #status = :active',
      ExpressionAttributeNames: { '#entity': 'entity', '#status': 'status' },
      ExpressionAttributeValues: {
        ':pk': 'BRAND#acme',
        ':prefix': 'SUB#',
        ':entity': 'Object',
        ':active': 'active',
      },
      ConsistentRead: true,
    });
    expect(queries[1]?.ExclusiveStartKey).toEqual(page2Key);
    expect(queries.every((query) => query.ConsistentRead === true)).toBe(true);
  });

  it('shares one query among the calls for the same brand and entity made in one turn', async () => {
    new FakeTable().install(ddb).seed(itemOf(aSubscription()));

    const [first, second] = await Promise.all([
      store.listActive('acme', 'Object'),
      store.listActive('acme', 'Object'),
    ]);

    expect(first).toEqual([aSubscription()]);
    expect(second).toEqual([aSubscription()]);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(1);
  });

  it('queries each brand and entity of one turn on its own', async () => {
    const tags = aSubscription({ id: 'sub_TTTTTTTTTTTTTTTT', name: 'Tags', entity: 'Tag' });
    const globex = aSubscription({ brand: 'globex' });
    new FakeTable().install(ddb).seed(itemOf(aSubscription()), itemOf(tags), itemOf(globex));

    const [objects, tagged, other] = await Promise.all([
      store.listActive('acme', 'Object'),
      store.listActive('acme', 'Tag'),
      store.listActive('globex', 'Object'),
    ]);

    expect(objects).toEqual([aSubscription()]);
    expect(tagged).toEqual([tags]);
    expect(other).toEqual([globex]);
    const asked = ddb
      .commandCalls(QueryCommand)
      .map((call) => call.args[0].input.ExpressionAttributeValues)
      .map((values) => `${values?.[':pk']} ${values?.[':entity']}`);
    expect(asked.sort()).toEqual(['BRAND#acme Object', 'BRAND#acme Tag', 'BRAND#globex Object']);
  });

  it('queries again for a call made after the shared query started, and sees a change made meanwhile', async () => {
    const table = new FakeTable().install(ddb).seed(itemOf(aSubscription()));

    const first = store.listActive('acme', 'Object');
    await nextTurn();
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(1);
    const created = aSubscription({ id: 'sub_NNNNNNNNNNNNNNNN', name: 'New' });
    table.seed(itemOf(created));
    const second = store.listActive('acme', 'Object');

    expect(await first).toEqual([aSubscription()]);
    expect(await second).toEqual([aSubscription(), created]);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(2);
  });

  it('rejects every caller of a shared query that failed, and queries again for a later call', async () => {
    const table = new FakeTable().install(ddb).seed(itemOf(aSubscription()));
    let down = true;
    table.failWhen((request) => down && request.operation === 'Query', new Error('InternalServerError'));

    const results = await Promise.allSettled([
      store.listActive('acme', 'Object'),
      store.listActive('acme', 'Object'),
    ]);
    down = false;

    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(await store.listActive('acme', 'Object')).toEqual([aSubscription()]);
  });
});

describe('replacing a subscription', () => {
  it('puts it only if the stored version is the previous one, leaving the name lock alone', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await store.replace(aSubscription({ name: 'ORDERS', version: 3 }), 'Orders');

    expect(transactInput()?.TransactItems).toEqual([
      {
        Put: {
          TableName: TABLE,
          Item: { ...aSubscription({ name: 'ORDERS', version: 3 }), pk: 'BRAND#acme', sk: `SUB#${ID}` },
          ConditionExpression: 'attribute_exists(pk) AND #version = :previousVersion',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: { ':previousVersion': 2 },
        },
      },
    ]);
  });

  it('moves the name lock in the same transaction when the name changes', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await store.replace(aSubscription({ name: 'Invoices', version: 2 }), 'Orders');

    const items = transactInput()?.TransactItems ?? [];
    expect(items).toHaveLength(3);
    expect(items[1]).toEqual({ Delete: { TableName: TABLE, Key: { pk: 'BRAND#acme', sk: 'NAME#orders' } } });
    expect(items[2]).toEqual({
      Put: {
        TableName: TABLE,
        Item: { pk: 'BRAND#acme', sk: 'NAME#invoices', subscriptionId: ID },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    });
  });

  it('maps a version cancellation to 409 conflict', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed'));
    await expect(store.replace(aSubscription({ version: 2 }), 'Orders')).rejects.toMatchObject({
      status: 409,
      code: 'conflict',
    });
  });

  it('maps a transaction conflict with a concurrent writer to 409 conflict', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('TransactionConflict', 'None'));
    await expect(store.replace(aSubscription({ version: 2 }), 'Orders')).rejects.toMatchObject({
      status: 409,
      code: 'conflict',
    });
  });

  it('maps a new-name-lock cancellation to 409 name_taken', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('None', 'None', 'ConditionalCheckFailed'));
    await expect(
      store.replace(aSubscription({ name: 'Invoices', version: 2 }), 'Orders'),
    ).rejects.toMatchObject({ status: 409, code: 'name_taken', details: [{ field: 'name' }] });
  });
});

describe('deleting a subscription', () => {
  const stored = { ...aSubscription({ version: 4 }), pk: 'BRAND#acme', sk: `SUB#${ID}` };

  it('deletes it and frees its name in one transaction, conditional on the version it read', async () => {
    ddb.on(GetCommand).resolves({ Item: stored });
    ddb.on(TransactWriteCommand).resolves({});

    expect(await store.delete('acme', ID)).toBe(true);
    expect(transactInput()?.TransactItems).toEqual([
      {
        Delete: {
          TableName: TABLE,
          Key: { pk: 'BRAND#acme', sk: `SUB#${ID}` },
          ConditionExpression: 'attribute_exists(pk) AND #version = :version',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: { ':version': 4 },
        },
      },
      { Delete: { TableName: TABLE, Key: { pk: 'BRAND#acme', sk: 'NAME#orders' } } },
      {
        Update: {
          TableName: TABLE,
          Key: { pk: 'BRAND#acme', sk: 'COUNT' },
          UpdateExpression: 'SET #subscriptions = #subscriptions - :one',
          ConditionExpression: 'attribute_exists(#subscriptions)',
          ExpressionAttributeNames: { '#subscriptions': 'subscriptions' },
          ExpressionAttributeValues: { ':one': 1 },
        },
      },
    ]);
  });

  it('returns false when there is nothing to delete', async () => {
    ddb.on(GetCommand).resolves({});
    expect(await store.delete('acme', ID)).toBe(false);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('returns false when someone else deleted it between the read and the write', async () => {
    ddb.on(GetCommand).resolvesOnce({ Item: stored }).resolves({});
    ddb.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed', 'None'));
    expect(await store.delete('acme', ID)).toBe(false);
  });

  it('reads again and frees the current name when it was renamed between the read and the write', async () => {
    ddb
      .on(GetCommand)
      .resolvesOnce({ Item: stored })
      .resolves({ Item: { ...stored, name: 'Invoices', version: 5 } });
    ddb.on(TransactWriteCommand).rejectsOnce(cancelled('ConditionalCheckFailed', 'None')).resolves({});

    expect(await store.delete('acme', ID)).toBe(true);
    expect(transactInput(1)?.TransactItems?.[1]).toEqual({
      Delete: { TableName: TABLE, Key: { pk: 'BRAND#acme', sk: 'NAME#invoices' } },
    });
  });
});

describe('health marks', () => {
  it('mark it failing only on the first failure, and ignore a subscription already failing', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());
    await expect(store.markFailing('acme', ID, '2026-01-02T00:00:00.000Z')).resolves.toBeUndefined();
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: 'BRAND#acme', sk: `SUB#${ID}` },
      UpdateExpression: 'SET #failingSince = :since',
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#failingSince)',
      ExpressionAttributeNames: { '#failingSince': 'failingSince' },
      ExpressionAttributeValues: { ':since': '2026-01-02T00:00:00.000Z' },
    });
  });

  it('clear the failing mark only when set, and ignore a healthy subscription', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());
    await expect(store.markHealthy('acme', ID)).resolves.toBeUndefined();
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toMatchObject({
      UpdateExpression: 'REMOVE #failingSince',
      ConditionExpression: 'attribute_exists(#failingSince)',
    });
  });

  it('do not swallow errors other than a failed condition', async () => {
    ddb.on(UpdateCommand).rejects(new Error('throttled'));
    await expect(store.markHealthy('acme', ID)).rejects.toThrow('throttled');
  });
});

describe('disabling a subscription', () => {
  it('sets the status and reason and bumps the version', async () => {
    ddb.on(UpdateCommand).resolves({});
    await store.disable('acme', ID, 'listener answered 410 Gone', '2026-01-03T00:00:00.000Z');
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: 'BRAND#acme', sk: `SUB#${ID}` },
      UpdateExpression:
        'SET #status = :disabled, #disabledReason = :reason, #updatedAt = :at, #version = #version + :one',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: {
        '#status': 'status',
        '#disabledReason': 'disabledReason',
        '#updatedAt': 'updatedAt',
        '#version': 'version',
      },
      ExpressionAttributeValues: {
        ':disabled': 'disabled',
        ':reason': 'listener answered 410 Gone',
        ':at': '2026-01-03T00:00:00.000Z',
        ':one': 1,
      },
    });
  });

  it('does nothing when the subscription was deleted meanwhile', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());
    await expect(store.disable('acme', ID, 'gone', '2026-01-03T00:00:00.000Z')).resolves.toBeUndefined();
  });
});
