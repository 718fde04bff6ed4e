import { beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryMessage, Subscription } from '../../../lambdas/core/model.js';
import { webhookId } from '../../../lambdas/core/signing.js';
import { DAY_MS, type Delivery, DeliveryWorld, NOW } from '../../support/delivery-world.js';
import {
  type InMemoryDeliveryQueue,
  type RecordingOperationalEvents,
  respond,
  type ScriptedListener,
  type TestClock,
} from '../../support/in-memory-ports.js';

/*
 * deliverMessage's listener isolation (the real circuit breakers and in-flight limiter on the test's
 * clock) and the operational events it publishes.
 */

let world: DeliveryWorld;
let queue: InMemoryDeliveryQueue;
let listener: ScriptedListener;
let operational: RecordingOperationalEvents;
let clock: TestClock;

beforeEach(() => {
  world = new DeliveryWorld();
  ({ queue, listener, operational, clock } = world);
});

const aDelivery = (overrides: Partial<Subscription> = {}) => world.aDelivery(overrides);
const deliver = (message: DeliveryMessage, attempt = 1) => world.deliver(message, attempt);
const subscriptionNow = (delivery: Delivery) => world.subscriptionNow(delivery);

describe('listener isolation', () => {
  /** Five failed attempts of the delivery in a row: enough to open its circuit. */
  async function failFiveTimes(message: DeliveryMessage): Promise<void> {
    for (let failure = 0; failure < 5; failure += 1) await deliver(message).catch(() => undefined);
  }

  it('opens the circuit after five failures in a row and holds the next delivery for 15 minutes without calling the listener', async () => {
    const delivery = aDelivery();
    listener.answer(() => respond(503));
    await failFiveTimes(delivery.message);
    const calls = listener.requests.length;
    const retries = queue.sent.length;

    const result = await deliver(delivery.message, 2);

    expect(listener.requests).toHaveLength(calls);
    // Not the 30 s cool-down: an open circuit's deliveries wait the longest one SQS delay, so a long
    // outage does not churn them through the queue; the deliveries that arrive meanwhile probe.
    expect(result).toEqual({ outcome: 'deferred', reason: 'circuit open', delaySeconds: 900 });
    // The message that was deferred made no attempt; the one before it did, and it keeps its place.
    expect(queue.sent.slice(retries)).toEqual([
      {
        message: expect.objectContaining({
          deliveryId: delivery.message.deliveryId,
          attemptsBefore: 1,
          runAttemptsBefore: 1,
        }),
        delaySeconds: 900,
      },
    ]);
  });

  it('lets a probe through once the cool-down has passed, and closes the circuit on its success', async () => {
    const delivery = aDelivery();
    listener.answer(() => respond(500));
    await failFiveTimes(delivery.message);
    listener.answer(() => respond(200));
    clock.advance(31_000);
    const calls = listener.requests.length;
    const retries = queue.sent.length;

    await deliver(delivery.message);
    await deliver(delivery.message);

    expect(listener.requests).toHaveLength(calls + 2);
    expect(queue.sent.slice(retries)).toEqual([]);
  });

  /** Ten deliveries to one listener, which answers after `delayMs` (real time); the peak in flight. */
  function tenToOneListener(delayMs: number) {
    let inFlight = 0;
    const peak = { value: 0 };
    listener.answer(async () => {
      inFlight += 1;
      peak.value = Math.max(peak.value, inFlight);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      inFlight -= 1;
      return respond(200);
    });
    return { messages: Array.from({ length: 10 }, () => aDelivery().message), peak };
  }

  it('delivers ten deliveries at once to one quick listener, at most eight requests at a time', async () => {
    const { messages, peak } = tenToOneListener(50);

    const results = await Promise.all(messages.map((message) => deliver(message)));

    expect(results.map((result) => result.outcome)).toEqual(Array(10).fill('succeeded'));
    expect(listener.requests).toHaveLength(10);
    expect(peak.value).toBe(8);
    expect(queue.sent).toEqual([]);
  });

  it('defers, without an attempt, the deliveries that wait longer than half a second for a slow listener', async () => {
    const { messages, peak } = tenToOneListener(800);

    const results = await Promise.all(messages.map((message) => deliver(message)));

    expect(results.filter((result) => result.outcome === 'deferred')).toHaveLength(2);
    expect(listener.requests).toHaveLength(8);
    expect(peak.value).toBe(8);
    expect(queue.sent.map((entry) => entry.delaySeconds)).toEqual([1, 1]);
  });

  it('frees a half-open circuit whose probe failed before anything was sent, and fails that delivery', async () => {
    const delivery = aDelivery();
    let mode: 'fail' | 'throw' | 'ok' = 'fail';
    listener.answer(() => {
      if (mode === 'throw') throw new Error('a bug before the request');
      return respond(mode === 'fail' ? 503 : 200);
    });
    await failFiveTimes(delivery.message);
    clock.advance(31_000);
    mode = 'throw';

    const probe = deliver(delivery.message);
    await expect(probe).rejects.toThrow('a bug before the request');
    mode = 'ok';
    clock.advance(301_000);
    const next = await deliver(delivery.message);

    // Past the (doubled) cool-down a new probe goes: the one that threw did not keep the circuit probing.
    expect(next).toEqual({ outcome: 'succeeded', attempt: 1 });
    // Five failures, the probe that threw, the new probe.
    expect(listener.requests).toHaveLength(7);
  });

  it('keeps delivering to a healthy listener while another one has an open circuit', async () => {
    const broken = aDelivery({ url: 'https://broken.example.com/hook' });
    listener.answer((request) => respond(request.url.includes('broken') ? 500 : 200));
    await failFiveTimes(broken.message);
    const healthy = aDelivery({ url: 'https://healthy.example.com/hook' });

    const [toBroken, toHealthy] = await Promise.all([deliver(broken.message), deliver(healthy.message)]);

    expect(toBroken.outcome).toBe('deferred');
    expect(toHealthy.outcome).toBe('succeeded');
    expect(listener.requests.filter((request) => request.url.includes('healthy'))).toHaveLength(1);
    expect(listener.requests.filter((request) => request.url.includes('broken'))).toHaveLength(5);
  });
});

describe('operational events', () => {
  it('announces Subscription.Disabled when a listener answers 410 Gone', async () => {
    const delivery = aDelivery();
    listener.answer(() => respond(410));

    await deliver(delivery.message);

    expect(operational.published).toEqual([
      {
        type: 'Subscription.Disabled',
        brand: 'acme',
        subscriptionId: delivery.subscription.id,
        at: NOW.toISOString(),
        reason: 'the listener answered 410 Gone',
      },
    ]);
  });

  it('announces Delivery.Exhausted when the last attempt fails', async () => {
    const delivery = aDelivery();
    listener.answer(() => respond(500));

    await deliver(delivery.message, 3);

    expect(operational.published).toEqual([
      expect.objectContaining({
        type: 'Delivery.Exhausted',
        deliveryId: delivery.message.deliveryId,
        webhookId: webhookId('acme/evt-1', delivery.subscription.id),
        reason: 'HTTP 500; gave up after 3 attempts',
      }),
    ]);
  });

  it('announces Subscription.Recovered when a subscription that failed for a day succeeds again', async () => {
    const failingSince = new Date(NOW.getTime() - DAY_MS).toISOString();
    const delivery = aDelivery({ failingSince });

    await deliver(delivery.message);

    expect(operational.published).toEqual([
      expect.objectContaining({
        type: 'Subscription.Recovered',
        subscriptionId: delivery.subscription.id,
        failingSince,
      }),
    ]);
  });

  it('says nothing when a subscription that failed only briefly succeeds again, but clears its failing mark', async () => {
    const delivery = aDelivery({ failingSince: new Date(NOW.getTime() - 60_000).toISOString() });

    await deliver(delivery.message);

    expect(operational.published).toEqual([]);
    expect(subscriptionNow(delivery)).not.toHaveProperty('failingSince');
  });
});
