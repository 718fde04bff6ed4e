import { describe, expect, it } from 'vitest';
import { commboxEvent, putEvents } from './support/events.js';
import {
  assertStatus,
  createSubscription,
  listDeliveries,
  subscriptionSpec,
  uniqueMarker,
} from './support/fixtures.js';
import { BRANDS } from './support/local-process.js';
import { useLocalStack } from './support/local-stack.js';
import { sleep } from './support/wait.js';
import { busiestSecond } from './support/windows.js';

/*
 * A subscription's `maxRequestsPerSecond` on the local stack: a burst of events reaches a loopback
 * listener no faster than the limit (+10 %) in any one-second window, and every delivery still arrives,
 * at its first attempt.
 */

const local = useLocalStack();

const LIMIT = 10;
const EVENTS = 60;
/** The most requests any one-second window may hold: the limit + 10 %. */
const MOST_IN_A_SECOND = Math.floor(LIMIT * 1.1);

describe('per-subscription rate limit', { timeout: 60_000 }, () => {
  it('keeps a burst to the limit (+10 %) in every one-second window, and delivers all of it at the first attempt', async () => {
    const listener = await local.listener();
    const marker = uniqueMarker('rate');
    const subscription = await createSubscription(
      local.acme,
      subscriptionSpec(marker, listener.url, { maxRequestsPerSecond: LIMIT }),
    );
    expect(subscription).toMatchObject({ maxRequestsPerSecond: LIMIT });

    for (let first = 0; first < EVENTS; first += 10) {
      await putEvents(
        local.producer,
        Array.from({ length: 10 }, (_, index) =>
          commboxEvent(BRANDS.acme.brand, 'Object.OnNew', { Id: first + index, Marker: marker }),
        ),
      );
    }
    const requests = await listener.waitFor(EVENTS, 40_000);
    await sleep(1500);

    const times = requests.map((request) => request.receivedAt);
    expect(busiestSecond(times)).toBeLessThanOrEqual(MOST_IN_A_SECOND);
    // The limit did bind: 60 requests at 10 a second take about 6 s, not the moment a burst takes.
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(
      ((EVENTS - 1) / LIMIT) * 1000 * 0.9,
    );
    // Each event once, each at its first attempt: waiting for a slot is not an attempt.
    expect(listener.requests).toHaveLength(EVENTS);
    expect(listener.webhookIds().size).toBe(EVENTS);
    const deliveries = await listDeliveries(local.acme, subscription.id);
    expect(deliveries).toHaveLength(EVENTS);
    expect(deliveries.every((delivery) => delivery.status === 'succeeded')).toBe(true);
    expect(
      deliveries.flatMap((delivery) => delivery.attempts.map((attempt) => attempt.attempt)),
    ).not.toContain(2);
  });

  it('refuses a limit that is not a positive whole number, naming the field, and lifts a limit with null', async () => {
    const listener = await local.listener();
    const refused = await local.acme.post(
      '/subscriptions',
      subscriptionSpec(uniqueMarker('rate'), listener.url, { maxRequestsPerSecond: 0 }),
    );
    assertStatus(refused, 422);
    expect(JSON.stringify(refused.body)).toContain('maxRequestsPerSecond');

    const created = await createSubscription(
      local.acme,
      subscriptionSpec(uniqueMarker('rate'), listener.url, { maxRequestsPerSecond: 5 }),
    );
    const lifted = await local.acme.patch(`/subscriptions/${created.id}`, { maxRequestsPerSecond: null });
    assertStatus(lifted, 200);
    expect(lifted.body).not.toHaveProperty('maxRequestsPerSecond');
  });
});
