import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoEventStore } from '../../../lambdas/adapters/dynamo-events.js';
import type { StoredEvent } from '../../../lambdas/core/model.js';
import { FakeTable } from '../../support/dynamo-fake.js';

const TABLE = 'webhooks';
const ddb = mockClient(DynamoDBDocumentClient);
const store = new DynamoEventStore(
  DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
  TABLE,
);

afterEach(() => {
  ddb.reset();
});

const event: StoredEvent = {
  key: 'acme/evt-1',
  brand: 'acme',
  entity: 'Object',
  event: 'OnNew',
  data: { Id: 1 },
  receivedAt: '2026-03-04T05:06:07.089Z',
};
const EXPIRES = 1_800_000_000;

const eventKey = (key: string) => ({ pk: `EVENT#${key}`, sk: 'EVENT' });
const storedItem = (stored: StoredEvent) => ({ ...stored, ...eventKey(stored.key), expiresAt: EXPIRES });
const anEvent = (n: number): StoredEvent => ({ ...event, key: `acme/evt-${n}` });

describe('telling whether an event was routed', () => {
  it('reads a single key with a consistent GetItem and answers whether its record exists', async () => {
    const table = new FakeTable().install(ddb).seed(storedItem(event));

    expect(await store.isRouted('acme/evt-1')).toBe(true);
    expect(await store.isRouted('acme/evt-2')).toBe(false);

    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(0);
    expect(ddb.commandCalls(GetCommand).map((call) => call.args[0].input)).toEqual([
      { TableName: TABLE, Key: eventKey('acme/evt-1'), ConsistentRead: true },
      { TableName: TABLE, Key: eventKey('acme/evt-2'), ConsistentRead: true },
    ]);
    expect(table.itemsUnder('EVENT#')).toEqual([storedItem(event)]);
  });

  it('reads the keys asked in one turn with one consistent BatchGetItem, answering each key', async () => {
    new FakeTable().install(ddb).seed(storedItem(anEvent(1)), storedItem(anEvent(3)));

    const answers = await Promise.all([1, 2, 3].map((n) => store.isRouted(`acme/evt-${n}`)));

    expect(answers).toEqual([true, false, true]);
    expect(ddb.calls()).toHaveLength(1);
    expect(ddb.commandCalls(BatchGetCommand)[0]?.args[0].input).toEqual({
      RequestItems: {
        [TABLE]: { Keys: [1, 2, 3].map((n) => eventKey(`acme/evt-${n}`)), ConsistentRead: true },
      },
    });
  });

  it('asks a key asked twice in one turn once, and answers both callers', async () => {
    new FakeTable().install(ddb).seed(storedItem(anEvent(1)));

    const answers = await Promise.all([store.isRouted('acme/evt-1'), store.isRouted('acme/evt-1')]);

    expect(answers).toEqual([true, true]);
    expect(ddb.calls()).toHaveLength(1);
  });

  it('reads a key asked in a later turn with a request of its own, seeing what was stored meanwhile', async () => {
    const table = new FakeTable().install(ddb);

    const [first, second] = await Promise.all([store.isRouted('acme/evt-1'), store.isRouted('acme/evt-2')]);
    table.seed(storedItem(anEvent(1)));
    const later = await store.isRouted('acme/evt-1');

    expect([first, second, later]).toEqual([false, false, true]);
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(1);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
  });

  it('splits more than 100 keys of one turn into BatchGetItem requests of at most 100', async () => {
    new FakeTable().install(ddb);

    const answers = await Promise.all(Array.from({ length: 101 }, (_, n) => store.isRouted(`acme/evt-${n}`)));

    expect(answers.every((answer) => answer === false)).toBe(true);
    expect(
      ddb.commandCalls(BatchGetCommand).map((call) => call.args[0].input.RequestItems?.[TABLE]?.Keys?.length),
    ).toEqual([100]);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
  });

  it('asks again for the keys DynamoDB left unprocessed, and answers every caller right', async () => {
    const table = new FakeTable().install(ddb).seed(storedItem(anEvent(1)), storedItem(anEvent(2)));
    table.leaveUnprocessed('BatchGet', { pick: (entry) => entry.key.pk === 'EVENT#acme/evt-2' });

    const answers = await Promise.all([1, 2, 3].map((n) => store.isRouted(`acme/evt-${n}`)));

    expect(answers).toEqual([true, true, false]);
    const requests = ddb
      .commandCalls(BatchGetCommand)
      .map((call) => call.args[0].input.RequestItems?.[TABLE]?.Keys);
    expect(requests).toEqual([[1, 2, 3].map((n) => eventKey(`acme/evt-${n}`)), [eventKey('acme/evt-2')]]);
  });

  it('rejects every caller of a batch that failed, and reads again for a later call', async () => {
    const table = new FakeTable().install(ddb).seed(storedItem(anEvent(1)));
    let down = true;
    table.failWhen((request) => down && request.operation === 'BatchGet', new Error('InternalServerError'));

    const results = await Promise.allSettled([store.isRouted('acme/evt-1'), store.isRouted('acme/evt-2')]);
    down = false;

    expect(results).toEqual([
      { status: 'rejected', reason: new Error('InternalServerError') },
      { status: 'rejected', reason: new Error('InternalServerError') },
    ]);
    expect(await store.isRouted('acme/evt-1')).toBe(true);
  });
});

describe('storing a routed event', () => {
  it('puts a single event whole, under its key and with its expiry, with an unconditional PutItem', async () => {
    const table = new FakeTable().install(ddb);

    await store.putRouted(event, EXPIRES);

    expect(ddb.calls()).toHaveLength(1);
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Item: { ...event, pk: 'EVENT#acme/evt-1', sk: 'EVENT', expiresAt: EXPIRES },
    });
    expect(table.item('EVENT#acme/evt-1', 'EVENT')).toEqual(storedItem(event));
  });

  it('writes the events stored in one turn with one BatchWriteItem', async () => {
    const table = new FakeTable().install(ddb);

    await Promise.all([1, 2, 3].map((n) => store.putRouted(anEvent(n), EXPIRES)));

    expect(ddb.calls()).toHaveLength(1);
    expect(ddb.commandCalls(BatchWriteCommand)[0]?.args[0].input).toEqual({
      RequestItems: { [TABLE]: [1, 2, 3].map((n) => ({ PutRequest: { Item: storedItem(anEvent(n)) } })) },
    });
    expect(table.itemsUnder('EVENT#')).toEqual([1, 2, 3].map((n) => storedItem(anEvent(n))));
  });

  it('writes an event stored twice in one turn once, so the batch is not refused for a duplicate key', async () => {
    const table = new FakeTable().install(ddb);

    await Promise.all([
      store.putRouted(anEvent(1), EXPIRES),
      store.putRouted(anEvent(2), EXPIRES),
      store.putRouted(anEvent(1), EXPIRES),
    ]);

    expect(ddb.commandCalls(BatchWriteCommand)[0]?.args[0].input.RequestItems?.[TABLE]).toHaveLength(2);
    expect(table.itemsUnder('EVENT#')).toEqual([storedItem(anEvent(1)), storedItem(anEvent(2))]);
  });

  it('splits more than 25 events of one turn into BatchWriteItem requests of at most 25', async () => {
    const table = new FakeTable().install(ddb);

    await Promise.all(Array.from({ length: 27 }, (_, n) => store.putRouted(anEvent(n), EXPIRES)));

    expect(
      ddb.commandCalls(BatchWriteCommand).map((call) => call.args[0].input.RequestItems?.[TABLE]?.length),
    ).toEqual([25, 2]);
    expect(table.itemsUnder('EVENT#')).toHaveLength(27);
  });

  it('writes again the events DynamoDB left unprocessed, and resolves once all are stored', async () => {
    const table = new FakeTable().install(ddb);
    table.leaveUnprocessed('BatchWrite', { pick: (entry) => entry.key.pk === 'EVENT#acme/evt-3' });

    await Promise.all([1, 2, 3].map((n) => store.putRouted(anEvent(n), EXPIRES)));

    const requests = ddb
      .commandCalls(BatchWriteCommand)
      .map((call) => call.args[0].input.RequestItems?.[TABLE]);
    expect(requests[1]).toEqual([{ PutRequest: { Item: storedItem(anEvent(3)) } }]);
    expect(table.itemsUnder('EVENT#')).toHaveLength(3);
  });

  it('rejects every caller of a batch that failed, storing none of its events', async () => {
    const table = new FakeTable().install(ddb);
    table.failWhen(
      (request) => request.operation === 'BatchWrite',
      new Error('ProvisionedThroughputExceeded'),
    );

    const results = await Promise.allSettled([1, 2].map((n) => store.putRouted(anEvent(n), EXPIRES)));

    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(table.itemsUnder('EVENT#')).toEqual([]);
  });
});

describe('reading an event', () => {
  it('returns it without its table attributes', async () => {
    ddb
      .on(GetCommand)
      .resolves({ Item: { ...event, pk: 'EVENT#acme/evt-1', sk: 'EVENT', expiresAt: EXPIRES } });
    expect(await store.get('acme/evt-1')).toEqual(event);
  });

  it('returns undefined for an unknown key', async () => {
    ddb.on(GetCommand).resolves({});
    expect(await store.get('acme/nope')).toBeUndefined();
  });
});

describe('keeping a rejected event', () => {
  it('files it under its UTC day, sorted by arrival, with only the reason fields', async () => {
    ddb.on(PutCommand).resolves({});
    const rejected = {
      reason: 'data.Id: required',
      receivedAt: '2026-03-04T23:59:59.999Z',
      detailType: 'Object.OnNew',
      brand: 'acme',
      eventId: 'evt-9',
      data: { secret: 'must not be stored' },
    };
    await store.putRejected(rejected, EXPIRES);

    const item = ddb.commandCalls(PutCommand)[0]?.args[0].input.Item ?? {};
    expect(item.pk).toBe('REJECTED#2026-03-04');
    expect(item.sk).toMatch(/^2026-03-04T23:59:59\.999Z#[0-9a-f]{8}$/);
    expect(item).toMatchObject({
      reason: 'data.Id: required',
      brand: 'acme',
      eventId: 'evt-9',
      expiresAt: EXPIRES,
    });
    expect(item).not.toHaveProperty('data');
  });
});
