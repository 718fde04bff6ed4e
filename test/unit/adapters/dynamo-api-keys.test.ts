import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoApiKeyStore } from '../../../lambdas/adapters/dynamo-api-keys.js';

const TABLE = 'webhooks';
const ddb = mockClient(DynamoDBDocumentClient);
const store = new DynamoApiKeyStore(
  DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
  TABLE,
);

afterEach(() => {
  ddb.reset();
});

const HASH = 'a'.repeat(64);
const record = { keyId: 'key_AAAAAAAAAAAA', brand: 'acme', createdAt: '2026-01-01T00:00:00.000Z' };
const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: 'x',
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

describe('storing an API key', () => {
  it('writes the hash item and the brand index item together, both only if new', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    await store.put(HASH, { ...record, description: 'CRM' });

    expect(ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems).toEqual([
      {
        Put: {
          TableName: TABLE,
          Item: { ...record, description: 'CRM', pk: `APIKEY#${HASH}`, sk: 'APIKEY' },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Put: {
          TableName: TABLE,
          Item: { ...record, description: 'CRM', hash: HASH, pk: 'BRAND#acme', sk: 'KEY#key_AAAAAAAAAAAA' },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ]);
  });

  it('never puts the hash in the error for a duplicate', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed', 'None'));
    const error: unknown = await store.put(HASH, record).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    expect(String(error)).not.toContain(HASH);
  });
});

describe('finding an API key by hash', () => {
  it('reads consistently, so a revocation takes effect at once', async () => {
    ddb.on(GetCommand).resolves({ Item: { ...record, pk: `APIKEY#${HASH}`, sk: 'APIKEY' } });
    expect(await store.findByHash(HASH)).toEqual(record);
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: `APIKEY#${HASH}`, sk: 'APIKEY' },
      ConsistentRead: true,
    });
  });

  it('returns undefined for an unknown hash', async () => {
    ddb.on(GetCommand).resolves({});
    expect(await store.findByHash(HASH)).toBeUndefined();
  });
});

describe('listing a brand API keys', () => {
  it('returns the records without their hashes, across pages', async () => {
    const second = { ...record, keyId: 'key_BBBBBBBBBBBB', description: 'billing' };
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: [{ ...record, hash: HASH, pk: 'BRAND#acme', sk: 'KEY#key_AAAAAAAAAAAA' }],
        LastEvaluatedKey: { pk: 'BRAND#acme', sk: 'KEY#key_AAAAAAAAAAAA' },
      })
      .resolvesOnce({
        Items: [{ ...second, hash: 'b'.repeat(64), pk: 'BRAND#acme', sk: 'KEY#key_BBBBBBBBBBBB' }],
      });

    expect(await store.list('acme')).toEqual([record, second]);
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': 'BRAND#acme', ':prefix': 'KEY#' },
    });
  });
});

describe('revoking an API key', () => {
  it('deletes the hash item and the brand index item in one transaction', async () => {
    ddb
      .on(GetCommand)
      .resolves({ Item: { ...record, hash: HASH, pk: 'BRAND#acme', sk: 'KEY#key_AAAAAAAAAAAA' } });
    ddb.on(TransactWriteCommand).resolves({});

    expect(await store.revoke('acme', 'key_AAAAAAAAAAAA')).toBe(true);
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input.Key).toEqual({
      pk: 'BRAND#acme',
      sk: 'KEY#key_AAAAAAAAAAAA',
    });
    expect(ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems).toEqual([
      {
        Delete: {
          TableName: TABLE,
          Key: { pk: 'BRAND#acme', sk: 'KEY#key_AAAAAAAAAAAA' },
          ConditionExpression: 'attribute_exists(pk)',
        },
      },
      { Delete: { TableName: TABLE, Key: { pk: `APIKEY#${HASH}`, sk: 'APIKEY' } } },
    ]);
  });

  it('answers false for a key the brand does not have', async () => {
    ddb.on(GetCommand).resolves({});
    expect(await store.revoke('acme', 'key_AAAAAAAAAAAA')).toBe(false);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('answers false when it was revoked concurrently', async () => {
    ddb
      .on(GetCommand)
      .resolves({ Item: { ...record, hash: HASH, pk: 'BRAND#acme', sk: 'KEY#key_AAAAAAAAAAAA' } });
    ddb.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed', 'None'));
    expect(await store.revoke('acme', 'key_AAAAAAAAAAAA')).toBe(false);
  });
});
