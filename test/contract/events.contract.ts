import { describe, expect, it } from 'vitest';
import { anEventClaim } from '../support/stored-items.js';
import { aBrand, type StoresUnderTest } from './stores.contract.js';

const EXPIRES = 4_000_000_000;

/** The claim of a producer id no other test uses. */
const aFreshClaim = (envelopeId = 'eb-1') => {
  const brand = aBrand();
  return anEventClaim({ key: `${brand}/evt-1`, brand, envelopeId });
};

export function eventContract(stores: StoresUnderTest): void {
  describe('event claims', () => {
    it('give a producer id to the first envelope, again to that same envelope, never to another', async () => {
      const claim = aFreshClaim('eb-1');

      expect(await stores().events.claim(claim, EXPIRES)).toBe(true);
      expect(await stores().events.claim(claim, EXPIRES + 60)).toBe(true);
      expect(await stores().events.claim({ ...claim, envelopeId: 'eb-2' }, EXPIRES)).toBe(false);
      expect(await stores().events.claim(claim, EXPIRES)).toBe(true);
    });

    it('let exactly one of two envelopes claiming one id at the same moment win', async () => {
      const claim = aFreshClaim('eb-1');

      const results = await Promise.all([
        stores().events.claim(claim, EXPIRES),
        stores().events.claim({ ...claim, envelopeId: 'eb-2' }, EXPIRES),
      ]);
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('are independent for different producer ids', async () => {
      const first = aFreshClaim('eb-1');
      const second = { ...aFreshClaim('eb-2'), brand: first.brand, key: `${first.brand}/evt-2` };

      expect(await stores().events.claim(first, EXPIRES)).toBe(true);
      expect(await stores().events.claim(second, EXPIRES)).toBe(true);
    });

    it('hold no event to read as a legacy event, nor does an unknown key', async () => {
      const claim = aFreshClaim();
      await stores().events.claim(claim, EXPIRES);

      expect(await stores().events.getLegacy(claim.key)).toBeUndefined();
      expect(await stores().events.getLegacy(`${aBrand()}/unknown`)).toBeUndefined();
    });
  });

  describe('rejected events', () => {
    it('are kept, even with an arrival time that is not an instant', async () => {
      const rejected = {
        reason: 'detail is not JSON',
        receivedAt: '2026-03-04T05:06:07.000Z',
        brand: aBrand(),
      };

      await expect(stores().events.putRejected(rejected, EXPIRES)).resolves.toBeUndefined();
      await expect(
        stores().events.putRejected({ ...rejected, receivedAt: 'yesterday' }, EXPIRES),
      ).resolves.toBeUndefined();
    });
  });
}
