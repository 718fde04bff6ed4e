import { beforeEach, describe, expect, it } from 'vitest';
import { deliveryIdFor } from '../../../lambdas/core/ids.js';
import type { Subscription } from '../../../lambdas/core/model.js';
import {
  MAX_EVENT_DATA_BYTES,
  MAX_EVENT_DATA_DEPTH,
  type RoutingDeps,
  type RoutingResult,
  routeEvents,
} from '../../../lambdas/core/routing.js';
import { exampleData } from '../../support/factories.js';
import {
  InMemoryDeliveryQueue,
  InMemoryEventStore,
  InMemorySubscriptionStore,
  TestClock,
} from '../../support/in-memory-ports.js';
import { anEventBridgeEnvelope } from '../../support/sqs-events.js';
import { aStoredSubscription } from '../../support/stored-items.js';

/*
 * routeEvents at its ports: envelopes in, claims, rejected events and queued messages out. How the
 * stores lay these out in DynamoDB and batch them to SQS is the adapters' tests' business.
 */

const NOW = new Date('2026-03-04T05:06:07.000Z');
/** When EventBridge received the events (their envelope's `time`): a little before they are routed. */
const EB_TIME = '2026-03-04T05:06:05.000Z';
const RETENTION_DAYS = 30;
const EXPIRES_AT = Date.parse(EB_TIME) / 1000 + RETENTION_DAYS * 24 * 60 * 60;
const DELIVERY_ID = /^dlv_[0-9a-z]{9}[0-9a-f]{16}$/;

let subscriptions: InMemorySubscriptionStore;
let events: InMemoryEventStore;
let queue: InMemoryDeliveryQueue;
let clock: TestClock;
let deps: RoutingDeps;

beforeEach(() => {
  subscriptions = new InMemorySubscriptionStore();
  events = new InMemoryEventStore();
  queue = new InMemoryDeliveryQueue();
  clock = new TestClock(NOW);
  deps = { subscriptions, events, rejected: events, queue, now: clock.now, retentionDays: RETENTION_DAYS };
});

interface EnvelopeOptions {
  readonly ebId?: string;
  readonly producerId?: string;
  readonly brand?: string;
  /** The envelope's `time`; EB_TIME unless given. */
  readonly time?: string;
  readonly detailType?: string;
  readonly data?: Record<string, unknown>;
}

/** An envelope of an acme Object.OnNew with the catalogue's example data, unless told otherwise. */
function anOnNew(options: EnvelopeOptions = {}) {
  const {
    ebId = 'eb-1',
    producerId,
    brand = 'acme',
    time = EB_TIME,
    detailType = 'Object.OnNew',
    data = exampleData('Object', 'OnNew'),
  } = options;
  return anEventBridgeEnvelope({
    id: ebId,
    detailType,
    time,
    detail: { brand, ...(producerId && { id: producerId }), data },
  });
}

/** The event as a delivery message carries it. */
const inlineEvent = (receivedAt = EB_TIME) => ({
  entity: 'Object',
  event: 'OnNew',
  receivedAt,
  data: exampleData('Object', 'OnNew'),
});

/** The claim routing keeps for a producer id of acme: the key and who owns it, never the data. */
const claimOf = (key: string, envelopeId = 'eb-1', receivedAt = EB_TIME) => ({
  claim: { key, brand: 'acme', envelopeId, receivedAt },
  expiresAt: Date.parse(receivedAt) / 1000 + RETENTION_DAYS * 24 * 60 * 60,
});

function seed(...stored: Subscription[]): void {
  subscriptions.seed(...stored);
}

/** Routes the envelopes; each result's value, or its error's message. */
async function route(...envelopes: unknown[]): Promise<(RoutingResult | string)[]> {
  const settled = await routeEvents(deps, envelopes);
  return settled.map((outcome) =>
    outcome.status === 'fulfilled' ? outcome.value : String((outcome.reason as Error).message),
  );
}

const queuedField = (field: 'subscriptionId' | 'eventKey' | 'deliveryId') =>
  queue.messages().map((message) => message[field]);

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
    expect(claimOf('acme/evt-1').expiresAt).toBe(EXPIRES_AT);
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
      reason: `bytes; the limit is ${MAX_EVENT_DATA_BYTES}`,
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

    const settled = await routeEvents(deps, [anOnNew({ producerId: 'evt-1' }), anOnNew({ ebId: 'eb-2' })]);

    expect(settled.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    expect(settled[0]?.status === 'rejected' && (settled[0].reason as Error).cause).toEqual(
      new Error('SQS is unavailable'),
    );
  });
});
