import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RateReservation } from '../../lambdas/core/ports.js';
import { slotIntervalMs } from '../../lambdas/core/rate-limit.js';
import type { StoresUnderTest } from './stores.contract.js';

/* The rate buckets of `maxRequestsPerSecond` (RateLimiter in lambdas/core/ports.ts). */

const aKey = () => `sub_${randomBytes(8).toString('hex')}`;
const T0 = Date.parse('2026-03-04T05:06:07.000Z');

function slotsOf(reservations: readonly RateReservation[]): number[] {
  return reservations.flatMap((reservation) => (reservation.granted ? [reservation.atMs] : []));
}

export function rateLimiterContract(stores: StoresUnderTest): void {
  describe('rate buckets', () => {
    it('grants an unused bucket its slot at once', async () => {
      expect(await stores().rateLimiter.reserve(aKey(), 10, T0, 1000)).toEqual({ granted: true, atMs: T0 });
    });

    it('spaces the slots of one key by slotIntervalMs, up to the horizon, then says how long to wait', async () => {
      const key = aKey();
      const step = slotIntervalMs(2);
      const horizon = 2 * step + 50;
      const reservations: RateReservation[] = [];
      for (let index = 0; index < 4; index++)
        reservations.push(await stores().rateLimiter.reserve(key, 2, T0, horizon));

      expect(reservations).toEqual([
        { granted: true, atMs: T0 },
        { granted: true, atMs: T0 + step },
        { granted: true, atMs: T0 + 2 * step },
        // The next slot (3 steps on) is past the horizon.
        { granted: false, retryAfterMs: 3 * step - horizon },
      ]);
      // The refusal took nothing: once the horizon reaches it, that slot is the next one granted.
      expect(await stores().rateLimiter.reserve(key, 2, T0 + 3 * step - horizon, horizon)).toEqual({
        granted: true,
        atMs: T0 + 3 * step,
      });
    });

    it('never gives two reservations made at the same moment the same slot', async () => {
      const key = aKey();
      const reservations = await Promise.all(
        Array.from({ length: 20 }, () => stores().rateLimiter.reserve(key, 50, T0, 1000)),
      );

      const slots = slotsOf(reservations).sort((a, b) => a - b);
      expect(slots).toHaveLength(20);
      expect(slots[0]).toBe(T0);
      for (let index = 1; index < slots.length; index++) {
        expect((slots[index] ?? 0) - (slots[index - 1] ?? 0)).toBeGreaterThanOrEqual(slotIntervalMs(50));
      }
    });

    it('saves up no burst while idle: after a quiet spell the slots are spaced again from now', async () => {
      const key = aKey();
      await stores().rateLimiter.reserve(key, 10, T0, 1000);
      const later = T0 + 60_000;

      const first = await stores().rateLimiter.reserve(key, 10, later, 1000);
      const second = await stores().rateLimiter.reserve(key, 10, later, 1000);

      expect([first, second]).toEqual([
        { granted: true, atMs: later },
        { granted: true, atMs: later + slotIntervalMs(10) },
      ]);
    });

    it('keeps the buckets of different keys apart', async () => {
      const busy = aKey();
      for (let index = 0; index < 3; index++) await stores().rateLimiter.reserve(busy, 1, T0, 1000);

      expect(await stores().rateLimiter.reserve(aKey(), 1, T0, 1000)).toEqual({ granted: true, atMs: T0 });
    });
  });
}
