import { beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryMessage, Subscription } from '../../../lambdas/core/model.js';
import { webhookId } from '../../../lambdas/core/signing.js';
import { DAY_MS, type Delivery, DeliveryWorld, NOW } from '../../support/delivery-world.js';
import {
  type InMemoryDeliveryQueue,
  type InMemoryDeliveryStore,
  respond,
  type ScriptedListener,
  type TestClock,
} from '../../support/in-memory-ports.js';

/*
 * deliverMessage's retries at its ports: each retry a new delayed message carrying its place in the
 * schedule (long waits in hops of at most 900 s), the attempts appended to the record, the failing clock
 * that disables a subscription, and the failures-only log.
 */

let world: DeliveryWorld;
let deliveries: InMemoryDeliveryStore;
let queue: InMemoryDeliveryQueue;
let listener: ScriptedListener;
let clock: TestClock;

beforeEach(() => {
  world = new DeliveryWorld();
  ({ deliveries, queue, listener, clock } = world);
});

const aDelivery = (overrides: Partial<Subscription> = {}) => world.aDelivery(overrides);
const deliver = (message: DeliveryMessage, attempt = 1) => world.deliver(message, attempt);
const recorded = (delivery: Delivery) => world.recorded(delivery);
const subscriptionNow = (delivery: Delivery) => world.subscriptionNow(delivery);

describe('retrying', () => {
  it('retries a 503 after its Retry-After delay, leaving the delivery pending', async () => {
    const delivery = aDelivery();
    listener.answer(() => respond(503, { retryAfter: '30', body: 'busy' }));

    const result = await deliver(delivery.message);

    expect(result).toEqual({ outcome: 'retrying', attempt: 1, reason: 'HTTP 503', delaySeconds: 30 });
    expect(queue.sent).toEqual([
      {
        message: { ...delivery.message, attemptsBefore: 1, runAttemptsBefore: 1 },
        delaySeconds: 30,
      },
    ]);
    expect(recorded(delivery)).toMatchObject({
      status: 'pending',
      nextAttemptAt: new Date(NOW.getTime() + 30_000).toISOString(),
      attempts: [{ attempt: 1, statusCode: 503, error: 'HTTP 503: busy' }],
    });
    expect(recorded(delivery)).not.toHaveProperty('failureReason');
  });

  it('retries a refused connection after the next delay of the schedule', async () => {
    const delivery = aDelivery();
    listener.answer(() => ({ outcome: { kind: 'network', code: 'ECONNREFUSED' }, durationMs: 1 }));

    const result = await deliver(delivery.message);

    expect(result).toMatchObject({ outcome: 'retrying', delaySeconds: 5 });
    expect(queue.sent.map((sent) => sent.delaySeconds)).toEqual([5]);
    expect(recorded(delivery)).toMatchObject({
      status: 'pending',
      attempts: [{ attempt: 1, error: 'connection failed (ECONNREFUSED)' }],
    });
  });

  it("follows the subscription's own retry schedule over the default", async () => {
    const delivery = aDelivery({ retrySchedule: [0, 120] });
    listener.answer(() => respond(500));

    await deliver(delivery.message);

    expect(queue.sent.map((sent) => sent.delaySeconds)).toEqual([120]);
  });

  it('gives up after the last attempt of the schedule: the delivery fails and nothing is queued again', async () => {
    const delivery = aDelivery();
    listener.answer(() => respond(500, { body: 'still broken' }));

    const result = await deliver(delivery.message, 3);

    expect(result).toEqual({ outcome: 'failed', attempt: 3, reason: 'HTTP 500; gave up after 3 attempts' });
    expect(queue.sent).toEqual([]);
    expect(recorded(delivery)).toMatchObject({
      status: 'failed',
      failureReason: 'HTTP 500; gave up after 3 attempts',
      attempts: [{ attempt: 3, statusCode: 500, error: 'HTTP 500; gave up after 3 attempts: still broken' }],
    });
    expect(recorded(delivery)).not.toHaveProperty('nextAttemptAt');
  });

  it('sends the same webhook-id on a retry and appends every attempt to the delivery', async () => {
    const delivery = aDelivery();
    listener.answer(() => respond(500));
    await deliver(delivery.message);
    listener.answer(() => respond(200));
    clock.advance(5_000);
    const [retry] = queue.messages();

    if (!retry) throw new Error('no retry was queued');

    const result = await deliver(retry);

    expect(result).toEqual({ outcome: 'succeeded', attempt: 2 });
    const ids = listener.requests.map((request) => request.headers['webhook-id']);
    expect(ids).toEqual([webhookId('acme/evt-1', delivery.subscription.id), ids[0]]);
    expect(recorded(delivery)).toMatchObject({
      status: 'succeeded',
      createdAt: NOW.toISOString(),
      attempts: [
        { attempt: 1, statusCode: 500 },
        { attempt: 2, statusCode: 200 },
      ],
    });
    expect(recorded(delivery)).not.toHaveProperty('nextAttemptAt');
  });

  it('continues the attempt count of a resend in the log, with a fresh retry schedule', async () => {
    const delivery = aDelivery();
    listener.answer(() => respond(500));

    const result = await deliver({ ...delivery.message, attemptsBefore: 3, runAttemptsBefore: 0 });

    expect(result).toMatchObject({ outcome: 'retrying', attempt: 4, delaySeconds: 5 });
    expect(queue.messages()).toEqual([expect.objectContaining({ attemptsBefore: 4, runAttemptsBefore: 1 })]);
    expect(recorded(delivery)?.attempts).toEqual([expect.objectContaining({ attempt: 4, statusCode: 500 })]);
  });
});

describe('retries that hold nothing in flight', () => {
  it('waits longer than SQS delays a message in hops of 900 s, the message carrying when it is due', async () => {
    const delivery = aDelivery({ retrySchedule: [0, 3600] });
    listener.answer(() => respond(500));
    const dueAt = new Date(NOW.getTime() + 3600_000).toISOString();

    await deliver(delivery.message);

    expect(queue.sent).toEqual([
      {
        message: { ...delivery.message, attemptsBefore: 1, runAttemptsBefore: 1, dueAt },
        delaySeconds: 900,
      },
    ]);
  });

  it('sends a hop received before its due time on for the rest of the wait, without an attempt or a read', async () => {
    const delivery = aDelivery();
    const dueAt = new Date(NOW.getTime() + 1000_000).toISOString();
    const reads = world.subscriptions.reads.length;

    const first = await deliver({ ...delivery.message, attemptsBefore: 1, runAttemptsBefore: 1, dueAt });
    clock.advance(900_000);
    const [next] = queue.messages();
    if (!next) throw new Error('no hop was queued');
    const last = await deliver(next);

    expect(first).toEqual({ outcome: 'waiting', delaySeconds: 900 });
    expect(last).toEqual({ outcome: 'waiting', delaySeconds: 100 });
    expect(queue.sent.map((sent) => sent.delaySeconds)).toEqual([900, 100]);
    // The last hop lands on the due time, and carries it no further.
    expect(queue.sent[0]?.message).toMatchObject({ dueAt, attemptsBefore: 1, runAttemptsBefore: 1 });
    expect(queue.sent[1]?.message).not.toHaveProperty('dueAt');
    expect(listener.requests).toEqual([]);
    expect(world.subscriptions.reads).toHaveLength(reads);
  });

  it('attempts a message whose due time has come, as the next attempt of its schedule', async () => {
    const delivery = aDelivery();
    listener.answer(() => respond(500));
    const dueAt = new Date(NOW.getTime() - 1).toISOString();

    const result = await deliver({ ...delivery.message, attemptsBefore: 1, runAttemptsBefore: 1, dueAt });

    expect(result).toMatchObject({ outcome: 'retrying', attempt: 2, delaySeconds: 10 });
    expect(listener.requests).toHaveLength(1);
  });

  it('fails (so SQS hands the message over again) when the retry cannot be queued, the attempt kept in the log', async () => {
    const delivery = aDelivery();
    listener.answer(() => respond(500));
    queue.unavailable(new Error('SQS is unavailable'));

    await expect(deliver(delivery.message)).rejects.toThrow('SQS is unavailable');

    expect(recorded(delivery)).toMatchObject({ status: 'pending', attempts: [{ attempt: 1 }] });
  });

  it('fails when the queue answers the retry as not queued', async () => {
    const delivery = aDelivery();
    listener.answer(() => respond(500));
    queue.refuse(() => true);

    await expect(deliver(delivery.message)).rejects.toThrow();
  });
});

describe('the failing clock', () => {
  it('starts at the first failure after a success', async () => {
    const delivery = aDelivery();
    listener.answer(() => respond(500));

    await deliver(delivery.message);

    expect(subscriptionNow(delivery)).toMatchObject({ status: 'active', failingSince: NOW.toISOString() });
  });

  it('keeps the subscription active while it has failed for less than disableAfterDays', async () => {
    const failingSince = new Date(NOW.getTime() - 4 * DAY_MS).toISOString();
    const delivery = aDelivery({ failingSince });
    listener.answer(() => respond(500));

    await deliver(delivery.message);

    expect(subscriptionNow(delivery)).toMatchObject({ status: 'active', failingSince });
  });

  it('disables a subscription that has failed for disableAfterDays, and says why', async () => {
    const failingSince = new Date(NOW.getTime() - 6 * DAY_MS).toISOString();
    const delivery = aDelivery({ failingSince });
    listener.answer(() => respond(500));

    await deliver(delivery.message, 3);

    expect(subscriptionNow(delivery)).toMatchObject({
      status: 'disabled',
      disabledReason: `no successful delivery for 5 days (failing since ${failingSince})`,
    });
    expect(recorded(delivery)?.status).toBe('failed');
  });

  it('is cleared by a success', async () => {
    const delivery = aDelivery({ failingSince: new Date(NOW.getTime() - DAY_MS).toISOString() });

    await deliver(delivery.message);

    expect(subscriptionNow(delivery)).not.toHaveProperty('failingSince');
    expect(subscriptionNow(delivery)?.status).toBe('active');
  });
});

describe('the failures-only delivery log', () => {
  beforeEach(() => {
    world.deps = { ...world.deps, deliveryLog: 'failures' };
  });

  it('records nothing for a success at the first attempt', async () => {
    const delivery = aDelivery();

    const result = await deliver(delivery.message);

    expect(result).toEqual({ outcome: 'succeeded', attempt: 1 });
    expect(listener.requests).toHaveLength(1);
    expect(deliveries.all()).toEqual([]);
  });

  it('records a success that needed a retry', async () => {
    const delivery = aDelivery();

    await deliver(delivery.message, 2);

    expect(recorded(delivery)).toMatchObject({ status: 'succeeded', attempts: [{ attempt: 2 }] });
  });
});
