import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoEventStore } from '../../../lambdas/adapters/dynamo-events.js';
import type { EventClaim } from '../../../lambdas/core/model.js';
import { conditionFailed, FakeTable } from '../../support/dynamo-fake.js';

const TABLE = 'webhooks';
const ddb = mockClient(DynamoDBDocumentClient);
const store = new DynamoEventStore(
  DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
  TABLE,
);

afterEach(() => {
  ddb.reset();
});

const event: EventClaim = {
  key: 'acme/evt-1',
  brand: 'acme',
  receivedAt: '2026-03-04T05:06:07.089Z',
  envelopeId: 'eb-1',
};
const EXPIRES = 1_800_000_000;

const eventKey = (key: string) => ({ pk: `EVENT#${key}`, sk: 'EVENT' });
const storedItem = (stored: EventClaim) => ({ ...stored, ...eventKey(stored.key), expiresAt: EXPIRES });
const anEvent = (n: number): EventClaim => ({ ...event, key: `acme/evt-${n}` });

describe('claiming an event for its envelope', () => {
  const CONDITION = 'attribute_not_exists(pk) OR envelopeId = :envelopeId';

  it('puts the claim, under its key, with its expiry and envelope id, on one conditional PutItem', async () => {
    const table = new FakeTable().install(ddb);

    expect(await store.claim(event, EXPIRES)).toBe(true);

    expect(ddb.calls()).toHaveLength(1);
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Item: {
        key: 'acme/evt-1',
        brand: 'acme',
        receivedAt: '2026-03-04T05:06:07.089Z',
        envelopeId: 'eb-1',
        pk: 'EVENT#acme/evt-1',
        sk: 'EVENT',
        expiresAt: EXPIRES,
      },
      ConditionExpression: CONDITION,
      ExpressionAttributeValues: { ':envelopeId': 'eb-1' },
    });
    expect(table.itemsUnder('EVENT#')).toEqual([storedItem(event)]);
  });

  it('claims again for the same envelope (SQS redelivering it after a crash): it still owns the key', async () => {
    const table = new FakeTable().install(ddb).seed(storedItem(event));

    expect(await store.claim(event, EXPIRES)).toBe(true);

    expect(table.itemsUnder('EVENT#')).toEqual([storedItem(event)]);
  });

  it('answers false for another envelope of the same key, leaving the first claim as it was', async () => {
    const table = new FakeTable().install(ddb).seed(storedItem(event));
    const copy: EventClaim = { ...event, envelopeId: 'eb-2', receivedAt: '2026-03-04T05:07:00.000Z' };

    expect(await store.claim(copy, EXPIRES)).toBe(false);

    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input.ExpressionAttributeValues).toEqual({
      ':envelopeId': 'eb-2',
    });
    expect(table.itemsUnder('EVENT#')).toEqual([storedItem(event)]);
  });

  it('lets exactly one of two envelopes of one key claimed at the same moment win', async () => {
    const table = new FakeTable().install(ddb);
    const copy: EventClaim = { ...event, envelopeId: 'eb-2' };

    const answers = await Promise.all([store.claim(event, EXPIRES), store.claim(copy, EXPIRES)]);

    expect(answers).toEqual([true, false]);
    expect(table.itemsUnder('EVENT#')).toEqual([storedItem(event)]);
  });

  it('claims different keys independently, each with a PutItem of its own (no batching)', async () => {
    const table = new FakeTable().install(ddb);

    const answers = await Promise.all([1, 2, 3].map((n) => store.claim(anEvent(n), EXPIRES)));

    expect(answers).toEqual([true, true, true]);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(3);
    expect(ddb.calls()).toHaveLength(3);
    expect(table.itemsUnder('EVENT#')).toEqual([1, 2, 3].map((n) => storedItem(anEvent(n))));
  });

  it('answers false for a ConditionalCheckFailedException as DynamoDB throws it', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());

    expect(await store.claim(event, EXPIRES)).toBe(false);
  });

  it('rethrows any other error, so the record is retried', async () => {
    const table = new FakeTable().install(ddb);
    const throttled = Object.assign(new Error('Rate exceeded'), {
      name: 'ProvisionedThroughputExceededException',
    });
    table.failWhen((request) => request.operation === 'Put', throttled);

    await expect(store.claim(event, EXPIRES)).rejects.toBe(throttled);
    expect(table.itemsUnder('EVENT#')).toEqual([]);
  });

  it('stores only the claim, whatever else the object passed carries (never event data)', async () => {
    const table = new FakeTable().install(ddb);
    const withData = { ...event, data: { Id: 1, Message: 'x'.repeat(5_000) } };

    expect(await store.claim(withData, EXPIRES)).toBe(true);

    expect(table.itemsUnder('EVENT#')).toEqual([storedItem(event)]);
  });
});

describe('reading a legacy event (stored whole by builds before records kept their event)', () => {
  const legacy = {
    key: 'acme/evt-1',
    brand: 'acme',
    entity: 'Object',
    event: 'OnNew',
    data: { Id: 1 },
    receivedAt: '2026-03-04T05:06:07.089Z',
    envelopeId: 'eb-1',
  };

  it('returns the event a legacy item holds, read consistently', async () => {
    ddb.on(GetCommand).resolves({ Item: { ...legacy, ...eventKey(legacy.key), expiresAt: EXPIRES } });

    expect(await store.getLegacy('acme/evt-1')).toEqual({
      entity: 'Object',
      event: 'OnNew',
      receivedAt: legacy.receivedAt,
      data: { Id: 1 },
    });
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Key: eventKey('acme/evt-1'),
      ConsistentRead: true,
    });
  });

  it('returns undefined for a claim, which has no data, and for a key that is gone', async () => {
    const table = new FakeTable().install(ddb);
    await store.claim(event, EXPIRES);

    expect(await store.getLegacy(event.key)).toBeUndefined();
    expect(await store.getLegacy('acme/gone')).toBeUndefined();
    expect(table.itemsUnder('EVENT#')).toHaveLength(1);
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
