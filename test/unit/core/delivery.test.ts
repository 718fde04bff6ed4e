import { beforeEach, describe, expect, it } from 'vitest';
import { CircuitBreakers, InFlightLimiter } from '../../../lambdas/core/circuit-breaker.js';
import {
  type DeliveryDeps,
  type DeliveryResult,
  deliverMessage,
  RetryScheduled,
} from '../../../lambdas/core/delivery.js';
import { deliveryIdFor } from '../../../lambdas/core/ids.js';
import {
  type DeliveryEvent,
  type DeliveryMessage,
  expiresAtEpoch,
  type Subscription,
} from '../../../lambdas/core/model.js';
import type { ListenerRequest } from '../../../lambdas/core/ports.js';
import { generateSecret, webhookId } from '../../../lambdas/core/signing.js';
import { verifyWebhook, WebhookVerificationError } from '../../../lambdas/core/verify.js';
import { exampleData } from '../../support/factories.js';
import {
  InMemoryDeliveryQueue,
  InMemoryDeliveryStore,
  InMemoryEventStore,
  InMemorySubscriptionStore,
  RecordingOperationalEvents,
  respond,
  ScriptedListener,
  TestClock,
} from '../../support/in-memory-ports.js';
import { aStoredSubscription } from '../../support/stored-items.js';

/*
 * deliverMessage at its ports: a message and its receipt in; the listener's request, the delivery's
 * record, the subscription's health, the queue's delays and the operational events out. The real
 * circuit breakers and in-flight limiter run on the test's clock.
 */

const NOW = new Date('2026-03-04T05:06:07.000Z');
const DAY_MS = 24 * 60 * 60 * 1000;
const LISTENER_URL = 'https://listener.example.com/hook';

let subscriptions: InMemorySubscriptionStore;
let deliveries: InMemoryDeliveryStore;
let events: InMemoryEventStore;
let queue: InMemoryDeliveryQueue;
let listener: ScriptedListener;
let operational: RecordingOperationalEvents;
let clock: TestClock;
let deps: DeliveryDeps;

beforeEach(() => {
  subscriptions = new InMemorySubscriptionStore();
  deliveries = new InMemoryDeliveryStore();
  events = new InMemoryEventStore();
  queue = new InMemoryDeliveryQueue();
  listener = new ScriptedListener();
  operational = new RecordingOperationalEvents();
  clock = new TestClock(NOW);
  deps = {
    subscriptions,
    deliveries,
    events,
    queue,
    listener,
    operational,
    now: clock.now,
    retrySchedule: [0, 5, 10],
    retentionDays: 30,
    disableAfterDays: 5,
    deliveryLog: 'full',
    breakers: new CircuitBreakers(undefined, clock.millis),
    limiter: new InFlightLimiter(),
  };
});

/** acme's Object.OnNew `acme/evt-1` with the catalogue's example data, as a delivery message carries it. */
const anEvent = (): DeliveryEvent => ({
  entity: 'Object',
  event: 'OnNew',
  receivedAt: '2026-03-04T05:06:00.000Z',
  data: exampleData('Object', 'OnNew'),
});

interface Delivery {
  readonly subscription: Subscription;
  readonly message: DeliveryMessage;
}

/** Stores a subscription (with a custom header) and builds the message of acme/evt-1 for it. */
function aDelivery(overrides: Partial<Subscription> = {}): Delivery {
  const subscription = aStoredSubscription({
    url: LISTENER_URL,
    headers: { 'X-Team': 'blue' },
    ...overrides,
  });
  subscriptions.seed(subscription);
  const event = anEvent();
  return {
    subscription,
    message: {
      v: 1,
      brand: subscription.brand,
      subscriptionId: subscription.id,
      deliveryId: deliveryIdFor(event.receivedAt, 'acme/evt-1', subscription.id),
      eventKey: 'acme/evt-1',
      event,
    },
  };
}

/** One attempt: SQS's receive count (1 unless given), and a receipt handle named after the delivery. */
const deliver = (message: DeliveryMessage, receiveCount = 1): Promise<DeliveryResult> =>
  deliverMessage(deps, message, { receiveCount, receiptHandle: `receipt-${message.deliveryId}` });

const recorded = ({ message }: Delivery) => deliveries.current(message.subscriptionId, message.deliveryId);
const subscriptionNow = ({ subscription }: Delivery) =>
  subscriptions.current(subscription.brand, subscription.id);

/** Whether `request` carries a valid signature by `secret` alone. */
function verifies(secret: string, request: Pick<ListenerRequest, 'headers' | 'body'>): boolean {
  try {
    verifyWebhook({
      headers: request.headers,
      body: request.body,
      secrets: secret,
      now: clock.now(),
      parseJson: false,
    });
    return true;
  } catch (error) {
    if (error instanceof WebhookVerificationError) return false;
    throw error;
  }
}

describe('delivering a webhook', () => {
  it('POSTs the signed JSON payload with its content type and custom header, and records the success', async () => {
    const delivery = aDelivery();
    const [secret] = delivery.subscription.secrets;

    const result = await deliver(delivery.message);

    expect(result).toEqual({ outcome: 'succeeded', attempt: 1 });
    expect(listener.requests).toHaveLength(1);
    const [request] = listener.requests;
    expect(request?.url).toBe(LISTENER_URL);
    expect(request?.headers['Content-Type']).toBe('application/json');
    expect(request?.headers['X-Team']).toBe('blue');
    const verified = verifyWebhook({
      headers: request?.headers ?? {},
      body: request?.body ?? '',
      secrets: secret?.secret ?? '',
      now: NOW,
    });
    expect(verified.id).toBe(webhookId('acme/evt-1', delivery.subscription.id));
    expect(verified.timestamp).toBe(NOW.getTime() / 1000);
    expect(verified.payload).toEqual({
      Event: {
        Subscription: 'Object',
        Name: 'OnNew',
        Brand: 'acme',
        Object: expect.objectContaining({ Id: 901731, StreamId: 71 }),
      },
    });
    expect(recorded(delivery)).toEqual({
      id: delivery.message.deliveryId,
      subscriptionId: delivery.subscription.id,
      brand: 'acme',
      eventKey: 'acme/evt-1',
      webhookId: verified.id,
      entity: 'Object',
      event: 'OnNew',
      receivedAt: anEvent().receivedAt,
      data: anEvent().data,
      status: 'succeeded',
      createdAt: NOW.toISOString(),
      updatedAt: NOW.toISOString(),
      attempts: [{ attempt: 1, at: NOW.toISOString(), statusCode: 200, durationMs: 12 }],
      expiresAt: expiresAtEpoch(anEvent().receivedAt, 30),
    });
    expect(queue.delays).toEqual([]);
  });

  it('sends a SOAP subscription a signed envelope as text/xml with a SOAPAction', async () => {
    const delivery = aDelivery({ format: 'soap' });

    await deliver(delivery.message);

    const [request] = listener.requests;
    expect(request?.headers['Content-Type']).toBe('text/xml; charset=utf-8');
    expect(request?.headers.SOAPAction).toBe('""');
    expect(request?.body).toMatch(/^<\?xml version="1.0" encoding="utf-8"\?><soap:Envelope /);
    expect(request?.body).toContain(
      '<Event Subscription="Object" Name="OnNew" Brand="acme"><Object><Id>901731</Id>',
    );
    expect(request && verifies(delivery.subscription.secrets[0]?.secret ?? '', request)).toBe(true);
    expect(recorded(delivery)?.status).toBe('succeeded');
  });

  it('delivers a test event even while the subscription is paused', async () => {
    const delivery = aDelivery({ status: 'paused' });

    const result = await deliver({ ...delivery.message, test: true });

    expect(result).toEqual({ outcome: 'succeeded', attempt: 1 });
    expect(listener.requests).toHaveLength(1);
    expect(recorded(delivery)?.status).toBe('succeeded');
  });

  it('delivers with one read, the subscription: the event rides in the message', async () => {
    const delivery = aDelivery();
    events.seedLegacy('acme/evt-1', { ...anEvent(), data: { Id: 1 } });

    await deliver(delivery.message);

    expect(subscriptions.reads).toEqual([`acme ${delivery.subscription.id}`]);
    expect(JSON.parse(listener.requests[0]?.body ?? '{}').Event.Object).toMatchObject({ Id: 901731 });
    expect(recorded(delivery)).toMatchObject({ status: 'succeeded', data: anEvent().data });
  });

  it('drops, with its reason, a message whose event the catalogue does not know', async () => {
    const delivery = aDelivery();

    const result = await deliver({ ...delivery.message, event: { ...anEvent(), event: 'OnVanished' } });

    expect(result).toEqual({ outcome: 'dropped', reason: 'the catalogue has no Object.OnVanished' });
    expect(listener.requests).toHaveLength(0);
    expect(recorded(delivery)).toBeUndefined();
  });
});

describe('retrying', () => {
  it('retries a 503 after its Retry-After delay, leaving the delivery pending', async () => {
    const delivery = aDelivery();
    listener.answer(() => respond(503, { retryAfter: '30', body: 'busy' }));

    await expect(deliver(delivery.message)).rejects.toThrow(RetryScheduled);

    expect(queue.delays).toEqual([{ receiptHandle: `receipt-${delivery.message.deliveryId}`, seconds: 30 }]);
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

    const error = await deliver(delivery.message).catch((thrown: unknown) => thrown);

    expect(error).toMatchObject({ name: 'RetryScheduled', delaySeconds: 5 });
    expect(queue.delays.map((delay) => delay.seconds)).toEqual([5]);
    expect(recorded(delivery)).toMatchObject({
      status: 'pending',
      attempts: [{ attempt: 1, error: 'connection failed (ECONNREFUSED)' }],
    });
  });

  it("follows the subscription's own retry schedule over the default", async () => {
    const delivery = aDelivery({ retrySchedule: [0, 120] });
    listener.answer(() => respond(500));

    await expect(deliver(delivery.message)).rejects.toThrow(RetryScheduled);

    expect(queue.delays.map((delay) => delay.seconds)).toEqual([120]);
  });

  it('gives up after the last attempt of the schedule: the delivery fails and the message is not delayed', async () => {
    const delivery = aDelivery();
    listener.answer(() => respond(500, { body: 'still broken' }));

    const result = await deliver(delivery.message, 3);

    expect(result).toEqual({ outcome: 'failed', attempt: 3, reason: 'HTTP 500; gave up after 3 attempts' });
    expect(queue.delays).toEqual([]);
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
    await expect(deliver(delivery.message, 1)).rejects.toThrow(RetryScheduled);
    listener.answer(() => respond(200));
    clock.advance(5_000);

    const result = await deliver(delivery.message, 2);

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

    const error = await deliver({ ...delivery.message, attemptsBefore: 3, runAttemptsBefore: 0 }).catch(
      (thrown: unknown) => thrown,
    );

    expect(error).toMatchObject({ name: 'RetryScheduled', delaySeconds: 5 });
    expect(recorded(delivery)?.attempts).toEqual([expect.objectContaining({ attempt: 4, statusCode: 500 })]);
  });
});

describe("the subscription's state", () => {
  it('disables the subscription when the listener answers 410 Gone, and does not retry', async () => {
    const delivery = aDelivery();
    listener.answer(() => respond(410));

    const result = await deliver(delivery.message);

    expect(result).toEqual({
      outcome: 'gone',
      attempt: 1,
      reason: 'HTTP 410 (client error at the listener)',
    });
    expect(queue.delays).toEqual([]);
    expect(subscriptionNow(delivery)).toMatchObject({
      status: 'disabled',
      disabledReason: 'the listener answered 410 Gone',
      updatedAt: NOW.toISOString(),
      version: 2,
    });
    expect(recorded(delivery)).toMatchObject({ status: 'failed', attempts: [{ statusCode: 410 }] });
  });

  it.each(['paused', 'disabled'] as const)(
    'records a failed attempt for a %s subscription without calling its listener',
    async (status) => {
      const delivery = aDelivery({ status });

      const result = await deliver(delivery.message);

      expect(result).toEqual({ outcome: 'failed', attempt: 1, reason: `the subscription is ${status}` });
      expect(listener.requests).toHaveLength(0);
      expect(recorded(delivery)).toMatchObject({
        status: 'failed',
        failureReason: `the subscription is ${status}`,
        attempts: [{ attempt: 1, durationMs: 0, error: `the subscription is ${status}` }],
      });
    },
  );

  it('drops a delivery whose subscription was deleted: no call, no record, no retry', async () => {
    const delivery = aDelivery();

    const result = await deliver({ ...delivery.message, subscriptionId: 'sub_DELETEDDELETED00' });

    expect(result).toEqual({ outcome: 'dropped', reason: 'the subscription was deleted' });
    expect(listener.requests).toHaveLength(0);
    expect(deliveries.all()).toEqual([]);
    expect(queue.delays).toEqual([]);
  });

  it('delivers a legacy message without its event (queued by an older build) from the event that build stored', async () => {
    const delivery = aDelivery();
    const { event: _event, ...legacy } = delivery.message;
    events.seedLegacy('acme/evt-1', anEvent());

    const result = await deliver(legacy);

    expect(result).toEqual({ outcome: 'succeeded', attempt: 1 });
    expect(JSON.parse(listener.requests[0]?.body ?? '{}').Event.Object).toMatchObject({ Id: 901731 });
    // Its record keeps the event from now on.
    expect(recorded(delivery)).toMatchObject({ status: 'succeeded', data: anEvent().data });
  });

  it('drops a legacy message without its event whose stored event expired (or is a claim without data)', async () => {
    const delivery = aDelivery();
    const { event: _event, ...legacy } = delivery.message;

    const result = await deliver(legacy);

    expect(result).toEqual({ outcome: 'dropped', reason: 'the event has expired' });
    expect(listener.requests).toHaveLength(0);
    expect(deliveries.all()).toEqual([]);
  });
});

describe('signing secrets', () => {
  it('signs with both secrets during a rotation, and each signature verifies with its own secret', async () => {
    const previous = generateSecret();
    const current = generateSecret();
    const { message } = aDelivery({
      secrets: [
        {
          secret: previous,
          createdAt: '2026-01-01T00:00:00.000Z',
          expiresAt: new Date(NOW.getTime() + DAY_MS).toISOString(),
        },
        { secret: current, createdAt: NOW.toISOString() },
      ],
    });

    await deliver(message);

    const [request] = listener.requests;
    const signatures = String(request?.headers['webhook-signature']).split(' ');
    expect(signatures).toHaveLength(2);
    for (const [index, secret] of [previous, current].entries()) {
      const alone = {
        headers: { ...request?.headers, 'webhook-signature': signatures[index] ?? '' },
        body: request?.body ?? '',
      };
      expect(verifies(secret, alone)).toBe(true);
    }
  });

  it('no longer signs with a secret whose overlap has expired', async () => {
    const expired = generateSecret();
    const current = generateSecret();
    const { message } = aDelivery({
      secrets: [
        {
          secret: expired,
          createdAt: '2026-01-01T00:00:00.000Z',
          expiresAt: new Date(NOW.getTime() - 1000).toISOString(),
        },
        { secret: current, createdAt: '2026-03-03T05:06:07.000Z' },
      ],
    });

    await deliver(message);

    const [request] = listener.requests;
    expect(String(request?.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(request && verifies(current, request)).toBe(true);
    expect(request && verifies(expired, request)).toBe(false);
  });
});

describe('the failing clock', () => {
  it('starts at the first failure after a success', async () => {
    const delivery = aDelivery();
    listener.answer(() => respond(500));

    await expect(deliver(delivery.message)).rejects.toThrow(RetryScheduled);

    expect(subscriptionNow(delivery)).toMatchObject({ status: 'active', failingSince: NOW.toISOString() });
  });

  it('keeps the subscription active while it has failed for less than disableAfterDays', async () => {
    const failingSince = new Date(NOW.getTime() - 4 * DAY_MS).toISOString();
    const delivery = aDelivery({ failingSince });
    listener.answer(() => respond(500));

    await expect(deliver(delivery.message)).rejects.toThrow(RetryScheduled);

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
    deps = { ...deps, deliveryLog: 'failures' };
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

describe('infrastructure failures', () => {
  it.each([
    { case: 'a first-attempt success', receiveCount: 1 },
    { case: 'a success after a retry', receiveCount: 2 },
  ])(
    'fails the delivery, to be retried, when the attempt of $case could not be recorded, although its listener was called',
    async ({ receiveCount }) => {
      const delivery = aDelivery();
      deliveries.failWhen('recordAttempt', new Error('ProvisionedThroughputExceededException'));

      await expect(deliver(delivery.message, receiveCount)).rejects.toThrow(
        'ProvisionedThroughputExceededException',
      );

      expect(listener.requests).toHaveLength(1);
      expect(recorded(delivery)).toBeUndefined();
    },
  );

  it('fails a delivery whose subscription could not be read, without calling the listener', async () => {
    const delivery = aDelivery();
    subscriptions.failWhen('get', new Error('InternalServerError'));

    await expect(deliver(delivery.message)).rejects.toThrow('InternalServerError');

    expect(listener.requests).toHaveLength(0);
  });
});

describe('listener isolation', () => {
  /** Five failed attempts of the delivery in a row: enough to open its circuit. */
  async function failFiveTimes(message: DeliveryMessage): Promise<void> {
    for (let failure = 0; failure < 5; failure += 1) await deliver(message).catch(() => undefined);
  }

  it('opens the circuit after five failures in a row and defers the next delivery without calling the listener', async () => {
    const delivery = aDelivery();
    listener.answer(() => respond(503));
    await failFiveTimes(delivery.message);
    const calls = listener.requests.length;

    const result = await deliver(delivery.message, 2);

    expect(listener.requests).toHaveLength(calls);
    expect(result).toEqual({ outcome: 'deferred', reason: 'circuit open', delaySeconds: 30 });
    // The receive that was deferred made no attempt; the one before it did, and keeps its place.
    expect(queue.sent).toEqual([
      {
        message: expect.objectContaining({
          deliveryId: delivery.message.deliveryId,
          attemptsBefore: 1,
          runAttemptsBefore: 1,
        }),
        delaySeconds: 30,
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

    await deliver(delivery.message);
    await deliver(delivery.message);

    expect(listener.requests).toHaveLength(calls + 2);
    expect(queue.sent).toEqual([]);
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
