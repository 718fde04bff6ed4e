import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { batchGet, batchPut } from '../../../lambdas/adapters/dynamo-batch.js';
import { FakeTable } from '../../support/dynamo-fake.js';

const TABLE = 'webhooks';
const ddb = mockClient(DynamoDBDocumentClient);
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
let table: FakeTable;

beforeEach(() => {
  table = new FakeTable().install(ddb);
});

afterEach(() => {
  ddb.reset();
  vi.useRealTimers();
});

const key = (n: number) => ({ pk: `P#${n}`, sk: 'S' });
const item = (n: number, extra: Record<string, unknown> = {}) => ({ ...key(n), n, ...extra });

/** Lets the backoff timers run while `promise` settles. */
async function withBackoff<T>(promise: Promise<T>): Promise<T> {
  const settled = promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  await vi.runAllTimersAsync();
  const result = await settled;
  if ('error' in result) throw result.error;
  return result.value;
}

describe('batchGet', () => {
  it('reads one key with a consistent GetItem', async () => {
    table.seed(item(1));

    expect(await batchGet(client, TABLE, [key(1)])).toEqual([item(1)]);
    expect(ddb.calls()).toHaveLength(1);
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Key: key(1),
      ConsistentRead: true,
    });
  });

  it('reads several keys with one consistent BatchGetItem, answering in key order', async () => {
    table.seed(item(1), item(3));

    expect(await batchGet(client, TABLE, [key(3), key(2), key(1)])).toEqual([item(3), undefined, item(1)]);
    expect(ddb.calls()).toHaveLength(1);
    expect(ddb.commandCalls(BatchGetCommand)[0]?.args[0].input).toEqual({
      RequestItems: { [TABLE]: { Keys: [key(3), key(2), key(1)], ConsistentRead: true } },
    });
  });

  it('asks for a key named twice once (DynamoDB refuses duplicates) and answers it in both places', async () => {
    table.seed(item(1), item(2));

    expect(await batchGet(client, TABLE, [key(1), key(2), key(1)])).toEqual([item(1), item(2), item(1)]);
    expect(ddb.commandCalls(BatchGetCommand)[0]?.args[0].input.RequestItems?.[TABLE]?.Keys).toEqual([
      key(1),
      key(2),
    ]);
  });

  it('uses GetItem for one key named twice', async () => {
    table.seed(item(1));

    expect(await batchGet(client, TABLE, [key(1), key(1)])).toEqual([item(1), item(1)]);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(0);
  });

  it('sends nothing for no keys', async () => {
    expect(await batchGet(client, TABLE, [])).toEqual([]);
    expect(ddb.calls()).toHaveLength(0);
  });

  it('asks again, after a pause, for the keys DynamoDB left unprocessed, and then answers every key', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    table.seed(item(1), item(2), item(3));
    table.leaveUnprocessed('BatchGet', { pick: (entry) => entry.key.pk !== 'P#1' });

    const answer = batchGet(client, TABLE, [key(1), key(2), key(3)]);
    await vi.advanceTimersByTimeAsync(0);
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(1);

    expect(await withBackoff(answer)).toEqual([item(1), item(2), item(3)]);
    const requests = ddb
      .commandCalls(BatchGetCommand)
      .map((call) => call.args[0].input.RequestItems?.[TABLE]);
    expect(requests).toEqual([
      { Keys: [key(1), key(2), key(3)], ConsistentRead: true },
      { Keys: [key(2), key(3)], ConsistentRead: true },
    ]);
  });

  it('gives up with an error when DynamoDB keeps leaving keys unprocessed', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    table.seed(item(1), item(2));
    table.leaveUnprocessed('BatchGet', { pick: (entry) => entry.key.pk === 'P#2', times: Infinity });

    await expect(withBackoff(batchGet(client, TABLE, [key(1), key(2)]))).rejects.toThrow(
      'BatchGetItem left 1 keys unprocessed',
    );
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(6);
  });

  it('passes an error of the request through', async () => {
    table.failWhen((request) => request.operation === 'BatchGet', new Error('ProvisionedThroughputExceeded'));

    await expect(batchGet(client, TABLE, [key(1), key(2)])).rejects.toThrow('ProvisionedThroughputExceeded');
  });
});

describe('batchPut', () => {
  it('writes one item with an unconditional PutItem', async () => {
    await batchPut(client, TABLE, [item(1)]);

    expect(ddb.calls()).toHaveLength(1);
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input).toEqual({ TableName: TABLE, Item: item(1) });
    expect(table.item('P#1', 'S')).toEqual(item(1));
  });

  it('writes several items with one BatchWriteItem', async () => {
    await batchPut(client, TABLE, [item(1), item(2), item(3)]);

    expect(ddb.calls()).toHaveLength(1);
    expect(ddb.commandCalls(BatchWriteCommand)[0]?.args[0].input).toEqual({
      RequestItems: { [TABLE]: [1, 2, 3].map((n) => ({ PutRequest: { Item: item(n) } })) },
    });
    expect(table.itemsUnder('P#')).toEqual([item(1), item(2), item(3)]);
  });

  it('writes an item named twice once, the last one (DynamoDB refuses a batch naming a key twice)', async () => {
    await batchPut(client, TABLE, [item(1, { v: 'first' }), item(2), item(1, { v: 'last' })]);

    expect(ddb.commandCalls(BatchWriteCommand)[0]?.args[0].input.RequestItems?.[TABLE]).toEqual([
      { PutRequest: { Item: item(1, { v: 'last' }) } },
      { PutRequest: { Item: item(2) } },
    ]);
    expect(table.item('P#1', 'S')).toEqual(item(1, { v: 'last' }));
  });

  it('uses PutItem for one item named twice', async () => {
    await batchPut(client, TABLE, [item(1, { v: 'first' }), item(1, { v: 'last' })]);

    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(0);
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input.Item).toEqual(item(1, { v: 'last' }));
  });

  it('sends nothing for no items', async () => {
    await batchPut(client, TABLE, []);
    expect(ddb.calls()).toHaveLength(0);
  });

  it('writes again, after a pause, the items DynamoDB left unprocessed', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    table.leaveUnprocessed('BatchWrite', { pick: (entry) => entry.key.pk === 'P#2' });

    const done = batchPut(client, TABLE, [item(1), item(2), item(3)]);
    await vi.advanceTimersByTimeAsync(0);
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(1);
    expect(table.item('P#2', 'S')).toBeUndefined();

    await withBackoff(done);
    const requests = ddb
      .commandCalls(BatchWriteCommand)
      .map((call) => call.args[0].input.RequestItems?.[TABLE]);
    expect(requests[1]).toEqual([{ PutRequest: { Item: item(2) } }]);
    expect(table.itemsUnder('P#')).toEqual([item(1), item(2), item(3)]);
  });

  it('gives up with an error when DynamoDB keeps leaving items unprocessed', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    table.leaveUnprocessed('BatchWrite', { times: Infinity });

    await expect(withBackoff(batchPut(client, TABLE, [item(1), item(2)]))).rejects.toThrow(
      'BatchWriteItem left 2 items unprocessed',
    );
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(6);
    expect(table.itemsUnder('P#')).toEqual([]);
  });

  it('passes an error of the request through', async () => {
    table.failWhen((request) => request.operation === 'BatchWrite', new Error('InternalServerError'));

    await expect(batchPut(client, TABLE, [item(1), item(2)])).rejects.toThrow('InternalServerError');
    expect(table.itemsUnder('P#')).toEqual([]);
  });
});
