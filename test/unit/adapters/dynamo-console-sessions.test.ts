import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoConsoleSessionStore } from '../../../lambdas/adapters/dynamo-console-sessions.js';

const TABLE = 'webhooks';
const ddb = mockClient(DynamoDBDocumentClient);
const store = new DynamoConsoleSessionStore(
  DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
  TABLE,
);

afterEach(() => {
  ddb.reset();
});

const HASH = 'c'.repeat(64);
const KEY_HASH = 'k'.repeat(64);
const record = {
  brand: 'acme',
  keyId: 'key_AAAAAAAAAAAA',
  keyHash: KEY_HASH,
  createdAt: '2026-12-02T10:00:00.250Z',
  expiresAt: '2026-12-02T11:00:00.000Z',
};

describe('storing a console session', () => {
  it('puts one item under the hash of the token, only if new, with the expiry as the TTL in epoch seconds', async () => {
    ddb.on(PutCommand).resolves({});
    await store.put(HASH, record);

    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Item: {
        pk: `CONSOLE#${HASH}`,
        sk: 'SESSION',
        brand: 'acme',
        keyId: 'key_AAAAAAAAAAAA',
        keyHash: KEY_HASH,
        createdAt: '2026-12-02T10:00:00.250Z',
        expiresAt: Date.parse('2026-12-02T11:00:00.000Z') / 1000,
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
  });

  it('refuses a hash stored already with its own message, naming neither hash', async () => {
    ddb.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'x', $metadata: {} }));
    const error: unknown = await store.put(HASH, record).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(Error);
    expect(String(error)).toContain('already exists');
    expect(String(error)).not.toContain(HASH);
    expect(String(error)).not.toContain(KEY_HASH);
  });

  it('passes any other failure on as it is', async () => {
    ddb.on(PutCommand).rejects(new Error('ProvisionedThroughputExceededException'));
    await expect(store.put(HASH, record)).rejects.toThrow('ProvisionedThroughputExceededException');
  });
});

describe('finding a console session', () => {
  it('reads the item by the hash, consistently, and gives the record back with its expiry as ISO', async () => {
    ddb.on(GetCommand).resolves({
      Item: {
        pk: `CONSOLE#${HASH}`,
        sk: 'SESSION',
        ...record,
        expiresAt: Date.parse(record.expiresAt) / 1000,
      },
    });

    expect(await store.findByHash(HASH)).toEqual(record);
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: `CONSOLE#${HASH}`, sk: 'SESSION' },
      ConsistentRead: true,
    });
  });

  it('finds nothing for an unknown hash (or one TTL deleted)', async () => {
    ddb.on(GetCommand).resolves({});
    expect(await store.findByHash(HASH)).toBeUndefined();
  });
});
