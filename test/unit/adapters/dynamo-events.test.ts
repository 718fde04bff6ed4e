import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoEventStore } from '../../../lambdas/adapters/dynamo-events.js';
import type { StoredEvent } from '../../../lambdas/core/model.js';

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

/** DynamoDB returns the old item of a failed condition in AttributeValue form. */
const conditionFailed = (item?: Record<string, unknown>) =>
  new ConditionalCheckFailedException({
    message: 'x',
    $metadata: {},
    ...(item && { Item: item as ConditionalCheckFailedException['Item'] }),
  });

describe('admitting an event', () => {
  it('stores a new event under its key with its expiry and answers new', async () => {
    ddb.on(PutCommand).resolves({});
    expect(await store.admit(event, EXPIRES)).toBe('new');
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Item: { ...event, pk: 'EVENT#acme/evt-1', sk: 'EVENT', expiresAt: EXPIRES },
      ConditionExpression: 'attribute_not_exists(pk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  it('answers unrouted for a known key whose routing never finished', async () => {
    ddb.on(PutCommand).rejects(conditionFailed({ pk: { S: 'EVENT#acme/evt-1' }, sk: { S: 'EVENT' } }));
    expect(await store.admit(event, EXPIRES)).toBe('unrouted');
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
  });

  it('answers routed for a known key that was routed', async () => {
    ddb
      .on(PutCommand)
      .rejects(
        conditionFailed({ pk: { S: 'EVENT#acme/evt-1' }, routedAt: { S: '2026-03-04T05:06:08.000Z' } }),
      );
    expect(await store.admit(event, EXPIRES)).toBe('routed');
  });

  it('reads the stored event consistently when the failure carries no old item', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({ Item: { ...event, routedAt: '2026-03-04T05:06:08.000Z' } });
    expect(await store.admit(event, EXPIRES)).toBe('routed');
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: 'EVENT#acme/evt-1', sk: 'EVENT' },
      ConsistentRead: true,
    });
  });

  it('passes other errors through', async () => {
    ddb.on(PutCommand).rejects(new Error('throttled'));
    await expect(store.admit(event, EXPIRES)).rejects.toThrow('throttled');
  });
});

describe('marking an event routed', () => {
  it('sets routedAt on the stored event only', async () => {
    ddb.on(UpdateCommand).resolves({});
    await store.markRouted('acme/evt-1', '2026-03-04T05:06:08.000Z');
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: 'EVENT#acme/evt-1', sk: 'EVENT' },
      UpdateExpression: 'SET #routedAt = :at',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#routedAt': 'routedAt' },
      ExpressionAttributeValues: { ':at': '2026-03-04T05:06:08.000Z' },
    });
  });

  it('does nothing for an event that is no longer stored', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());
    await expect(store.markRouted('acme/evt-1', '2026-03-04T05:06:08.000Z')).resolves.toBeUndefined();
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
