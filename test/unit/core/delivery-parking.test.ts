import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DeliveryResult, deliverMessage } from '../../../lambdas/core/delivery.js';
import { deliveryIdFor } from '../../../lambdas/core/ids.js';
import type { DeliveryMessage, Subscription } from '../../../lambdas/core/model.js';
import {
  DRAIN_BATCH,
  PROBE_FIRST_SECONDS,
  PROBE_MAX_SECONDS,
  SWEEP_DELAY_SECONDS,
} from '../../../lambdas/core/parking.js';
import { createSqliteStores, type SqliteStores } from '../../../local/sqlite/stores/index.js';
import { anEvent, DeliveryWorld } from '../../support/delivery-world.js';
import { respond } from '../../support/in-memory-ports.js';
import { aStoredSubscription } from '../../support/stored-items.js';

/*
 * Parking of an open circuit (lambdas/core/parking.ts), on the embedded default's SQLite stores (the
 * store contract checks the DynamoDB adapter behaves the same) and a queue simulated on the test clock:
 * a message is received once its delay has passed.
 */

let world: DeliveryWorld;
let db: DatabaseSync;
let stores: SqliteStores;
let subscription: Subscription;
/** Messages sent and not yet received, with when they become visible. */
let inQueue: { message: DeliveryMessage; visibleAt: number }[];
let seen: number;
/** Queue receives, as SQS would count them. */
let receives: number;

beforeEach(async () => {
  world = new DeliveryWorld();
  db = new DatabaseSync(':memory:');
  stores = createSqliteStores(db);
  world.deps = {
    ...world.deps,
    subscriptions: stores.subscriptions,
    deliveries: stores.deliveries,
    parking: stores.parking,
    deliveryLog: 'failures',
    // Long enough that no delivery runs out of attempts while the probes try it.
    retrySchedule: [0, 5, ...Array.from({ length: 30 }, () => 3600)],
  };
  subscription = aStoredSubscription({ url: 'https://listener.example.com/hook' });
  await stores.subscriptions.create(subscription, 100);
  inQueue = [];
  seen = 0;
  receives = 0;
});

afterEach(() => db.close());

/** The message of event number `n` for the subscription. */
function aMessage(n: number): DeliveryMessage {
  const event = {
    ...anEvent(),
    receivedAt: new Date(Date.parse('2026-03-04T05:00:00.000Z') + n).toISOString(),
  };
  const eventKey = `acme/evt-${n}`;
  return {
    v: 1,
    brand: subscription.brand,
    subscriptionId: subscription.id,
    deliveryId: deliveryIdFor(event.receivedAt, eventKey, subscription.id),
    eventKey,
    event,
  };
}

/** Moves what deliver sent into the simulated queue. */
function collect(): void {
  for (const { message, delaySeconds } of world.queue.sent.slice(seen)) {
    inQueue.push({ message, visibleAt: world.clock.millis() + (delaySeconds ?? 0) * 1000 });
  }
  seen = world.queue.sent.length;
}

async function deliver(message: DeliveryMessage): Promise<DeliveryResult> {
  receives += 1;
  const result = await deliverMessage(world.deps, message);
  collect();
  return result;
}

/** Receives every visible message (and those they send that are visible at once) until none is left. */
async function runVisible(): Promise<DeliveryResult[]> {
  const results: DeliveryResult[] = [];
  for (;;) {
    const index = inQueue.findIndex((entry) => entry.visibleAt <= world.clock.millis());
    if (index < 0) return results;
    const [entry] = inQueue.splice(index, 1);
    if (entry) results.push(await deliver(entry.message));
  }
}

const current = () => stores.subscriptions.get(subscription.brand, subscription.id);
const webhookIdsCalled = () => world.listener.requests.map((request) => request.headers['webhook-id']);

/** Five failing deliveries open this container's breaker; their retries are left in the queue. */
async function openTheCircuit(): Promise<void> {
  world.listener.answer(() => respond(503));
  for (let n = 0; n < 5; n += 1) await deliver(aMessage(n));
  expect(world.deps.breakers.openedAt(subscription.id)).toBeDefined();
}

describe('parking an open circuit', () => {
  it('parks every delivery while the listener is down, probes on the back-off, and delivers all after it is back', async () => {
    await openTheCircuit();
    const callsBefore = world.listener.requests.length;
    const sendsBefore = world.queue.sent.length;

    const parked: DeliveryResult[] = [];
    for (let n = 5; n < 255; n += 1) parked.push(await deliver(aMessage(n)));

    // Parked, not retried: no request to the listener, and one message sent in all, the probe.
    expect(new Set(parked.map((result) => result.outcome))).toEqual(new Set(['parked']));
    expect(world.listener.requests).toHaveLength(callsBefore);
    const sentSincePark = world.queue.sent.slice(sendsBefore);
    expect(sentSincePark).toEqual([
      {
        message: expect.objectContaining({
          circuit: { step: 'probe', parkedSince: expect.any(String), backoffSeconds: PROBE_FIRST_SECONDS },
        }),
        delaySeconds: PROBE_FIRST_SECONDS,
      },
    ]);
    expect((await current())?.parkedSince).toBeDefined();
    const listed = await stores.deliveries.list(subscription.id, { status: 'parked', limit: 100 });
    expect(listed.items).toHaveLength(100);
    expect(listed.items[0]).toMatchObject({ status: 'parked', attempts: [] });

    // The five retries come back and are parked too; then an hour of outage: the probes only.
    world.clock.advance(20_000);
    await runVisible();
    expect(await stores.parking.listParked(subscription.id, 1000)).toHaveLength(255);
    const receivesBeforeHour = receives;
    for (let second = 0; second < 3600; second += 10) {
      world.clock.advance(10_000);
      await runVisible();
    }
    const probesInTheHour = receives - receivesBeforeHour;
    // 30 s, 60 s, 120 s, 240 s, then every 300 s: 14 receives in the hour, not one per parked delivery.
    expect(probesInTheHour).toBeGreaterThanOrEqual(12);
    expect(probesInTheHour).toBeLessThanOrEqual(16);
    const probeWaits = inQueue.map((entry) => entry.message.circuit?.backoffSeconds);
    expect(probeWaits).toEqual([PROBE_MAX_SECONDS]);
    // Each probe made one attempt of the oldest parked delivery, which stays parked with its place kept.
    const oldest = (await stores.parking.listParked(subscription.id, 1))[0];
    expect(oldest?.attempts.length).toBeGreaterThan(1);
    expect(oldest?.runAttemptsBefore).toBeGreaterThan(0);

    // The listener is back: the next probe succeeds, the drain queues every parked delivery again.
    world.listener.answer(() => respond(200));
    for (let step = 0; step < 10; step += 1) {
      world.clock.advance(60_000);
      await runVisible();
    }
    expect(await stores.parking.listParked(subscription.id, 1000)).toEqual([]);
    expect((await current())?.parkedSince).toBeUndefined();
    expect((await current())?.circuitClosedAt).toBeDefined();
    // Every one of the 255 deliveries reached the listener with a 200, and is recorded succeeded.
    const delivered = new Set(
      world.listener.requests.slice(-255).map((request) => request.headers['webhook-id']),
    );
    expect(delivered.size).toBe(255);
    const succeeded = await stores.deliveries.list(subscription.id, { status: 'succeeded', limit: 100 });
    expect(succeeded.items).toHaveLength(100);
    expect(succeeded.cursor).toBeDefined();
    expect((await stores.deliveries.list(subscription.id, { status: 'pending', limit: 10 })).items).toEqual(
      [],
    );
    expect(new Set(webhookIdsCalled()).size).toBe(255);
    expect(inQueue).toEqual([]);
  });

  it('drains at most DRAIN_BATCH deliveries per drain message, each drain sending the next', async () => {
    await openTheCircuit();
    for (let n = 5; n < 5 + DRAIN_BATCH + 20; n += 1) await deliver(aMessage(n));
    const since = (await current())?.parkedSince as string;
    world.listener.answer(() => respond(200));
    world.clock.advance(PROBE_FIRST_SECONDS * 1000);
    const results = await runVisibleOnce();
    expect(results.filter((result) => result.outcome === 'drained')).toHaveLength(1);
    expect((await current())?.parkedSince).toBeUndefined();
    expect((await current())?.circuitClosedAt).toBeDefined();
    expect(since).toBeDefined();

    const drain = inQueue.find((entry) => entry.message.circuit?.step === 'drain');
    expect(drain).toBeDefined();
    inQueue = inQueue.filter((entry) => entry !== drain);
    const first = await deliver(drain?.message as DeliveryMessage);
    expect(first).toEqual({ outcome: 'drained', count: DRAIN_BATCH });
    const queuedAgain = inQueue.filter((entry) => entry.message.unparked);
    expect(queuedAgain).toHaveLength(DRAIN_BATCH);
    const next = inQueue.filter((entry) => entry.message.circuit?.step === 'drain');
    expect(next).toHaveLength(1);
  });

  it('leaves the deliveries the queue refused parked and fails the drain, so SQS hands it over again', async () => {
    await openTheCircuit();
    for (let n = 5; n < 25; n += 1) await deliver(aMessage(n));
    const refusedId = aMessage(7).deliveryId;
    await stores.parking.unparkSubscription(
      subscription.brand,
      subscription.id,
      (await current())?.parkedSince as string,
      world.clock.now().toISOString(),
    );
    world.queue.refuse((message) => message.deliveryId === refusedId);
    const drain: DeliveryMessage = { ...aMessage(0), circuit: { step: 'drain' } };

    await expect(deliver(drain)).rejects.toThrow('1 parked deliveries could not be queued again');
    expect((await stores.parking.listParked(subscription.id, 100)).map((d) => d.id)).toEqual([refusedId]);

    world.queue.refuse(() => false);
    expect(await deliver(drain)).toEqual({ outcome: 'drained', count: 1 });
    expect(await stores.parking.listParked(subscription.id, 100)).toEqual([]);
  });

  it('drops a probe of an earlier park, and drains a paused subscription instead of probing it', async () => {
    await openTheCircuit();
    await deliver(aMessage(9));
    const since = (await current())?.parkedSince as string;
    const stale: DeliveryMessage = {
      ...aMessage(0),
      circuit: { step: 'probe', parkedSince: '2020-01-01T00:00:00.000Z', backoffSeconds: 30 },
    };
    expect(await deliver(stale)).toEqual({ outcome: 'dropped', reason: 'a probe of an earlier park' });

    const stored = (await current()) as Subscription;
    await stores.subscriptions.replace(
      { ...stored, status: 'paused', version: stored.version + 1 },
      stored.name,
    );
    const calls = world.listener.requests.length;
    const probe: DeliveryMessage = { ...aMessage(0), circuit: { step: 'probe', parkedSince: since } };
    expect(await deliver(probe)).toEqual({ outcome: 'drained', count: 0 });
    expect(world.listener.requests).toHaveLength(calls);
    expect((await current())?.parkedSince).toBeUndefined();
    await runVisible();
    // Drained, then failed as any paused subscription's delivery is: nothing left parked.
    expect(await stores.parking.listParked(subscription.id, 10)).toEqual([]);
    const failed = await stores.deliveries.list(subscription.id, { status: 'failed', limit: 10 });
    expect(failed.items.map((delivery) => delivery.id)).toContain(aMessage(9).deliveryId);
  });

  it("closes this container's breaker once a probe elsewhere found the listener back", async () => {
    await openTheCircuit();
    // Recovered elsewhere after this breaker opened: the subscription is not parked, its closing is recorded.
    world.clock.advance(1_000);
    const recoveredAt = world.clock.now().toISOString();
    await stores.parking.parkSubscription(subscription.brand, subscription.id, 'since');
    await stores.parking.unparkSubscription(subscription.brand, subscription.id, 'since', recoveredAt);
    world.listener.answer(() => respond(200));

    expect(await deliver(aMessage(42))).toMatchObject({ outcome: 'succeeded' });
    expect(world.deps.breakers.openedAt(subscription.id)).toBeUndefined();
  });

  it('fails a probed delivery that runs out of attempts, announcing it, and probes the next one', async () => {
    world.deps = { ...world.deps, retrySchedule: [0, 5, 10] };
    await openTheCircuit();
    await deliver(aMessage(20));
    await deliver(aMessage(21));
    const since = (await current())?.parkedSince as string;
    const probe = (backoffSeconds: number): DeliveryMessage => ({
      ...aMessage(0),
      circuit: { step: 'probe', parkedSince: since, backoffSeconds },
    });
    // The five deliveries that opened the circuit come back (1 attempt each) and are parked too.
    world.clock.advance(10_000);
    await runVisible();
    const oldest = aMessage(0).deliveryId;

    expect(await deliver(probe(30))).toMatchObject({ outcome: 'probing', delaySeconds: 60 });
    expect(await deliver(probe(60))).toMatchObject({ outcome: 'probing', delaySeconds: 60 });

    // Its third attempt was its last: failed and announced; the next probe waits as long, for the next one.
    const exhausted = await stores.deliveries.get(subscription.id, oldest);
    expect(exhausted).toMatchObject({ status: 'failed' });
    expect(exhausted?.attempts).toHaveLength(3);
    expect(world.operational.published).toContainEqual(
      expect.objectContaining({ type: 'Delivery.Exhausted', deliveryId: oldest }),
    );
    const next = (await stores.parking.listParked(subscription.id, 1))[0];
    expect(next?.id).not.toBe(oldest);
    expect(inQueue.at(-1)?.message.circuit).toEqual({
      step: 'probe',
      parkedSince: since,
      backoffSeconds: 60,
    });
  });

  it('disables a subscription that keeps failing for disableAfterDays, and its probe then drains the rest as failed', async () => {
    await openTheCircuit();
    for (let n = 30; n < 40; n += 1) await deliver(aMessage(n));
    const since = (await current())?.parkedSince as string;

    world.clock.advance(6 * 24 * 60 * 60 * 1000);
    const probe: DeliveryMessage = {
      ...aMessage(0),
      circuit: { step: 'probe', parkedSince: since, backoffSeconds: 300 },
    };
    await deliver(probe);
    expect((await current())?.status).toBe('disabled');
    expect(world.operational.published).toContainEqual(
      expect.objectContaining({ type: 'Subscription.Disabled' }),
    );

    // The next probe finds it disabled: the park ends and every parked delivery fails as a disabled one's.
    await deliver(probe);
    await runVisible();
    world.clock.advance(SWEEP_DELAY_SECONDS * 1000);
    await runVisible();
    expect(await stores.parking.listParked(subscription.id, 100)).toEqual([]);
    const failed = await stores.deliveries.list(subscription.id, { status: 'failed', limit: 100 });
    expect(failed.items.map((delivery) => delivery.id)).toEqual(
      expect.arrayContaining(Array.from({ length: 10 }, (_, n) => aMessage(30 + n).deliveryId)),
    );
    // Left: the probe the failing one sent; it finds the park over and nothing parked, and ends.
    expect(inQueue.map((entry) => entry.message.circuit?.step)).toEqual(['probe']);
    world.clock.advance(PROBE_MAX_SECONDS * 1000);
    expect(await runVisible()).toEqual([{ outcome: 'drained', count: 0 }]);
    expect(inQueue).toEqual([]);
  });

  it('keeps the delivery parked when the rate limit holds the probe back, and probes again at its slot', async () => {
    subscription = aStoredSubscription({ url: 'https://listener.example.com/hook', maxRequestsPerSecond: 1 });
    await stores.subscriptions.create(subscription, 100);
    await openTheCircuit();
    for (let n = 5; n < 10; n += 1) await deliver(aMessage(n));
    // Another container took the next minute of slots.
    for (let slot = 0; slot < 60; slot += 1)
      await world.deps.rateLimiter.reserve(subscription.id, 1, world.clock.millis(), 900_000);
    const requestsBefore = world.listener.requests.length;

    world.clock.advance(PROBE_FIRST_SECONDS * 1000);
    const results = await runVisible();

    const probing = results.filter((result) => result.outcome === 'probing');
    expect(probing).toEqual([
      {
        outcome: 'probing',
        reason: 'the probe waits for its rate limit slot',
        delaySeconds: expect.any(Number),
      },
    ]);
    // Nothing was sent, nothing left the park, and the only message queued is the probe, holding its slot.
    expect(world.listener.requests).toHaveLength(requestsBefore);
    expect(await stores.parking.listParked(subscription.id, 100)).toHaveLength(10);
    expect(inQueue).toEqual([
      {
        message: expect.objectContaining({
          circuit: expect.objectContaining({ step: 'probe', backoffSeconds: PROBE_FIRST_SECONDS }),
          rateSlotAt: expect.any(Number),
        }),
        visibleAt: expect.any(Number),
      },
    ]);
    const slot = inQueue[0]?.message.rateSlotAt as number;
    expect(slot).toBeGreaterThan(world.clock.millis() + PROBE_FIRST_SECONDS * 1000);

    // The listener is back: the probe comes back at its slot, goes in it, and the drain delivers all ten.
    world.listener.answer(() => respond(200));
    world.clock.set(new Date(inQueue[0]?.visibleAt ?? 0));
    const [comeBack] = await runVisibleOnce();
    expect(comeBack).toEqual({ outcome: 'drained', count: 0 });
    expect(world.listener.requests).toHaveLength(requestsBefore + 1);
    expect(world.clock.millis()).toBeGreaterThanOrEqual(slot);
    for (let step = 0; step < 60; step += 1) {
      world.clock.advance(5_000);
      await runVisible();
    }
    expect(await stores.parking.listParked(subscription.id, 100)).toEqual([]);
    const delivered = world.listener.requests
      .slice(requestsBefore)
      .map((request) => request.headers['webhook-id']);
    expect(new Set(delivered).size).toBe(10);
    expect(inQueue).toEqual([]);
  });

  it('does not park test events (they go through the breaker as before)', async () => {
    await openTheCircuit();
    await deliver(aMessage(10));
    expect(await deliver({ ...aMessage(11), test: true })).toMatchObject({ outcome: 'deferred' });
    expect((await stores.parking.listParked(subscription.id, 10)).map((d) => d.id)).toEqual([
      aMessage(10).deliveryId,
    ]);
  });
});

/** Receives the visible messages present now (not those they send). */
async function runVisibleOnce(): Promise<DeliveryResult[]> {
  const visible = inQueue.filter((entry) => entry.visibleAt <= world.clock.millis());
  inQueue = inQueue.filter((entry) => !visible.includes(entry));
  const results: DeliveryResult[] = [];
  for (const entry of visible) results.push(await deliver(entry.message));
  return results;
}
