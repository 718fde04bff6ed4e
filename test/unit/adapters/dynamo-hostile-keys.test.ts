import { describe, expect, it } from 'vitest';
import { fromItem, toItem } from '../../../lambdas/adapters/dynamo-common.js';
import { DynamoDeliveryStore } from '../../../lambdas/adapters/dynamo-deliveries.js';
import { DynamoSubscriptionStore } from '../../../lambdas/adapters/dynamo-subscriptions.js';
import { deliveryIdFor } from '../../../lambdas/core/ids.js';
import type { StoredDelivery, Subscription } from '../../../lambdas/core/model.js';
import { marshallingDocumentClient } from '../../support/marshalling-client.js';

/*
 * Keys a producer or a client chooses (event data, custom header names) may be any string, including the
 * names of Object.prototype's members. The document client's marshaller reads an own `constructor` key as
 * the object's class and drops `__proto__`, so these values must reach DynamoDB in a form it cannot
 * misread. The requests below are marshalled exactly as in Lambda (test/support/marshalling-client.ts).
 */

/** JSON.parse makes `__proto__` an own key, as it arrives from a producer or a client. */
const HOSTILE_DATA: Record<string, unknown> = JSON.parse(
  JSON.stringify({
    Id: 7101,
    StreamId: 1,
    constructor: 'x',
    toString: 'not a function',
    hasOwnProperty: 1,
    valueOf: null,
    nested: { constructor: { name: 'String' }, deeper: [{ constructor: { name: 'Set' } }] },
    typed: { constructor: { name: 'Uint8Array' }, length: 0 },
  }).replace('"Id"', '"__proto__":{"polluted":true},"Id"'),
);

const SUB = 'sub_AAAAAAAAAAAAAAAA';
const RECEIVED = '2026-03-04T05:06:07.089Z';
const attempt = { attempt: 1, at: '2026-03-04T05:06:08.000Z', durationMs: 12, statusCode: 200 };

function aDelivery(overrides: Partial<StoredDelivery> = {}): StoredDelivery {
  return {
    id: deliveryIdFor(RECEIVED, 'acme/evt-1', SUB),
    subscriptionId: SUB,
    brand: 'acme',
    eventKey: 'acme/evt-1',
    webhookId: 'msg_ABCDEFGHIJKLMNOPQRSTUVWXYZ234567',
    entity: 'Object',
    event: 'OnNew',
    receivedAt: RECEIVED,
    data: HOSTILE_DATA,
    status: 'succeeded',
    attempts: [],
    createdAt: RECEIVED,
    updatedAt: RECEIVED,
    ...overrides,
  };
}

function aSubscription(headers: Record<string, string>): Subscription {
  return {
    id: SUB,
    brand: 'acme',
    name: 'Orders',
    entity: 'Object',
    events: [{ name: 'OnNew' }],
    url: 'https://listener.example.com/hook',
    format: 'json',
    includeCompleteData: true,
    headers,
    status: 'active',
    secrets: [{ secret: 'whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0', createdAt: RECEIVED }],
    createdAt: RECEIVED,
    updatedAt: RECEIVED,
    version: 2,
  };
}

/** The string attribute a marshalled request carries at `path`. */
function stringAt(request: unknown, ...path: string[]): string {
  let value: unknown = request;
  for (const key of path) value = (value as Record<string, unknown>)[key];
  const text = (value as { S?: unknown }).S;
  if (typeof text !== 'string') throw new Error(`no string attribute at ${path.join('.')}`);
  return text;
}

describe('event data with keys named like Object members', () => {
  it('is written whole with a first-attempt success, as JSON text holding every key', async () => {
    const { client, requests } = marshallingDocumentClient();
    const store = new DynamoDeliveryStore(client, 'webhooks');

    await store.recordAttempt({ delivery: aDelivery(), attempt, expiresAt: 1_800_000_000 });

    expect(stringAt(requests[0], 'Item', 'data')).toBe(JSON.stringify(HOSTILE_DATA));
  });

  it('is written by the update that appends a later attempt, as the same JSON text', async () => {
    const { client, requests } = marshallingDocumentClient();
    const store = new DynamoDeliveryStore(client, 'webhooks');

    await store.recordAttempt({
      delivery: aDelivery({ status: 'failed', failureReason: 'HTTP 500' }),
      attempt: { ...attempt, attempt: 2, statusCode: 500 },
      expiresAt: 1_800_000_000,
    });

    expect(stringAt(requests[0], 'ExpressionAttributeValues', ':data')).toBe(JSON.stringify(HOSTILE_DATA));
  });

  it('reads back with every key, __proto__ as an own key and the prototype untouched', () => {
    const delivery = aDelivery();
    const read = fromItem<StoredDelivery>(toItem(delivery, ['data']), ['data']);

    expect(JSON.stringify(read.data)).toBe(JSON.stringify(HOSTILE_DATA));
    expect(Object.keys(read.data ?? {})).toContain('__proto__');
    expect(Object.getPrototypeOf(read.data)).toBe(Object.prototype);
  });

  it('still reads a record whose data an older build stored as a map', () => {
    const read = fromItem<StoredDelivery>({ ...aDelivery(), data: { Id: 1 }, pk: 'x', sk: 'y' }, ['data']);
    expect(read.data).toEqual({ Id: 1 });
  });
});

describe('custom headers named like Object members', () => {
  const headers: Record<string, string> = JSON.parse(
    '{"constructor":"a","__proto__":"b","toString":"c","hasOwnProperty":"d","X-Trace":"e"}',
  );

  it('are stored on create and on replace as JSON text holding every name', async () => {
    const { client, requests } = marshallingDocumentClient();
    const store = new DynamoSubscriptionStore(client, 'webhooks');

    await store.create(aSubscription(headers), 100);
    await store.replace(aSubscription(headers), 'Orders');

    for (const request of requests) {
      const items = request.TransactItems as { Put?: { Item: unknown } }[];
      expect(stringAt(items[0]?.Put, 'Item', 'headers')).toBe(JSON.stringify(headers));
    }
    expect(requests).toHaveLength(2);
  });

  it('read back with every name', () => {
    const read = fromItem<Subscription>(toItem(aSubscription(headers), ['headers']), ['headers']);
    expect(Object.keys(read.headers ?? {})).toEqual(Object.keys(headers));
    expect(read.headers?.constructor).toBe('a');
  });
});
