import { beforeEach, describe, expect, it } from 'vitest';
import { deliveryIdFor } from '../../../lambdas/core/ids.js';
import type { Subscription } from '../../../lambdas/core/model.js';
import { MAX_EVENT_DATA_BYTES } from '../../../lambdas/core/routing.js';
import { exampleData } from '../../support/factories.js';
import type {
  InMemoryDeliveryQueue,
  InMemoryEventStore,
  InMemorySubscriptionStore,
  TestClock,
} from '../../support/in-memory-ports.js';
import {
  anOnNew,
  claimOf,
  EB_TIME,
  inlineEvent,
  NOW,
  RETENTION_DAYS,
  RoutingWorld,
} from '../../support/routing-world.js';
import { aStoredSubscription } from '../../support/stored-items.js';

/*
 * routeEvents at its ports: envelopes in, claims and queued messages out. How the stores lay these out
 * in DynamoDB and batch them to SQS is the adapters' tests' business. Idempotency and failures:
 * routing-idempotency.test.ts; invalid events: routing-rejections.test.ts.
 */

const DELIVERY_ID = /^dlv_[0-9a-z]{9}[0-9a-f]{16}$/;

let world: RoutingWorld;
let subscriptions: InMemorySubscriptionStore;
let events: InMemoryEventStore;
let queue: InMemoryDeliveryQueue;
let clock: TestClock;

beforeEach(() => {
  world = new RoutingWorld();
  ({ subscriptions, events, queue, clock } = world);
});

const seed = (...stored: Subscription[]) => world.subscriptions.seed(...stored);
const route = (...envelopes: unknown[]) => world.route(...envelopes);
const queuedField = (field: 'subscriptionId' | 'eventKey' | 'deliveryId') => world.queuedField(field);

describe('routing a valid event', () => {
  it('queues one delivery for each matching active subscription of the brand', async () => {
    const orders = aStoredSubscription();
    const audit = aStoredSubscription({ events: [{ name: 'OnNew', channels: [71] }] });
    seed(
      orders,
      audit,
      aStoredSubscription({ events: [{ name: 'OnNewChild' }] }),
      aStoredSubscription({ events: [{ name: 'OnNew', channels: [72] }] }),
      aStoredSubscription({ status: 'paused' }),
      aStoredSubscription({ entity: 'Tag', events: [{ name: 'OnChange' }] }),
      aStoredSubscription({ brand: 'globex' }),
    );

    const results = await route(anOnNew({ producerId: 'evt-1' }));

    expect(results).toEqual([{ outcome: 'routed', eventKey: 'acme/evt-1', deliveries: 2 }]);
    const expected = [orders, audit].map((subscription) => ({
      v: 1,
      brand: 'acme',
      subscriptionId: subscription.id,
      deliveryId: deliveryIdFor(EB_TIME, 'acme/evt-1', subscription.id),
      eventKey: 'acme/evt-1',
      event: inlineEvent(),
    }));
    expect(queue.messages()).toEqual(expect.arrayContaining(expected));
    expect(queue.messages()).toHaveLength(2);
    expect(queue.sent.map((entry) => entry.delaySeconds)).toEqual([undefined, undefined]);
  });

  it('claims a producer id for its envelope: the key, the envelope id, the EventBridge time and an expiry', async () => {
    seed(aStoredSubscription());

    await route(anOnNew({ ebId: 'eb-1', producerId: 'evt-1' }));

    expect([...events.claims.values()]).toEqual([claimOf('acme/evt-1')]);
    expect(claimOf('acme/evt-1').expiresAt).toBe(Date.parse(EB_TIME) / 1000 + RETENTION_DAYS * 24 * 60 * 60);
    expect(events.legacyReads).toEqual([]);
  });

  it('claims the event before it queues its deliveries, and writes nothing after', async () => {
    seed(aStoredSubscription(), aStoredSubscription());
    const claimsWhenQueued: unknown[] = [];
    queue.onSend = () => claimsWhenQueued.push([...events.claims.values()]);

    await route(anOnNew({ producerId: 'evt-1' }));

    expect(claimsWhenQueued).toEqual([[claimOf('acme/evt-1')]]);
    expect([...events.claims.values()]).toEqual([claimOf('acme/evt-1')]);
    expect(events.rejected).toEqual([]);
  });

  it('puts the event in every message, as it was accepted, so a delivery need not read it back', async () => {
    const subscription = aStoredSubscription();
    seed(subscription);

    await route(anOnNew({ producerId: 'evt-1' }));

    const [message] = queue.messages();
    expect(message?.event).toEqual(inlineEvent());
    expect(message?.deliveryId).toBe(deliveryIdFor(EB_TIME, 'acme/evt-1', subscription.id));
  });

  it('routes an event of almost the largest data to ten subscriptions, each message carrying it whole', async () => {
    const ten = Array.from({ length: 10 }, () => aStoredSubscription());
    seed(...ten);
    const data = exampleData('Object', 'OnNew', { Message: 'x'.repeat(MAX_EVENT_DATA_BYTES - 1_000) });

    const results = await route(anOnNew({ producerId: 'big', data }));

    expect(results).toEqual([{ outcome: 'routed', eventKey: 'acme/big', deliveries: 10 }]);
    expect(new Set(queuedField('subscriptionId'))).toEqual(new Set(ten.map((sub) => sub.id)));
    expect(queue.messages().every((message) => message.event?.data.Message === data.Message)).toBe(true);
  });

  it('claims an event no subscription wants as routed, without queueing anything', async () => {
    seed(aStoredSubscription({ events: [{ name: 'OnNewChild' }] }));

    const results = await route(anOnNew({ producerId: 'evt-1' }));

    expect(results).toEqual([{ outcome: 'routed', eventKey: 'acme/evt-1', deliveries: 0 }]);
    expect(queue.sends).toBe(0);
    expect([...events.claims.values()]).toEqual([claimOf('acme/evt-1')]);
  });

  it('matches a subscription created just before the event', async () => {
    const created = aStoredSubscription({ createdAt: NOW.toISOString(), updatedAt: NOW.toISOString() });
    seed(created);

    await route(anOnNew());

    expect(queuedField('subscriptionId')).toEqual([created.id]);
  });

  it("reads only the event's brand, and never delivers another brand's subscription its store returned", async () => {
    // A foreign subscription answered for acme (corrupt data) must not receive acme's events.
    const misfiled = aStoredSubscription({ brand: 'globex' });
    subscriptions.listActive = async (brand, entity) => {
      subscriptions.activeReads.push(`${brand} ${entity}`);
      return [misfiled];
    };

    const results = await route(anOnNew({ brand: 'acme' }));

    expect(results).toEqual([{ outcome: 'routed', eventKey: 'acme/eb-1', deliveries: 0 }]);
    expect(subscriptions.activeReads).toEqual(['acme Object']);
    expect(queue.sends).toBe(0);
  });
});

describe('the arrival time', () => {
  it('is the envelope time, so delivery ids do not depend on when the event is routed', async () => {
    const subscription = aStoredSubscription();
    seed(subscription);
    clock.set(new Date(Date.parse(EB_TIME) + 3 * 60 * 60 * 1000));

    await route(anOnNew({ producerId: 'evt-1' }));

    expect(queuedField('deliveryId')).toEqual([deliveryIdFor(EB_TIME, 'acme/evt-1', subscription.id)]);
    expect(events.claims.get('acme/evt-1')?.claim.receivedAt).toBe(EB_TIME);
  });

  it.each([
    { case: 'no time', time: '' },
    { case: 'a time that is not a date', time: 'yesterday-ish' },
    { case: 'a time before 1970', time: '1969-07-20T20:17:40Z' },
    { case: 'a time in the future', time: '2099-01-01T00:00:00Z' },
    { case: 'a time older than the ingest queue keeps a message', time: '2026-02-15T00:00:00Z' },
  ])('is the routing time for an envelope with $case (producers may set `time`)', async ({ time }) => {
    const subscription = aStoredSubscription();
    seed(subscription);

    const results = await route(anOnNew({ producerId: 'evt-1', time }));

    expect(results).toEqual([{ outcome: 'routed', eventKey: 'acme/evt-1', deliveries: 1 }]);
    const [message] = queue.messages();
    expect(message?.deliveryId).toBe(deliveryIdFor(NOW.toISOString(), 'acme/evt-1', subscription.id));
    expect(message?.deliveryId).toMatch(DELIVERY_ID);
    expect(message?.event?.receivedAt).toBe(NOW.toISOString());
    expect(events.claims.get('acme/evt-1')).toEqual(claimOf('acme/evt-1', 'eb-1', NOW.toISOString()));
  });
});

describe('a batch of events', () => {
  it('routes each event of a batch to its own brand and entity, and claims each for its own envelope', async () => {
    const acmeObjects = aStoredSubscription();
    const acmeTags = aStoredSubscription({ entity: 'Tag', events: [{ name: 'OnAdd' }] });
    const globexObjects = aStoredSubscription({ brand: 'globex' });
    seed(acmeObjects, acmeTags, globexObjects);

    const results = await route(
      anOnNew({ ebId: 'eb-1', producerId: 'evt-1' }),
      anOnNew({ ebId: 'eb-2', producerId: 'evt-2' }),
      anOnNew({ ebId: 'eb-3', producerId: 'evt-3' }),
      anOnNew({ ebId: 'eb-4', producerId: 'evt-4', brand: 'globex' }),
      anOnNew({
        ebId: 'eb-5',
        producerId: 'tag-1',
        detailType: 'Tag.OnAdd',
        data: exampleData('Tag', 'OnAdd'),
      }),
    );

    const keys = ['acme/evt-1', 'acme/evt-2', 'acme/evt-3', 'globex/evt-4', 'acme/tag-1'];
    expect(results).toEqual(keys.map((eventKey) => ({ outcome: 'routed', eventKey, deliveries: 1 })));
    expect([...events.claims.values()].map(({ claim }) => `${claim.key} ${claim.envelopeId}`).sort()).toEqual(
      keys.map((key, n) => `${key} eb-${n + 1}`).sort(),
    );
    expect(queuedField('eventKey').sort()).toEqual([...keys].sort());
    const bySubscription = Object.fromEntries(
      [acmeObjects, acmeTags, globexObjects].map((sub) => [
        sub.id,
        queuedField('subscriptionId').filter((id) => id === sub.id).length,
      ]),
    );
    expect(bySubscription).toEqual({ [acmeObjects.id]: 3, [acmeTags.id]: 1, [globexObjects.id]: 1 });
  });

  it('claims each event of a batch for its own key, dropping only the one another envelope claimed', async () => {
    seed(aStoredSubscription());
    await events.claim(
      { key: 'acme/evt-2', brand: 'acme', envelopeId: 'eb-0', receivedAt: EB_TIME },
      1_900_000_000,
    );

    const results = await route(
      anOnNew({ ebId: 'eb-1', producerId: 'evt-1' }),
      anOnNew({ ebId: 'eb-2', producerId: 'evt-2' }),
      anOnNew({ ebId: 'eb-3', producerId: 'evt-3' }),
    );

    expect(results[1]).toEqual({ outcome: 'duplicate', eventKey: 'acme/evt-2' });
    expect(queuedField('eventKey').sort()).toEqual(['acme/evt-1', 'acme/evt-3']);
    expect(events.claims.get('acme/evt-2')?.claim.envelopeId).toBe('eb-0');
    expect(events.claims.get('acme/evt-3')).toEqual(claimOf('acme/evt-3', 'eb-3'));
  });

  it('queues the deliveries of a whole batch together: ten events at fan-out 1 are one send', async () => {
    seed(aStoredSubscription());
    const tenEvents = Array.from({ length: 10 }, (_, n) =>
      anOnNew({ ebId: `eb-${n}`, producerId: `evt-${n}` }),
    );

    await route(...tenEvents);

    expect(queue.sends).toBe(1);
    expect(queuedField('eventKey').sort()).toEqual(tenEvents.map((_, n) => `acme/evt-${n}`).sort());
  });
});
