import { describe, expect, it } from 'vitest';
import { deliveryIdFor } from '../../lambdas/core/ids.js';
import type { ParkedDeliveryRecord } from '../../lambdas/core/ports.js';
import { aStoredSubscription, aSubscriptionId } from '../support/stored-items.js';
import { aBrand, type StoresUnderTest } from './stores.contract.js';

const EXPIRES = 4_000_000_000;

/** A parked delivery of an event that arrived at `receivedAt`. */
function aParkedDelivery(subscriptionId: string, receivedAt: string, parkedAt = '2026-03-04T06:00:00.000Z') {
  const eventKey = `acme/evt-${receivedAt}`;
  return {
    delivery: {
      id: deliveryIdFor(receivedAt, eventKey, subscriptionId),
      subscriptionId,
      brand: 'acme',
      eventKey,
      webhookId: 'msg_ABCDEFGHIJKLMNOPQRSTUVWXYZ234567',
      entity: 'Object',
      event: 'OnNew',
      receivedAt,
      data: { Id: 7, Note: 'parked 🅿 \u2028' },
      createdAt: parkedAt,
      parkedAt,
      runAttemptsBefore: 2,
    },
    expiresAt: EXPIRES,
  } satisfies ParkedDeliveryRecord;
}

export function parkingContract(stores: StoresUnderTest): void {
  describe('parking', () => {
    it('parks a subscription once, and only the park it names can be ended', async () => {
      const subscription = aStoredSubscription({ brand: aBrand() });
      await stores().subscriptions.create(subscription, 100);
      const { brand, id } = subscription;

      expect(await stores().parking.parkSubscription(brand, id, '2026-03-04T06:00:00.000Z')).toBe(true);
      expect(await stores().parking.parkSubscription(brand, id, '2026-03-04T06:00:01.000Z')).toBe(false);
      expect(await stores().subscriptions.get(brand, id)).toMatchObject({
        parkedSince: '2026-03-04T06:00:00.000Z',
      });

      expect(await stores().parking.unparkSubscription(brand, id, '2026-03-04T06:00:01.000Z', 'x')).toBe(
        false,
      );
      expect(
        await stores().parking.unparkSubscription(
          brand,
          id,
          '2026-03-04T06:00:00.000Z',
          '2026-03-04T07:00:00.000Z',
        ),
      ).toBe(true);
      expect(
        await stores().parking.unparkSubscription(
          brand,
          id,
          '2026-03-04T06:00:00.000Z',
          '2026-03-04T07:00:00.000Z',
        ),
      ).toBe(false);
      const after = await stores().subscriptions.get(brand, id);
      expect(after?.parkedSince).toBeUndefined();
      expect(after?.circuitClosedAt).toBe('2026-03-04T07:00:00.000Z');
      // The rest of the subscription is untouched.
      expect(after).toEqual({ ...subscription, circuitClosedAt: '2026-03-04T07:00:00.000Z' });
    });

    it('does not park a subscription that does not exist', async () => {
      expect(
        await stores().parking.parkSubscription(aBrand(), aSubscriptionId(), '2026-03-04T06:00:00.000Z'),
      ).toBe(false);
    });

    it('lists parked deliveries oldest first, with their event and schedule place, and in the status listing', async () => {
      const subscriptionId = aSubscriptionId();
      const newer = aParkedDelivery(subscriptionId, '2026-03-04T05:06:09.000Z');
      const older = aParkedDelivery(subscriptionId, '2026-03-04T05:06:07.000Z');
      await stores().parking.parkDelivery(newer);
      await stores().parking.parkDelivery(older);
      await stores().parking.parkDelivery(aParkedDelivery(aSubscriptionId(), '2026-03-04T05:06:08.000Z'));

      const parked = await stores().parking.listParked(subscriptionId, 10);
      expect(parked.map((delivery) => delivery.id)).toEqual([older.delivery.id, newer.delivery.id]);
      expect(parked[0]).toMatchObject({
        ...older.delivery,
        status: 'parked',
        attempts: [],
        updatedAt: older.delivery.parkedAt,
      });
      expect((await stores().parking.listParked(subscriptionId, 1)).map((d) => d.id)).toEqual([
        older.delivery.id,
      ]);

      const listed = await stores().deliveries.list(subscriptionId, { status: 'parked', limit: 10 });
      expect(listed.items.map((delivery) => delivery.id)).toEqual([newer.delivery.id, older.delivery.id]);
      expect(
        (await stores().deliveries.list(subscriptionId, { status: 'pending', limit: 10 })).items,
      ).toEqual([]);
    });

    it('parks a delivery that has attempts keeping them, and a later attempt takes it out of the parked ones', async () => {
      const subscriptionId = aSubscriptionId();
      const parked = aParkedDelivery(subscriptionId, '2026-03-04T05:06:07.000Z');
      const { parkedAt: _parkedAt, runAttemptsBefore: _run, ...fields } = parked.delivery;
      const first = { attempt: 1, at: '2026-03-04T05:10:00.000Z', durationMs: 3, statusCode: 503 };
      await stores().deliveries.recordAttempt({
        delivery: { ...fields, status: 'pending', nextAttemptAt: '2026-03-04T05:11:00.000Z' },
        attempt: first,
        expiresAt: EXPIRES,
      });
      await stores().parking.parkDelivery(parked);

      const stored = await stores().deliveries.get(subscriptionId, parked.delivery.id);
      expect(stored).toMatchObject({
        status: 'parked',
        attempts: [first],
        parkedAt: parked.delivery.parkedAt,
      });
      expect(stored?.nextAttemptAt).toBeUndefined();
      expect(stored?.createdAt).toBe(fields.createdAt);

      const second = { attempt: 2, at: '2026-03-04T07:00:00.000Z', durationMs: 4, statusCode: 200 };
      await stores().deliveries.recordAttempt({
        delivery: { ...fields, status: 'succeeded' },
        attempt: second,
        expiresAt: EXPIRES,
      });
      expect(await stores().parking.listParked(subscriptionId, 10)).toEqual([]);
      const done = await stores().deliveries.get(subscriptionId, parked.delivery.id);
      expect(done).toMatchObject({ status: 'succeeded', attempts: [first, second] });
      expect(done?.parkedAt).toBeUndefined();
    });

    it('unparks a delivery only while it is still parked by the same park', async () => {
      const subscriptionId = aSubscriptionId();
      const parked = aParkedDelivery(subscriptionId, '2026-03-04T05:06:07.000Z');
      await stores().parking.parkDelivery(parked);
      const { id } = parked.delivery;

      expect(await stores().parking.unparkDelivery(subscriptionId, id, '2026-03-04T05:59:59.000Z', 'x')).toBe(
        false,
      );
      expect(
        await stores().parking.unparkDelivery(
          subscriptionId,
          id,
          parked.delivery.parkedAt,
          '2026-03-04T07:00:00.000Z',
        ),
      ).toBe(true);
      expect(
        await stores().parking.unparkDelivery(
          subscriptionId,
          id,
          parked.delivery.parkedAt,
          '2026-03-04T07:00:00.000Z',
        ),
      ).toBe(false);
      const pending = await stores().deliveries.get(subscriptionId, id);
      expect(pending).toMatchObject({ status: 'pending', updatedAt: '2026-03-04T07:00:00.000Z' });
      expect(pending?.parkedAt).toBeUndefined();
      expect(await stores().parking.listParked(subscriptionId, 10)).toEqual([]);
      const listed = await stores().deliveries.list(subscriptionId, { status: 'pending', limit: 10 });
      expect(listed.items.map((delivery) => delivery.id)).toEqual([id]);
      expect(
        await stores().parking.unparkDelivery(aSubscriptionId(), id, parked.delivery.parkedAt, 'x'),
      ).toBe(false);
    });
  });
}
