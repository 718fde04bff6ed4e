import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ApiResult } from '../../../lambdas/api/http.js';
import { handler, useServiceDeps } from '../../../lambdas/api.js';
import { serviceDeps } from '../../../lambdas/commons/service-deps.js';
import { readConfig } from '../../../lambdas/config.js';
import { hashApiKey } from '../../../lambdas/core/api-keys.js';
import type { Subscription } from '../../../lambdas/core/model.js';
import { generateSecret } from '../../../lambdas/core/signing.js';
import { apiEvent, lambdaContext } from '../../support/api-events.js';
import { exampleData } from '../../support/factories.js';
import { recordSdkCalls } from '../../support/sdk-calls.js';

/*
 * The API handler's wiring: route-key dispatch, the brand from the authorizer, request parsing and
 * error mapping, through the real adapters on stubbed clients. What each use case does is tested at
 * its ports, test/unit/core/subscriptions-service.test.ts and deliveries-service.test.ts.
 */

const dynamo = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
recordSdkCalls('api');
const NOW = new Date('2026-11-27T12:00:00.000Z');
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/delivery';
const SUB_ID = 'sub_AAAAAAAAAAAAAAAA';
const publicResolver = vi.fn(async () => [{ address: '93.184.216.34', family: 4 as const }]);

const createBody = {
  name: 'CRM sync',
  entity: 'Object',
  events: ['OnNew'],
  url: 'https://crm.example.com/hook',
};

function storedSubscription(overrides: Partial<Subscription> = {}): Subscription {
  return {
    id: SUB_ID,
    brand: 'acme',
    name: 'CRM sync',
    entity: 'Object',
    events: [{ name: 'OnNew' }],
    url: 'https://crm.example.com/hook',
    format: 'json',
    includeCompleteData: false,
    status: 'active',
    secrets: [{ secret: generateSecret(), createdAt: '2026-11-01T00:00:00.000Z' }],
    createdAt: '2026-11-01T00:00:00.000Z',
    updatedAt: '2026-11-01T00:00:00.000Z',
    version: 3,
    ...overrides,
  };
}

const asItem = (subscription: Subscription) => ({
  pk: `BRAND#${subscription.brand}`,
  sk: `SUB#${subscription.id}`,
  ...subscription,
});

async function call(
  method: string,
  path: string,
  options: Parameters<typeof apiEvent>[2] = { brand: 'acme' },
) {
  const result = (await handler(apiEvent(method, path, options), lambdaContext)) as ApiResult;
  return {
    status: result.statusCode,
    body: result.body ? JSON.parse(result.body) : undefined,
    raw: result.body ?? '',
  };
}

/** The subscription is found only under acme's partition, as DynamoDB would answer. */
function givenSubscription(subscription: Subscription) {
  dynamo
    .on(GetCommand)
    .callsFake((input) =>
      input.Key?.pk === `BRAND#${subscription.brand}` && input.Key?.sk === `SUB#${subscription.id}`
        ? { Item: asItem(subscription) }
        : {},
    );
}

beforeEach(() => {
  vi.stubEnv('TABLE_NAME', 'webhooks');
  vi.stubEnv('DELIVERY_QUEUE_URL', QUEUE_URL);
  useServiceDeps({ ...serviceDeps(readConfig()), resolve: publicResolver, now: () => NOW });
  sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
});

afterEach(() => {
  dynamo.reset();
  sqs.reset();
  publicResolver.mockClear();
  useServiceDeps(undefined);
  vi.unstubAllEnvs();
});

describe('POST /subscriptions', () => {
  it("creates the subscription for the authorizer's brand and answers 201 with its secret", async () => {
    dynamo.on(TransactWriteCommand).resolves({});
    const { status, body } = await call('POST', '/subscriptions', { brand: 'acme', body: createBody });
    expect(status).toBe(201);
    expect(body).toMatchObject({
      ...createBody,
      events: [{ name: 'OnNew' }],
      brand: 'acme',
      status: 'active',
    });
    expect(body.secret).toMatch(/^whsec_/);
    const written = dynamo.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems?.[0]?.Put?.Item;
    expect(written).toMatchObject({ brand: 'acme', name: 'CRM sync', secrets: [{ secret: body.secret }] });
  });

  it('answers 422 naming each invalid field and writes nothing', async () => {
    const { status, body } = await call('POST', '/subscriptions', {
      brand: 'acme',
      body: { ...createBody, entity: 'Invoice', url: 'http://10.0.0.1/' },
    });
    expect(status).toBe(422);
    expect(body.error.code).toBe('validation_failed');
    expect(body.error.details.map((issue: { field: string }) => issue.field)).toEqual(
      expect.arrayContaining(['entity']),
    );
    expect(dynamo.calls()).toHaveLength(0);
  });

  it.each([
    [
      'malformed JSON',
      { rawBody: '{"name": ', headers: { 'content-type': 'application/json' } },
      400,
      'invalid_json',
    ],
    [
      'a text body',
      { rawBody: 'name=x', headers: { 'content-type': 'text/plain' } },
      415,
      'unsupported_media_type',
    ],
    ['a body over 1 MB', { rawBody: `"${'x'.repeat(1024 * 1024)}"` }, 413, 'payload_too_large'],
  ])('answers %s with a %i JSON error', async (_, options, status, code) => {
    const result = await call('POST', '/subscriptions', { brand: 'acme', ...options });
    expect(result.status).toBe(status);
    expect(result.body.error.code).toBe(code);
    expect(dynamo.calls()).toHaveLength(0);
  });

  it('answers 401 on a data route when the authorizer gave no brand', async () => {
    const { status } = await call('POST', '/subscriptions', { body: createBody });
    expect(status).toBe(401);
  });
});

describe('reading subscriptions', () => {
  it('lists subscriptions a page of `limit` at a time, with a cursor, and never shows their secrets', async () => {
    const subscription = storedSubscription({
      headers: { Authorization: 'Bearer listener-token', 'X-Team': 'crm', 'X-Auth': 'a', 'X-Passwd': 'p' },
      publicHeaders: ['x-team'],
    });
    dynamo.on(QueryCommand).resolves({
      Items: [asItem(subscription)],
      LastEvaluatedKey: { pk: 'BRAND#acme', sk: `SUB#${SUB_ID}` },
    });
    const { status, body, raw } = await call('GET', '/subscriptions', {
      brand: 'acme',
      query: { limit: '1' },
    });
    expect(status).toBe(200);
    expect(body.items).toHaveLength(1);
    expect(body.cursor).toEqual(expect.any(String));
    expect(raw).not.toContain(subscription.secrets[0]?.secret);
    expect(raw).not.toContain('listener-token');
    // Every value is redacted, whatever the header's name, unless the client marked the header public.
    expect(body.items[0].headers).toEqual({
      Authorization: '[redacted]',
      'X-Team': 'crm',
      'X-Auth': '[redacted]',
      'X-Passwd': '[redacted]',
    });
    expect(dynamo.commandCalls(QueryCommand)[0]?.args[0].input.Limit).toBe(1);
  });

  it('answers 400 for a limit out of range', async () => {
    const { status, body } = await call('GET', '/subscriptions', { brand: 'acme', query: { limit: '1000' } });
    expect(status).toBe(400);
    expect(body.error.details[0].field).toBe('limit');
  });

  it('returns one subscription without its secrets', async () => {
    const subscription = storedSubscription();
    givenSubscription(subscription);
    const { status, body, raw } = await call('GET', `/subscriptions/${SUB_ID}`);
    expect(status).toBe(200);
    expect(body.id).toBe(SUB_ID);
    expect(body.secrets).toBeUndefined();
    expect(raw).not.toContain('whsec_');
  });
});

describe('changing subscriptions', () => {
  it('applies a PATCH and answers the next version', async () => {
    givenSubscription(storedSubscription());
    dynamo.on(TransactWriteCommand).resolves({});
    const { status, body } = await call('PATCH', `/subscriptions/${SUB_ID}`, {
      brand: 'acme',
      body: { status: 'paused' },
    });
    expect(status).toBe(200);
    expect(body.status).toBe('paused');
    const put = dynamo.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems?.[0]?.Put;
    expect(put?.Item).toMatchObject({ status: 'paused', version: 4 });
  });

  it('deletes a subscription and answers 404 the second time', async () => {
    givenSubscription(storedSubscription());
    dynamo.on(TransactWriteCommand).resolves({});
    expect((await call('DELETE', `/subscriptions/${SUB_ID}`)).status).toBe(204);
    dynamo.on(GetCommand).resolves({});
    expect((await call('DELETE', `/subscriptions/${SUB_ID}`)).status).toBe(404);
  });

  it("rotates the secret and answers the new one with the end of the old one's overlap", async () => {
    givenSubscription(storedSubscription());
    dynamo.on(TransactWriteCommand).resolves({});
    const { status, body } = await call('POST', `/subscriptions/${SUB_ID}/secret/rotate`);
    expect(status).toBe(200);
    expect(body.secret).toMatch(/^whsec_/);
    expect(body.previousSecretsExpireAt).toBe('2026-11-28T12:00:00.000Z');
  });
});

describe('test events and the delivery log', () => {
  const delivery = {
    id: 'dlv_00m9abcde0123456789abcdef',
    subscriptionId: SUB_ID,
    brand: 'acme',
    eventKey: 'acme/evt-1',
    webhookId: 'msg_x',
    entity: 'Object',
    event: 'OnNew',
    receivedAt: NOW.toISOString(),
    data: exampleData('Object', 'OnNew'),
    status: 'failed',
    attempts: [{ attempt: 1, at: NOW.toISOString(), durationMs: 12, statusCode: 500, error: 'HTTP 500' }],
    createdAt: NOW.toISOString(),
    updatedAt: NOW.toISOString(),
  };

  beforeEach(() => {
    const subscription = asItem(storedSubscription());
    dynamo.on(GetCommand).callsFake((input) => {
      if (input.Key?.sk === `SUB#${SUB_ID}` && input.Key?.pk === 'BRAND#acme') return { Item: subscription };
      if (input.Key?.sk === `DLV#${delivery.id}`)
        return { Item: { pk: `SUB#${SUB_ID}`, sk: `DLV#${delivery.id}`, ...delivery } };
      return {};
    });
  });

  it('queues a test event built from the catalogue example of the first selected event', async () => {
    dynamo.on(PutCommand).resolves({});
    const { status, body } = await call('POST', `/subscriptions/${SUB_ID}/test`);
    expect(status).toBe(202);
    expect(body.event).toBe('Object.OnNew');
    const message = JSON.parse(
      sqs.commandCalls(SendMessageBatchCommand)[0]?.args[0].input.Entries?.[0]?.MessageBody ?? '{}',
    );
    expect(message).toMatchObject({
      v: 1,
      brand: 'acme',
      subscriptionId: SUB_ID,
      deliveryId: body.deliveryId,
      test: true,
      event: {
        entity: 'Object',
        event: 'OnNew',
        receivedAt: NOW.toISOString(),
        data: exampleData('Object', 'OnNew'),
      },
    });
    expect(sqs.commandCalls(SendMessageBatchCommand)[0]?.args[0].input.QueueUrl).toBe(QUEUE_URL);
  });

  it('lists the deliveries of the status asked, with attempts and payload', async () => {
    dynamo
      .on(QueryCommand)
      .resolves({ Items: [{ pk: `SUB#${SUB_ID}`, sk: `DLV#${delivery.id}`, ...delivery }] });
    const { status, body } = await call('GET', `/subscriptions/${SUB_ID}/deliveries`, {
      brand: 'acme',
      query: { status: 'failed' },
    });
    expect(status).toBe(200);
    expect(body.items[0].attempts[0]).toMatchObject({ statusCode: 500, error: 'HTTP 500' });
    expect(JSON.parse(body.items[0].payload.body).Event).toMatchObject({
      Subscription: 'Object',
      Name: 'OnNew',
      Brand: 'acme',
      Object: expect.objectContaining({ Id: 901731 }),
    });
    expect(body.items[0]).not.toHaveProperty('data');
  });

  it('answers 422 for an unknown status filter', async () => {
    const { status, body } = await call('GET', `/subscriptions/${SUB_ID}/deliveries`, {
      brand: 'acme',
      query: { status: 'lost' },
    });
    expect(status).toBe(422);
    expect(body.error.details[0].field).toBe('status');
  });

  it('resends a delivery with its attempt count carried on, and marks it pending', async () => {
    dynamo.on(UpdateCommand).resolves({});
    const { status } = await call('POST', `/subscriptions/${SUB_ID}/deliveries/${delivery.id}/resend`);
    expect(status).toBe(202);
    const message = JSON.parse(
      sqs.commandCalls(SendMessageBatchCommand)[0]?.args[0].input.Entries?.[0]?.MessageBody ?? '{}',
    );
    expect(message).toEqual({
      v: 1,
      brand: 'acme',
      subscriptionId: SUB_ID,
      deliveryId: delivery.id,
      eventKey: 'acme/evt-1',
      attemptsBefore: 1,
      runAttemptsBefore: 0,
      event: { entity: 'Object', event: 'OnNew', receivedAt: NOW.toISOString(), data: delivery.data },
    });
  });

  it('replays the deliveries of a time range', async () => {
    dynamo
      .on(QueryCommand)
      .resolves({ Items: [{ pk: `SUB#${SUB_ID}`, sk: `DLV#${delivery.id}`, ...delivery }] });
    dynamo.on(UpdateCommand).resolves({});
    const { status, body } = await call('POST', `/subscriptions/${SUB_ID}/replay`, {
      brand: 'acme',
      body: { since: '2026-11-27T00:00:00Z', until: '2026-11-27T23:59:59Z' },
    });
    expect(status).toBe(202);
    expect(body).toMatchObject({ queued: 1, truncated: false });
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(1);
  });
});

describe('POST /console/sessions', () => {
  const KEY = 'cbk_the-key-the-brand-backend-holds-0123456789';
  const asKey = { keyId: 'key_AAAAAAAAAAAA', credential: 'key' };
  const withKey = (body?: unknown, extra: Parameters<typeof apiEvent>[2] = {}) => ({
    brand: 'acme',
    context: asKey,
    headers: { authorization: `Bearer ${KEY}` },
    ...(body === undefined ? {} : { body }),
    ...extra,
  });

  it("makes an hour's session for the key's brand: 201 with the link, the token and the expiry, stored by hash", async () => {
    dynamo.on(PutCommand).resolves({});
    const result = (await handler(
      apiEvent('POST', '/console/sessions', withKey()),
      lambdaContext,
    )) as ApiResult;
    const body = JSON.parse(result.body ?? '');

    expect(result.statusCode).toBe(201);
    expect(result.headers).toMatchObject({ 'content-type': 'application/json', 'cache-control': 'no-store' });
    expect(Object.keys(body).sort()).toEqual(['expiresAt', 'token', 'url']);
    expect(body.token).toMatch(/^cbs_[A-Za-z0-9_-]{43}$/);
    expect(body.url).toBe(`/console#session=${body.token}`);
    expect(body.expiresAt).toBe('2026-11-27T13:00:00.000Z');
    const item = dynamo.commandCalls(PutCommand)[0]?.args[0].input.Item;
    expect(item).toEqual({
      pk: `CONSOLE#${hashApiKey(body.token)}`,
      sk: 'SESSION',
      brand: 'acme',
      keyId: 'key_AAAAAAAAAAAA',
      keyHash: hashApiKey(KEY),
      createdAt: NOW.toISOString(),
      expiresAt: Date.parse('2026-11-27T13:00:00.000Z') / 1000,
    });
    expect(JSON.stringify(item)).not.toContain(body.token);
    expect(JSON.stringify(item)).not.toContain(KEY);
  });

  it('makes a shorter session when asked, and two calls give two tokens', async () => {
    dynamo.on(PutCommand).resolves({});
    const first = await call('POST', '/console/sessions', withKey({ expiresInSeconds: 300 }));
    const second = await call('POST', '/console/sessions', withKey({}));

    expect(first.status).toBe(201);
    expect(first.body.expiresAt).toBe('2026-11-27T12:05:00.000Z');
    expect(second.body.token).not.toBe(first.body.token);
  });

  it.each([
    [{ expiresInSeconds: 3601 }, 'expiresInSeconds'],
    [{ expiresInSeconds: 59 }, 'expiresInSeconds'],
    [{ expiresInSeconds: 'an hour' }, 'expiresInSeconds'],
    [{ expiresInSeconds: 90.5 }, 'expiresInSeconds'],
    [{ brand: 'globex' }, 'brand'],
    [[], '(body)'],
    ['session', '(body)'],
  ])('answers 422 naming the field for %j, and stores nothing', async (body, field) => {
    const { status, body: answer } = await call('POST', '/console/sessions', withKey(body));

    expect(status).toBe(422);
    expect(answer.error.code).toBe('validation_failed');
    expect(answer.error.details.map((issue: { field: string }) => issue.field)).toEqual([field]);
    expect(dynamo.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('answers 400 naming the body for JSON that does not parse, and 415 for another content type', async () => {
    const broken = await call('POST', '/console/sessions', withKey(undefined, { rawBody: '{"expires' }));
    const text = await call(
      'POST',
      '/console/sessions',
      withKey(undefined, {
        rawBody: 'hello',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'text/plain' },
      }),
    );

    expect(broken.status).toBe(400);
    expect(broken.body.error.details[0].field).toBe('(body)');
    expect(text.status).toBe(415);
    expect(text.body.error.details[0].field).toBe('content-type');
    expect(dynamo.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('answers 403 naming the credential when a console session asks for another session', async () => {
    const { status, body, raw } = await call(
      'POST',
      '/console/sessions',
      withKey(undefined, {
        context: { keyId: 'key_AAAAAAAAAAAA', credential: 'session' },
        headers: { authorization: 'Bearer cbs_a-session-token-of-enough-length-0123456789' },
      }),
    );

    expect(status).toBe(403);
    expect(body.error).toMatchObject({
      code: 'api_key_required',
      details: [{ field: 'authorization', message: expect.stringContaining('console session') }],
    });
    expect(raw).not.toContain('cbs_a-session');
    expect(dynamo.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('answers 403 when the authorizer did not say the caller used a key', async () => {
    const { status } = await call(
      'POST',
      '/console/sessions',
      withKey(undefined, { context: { keyId: 'key_A' } }),
    );
    expect(status).toBe(403);
    expect(dynamo.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('lets a console session use the data routes as its brand', async () => {
    givenSubscription(storedSubscription());
    const { status, body } = await call('GET', `/subscriptions/${SUB_ID}`, {
      brand: 'acme',
      context: { keyId: 'key_AAAAAAAAAAAA', credential: 'session' },
    });
    expect(status).toBe(200);
    expect(body.id).toBe(SUB_ID);
  });
});

describe('public routes and errors', () => {
  it('serves the catalogue without a key', async () => {
    const { status, body } = await call('GET', '/event-types', {});
    expect(status).toBe(200);
    expect(body.entities.map((entity: { entity: string }) => entity.entity)).toContain('Satisfaction');
  });

  it('serves an OpenAPI document that lists every route', async () => {
    const { status, body } = await call('GET', '/openapi.json', {});
    expect(status).toBe(200);
    expect(body.openapi).toBe('3.1.0');
    expect(Object.keys(body.paths)).toContain('/subscriptions/{id}/deliveries/{deliveryId}/resend');
    expect(body.paths['/subscriptions'].post.requestBody.content['application/json'].schema.required).toEqual(
      expect.arrayContaining(['name', 'entity', 'events', 'url']),
    );
  });

  it('documents POST /console/sessions as key-only with an optional body, and the data routes as key or session', async () => {
    const { body } = await call('GET', '/openapi.json', {});
    const sessions = body.paths['/console/sessions'].post;

    expect(sessions.security).toEqual([{ apiKey: [] }]);
    expect(sessions.requestBody.required).toBe(false);
    expect(sessions.requestBody.content['application/json'].schema).toMatchObject({
      additionalProperties: false,
      properties: { expiresInSeconds: { type: 'integer', minimum: 60, maximum: 3600 } },
    });
    expect(sessions.responses['201'].description).toContain('/console#session=');
    expect(body.paths['/subscriptions'].get.security).toEqual([{ apiKey: [] }, { consoleSession: [] }]);
    expect(body.paths['/event-types'].get.security).toEqual([]);
    expect(Object.keys(body.components.securitySchemes)).toEqual(['apiKey', 'consoleSession']);
  });

  it('answers an internal failure with a plain 500 that leaks nothing', async () => {
    dynamo
      .on(GetCommand)
      .rejects(new Error('ProvisionedThroughputExceeded on table webhooks-secret-internal'));
    const { status, body, raw } = await call('GET', `/subscriptions/${SUB_ID}`);
    expect(status).toBe(500);
    expect(body).toEqual({
      error: { code: 'internal_error', message: 'Internal error', details: [], requestId: 'apigw-req-1' },
    });
    expect(raw).not.toContain('webhooks-secret-internal');
  });

  it('answers 404 for a route that does not exist', async () => {
    const { status } = await call('GET', '/nowhere', { brand: 'acme' });
    expect(status).toBe(404);
  });
});
