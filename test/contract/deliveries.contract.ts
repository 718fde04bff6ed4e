import { describe, expect, it } from 'vitest';
import { deliveryIdFor } from '../../lambdas/core/ids.js';
import type { DeliveryAttempt, DeliveryStatus, StoredDelivery } from '../../lambdas/core/model.js';
import type { DeliveryAttemptRecord } from '../../lambdas/core/ports.js';
import { aSubscriptionId } from '../support/stored-items.js';
import type { StoresUnderTest } from './stores.contract.js';

const EXPIRES = 4_000_000_000;

type DeliveryFields = DeliveryAttemptRecord['delivery'];

/** A delivery of one event (arrived at `receivedAt`) for a subscription, as the deliver function records it. */
function aDeliveryOf(
  subscriptionId: string,
  receivedAt = '2026-03-04T05:06:07.089Z',
  overrides: Partial<DeliveryFields> = {},
): DeliveryFields {
  const eventKey = `acme/evt-${receivedAt}`;
  return {
    id: deliveryIdFor(receivedAt, eventKey, subscriptionId),
    subscriptionId,
    brand: 'acme',
    eventKey,
    webhookId: 'msg_ABCDEFGHIJKLMNOPQRSTUVWXYZ234567',
    entity: 'Object',
    event: 'OnNew',
    receivedAt,
    data: { Id: 1, Message: 'hello 👋 \u2028 مرحبا' },
    status: 'pending',
    createdAt: receivedAt,
    ...overrides,
  };
}

const anAttempt = (attempt: number, overrides: Partial<DeliveryAttempt> = {}): DeliveryAttempt => ({
  attempt,
  at: `2026-03-04T05:0${attempt}:00.000Z`,
  durationMs: 100 + attempt,
  ...overrides,
});

/** Records `delivery` with the given status after one attempt. */
async function recorded(
  stores: StoresUnderTest,
  delivery: DeliveryFields,
  status: DeliveryStatus,
): Promise<StoredDelivery> {
  const attempt = anAttempt(1, status === 'succeeded' ? { statusCode: 200 } : { statusCode: 500 });
  await stores().deliveries.recordAttempt({ delivery: { ...delivery, status }, attempt, expiresAt: EXPIRES });
  return { ...delivery, status, attempts: [attempt], updatedAt: attempt.at };
}

export function deliveryContract(stores: StoresUnderTest): void {
  describe('deliveries', () => {
    it('are written whole, with their event, on a success at the first attempt', async () => {
      const delivery = aDeliveryOf(aSubscriptionId());
      const expected = await recorded(stores, delivery, 'succeeded');

      expect(await stores().deliveries.get(delivery.subscriptionId, delivery.id)).toEqual(expected);
    });

    it('keep every attempt in order, their first createdAt, and only the optional fields of the last', async () => {
      const delivery = aDeliveryOf(aSubscriptionId());
      const { subscriptionId, id } = delivery;
      const first = anAttempt(1, { statusCode: 503 });
      const second = anAttempt(2, { error: 'timeout' });
      const third = anAttempt(3, { statusCode: 200 });
      const retrying = { ...delivery, nextAttemptAt: '2026-03-04T05:10:00.000Z' };
      await stores().deliveries.recordAttempt({ delivery: retrying, attempt: first, expiresAt: EXPIRES });
      await stores().deliveries.recordAttempt({
        delivery: { ...retrying, createdAt: '2026-05-05T00:00:00.000Z' },
        attempt: second,
        expiresAt: EXPIRES,
      });
      const succeeded = { ...delivery, status: 'succeeded' as const };
      await stores().deliveries.recordAttempt({
        delivery: { ...succeeded, createdAt: '2026-07-07T00:00:00.000Z' },
        attempt: third,
        expiresAt: EXPIRES,
      });

      expect(await stores().deliveries.get(subscriptionId, id)).toEqual({
        ...succeeded,
        attempts: [first, second, third],
        updatedAt: third.at,
      });
    });

    it('record a failure with its reason', async () => {
      const delivery = aDeliveryOf(aSubscriptionId(), undefined, { failureReason: 'retries exhausted' });
      const expected = await recorded(stores, delivery, 'failed');

      expect(await stores().deliveries.get(delivery.subscriptionId, delivery.id)).toEqual(expected);
    });

    it('go back to pending for a resend, losing their failure reason; an unknown one is reported', async () => {
      const delivery = aDeliveryOf(aSubscriptionId(), undefined, { failureReason: 'retries exhausted' });
      const failed = await recorded(stores, delivery, 'failed');

      expect(
        await stores().deliveries.markPending(
          delivery.subscriptionId,
          delivery.id,
          '2026-06-01T00:00:00.000Z',
        ),
      ).toBe(true);
      const { failureReason: _gone, ...rest } = failed;
      expect(await stores().deliveries.get(delivery.subscriptionId, delivery.id)).toEqual({
        ...rest,
        status: 'pending',
        updatedAt: '2026-06-01T00:00:00.000Z',
      });
      const pending = await stores().deliveries.list(delivery.subscriptionId, {
        status: 'pending',
        limit: 10,
      });
      expect(pending.items.map(({ id }) => id)).toEqual([delivery.id]);
      expect(
        await stores().deliveries.markPending(aSubscriptionId(), delivery.id, '2026-06-01T00:00:00.000Z'),
      ).toBe(false);
    });

    it('answer undefined for an unknown delivery or another subscription', async () => {
      const delivery = aDeliveryOf(aSubscriptionId());
      await recorded(stores, delivery, 'succeeded');

      expect(await stores().deliveries.get(aSubscriptionId(), delivery.id)).toBeUndefined();
      // Another id of the same length: its last character changed (never to the one it already has).
      const other = `${delivery.id.slice(0, -1)}${delivery.id.endsWith('0') ? '1' : '0'}`;
      expect(await stores().deliveries.get(delivery.subscriptionId, other)).toBeUndefined();
    });
  });

  describe('delivery listings', () => {
    /** Seven deliveries of one subscription, a minute apart, with statuses in a mixed order. */
    async function aHistory(): Promise<{ subscriptionId: string; deliveries: StoredDelivery[] }> {
      const subscriptionId = aSubscriptionId();
      const statuses: DeliveryStatus[] = [
        'succeeded',
        'failed',
        'succeeded',
        'pending',
        'succeeded',
        'failed',
        'succeeded',
      ];
      const deliveries: StoredDelivery[] = [];
      for (const [minute, status] of statuses.entries()) {
        const receivedAt = `2026-03-04T05:0${minute}:00.000Z`;
        deliveries.push(await recorded(stores, aDeliveryOf(subscriptionId, receivedAt), status));
      }
      await recorded(stores, aDeliveryOf(aSubscriptionId(), '2026-03-04T05:03:00.000Z'), 'failed');
      return { subscriptionId, deliveries };
    }

    async function everyPage(
      subscriptionId: string,
      status: DeliveryStatus | undefined,
      limit: number,
    ): Promise<StoredDelivery[]> {
      const items: StoredDelivery[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 20; page++) {
        const result = await stores().deliveries.list(subscriptionId, {
          limit,
          ...(status && { status }),
          ...(cursor && { cursor }),
        });
        expect(result.items.length).toBeLessThanOrEqual(limit);
        items.push(...result.items);
        cursor = result.cursor;
        if (!cursor) break;
      }
      return items;
    }

    it("list a subscription's deliveries newest first, page by page", async () => {
      const { subscriptionId, deliveries } = await aHistory();

      expect(await everyPage(subscriptionId, undefined, 3)).toEqual([...deliveries].reverse());
    });

    it.each(['pending', 'failed', 'succeeded'] as const)(
      'list the %s ones alone, newest first',
      async (status) => {
        const { subscriptionId, deliveries } = await aHistory();

        const expected = deliveries.filter((delivery) => delivery.status === status).reverse();
        expect(await everyPage(subscriptionId, status, 2)).toEqual(expected);
      },
    );

    it('refuse a cursor that does not carry a delivery id with 400 invalid_cursor', async () => {
      const cursor = Buffer.from('sub_AAAAAAAAAAAAAAAA').toString('base64url');
      await expect(stores().deliveries.list(aSubscriptionId(), { limit: 5, cursor })).rejects.toMatchObject({
        status: 400,
        code: 'invalid_cursor',
      });
    });

    it('list those of events between two instants oldest first, both instants included, up to a limit', async () => {
      const { subscriptionId, deliveries } = await aHistory();

      const between = await stores().deliveries.listBetween(
        subscriptionId,
        '2026-03-04T05:01:00.000Z',
        '2026-03-04T05:04:00.000Z',
        10,
      );
      expect(between).toEqual(deliveries.slice(1, 5));
      const limited = await stores().deliveries.listBetween(
        subscriptionId,
        '2026-03-04T05:00:00.000Z',
        '2026-03-04T05:06:00.000Z',
        2,
      );
      expect(limited).toEqual(deliveries.slice(0, 2));
    });
  });
}
