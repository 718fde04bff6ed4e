import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import type { APIGatewayRequestAuthorizerEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runKeysCommand } from '../../../bin/keys.js';
import { DynamoApiKeyStore } from '../../../lambdas/adapters/dynamo-api-keys.js';
import { createDocumentClient } from '../../../lambdas/adapters/dynamo-common.js';
import { DynamoConsoleSessionStore } from '../../../lambdas/adapters/dynamo-console-sessions.js';
import { handler, useClock } from '../../../lambdas/authorizer.js';
import { logger } from '../../../lambdas/commons/logger.js';
import { createApiKey, hashApiKey } from '../../../lambdas/core/api-keys.js';
import { createConsoleSession, sessionMaker } from '../../../lambdas/core/console-sessions.js';
import { recordSdkCalls } from '../../support/sdk-calls.js';

const dynamo = mockClient(DynamoDBDocumentClient);
recordSdkCalls('authorizer');

/** A key table as DynamoDB would answer it: what was Put by the key command can be found by its hash. */
function givenStoredKeys() {
  const items = new Map<string, Record<string, unknown>>();
  dynamo.on(TransactWriteCommand).callsFake((input) => {
    for (const item of input.TransactItems ?? []) {
      if (item.Put?.Item) items.set(`${item.Put.Item.pk}|${item.Put.Item.sk}`, item.Put.Item);
      if (item.Delete?.Key) items.delete(`${item.Delete.Key.pk}|${item.Delete.Key.sk}`);
    }
    return {};
  });
  dynamo.on(PutCommand).callsFake((input) => {
    items.set(`${input.Item?.pk}|${input.Item?.sk}`, input.Item ?? {});
    return {};
  });
  dynamo.on(GetCommand).callsFake((input) => ({ Item: items.get(`${input.Key?.pk}|${input.Key?.sk}`) }));
  dynamo.on(QueryCommand).callsFake((input) => ({
    Items: [...items.values()].filter(
      (item) => item.pk === input.ExpressionAttributeValues?.[':pk'] && String(item.sk).startsWith('KEY#'),
    ),
  }));
  return items;
}

function authorizerEvent(authorization?: string): APIGatewayRequestAuthorizerEventV2 {
  return {
    version: '2.0',
    type: 'REQUEST',
    routeArn: 'arn:aws:execute-api:us-east-1:123456789012:api/$default/GET/subscriptions',
    identitySource: authorization ? [authorization] : [],
    routeKey: 'GET /subscriptions',
    rawPath: '/subscriptions',
    rawQueryString: '',
    cookies: [],
    headers: authorization ? { authorization } : {},
    requestContext: {} as APIGatewayRequestAuthorizerEventV2['requestContext'],
  };
}

beforeEach(() => vi.stubEnv('TABLE_NAME', 'webhooks'));
afterEach(() => {
  dynamo.reset();
  vi.unstubAllEnvs();
  useClock(undefined);
});

describe('the authorizer', () => {
  it('authorizes a valid key and passes its brand in the context', async () => {
    givenStoredKeys();
    const store = new DynamoApiKeyStore(createDocumentClient(), 'webhooks');
    const { key, record } = await createApiKey(store, 'acme');
    const result = await handler(authorizerEvent(`Bearer ${key}`));
    expect(result).toEqual({
      isAuthorized: true,
      context: { brand: 'acme', keyId: record.keyId, credential: 'key' },
    });
  });

  it('stores only the hash of a key and looks it up by hash, consistently', async () => {
    const items = givenStoredKeys();
    const store = new DynamoApiKeyStore(createDocumentClient(), 'webhooks');
    const { key } = await createApiKey(store, 'acme');
    expect(JSON.stringify([...items.values()])).not.toContain(key);
    await handler(authorizerEvent(`Bearer ${key}`));
    expect(dynamo.commandCalls(GetCommand).at(-1)?.args[0].input).toMatchObject({
      Key: { pk: `APIKEY#${hashApiKey(key)}`, sk: 'APIKEY' },
      ConsistentRead: true,
    });
  });

  it.each([
    ['no Authorization header', undefined],
    ['an unknown key', 'Bearer cbk_not-a-key-we-issued'],
    ['a Basic scheme', 'Basic YWNtZTpzZWNyZXQ='],
    ['a key that is too short', 'Bearer abc'],
  ])('refuses %s', async (_, authorization) => {
    givenStoredKeys();
    const result = await handler(authorizerEvent(authorization));
    expect(result.isAuthorized).toBe(false);
  });

  it('refuses a key at once after the key command revoked it', async () => {
    givenStoredKeys();
    const store = new DynamoApiKeyStore(createDocumentClient(), 'webhooks');
    const printed: string[] = [];
    expect(await runKeysCommand(['create', '--brand', 'acme'], store, (line) => printed.push(line))).toBe(0);
    const key = printed.join('\n').match(/cbk_[A-Za-z0-9_-]+/)?.[0] ?? '';
    const keyId = printed.join('\n').match(/key_[A-Za-z0-9_-]+/)?.[0] ?? '';
    expect((await handler(authorizerEvent(`Bearer ${key}`))).isAuthorized).toBe(true);

    expect(
      await runKeysCommand(['revoke', '--brand', 'acme', '--id', keyId], store, (line) => printed.push(line)),
    ).toBe(0);
    expect((await handler(authorizerEvent(`Bearer ${key}`))).isAuthorized).toBe(false);
  });

  it('lists a brand keys by id without ever printing a key or its hash', async () => {
    const items = givenStoredKeys();
    const store = new DynamoApiKeyStore(createDocumentClient(), 'webhooks');
    const { key, record } = await createApiKey(store, 'acme', { description: 'CRM' });
    const printed: string[] = [];
    expect(await runKeysCommand(['list', '--brand', 'acme'], store, (line) => printed.push(line))).toBe(0);
    expect(printed).toEqual([`${record.keyId}  ${record.createdAt}  CRM`]);
    expect(printed.join('')).not.toContain(key);
    expect(printed.join('')).not.toContain(hashApiKey(key));
    expect(items.size).toBe(2);
  });

  it('needs only TABLE_NAME: it reads no other configuration', async () => {
    vi.resetModules();
    vi.stubEnv('RETENTION_DAYS', 'not a number');
    vi.stubEnv('RETRY_SCHEDULE', 'nonsense');
    givenStoredKeys();
    const store = new DynamoApiKeyStore(createDocumentClient(), 'webhooks');
    const { key } = await createApiKey(store, 'acme');
    const fresh = await import('../../../lambdas/authorizer.js');

    expect((await fresh.handler(authorizerEvent(`Bearer ${key}`))).isAuthorized).toBe(true);
    expect(dynamo.commandCalls(GetCommand).at(-1)?.args[0].input.TableName).toBe('webhooks');
  });

  it('fails, naming it, when TABLE_NAME is not set', async () => {
    vi.resetModules();
    vi.stubEnv('TABLE_NAME', '');
    const fresh = await import('../../../lambdas/authorizer.js');

    await expect(fresh.handler(authorizerEvent('Bearer cbk_whatever-key-at-all'))).rejects.toThrow(
      'TABLE_NAME is not set',
    );
  });

  it('prints usage and fails for a missing brand or an unknown command', async () => {
    const store = new DynamoApiKeyStore(createDocumentClient(), 'webhooks');
    const printed: string[] = [];
    expect(await runKeysCommand(['create'], store, (line) => printed.push(line))).toBe(2);
    expect(await runKeysCommand(['explode', '--brand', 'acme'], store, (line) => printed.push(line))).toBe(2);
    expect(printed.join('\n')).toContain('usage: npm run keys');
  });
});

describe('the authorizer, for a console session', () => {
  const NOW = new Date('2026-12-02T10:00:00.000Z');
  const HOUR_MS = 60 * 60 * 1000;

  /** A key made by the key command's code and a session made with it at NOW, both in the fake table. */
  async function givenSession() {
    const items = givenStoredKeys();
    const client = createDocumentClient();
    const keys = new DynamoApiKeyStore(client, 'webhooks');
    const { key, record } = await createApiKey(keys, 'acme');
    const session = await createConsoleSession(
      { sessions: new DynamoConsoleSessionStore(client, 'webhooks'), now: () => NOW },
      sessionMaker('acme', record.keyId, `Bearer ${key}`),
      {},
    );
    dynamo.resetHistory();
    return { items, key, record, token: session.token, keys };
  }

  it("admits the token as the key's brand and says it is a session; reads the session, then its key, consistently", async () => {
    const { key, record, token } = await givenSession();
    useClock(() => new Date(NOW.getTime() + 10 * 60 * 1000));

    const result = await handler(authorizerEvent(`Bearer ${token}`));

    expect(result).toEqual({
      isAuthorized: true,
      context: { brand: 'acme', keyId: record.keyId, credential: 'session' },
    });
    expect(dynamo.commandCalls(GetCommand).map((call) => call.args[0].input)).toEqual([
      {
        TableName: 'webhooks',
        Key: { pk: `CONSOLE#${hashApiKey(token)}`, sk: 'SESSION' },
        ConsistentRead: true,
      },
      { TableName: 'webhooks', Key: { pk: `APIKEY#${hashApiKey(key)}`, sk: 'APIKEY' }, ConsistentRead: true },
    ]);
  });

  it('stores the token only as its hash', async () => {
    const { items, token } = await givenSession();
    expect(JSON.stringify([...items.values()])).not.toContain(token);
    expect(JSON.stringify([...items.values()])).not.toContain(token.slice(4));
  });

  it('refuses it from the second it expires, though its item is still in the table (TTL lags)', async () => {
    const { token } = await givenSession();

    useClock(() => new Date(NOW.getTime() + HOUR_MS - 1));
    expect((await handler(authorizerEvent(`Bearer ${token}`))).isAuthorized).toBe(true);
    useClock(() => new Date(NOW.getTime() + HOUR_MS));
    expect((await handler(authorizerEvent(`Bearer ${token}`))).isAuthorized).toBe(false);
  });

  it('refuses it at once when the key command revokes the key that made it', async () => {
    const { record, token, keys } = await givenSession();
    useClock(() => NOW);
    expect((await handler(authorizerEvent(`Bearer ${token}`))).isAuthorized).toBe(true);

    const printed: string[] = [];
    expect(
      await runKeysCommand(['revoke', '--brand', 'acme', '--id', record.keyId], keys, (line) =>
        printed.push(line),
      ),
    ).toBe(0);

    expect(await handler(authorizerEvent(`Bearer ${token}`))).toEqual({
      isAuthorized: false,
      context: { brand: '', keyId: '', credential: '' },
    });
  });

  it('refuses an unknown session token without trying it as an API key, and never logs it', async () => {
    givenStoredKeys();
    const info = vi.spyOn(logger, 'info');
    const token = 'cbs_unknown-token-of-enough-length-0123456789';

    expect((await handler(authorizerEvent(`Bearer ${token}`))).isAuthorized).toBe(false);

    expect(dynamo.commandCalls(GetCommand).map((call) => call.args[0].input.Key?.pk)).toEqual([
      `CONSOLE#${hashApiKey(token)}`,
    ]);
    expect(info).toHaveBeenCalledWith('console session refused', { routeKey: 'GET /subscriptions' });
    expect(JSON.stringify(info.mock.calls)).not.toContain(token);
  });
});
