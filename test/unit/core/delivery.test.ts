import { beforeEach, describe, expect, it } from 'vitest';
import { type DeliveryMessage, expiresAtEpoch, type Subscription } from '../../../lambdas/core/model.js';
import type { ListenerRequest } from '../../../lambdas/core/ports.js';
import { generateSecret, webhookId } from '../../../lambdas/core/signing.js';
import { verifyWebhook } from '../../../lambdas/core/verify.js';
import {
  anEvent,
  DAY_MS,
  type Delivery,
  DeliveryWorld,
  LISTENER_URL,
  NOW,
} from '../../support/delivery-world.js';
import {
  type InMemoryDeliveryQueue,
  type InMemoryDeliveryStore,
  type InMemoryEventStore,
  type InMemorySubscriptionStore,
  respond,
  type ScriptedListener,
} from '../../support/in-memory-ports.js';

/*
 * deliverMessage at its ports: a message and its receipt in; the listener's request, the delivery's
 * record and the subscription's state out. Retries: delivery-retries.test.ts; listener isolation and
 * operational events: delivery-isolation.test.ts.
 */

let world: DeliveryWorld;
let subscriptions: InMemorySubscriptionStore;
let deliveries: InMemoryDeliveryStore;
let events: InMemoryEventStore;
let queue: InMemoryDeliveryQueue;
let listener: ScriptedListener;

beforeEach(() => {
  world = new DeliveryWorld();
  ({ subscriptions, deliveries, events, queue, listener } = world);
});

const aDelivery = (overrides: Partial<Subscription> = {}) => world.aDelivery(overrides);
const deliver = (message: DeliveryMessage, attempt = 1) => world.deliver(message, attempt);
const recorded = (delivery: Delivery) => world.recorded(delivery);
const subscriptionNow = (delivery: Delivery) => world.subscriptionNow(delivery);
const verifies = (secret: string, request: Pick<ListenerRequest, 'headers' | 'body'>) =>
  world.verifies(secret, request);

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
    expect(queue.sent).toEqual([]);
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
    expect(queue.sent).toEqual([]);
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
    expect(queue.sent).toEqual([]);
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

describe('infrastructure failures', () => {
  it.each([
    { case: 'a first-attempt success', attempt: 1 },
    { case: 'a success after a retry', attempt: 2 },
  ])(
    'fails the delivery, to be retried, when the attempt of $case could not be recorded, although its listener was called',
    async ({ attempt }) => {
      const delivery = aDelivery();
      deliveries.failWhen('recordAttempt', new Error('ProvisionedThroughputExceededException'));

      await expect(deliver(delivery.message, attempt)).rejects.toThrow(
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
