import { beforeEach, describe, expect, it } from 'vitest';
import { RATE_WAIT_HORIZON_MS, slotIntervalMs } from '../../../lambdas/core/rate-limit.js';
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
  it('spaces the requests of a limited subscription by slotIntervalMs, waiting for near slots', async () => {
    const { message } = world.aDelivery({ maxRequestsPerSecond: 5 });

    const results = [];
    for (let index = 0; index < 6; index++) results.push(await world.deliver(message));

    expect(results.map((result) => result.outcome)).toEqual(Array(6).fill('succeeded'));
    const step = slotIntervalMs(5);
    expect(waits).toEqual([step, 2 * step, 3 * step, 4 * step, 5 * step]);
    expect(world.listener.requests).toHaveLength(6);
    expect(world.queue.sent).toEqual([]);
  });

  it('puts a delivery whose slot is further off back on the queue, keeping its attempts and its slot, and posts nothing', async () => {
    const delivery = world.aDelivery({ maxRequestsPerSecond: 5 });
    const { message } = delivery;
    // Slots one step apart from 0 up to 2 s: each within the 2 s a delivery may wait in the container.
    const step = slotIntervalMs(5);
    const near = Math.floor(RATE_WAIT_HORIZON_MS / step) + 1;
    for (let index = 0; index < near; index++) await world.deliver(message);
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
          rateSlotAt: NOW.getTime() + near * step,
        }),
        delaySeconds: 1,
      },
    ]);
  });

  it('uses the slot a deferred delivery comes back with, without reserving again', async () => {
    const { message } = world.aDelivery({ maxRequestsPerSecond: 1 });
    const step = slotIntervalMs(1);
    // Slots at 0 and one step (within 2 s); the third, two steps on, is further.
    for (let index = 0; index < 2; index++) await world.deliver(message);
    expect(await world.deliver(message)).toMatchObject({ outcome: 'deferred', delaySeconds: 1 });
    const [requeued] = world.queue.messages();
    const dueBefore = [...world.rateLimiter.dueAt.values()];

    // Back a second and a half later: its slot is still ahead.
    world.clock.set(new Date(NOW.getTime() + 1_500));
    const result = await world.deliver(requeued ?? message);

    expect(result.outcome).toBe('succeeded');
    expect(waits).toEqual([step, 2 * step - 1_500]);
    expect([...world.rateLimiter.dueAt.values()]).toEqual(dueBefore);
  });

  it('reserves anew when the slot it comes back with has passed', async () => {
    const { message } = world.aDelivery({ maxRequestsPerSecond: 1 });

    const result = await world.deliver({ ...message, rateSlotAt: NOW.getTime() - 1_000 });

    expect(result.outcome).toBe('succeeded');
    expect([...world.rateLimiter.dueAt.values()]).toEqual([NOW.getTime() + slotIntervalMs(1)]);
  });

  it('gives up a slot it woke up late for (no bunching behind a busy container), and defers after three', async () => {
    const { message } = world.aDelivery({ maxRequestsPerSecond: 10 });
    await world.deliver(message);
    // Every sleep overruns by 80 ms, more than the 50 ms a slot may be late.
    world.deps = { ...world.deps, sleep: async (ms) => world.clock.advance(ms + 80) };

    const result = await world.deliver(message);

    expect(result).toMatchObject({ outcome: 'deferred', delaySeconds: 2 });
    expect(world.listener.requests).toHaveLength(1);
  });

  it('does not send a delivery that stalled past its slot after the wait, and puts it back without an attempt', async () => {
    const { message } = world.aDelivery({ maxRequestsPerSecond: 10 });
    const limiter = world.deps.limiter;
    // The container stalls for 200 ms between the wait for the slot and the request.
    world.deps = {
      ...world.deps,
      limiter: {
        acquire: async (origin: string) => {
          world.clock.advance(200);
          return limiter.acquire(origin);
        },
      } as unknown as typeof limiter,
    };

    const result = await world.deliver(message, 2);

    expect(result).toEqual({
      outcome: 'deferred',
      reason: 'the rate limit slot passed before the request could go out',
      delaySeconds: 1,
    });
    expect(world.listener.requests).toHaveLength(0);
    expect(world.queue.messages()).toEqual([expect.objectContaining({ attemptsBefore: 1 })]);
  });

  it('leaves subscriptions without a limit alone: no bucket, no wait', async () => {
    const { message } = world.aDelivery();

    for (let index = 0; index < 20; index++) await world.deliver(message);

    expect(world.listener.requests).toHaveLength(20);
    expect(waits).toEqual([]);
    expect(world.rateLimiter.dueAt.size).toBe(0);
  });
});
