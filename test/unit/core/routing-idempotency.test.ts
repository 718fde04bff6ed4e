import { beforeEach, describe, expect, it } from 'vitest';
import { deliveryIdFor } from '../../../lambdas/core/ids.js';
import type { Subscription } from '../../../lambdas/core/model.js';
import { routeEvents } from '../../../lambdas/core/routing.js';
import type {
  InMemoryDeliveryQueue,
  InMemoryEventStore,
  InMemorySubscriptionStore,
  TestClock,
} from '../../support/in-memory-ports.js';
import { anOnNew, claimOf, EB_TIME, inlineEvent, RoutingWorld } from '../../support/routing-world.js';
import { aStoredSubscription } from '../../support/stored-items.js';

/*
 * routeEvents's idempotency (a producer id claimed by the first envelope routing it) and its failures,
 * each event failing alone, at its ports.
 */

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

describe('idempotency', () => {
  it('uses the producer id as the idempotency key when there is one', async () => {
    seed(aStoredSubscription());

    await route(anOnNew({ ebId: 'eb-77', producerId: 'ord-42' }));

    expect([...events.claims.keys()]).toEqual(['acme/ord-42']);
    expect(queuedField('eventKey')).toEqual(['acme/ord-42']);
  });

  it("keys an event without a producer id by EventBridge's id, unique to its put, and claims nothing for it", async () => {
    seed(aStoredSubscription());

    const results = await route(anOnNew({ ebId: 'eb-77' }));

    expect(results).toEqual([{ outcome: 'routed', eventKey: 'acme/eb-77', deliveries: 1 }]);
    expect(queuedField('eventKey')).toEqual(['acme/eb-77']);
    expect(events.claimsAsked).toBe(0);
  });

  it('drops a producer event put again under another EventBridge id as a duplicate, queueing nothing and reading no subscription', async () => {
    seed(aStoredSubscription());

    await route(anOnNew({ ebId: 'eb-1', producerId: 'ord-42' }));
    const second = await route(anOnNew({ ebId: 'eb-2', producerId: 'ord-42' }));

    expect(second).toEqual([{ outcome: 'duplicate', eventKey: 'acme/ord-42' }]);
    expect(queue.messages()).toHaveLength(1);
    expect(subscriptions.activeReads).toHaveLength(1);
    expect([...events.claims.values()]).toEqual([claimOf('acme/ord-42')]);
  });

  it('drops an event whose key another envelope claimed, leaving that claim as it was', async () => {
    seed(aStoredSubscription());
    await events.claim(
      { key: 'acme/evt-1', brand: 'acme', envelopeId: 'eb-0', receivedAt: '2026-03-04T05:00:00.000Z' },
      1_900_000_000,
    );

    const results = await route(anOnNew({ ebId: 'eb-1', producerId: 'evt-1' }));

    expect(results).toEqual([{ outcome: 'duplicate', eventKey: 'acme/evt-1' }]);
    expect(queue.sends).toBe(0);
    expect(subscriptions.activeReads).toEqual([]);
    expect(events.claims.get('acme/evt-1')?.claim.envelopeId).toBe('eb-0');
  });

  it('routes a redelivered envelope again, with the same messages: it owns its claim (a crash may have lost its sends)', async () => {
    const subscription = aStoredSubscription();
    seed(subscription);
    const envelope = anOnNew({ ebId: 'eb-1', producerId: 'evt-1' });

    await route(envelope);
    clock.advance(60_000);
    const again = await route(envelope);

    expect(again).toEqual([{ outcome: 'routed', eventKey: 'acme/evt-1', deliveries: 1 }]);
    const [first, second, ...rest] = queue.messages();
    expect(rest).toEqual([]);
    expect(second).toEqual(first);
    expect(first).toMatchObject({ deliveryId: deliveryIdFor(EB_TIME, 'acme/evt-1', subscription.id) });
    expect([...events.claims.values()]).toEqual([claimOf('acme/evt-1')]);
  });

  it('routes again, with the same delivery ids, an envelope whose earlier routing could not queue, and drops another copy meanwhile', async () => {
    const subscription = aStoredSubscription();
    seed(subscription);
    const envelope = anOnNew({ ebId: 'eb-1', producerId: 'evt-1' });
    queue.unavailable(new Error('SQS is unavailable'));

    // The first routing claims the event, then cannot queue: the event fails, and is handed over again.
    expect(await route(envelope)).toEqual(['1 of 1 deliveries could not be queued']);
    expect([...events.claims.values()]).toEqual([claimOf('acme/evt-1')]);

    // Another copy of the producer's event (another envelope) comes before the retry: a duplicate.
    queue.unavailable(undefined);
    expect(await route(anOnNew({ ebId: 'eb-2', producerId: 'evt-1' }))).toEqual([
      { outcome: 'duplicate', eventKey: 'acme/evt-1' },
    ]);
    expect(queue.messages()).toEqual([]);

    // The first envelope comes again a minute later: it still owns the key.
    clock.advance(60_000);
    const retried = await route(envelope);

    expect(retried).toEqual([{ outcome: 'routed', eventKey: 'acme/evt-1', deliveries: 1 }]);
    expect(queue.messages()).toEqual([
      {
        v: 1,
        brand: 'acme',
        subscriptionId: subscription.id,
        deliveryId: deliveryIdFor(EB_TIME, 'acme/evt-1', subscription.id),
        eventKey: 'acme/evt-1',
        event: inlineEvent(),
      },
    ]);
    expect([...events.claims.values()]).toEqual([claimOf('acme/evt-1')]);
  });

  it('fails an event whose claim could not be written, reading and queueing nothing, and routes it when it comes again', async () => {
    const subscription = aStoredSubscription();
    seed(subscription);
    const envelope = anOnNew({ producerId: 'evt-1' });
    events.failWhen('claim', new Error('InternalServerError'));

    expect(await route(envelope)).toEqual(['InternalServerError']);
    expect(queue.sends).toBe(0);
    expect(subscriptions.activeReads).toEqual([]);
    expect(events.claims.size).toBe(0);

    events.heal();
    const results = await route(envelope);

    expect(results).toEqual([{ outcome: 'routed', eventKey: 'acme/evt-1', deliveries: 1 }]);
    expect(queuedField('deliveryId')).toEqual([deliveryIdFor(EB_TIME, 'acme/evt-1', subscription.id)]);
    expect([...events.claims.values()]).toEqual([claimOf('acme/evt-1')]);
  });

  it('routes exactly one of two envelopes of one batch with the same producer id', async () => {
    const subscription = aStoredSubscription();
    seed(subscription);

    const results = await route(
      anOnNew({ ebId: 'eb-1', producerId: 'ord-42' }),
      anOnNew({ ebId: 'eb-2', producerId: 'ord-42' }),
    );

    expect(results.map((result) => (typeof result === 'string' ? result : result.outcome)).sort()).toEqual([
      'duplicate',
      'routed',
    ]);
    expect(queuedField('deliveryId')).toEqual([deliveryIdFor(EB_TIME, 'acme/ord-42', subscription.id)]);
    expect(subscriptions.activeReads).toHaveLength(1);
    const [stored, ...others] = events.claims.values();
    expect(others).toEqual([]);
    expect(['eb-1', 'eb-2']).toContain(stored?.claim.envelopeId);
    expect(stored).toEqual(claimOf('acme/ord-42', stored?.claim.envelopeId));
  });
});

describe('partial failures', () => {
  it('fails only the event whose delivery could not be queued', async () => {
    seed(aStoredSubscription(), aStoredSubscription());
    queue.refuse((message) => message.eventKey === 'acme/evt-2');

    const results = await route(
      anOnNew({ ebId: 'eb-1', producerId: 'evt-1' }),
      anOnNew({ ebId: 'eb-2', producerId: 'evt-2' }),
      anOnNew({ ebId: 'eb-3', producerId: 'evt-3' }),
    );

    expect(results).toEqual([
      { outcome: 'routed', eventKey: 'acme/evt-1', deliveries: 2 },
      '2 of 2 deliveries could not be queued',
      { outcome: 'routed', eventKey: 'acme/evt-3', deliveries: 2 },
    ]);
    // Its claim stays: the same envelope owns it when the event comes again.
    expect(events.claims.size).toBe(3);
  });

  it('fails every event whose claim could not be written, queueing nothing for them, and keeps an invalid one', async () => {
    seed(aStoredSubscription());
    events.failWhen('claim', new Error('ProvisionedThroughputExceededException'));

    const results = await route(
      anOnNew({ ebId: 'eb-1', producerId: 'evt-1' }),
      anOnNew({ ebId: 'eb-2', producerId: 'evt-2' }),
      'not an event',
    );

    expect(results).toEqual([
      'ProvisionedThroughputExceededException',
      'ProvisionedThroughputExceededException',
      { outcome: 'rejected', reason: 'not an EventBridge event' },
    ]);
    expect(queue.sends).toBe(0);
    expect(events.rejected).toHaveLength(1);
  });

  it("fails an event whose brand's subscriptions could not be read, after claiming it, and routes it when it comes again", async () => {
    seed(aStoredSubscription(), aStoredSubscription({ brand: 'globex' }));
    subscriptions.failWhen(
      'listActive',
      new Error('InternalServerError'),
      (brand: string) => brand === 'globex',
    );
    const globex = anOnNew({ brand: 'globex', ebId: 'eb-9', producerId: 'evt-9' });

    const results = await route(anOnNew({ producerId: 'evt-1' }), globex);

    expect(results).toEqual([
      { outcome: 'routed', eventKey: 'acme/evt-1', deliveries: 1 },
      'InternalServerError',
    ]);
    expect(queuedField('eventKey')).toEqual(['acme/evt-1']);
    // Its claim was written before the read failed, so the same envelope routes it when it comes again.
    expect(events.claims.get('globex/evt-9')?.claim.envelopeId).toBe('eb-9');

    subscriptions.heal();
    const retried = await route(globex);

    expect(retried).toEqual([{ outcome: 'routed', eventKey: 'globex/evt-9', deliveries: 1 }]);
    expect(queuedField('eventKey')).toEqual(['acme/evt-1', 'globex/evt-9']);
  });

  it('fails an invalid event whose rejection could not be kept, so it is not lost', async () => {
    events.failWhen('putRejected', new Error('InternalServerError'));

    const results = await route('not json', anOnNew());

    expect(results).toEqual([
      'InternalServerError',
      { outcome: 'routed', eventKey: 'acme/eb-1', deliveries: 0 },
    ]);
  });

  it('fails every event of a batch when the queue takes none of its deliveries', async () => {
    seed(aStoredSubscription());
    queue.unavailable(new Error('SQS is unavailable'));

    const settled = await routeEvents(world.deps, [
      anOnNew({ producerId: 'evt-1' }),
      anOnNew({ ebId: 'eb-2' }),
    ]);

    expect(settled.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    expect(settled[0]?.status === 'rejected' && (settled[0].reason as Error).cause).toEqual(
      new Error('SQS is unavailable'),
    );
  });
});
