import { beforeEach, describe, expect, it } from 'vitest';
import {
  getDelivery,
  listDeliveries,
  MAX_REPLAY,
  parseDeliveryStatus,
  replayDeliveries,
  resendDelivery,
  sendTestEvent,
} from '../../../lambdas/core/deliveries-service.js';
import { ClientError } from '../../../lambdas/core/errors.js';
import { deliveryIdFor } from '../../../lambdas/core/ids.js';
import type { StoredDelivery, Subscription } from '../../../lambdas/core/model.js';
import type { ServiceDeps } from '../../../lambdas/core/subscriptions-service.js';
import { exampleData } from '../../support/factories.js';
import {
  InMemoryDeliveryQueue,
  InMemoryDeliveryStore,
  InMemoryEventStore,
  InMemorySubscriptionStore,
  TestClock,
} from '../../support/in-memory-ports.js';
import { aStoredSubscription } from '../../support/stored-items.js';

/*
 * The delivery log's use cases of the API at their ports: test events, listings with payloads,
 * resends and replays. The HTTP side is test/unit/handlers/api.test.ts.
 */

const NOW = new Date('2026-11-27T12:00:00.000Z');

let subscription: Subscription;
let deliveries: InMemoryDeliveryStore;
let events: InMemoryEventStore;
let queue: InMemoryDeliveryQueue;
let deps: ServiceDeps;

beforeEach(() => {
  subscription = aStoredSubscription();
  deliveries = new InMemoryDeliveryStore();
  events = new InMemoryEventStore();
  queue = new InMemoryDeliveryQueue();
  deps = {
    subscriptions: new InMemorySubscriptionStore(subscription),
    deliveries,
    events,
    queue,
    policy: { allowLocalTargets: false },
    resolve: async () => [{ address: '93.184.216.34', family: 4 }],
    now: new TestClock(NOW).now,
    maxSubscriptionsPerBrand: 100,
  };
});

/** A failed delivery of acme/evt-`n` to the subscription, received `n` minutes before NOW. */
function aFailedDelivery(n = 1, overrides: Partial<StoredDelivery> = {}): StoredDelivery {
  const receivedAt = new Date(NOW.getTime() - n * 60_000).toISOString();
  const eventKey = `acme/evt-${n}`;
  return {
    id: deliveryIdFor(receivedAt, eventKey, subscription.id),
    subscriptionId: subscription.id,
    brand: 'acme',
    eventKey,
    webhookId: `msg_${n}`,
    entity: 'Object',
    event: 'OnNew',
    receivedAt,
    data: exampleData('Object', 'OnNew'),
    status: 'failed',
    attempts: [{ attempt: 1, at: receivedAt, durationMs: 12, statusCode: 500, error: 'HTTP 500' }],
    createdAt: receivedAt,
    updatedAt: receivedAt,
    failureReason: 'HTTP 500; gave up after 1 attempt',
    ...overrides,
  };
}

async function failureOf(action: Promise<unknown>): Promise<ClientError> {
  const error = await action.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof ClientError)) throw new Error(`expected a ClientError, got ${String(error)}`);
  return error;
}

describe('test events', () => {
  it('queues the catalogue example of the first selected event, marked as a test, and stores nothing', async () => {
    const queued = await sendTestEvent(deps, 'acme', subscription.id, undefined);

    expect(queued).toEqual({ deliveryId: expect.any(String), event: 'Object.OnNew', status: 'pending' });
    const [message, ...others] = queue.messages();
    expect(others).toEqual([]);
    expect(message).toMatchObject({
      v: 1,
      brand: 'acme',
      subscriptionId: subscription.id,
      deliveryId: queued.deliveryId,
      test: true,
      event: {
        entity: 'Object',
        event: 'OnNew',
        receivedAt: NOW.toISOString(),
        data: exampleData('Object', 'OnNew'),
      },
    });
    // Nothing is stored for it: the delivery's record will keep the event's data.
    expect(message?.eventKey).toMatch(/^acme\/test_[A-Za-z0-9_-]{12}$/);
    expect(deliveries.all()).toEqual([]);
  });

  it('refuses an event the subscription entity does not have, naming the field', async () => {
    const error = await failureOf(sendTestEvent(deps, 'acme', subscription.id, { event: 'OnExplode' }));

    expect(error.status).toBe(422);
    expect(error.details[0]?.field).toBe('event');
    expect(queue.sends).toBe(0);
  });

  it('fails when the queue did not take the test event, rather than answer that it is pending', async () => {
    queue.unavailable(new Error('SQS is unavailable'));

    await expect(sendTestEvent(deps, 'acme', subscription.id, {})).rejects.toThrow('SQS is unavailable');
  });
});

describe('the delivery log', () => {
  it('lists deliveries by status with their attempts and the payload rendered from their own copy of the data', async () => {
    deliveries.seed(aFailedDelivery(1), aFailedDelivery(2, { status: 'succeeded' }));

    const page = await listDeliveries(deps, 'acme', subscription.id, { status: 'failed', limit: 25 });

    expect(page.items).toHaveLength(1);
    const [item] = page.items;
    expect(item?.attempts[0]).toMatchObject({ statusCode: 500, error: 'HTTP 500' });
    expect(JSON.parse(item?.payload?.body ?? '{}').Event).toMatchObject({
      Subscription: 'Object',
      Name: 'OnNew',
      Brand: 'acme',
      Object: expect.objectContaining({ Id: 901731 }),
    });
    expect(item).not.toHaveProperty('data');
    expect(events.legacyReads).toEqual([]);
  });

  it("shows a SOAP payload's header parameters by name with their values redacted (they are credentials)", async () => {
    const soap = { action: 'urn:notify', parameters: { Username: 'svc-user', Password: 's3cret-value' } };
    deps = {
      ...deps,
      subscriptions: new InMemorySubscriptionStore({ ...subscription, format: 'soap', soap }),
    };
    deliveries.seed(aFailedDelivery(1));

    const page = await listDeliveries(deps, 'acme', subscription.id, { limit: 25 });
    const body = page.items[0]?.payload?.body ?? '';

    expect(body).toContain('Username');
    expect(body).toContain('[redacted]');
    expect(body).not.toContain('svc-user');
    expect(body).not.toContain('s3cret-value');
  });

  it('answers 404 for the deliveries of a subscription of another brand', async () => {
    deliveries.seed(aFailedDelivery(1));

    const error = await failureOf(listDeliveries(deps, 'globex', subscription.id, { limit: 25 }));

    expect(error).toMatchObject({ status: 404, code: 'not_found' });
  });

  it("renders a legacy record's payload (written before records kept their event) from the stored event, else null", async () => {
    const { data, ...legacy } = aFailedDelivery(1);
    deliveries.seed(legacy);

    const expired = await getDelivery(deps, 'acme', subscription.id, legacy.id);
    events.seedLegacy(legacy.eventKey, {
      entity: 'Object',
      event: 'OnNew',
      receivedAt: legacy.receivedAt,
      data: data ?? {},
    });
    const rendered = await getDelivery(deps, 'acme', subscription.id, legacy.id);

    expect(expired.payload).toBeNull();
    expect(JSON.parse(rendered.payload?.body ?? '{}').Event.Object).toMatchObject({ Id: 901731 });
  });

  it('answers 404 for a delivery that does not exist', async () => {
    const error = await failureOf(
      getDelivery(deps, 'acme', subscription.id, 'dlv_000000000ffffffffffffffff'),
    );

    expect(error).toMatchObject({ status: 404, code: 'not_found' });
  });

  it.each(['pending', 'succeeded', 'failed'] as const)('takes %s as a status filter', (status) => {
    expect(parseDeliveryStatus(status)).toBe(status);
  });

  it('refuses an unknown status filter with 422 naming the field', () => {
    expect(parseDeliveryStatus(undefined)).toBeUndefined();
    expect(() => parseDeliveryStatus('lost')).toThrow(
      expect.objectContaining({ status: 422, details: [expect.objectContaining({ field: 'status' })] }),
    );
  });
});

describe('resending and replaying', () => {
  it('resends a delivery with its attempt count carried on and a fresh schedule, and marks it pending', async () => {
    const delivery = aFailedDelivery(1);
    deliveries.seed(delivery);

    const resent = await resendDelivery(deps, 'acme', subscription.id, delivery.id);

    expect(resent).toEqual({ deliveryId: delivery.id, status: 'pending' });
    expect(queue.messages()).toEqual([
      {
        v: 1,
        brand: 'acme',
        subscriptionId: subscription.id,
        deliveryId: delivery.id,
        eventKey: 'acme/evt-1',
        attemptsBefore: 1,
        runAttemptsBefore: 0,
        event: { entity: 'Object', event: 'OnNew', receivedAt: delivery.receivedAt, data: delivery.data },
      },
    ]);
    expect(deliveries.current(subscription.id, delivery.id)).toMatchObject({
      status: 'pending',
      updatedAt: NOW.toISOString(),
    });
    expect(deliveries.current(subscription.id, delivery.id)).not.toHaveProperty('failureReason');
  });

  it('resends a legacy record without its event, for the deliverer to read the stored event', async () => {
    const { data: _data, ...legacy } = aFailedDelivery(1);
    deliveries.seed(legacy);

    await resendDelivery(deps, 'acme', subscription.id, legacy.id);

    expect(queue.messages()[0]).not.toHaveProperty('event');
  });

  it('replays the deliveries whose events arrived in the range, oldest first', async () => {
    deliveries.seed(aFailedDelivery(30), aFailedDelivery(3), aFailedDelivery(2, { status: 'succeeded' }));

    const replayed = await replayDeliveries(deps, 'acme', subscription.id, {
      since: '2026-11-27T11:50:00Z',
      until: '2026-11-27T12:00:00Z',
    });

    expect(replayed).toEqual({
      queued: 2,
      truncated: false,
      since: '2026-11-27T11:50:00.000Z',
      until: '2026-11-27T12:00:00.000Z',
    });
    expect(queue.messages().map((message) => message.eventKey)).toEqual(['acme/evt-3', 'acme/evt-2']);
    expect(deliveries.all().filter((delivery) => delivery.status === 'pending')).toHaveLength(2);
  });

  it(`replays at most ${MAX_REPLAY} deliveries and says the range held more`, async () => {
    deliveries.seed(...Array.from({ length: MAX_REPLAY + 1 }, (_, n) => aFailedDelivery(n + 1)));

    const replayed = await replayDeliveries(deps, 'acme', subscription.id, {
      since: '2026-11-01T00:00:00Z',
      until: '2026-11-28T00:00:00Z',
    });

    expect(replayed).toMatchObject({ queued: MAX_REPLAY, truncated: true });
    expect(queue.messages()).toHaveLength(MAX_REPLAY);
  });

  it('refuses a replay range that ends before it starts, naming until', async () => {
    const error = await failureOf(
      replayDeliveries(deps, 'acme', subscription.id, {
        since: '2026-11-27T10:00:00Z',
        until: '2026-11-27T09:00:00Z',
      }),
    );

    expect(error.status).toBe(422);
    expect(error.details[0]?.field).toBe('until');
    expect(queue.sends).toBe(0);
  });
});
