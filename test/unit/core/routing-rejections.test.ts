import { beforeEach, describe, expect, it } from 'vitest';
import type { Subscription } from '../../../lambdas/core/model.js';
import { MAX_EVENT_DATA_BYTES, MAX_EVENT_DATA_DEPTH } from '../../../lambdas/core/routing.js';
import { exampleData } from '../../support/factories.js';
import type { InMemoryDeliveryQueue, InMemoryEventStore } from '../../support/in-memory-ports.js';
import { NOW, RETENTION_DAYS, RoutingWorld } from '../../support/routing-world.js';
import { anEventBridgeEnvelope } from '../../support/sqs-events.js';
import { aStoredSubscription } from '../../support/stored-items.js';

/*
 * routeEvents at its ports with invalid events: each kept as a rejected event with its reason (never its
 * data), nothing claimed or queued, never retried.
 */

let world: RoutingWorld;
let events: InMemoryEventStore;
let queue: InMemoryDeliveryQueue;

beforeEach(() => {
  world = new RoutingWorld();
  ({ events, queue } = world);
});

const seed = (...stored: Subscription[]) => world.subscriptions.seed(...stored);
const route = (...envelopes: unknown[]) => world.route(...envelopes);

describe('rejecting invalid events', () => {
  const deep = (levels: number): Record<string, unknown> => {
    let value: Record<string, unknown> = { Id: 1 };
    for (let i = 0; i < levels; i++) value = { Nested: value };
    return { Id: 1, Extra: value };
  };
  const valid = { brand: 'acme', id: 'evt-9', data: exampleData('Object', 'OnNew') };

  it.each([
    {
      case: 'an unknown detail type',
      envelope: anEventBridgeEnvelope({ detailType: 'Object.OnExplode', detail: valid }),
      reason: 'unknown detail type "Object.OnExplode"',
      detailType: 'Object.OnExplode',
    },
    {
      case: 'a foreign source',
      envelope: anEventBridgeEnvelope({ source: 'acme.billing', detail: valid }),
      reason: 'source "acme.billing" is not commbox',
      detailType: 'Object.OnNew',
    },
    {
      case: 'data that fails its schema',
      envelope: anEventBridgeEnvelope({ detail: { ...valid, data: { Id: 'not-a-number', StreamId: 71 } } }),
      reason: 'data does not fit Object.OnNew: Id ',
      detailType: 'Object.OnNew',
    },
    {
      case: 'a detail without a brand',
      envelope: anEventBridgeEnvelope({ detail: { data: valid.data } }),
      reason: 'detail: brand',
      detailType: 'Object.OnNew',
    },
    {
      case: 'something that is not an EventBridge event',
      envelope: undefined,
      reason: 'not an EventBridge event',
      detailType: undefined,
    },
    {
      case: 'oversize data',
      envelope: anEventBridgeEnvelope({
        detail: { ...valid, data: { Id: 1, Message: 'x'.repeat(MAX_EVENT_DATA_BYTES) } },
      }),
      reason: `bytes as queued; the limit is ${MAX_EVENT_DATA_BYTES}`,
      detailType: 'Object.OnNew',
    },
    {
      case: 'data under the limit as UTF-8 but over it once queued (U+FFFE travels escaped, 6 bytes)',
      envelope: anEventBridgeEnvelope({
        detail: { ...valid, data: { Id: 1, Message: '\uFFFE'.repeat(MAX_EVENT_DATA_BYTES / 4) } },
      }),
      reason: `bytes as queued; the limit is ${MAX_EVENT_DATA_BYTES}`,
      detailType: 'Object.OnNew',
    },
    {
      case: 'data holding an unpaired surrogate (DynamoDB could not store it)',
      envelope: anEventBridgeEnvelope({
        detail: { ...valid, data: { ...valid.data, Message: 'half \ud83d' } },
      }),
      reason: 'not valid Unicode',
      detailType: 'Object.OnNew',
    },
    {
      case: 'data with an unpaired surrogate in a key',
      envelope: anEventBridgeEnvelope({
        detail: { ...valid, data: { ...valid.data, Extra: { '\udc00': 1 } } },
      }),
      reason: 'not valid Unicode',
      detailType: 'Object.OnNew',
    },
    {
      case: 'data nested too deep',
      envelope: anEventBridgeEnvelope({ detail: { ...valid, data: deep(MAX_EVENT_DATA_DEPTH + 1) } }),
      reason: `data is nested deeper than ${MAX_EVENT_DATA_DEPTH}`,
      detailType: 'Object.OnNew',
    },
  ])(
    'keeps $case as a rejected event with its reason, queues nothing and claims nothing',
    async ({ envelope, reason, detailType }) => {
      seed(aStoredSubscription());

      const [result] = await route(envelope);

      expect(result).toEqual({ outcome: 'rejected', reason: expect.stringContaining(reason) });
      expect(queue.sends).toBe(0);
      expect(events.claimsAsked).toBe(0);
      expect(events.rejected).toHaveLength(1);
      const [kept] = events.rejected;
      expect(kept?.rejected).toMatchObject({ receivedAt: NOW.toISOString() });
      expect(kept?.rejected.reason).toContain(reason);
      expect(kept?.rejected.detailType).toBe(detailType);
      expect(kept?.rejected).not.toHaveProperty('data');
      expect(kept?.expiresAt).toBe(NOW.getTime() / 1000 + RETENTION_DAYS * 24 * 60 * 60);
    },
  );

  it('names the producer id and brand of a rejected event, so it can be traced', async () => {
    const envelope = anEventBridgeEnvelope({
      id: 'eb-5',
      detailType: 'Object.OnNew',
      detail: { brand: 'acme', id: 'ord-5', data: { Id: 'x' } },
    });

    await route(envelope);

    expect(events.rejected[0]?.rejected).toMatchObject({ brand: 'acme', eventId: 'ord-5' });
  });
});
