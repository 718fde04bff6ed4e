import { describe, expect, it } from 'vitest';
import { createApiKey, hashApiKey } from '../../lambdas/core/api-keys.js';
import { aBrand, type StoresUnderTest } from './stores.contract.js';

export function apiKeyContract(stores: StoresUnderTest): void {
  describe('API keys', () => {
    it('are found by the hash of the key, as their record only', async () => {
      const brand = aBrand();
      const { key, record } = await createApiKey(stores().apiKeys, brand, { description: 'CRM' });

      expect(await stores().apiKeys.findByHash(hashApiKey(key))).toEqual(record);
      expect(await stores().apiKeys.findByHash(hashApiKey(`${key}x`))).toBeUndefined();
    });

    it("are listed by brand in key id order, without hashes, and no other brand's", async () => {
      const brand = aBrand();
      const first = await createApiKey(stores().apiKeys, brand);
      const second = await createApiKey(stores().apiKeys, brand, { description: 'second' });
      await createApiKey(stores().apiKeys, aBrand());

      const expected = [first.record, second.record].sort((a, b) => (a.keyId < b.keyId ? -1 : 1));
      expect(await stores().apiKeys.list(brand)).toEqual(expected);
    });

    it('stop working once revoked; revoking again, or from another brand, finds nothing', async () => {
      const brand = aBrand();
      const { key, record } = await createApiKey(stores().apiKeys, brand);

      expect(await stores().apiKeys.revoke(aBrand(), record.keyId)).toBe(false);
      expect(await stores().apiKeys.revoke(brand, record.keyId)).toBe(true);
      expect(await stores().apiKeys.findByHash(hashApiKey(key))).toBeUndefined();
      expect(await stores().apiKeys.list(brand)).toEqual([]);
      expect(await stores().apiKeys.revoke(brand, record.keyId)).toBe(false);
    });

    it('refuse a hash stored already, without naming it, and keep the first record', async () => {
      const brand = aBrand();
      const { key, record } = await createApiKey(stores().apiKeys, brand);
      const hash = hashApiKey(key);

      const error = await stores()
        .apiKeys.put(hash, { ...record, keyId: 'key_other' })
        .then(
          () => undefined,
          (reason: unknown) => reason,
        );
      expect(error).toBeInstanceOf(Error);
      expect(String((error as Error).message)).not.toContain(hash);
      expect(await stores().apiKeys.findByHash(hash)).toEqual(record);
    });
  });
}
