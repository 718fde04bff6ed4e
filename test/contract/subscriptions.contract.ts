import { describe, expect, it } from 'vitest';
import { ClientError } from '../../lambdas/core/errors.js';
import type { Subscription } from '../../lambdas/core/model.js';
import { aStoredSubscription } from '../support/stored-items.js';
import { aBrand, type StoresUnderTest } from './stores.contract.js';

/** Every text a client may send, kept byte-exact: astral characters, U+2028, right-to-left script. */
const HARD_TEXT = 'Orders 🚚📦 \u2028 שלום עולם 𝄞';

/** A subscription carrying fields this store has never heard of (as issue 15 adds), which must pass through. */
function withFutureFields(overrides: Partial<Subscription> = {}): Subscription {
  return {
    ...aStoredSubscription({ brand: aBrand(), ...overrides }),
    tls: { clientCertificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' },
    signatureScheme: 'ed25519',
    soap: { action: 'urn:notify', parameters: { Region: 'EU', Tenant: 'ü' } },
  } as Subscription;
}

async function rejection(promise: Promise<unknown>): Promise<ClientError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ClientError);
  return error as ClientError;
}

export function subscriptionContract(stores: StoresUnderTest): void {
  describe('subscriptions', () => {
    it('stores a subscription and reads it back exactly, with fields the store does not know and hard text', async () => {
      const subscription = withFutureFields({ name: HARD_TEXT });
      await stores().subscriptions.create(subscription, 100);

      expect(await stores().subscriptions.get(subscription.brand, subscription.id)).toEqual(subscription);
    });

    it("answers undefined for an unknown id and for another brand's id", async () => {
      const subscription = aStoredSubscription({ brand: aBrand() });
      await stores().subscriptions.create(subscription, 100);

      expect(await stores().subscriptions.get(subscription.brand, 'sub_AAAAAAAAAAAAAAAA')).toBeUndefined();
      expect(await stores().subscriptions.get(aBrand(), subscription.id)).toBeUndefined();
    });

    it('refuses a name the brand already uses, ignoring case, with 409 name_taken on the name field', async () => {
      const brand = aBrand();
      await stores().subscriptions.create(aStoredSubscription({ brand, name: 'CRM Orders' }), 100);

      const error = await rejection(
        stores().subscriptions.create(aStoredSubscription({ brand, name: 'crm ORDERS' }), 100),
      );
      expect(error).toMatchObject({ status: 409, code: 'name_taken', details: [{ field: 'name' }] });
      await stores().subscriptions.create(aStoredSubscription({ brand: aBrand(), name: 'CRM Orders' }), 100);
    });

    it("lists a brand's subscriptions in id order, page by page, each once and no other brand's", async () => {
      const brand = aBrand();
      const created = [1, 2, 3, 4, 5].map(() => aStoredSubscription({ brand }));
      for (const subscription of created) await stores().subscriptions.create(subscription, 100);
      await stores().subscriptions.create(aStoredSubscription({ brand: aBrand() }), 100);

      const listed: Subscription[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await stores().subscriptions.list(brand, { limit: 2, ...(cursor && { cursor }) });
        expect(page.items.length).toBeLessThanOrEqual(2);
        listed.push(...page.items);
        cursor = page.cursor;
        pages += 1;
      } while (cursor && pages < 10);

      expect(listed.map(({ id }) => id)).toEqual(created.map(({ id }) => id).sort());
    });

    it('refuses a cursor that is not one of its own with 400 invalid_cursor', async () => {
      const error = await rejection(
        stores().subscriptions.list(aBrand(), { limit: 5, cursor: 'bm90LWFuLWlk' }),
      );
      expect(error).toMatchObject({ status: 400, code: 'invalid_cursor', details: [{ field: 'cursor' }] });
    });

    it('lists the active subscriptions of one entity of one brand, and sees a change made just before', async () => {
      const brand = aBrand();
      const active = aStoredSubscription({ brand });
      const paused = aStoredSubscription({ brand, status: 'paused' });
      const otherEntity = aStoredSubscription({ brand, entity: 'User' });
      const disabledNow = aStoredSubscription({ brand });
      for (const subscription of [active, paused, otherEntity, disabledNow])
        await stores().subscriptions.create(subscription, 100);
      await stores().subscriptions.disable(brand, disabledNow.id, 'gone', '2026-02-01T00:00:00.000Z');

      const listed = await stores().subscriptions.listActive(brand, 'Object');
      expect(listed).toEqual([active]);
    });

    it('replaces a subscription whose stored version is the previous one', async () => {
      const subscription = withFutureFields();
      await stores().subscriptions.create(subscription, 100);
      const next = { ...subscription, url: 'https://other.example.com/hook', version: 2 };

      await stores().subscriptions.replace(next, subscription.name);
      expect(await stores().subscriptions.get(subscription.brand, subscription.id)).toEqual(next);
    });

    it('refuses a replace based on a stale version with 409 conflict, leaving the stored one', async () => {
      const subscription = aStoredSubscription({ brand: aBrand(), version: 3 });
      await stores().subscriptions.create(subscription, 100);

      const stale = { ...subscription, url: 'https://other.example.com/hook', version: 3 };
      const error = await rejection(stores().subscriptions.replace(stale, subscription.name));
      expect(error).toMatchObject({ status: 409, code: 'conflict' });
      expect(await stores().subscriptions.get(subscription.brand, subscription.id)).toEqual(subscription);
    });

    it('refuses a rename to a name the brand uses with 409 name_taken, leaving the stored one', async () => {
      const brand = aBrand();
      const first = aStoredSubscription({ brand, name: 'First' });
      const second = aStoredSubscription({ brand, name: 'Second' });
      await stores().subscriptions.create(first, 100);
      await stores().subscriptions.create(second, 100);

      const error = await rejection(
        stores().subscriptions.replace({ ...second, name: 'FIRST', version: 2 }, second.name),
      );
      expect(error).toMatchObject({ status: 409, code: 'name_taken' });
      expect(await stores().subscriptions.get(brand, second.id)).toEqual(second);
    });

    it('frees the old name on a rename and keeps the name on a change of case only', async () => {
      const brand = aBrand();
      const subscription = aStoredSubscription({ brand, name: 'Old name' });
      await stores().subscriptions.create(subscription, 100);
      const renamed = { ...subscription, name: 'New name', version: 2 };
      await stores().subscriptions.replace(renamed, subscription.name);
      await stores().subscriptions.replace({ ...renamed, name: 'NEW NAME', version: 3 }, renamed.name);

      await stores().subscriptions.create(aStoredSubscription({ brand, name: 'Old name' }), 100);
      const error = await rejection(
        stores().subscriptions.create(aStoredSubscription({ brand, name: 'new name' }), 100),
      );
      expect(error.code).toBe('name_taken');
    });

    it('deletes a subscription and frees its name; a second delete finds nothing', async () => {
      const subscription = aStoredSubscription({ brand: aBrand() });
      await stores().subscriptions.create(subscription, 100);

      expect(await stores().subscriptions.delete(subscription.brand, subscription.id)).toBe(true);
      expect(await stores().subscriptions.get(subscription.brand, subscription.id)).toBeUndefined();
      expect(await stores().subscriptions.delete(subscription.brand, subscription.id)).toBe(false);
      await stores().subscriptions.create(
        aStoredSubscription({ brand: subscription.brand, name: subscription.name }),
        100,
      );
    });

    it('notes an expiring certificate for its first caller only, again for a new certificate, never for a missing subscription', async () => {
      const subscription = aStoredSubscription({ brand: aBrand() });
      const { brand, id } = subscription;
      await stores().subscriptions.create(subscription, 100);

      const first = await Promise.all([
        stores().subscriptions.noteCertificateExpiring(brand, id, 'AA:01'),
        stores().subscriptions.noteCertificateExpiring(brand, id, 'AA:01'),
      ]);
      expect(first.sort()).toEqual([false, true]);
      expect(await stores().subscriptions.noteCertificateExpiring(brand, id, 'AA:01')).toBe(false);
      expect(await stores().subscriptions.noteCertificateExpiring(brand, id, 'BB:02')).toBe(true);
      expect((await stores().subscriptions.get(brand, id))?.certificateExpiryNoticed).toBe('BB:02');
      expect(
        await stores().subscriptions.noteCertificateExpiring(brand, 'sub_MISSINGMISSING00', 'AA:01'),
      ).toBe(false);
    });

    it('marks it failing from the first failure only, and healthy again, leaving every other field', async () => {
      const subscription = withFutureFields({ name: HARD_TEXT });
      const { brand, id } = subscription;
      await stores().subscriptions.create(subscription, 100);

      await stores().subscriptions.markFailing(brand, id, '2026-02-01T00:00:00.000Z');
      await stores().subscriptions.markFailing(brand, id, '2026-02-02T00:00:00.000Z');
      expect(await stores().subscriptions.get(brand, id)).toEqual({
        ...subscription,
        failingSince: '2026-02-01T00:00:00.000Z',
      });
      await stores().subscriptions.markHealthy(brand, id);
      await stores().subscriptions.markHealthy(brand, id);
      expect(await stores().subscriptions.get(brand, id)).toEqual(subscription);
    });

    it('disables it with a reason and a new version, and never brings back a deleted one', async () => {
      const subscription = withFutureFields({ version: 4 });
      const { brand, id } = subscription;
      await stores().subscriptions.create(subscription, 100);

      await stores().subscriptions.disable(brand, id, 'listener answered 410', '2026-02-03T00:00:00.000Z');
      expect(await stores().subscriptions.get(brand, id)).toEqual({
        ...subscription,
        status: 'disabled',
        disabledReason: 'listener answered 410',
        updatedAt: '2026-02-03T00:00:00.000Z',
        version: 5,
      });

      await stores().subscriptions.delete(brand, id);
      await stores().subscriptions.disable(brand, id, 'late', '2026-02-04T00:00:00.000Z');
      await stores().subscriptions.markFailing(brand, id, '2026-02-04T00:00:00.000Z');
      expect(await stores().subscriptions.get(brand, id)).toBeUndefined();
    });
  });
}
