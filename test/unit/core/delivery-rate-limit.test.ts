import { beforeEach, describe, expect, it } from 'vitest';
import { RATE_WAIT_HORIZON_MS } from '../../../lambdas/core/rate-limit.js';
import { DeliveryWorld, NOW } from '../../support/delivery-world.js';

/*
 * deliverMessage under a subscription's `maxRequestsPerSecond`: deliveries wait for their slot or go back
 * on the queue, never failing and never using up an attempt (lambdas/core/rate-limit.ts).
 */

let world: DeliveryWorld;
/** How long each delivery slept for its slot; the clock stands still, as if they all came at once. */
let waits: number[];

beforeEach(() => {
  world = new DeliveryWorld();
  waits = [];
  world.deps = { ...world.deps, sleep: async (ms) => void waits.push(ms) };
});

describe('rate limit', () => {
  it('spaces the requests of a limited subscription by 1 / limit, waiting for slots up to a second off', async () => {
    const { message } = world.aDelivery({ maxRequestsPerSecond: 5 });

    const results = [];
    for (let index = 0; index < 6; index++) results.push(await world.deliver(message));

    expect(results.map((result) => result.outcome)).toEqual(Array(6).fill('succeeded'));
    expect(waits).toEqual([200, 400, 600, 800, 1000]);
    expect(world.listener.requests).toHaveLength(6);
    expect(world.queue.sent).toEqual([]);
  });

  it('puts a delivery whose slot is further off back on the queue, keeping its attempts, and posts nothing', async () => {
    const delivery = world.aDelivery({ maxRequestsPerSecond: 5 });
    const { message } = delivery;
    for (let index = 0; index <= RATE_WAIT_HORIZON_MS / 200; index++) await world.deliver(message);
    const posted = world.listener.requests.length;
    const attempts = world.recorded(delivery)?.attempts.length;

    // Its third receive: the two before it each made an attempt.
    const result = await world.deliver(message, 3);

    expect(result).toEqual({
      outcome: 'deferred',
      reason: 'the subscription is at its limit of 5 requests per second',
      delaySeconds: 1,
    });
    expect(world.listener.requests).toHaveLength(posted);
    expect(world.recorded(delivery)?.attempts.length).toBe(attempts);
    expect(world.queue.sent).toEqual([
      {
        message: expect.objectContaining({
          deliveryId: message.deliveryId,
          attemptsBefore: 2,
          runAttemptsBefore: 2,
        }),
        delaySeconds: 1,
      },
    ]);
  });

  it('grants slots again as time passes', async () => {
    const { message } = world.aDelivery({ maxRequestsPerSecond: 1 });
    await world.deliver(message);
    await world.deliver(message);
    expect((await world.deliver(message)).outcome).toBe('deferred');

    world.clock.set(new Date(NOW.getTime() + 1_500));
    const result = await world.deliver(message);

    expect(result.outcome).toBe('succeeded');
    expect(waits).toEqual([1000, 500]);
  });

  it('gives up a slot it woke up late for (no bunching behind a busy container), and defers after three', async () => {
    const { message } = world.aDelivery({ maxRequestsPerSecond: 10 });
    await world.deliver(message);
    // Every sleep overruns by 80 ms, more than the 50 ms a slot may be late.
    world.deps = { ...world.deps, sleep: async (ms) => world.clock.advance(ms + 80) };

    const result = await world.deliver(message);

    expect(result).toMatchObject({ outcome: 'deferred', delaySeconds: 1 });
    expect(world.listener.requests).toHaveLength(1);
  });

  it('leaves subscriptions without a limit alone: no bucket, no wait', async () => {
    const { message } = world.aDelivery();

    for (let index = 0; index < 20; index++) await world.deliver(message);

    expect(world.listener.requests).toHaveLength(20);
    expect(waits).toEqual([]);
    expect(world.rateLimiter.dueAt.size).toBe(0);
  });
});
