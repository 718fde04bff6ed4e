import { describe, expect, it } from 'vitest';
import { createApiKey, hashApiKey } from '../../lambdas/core/api-keys.js';
import { authenticateConsoleSession } from '../../lambdas/core/console-session-tokens.js';
import { createConsoleSession, sessionMaker } from '../../lambdas/core/console-sessions.js';
import { aBrand, type StoresUnderTest } from './stores.contract.js';

const HOUR_MS = 60 * 60 * 1000;

export function consoleSessionContract(stores: StoresUnderTest): void {
  describe('console sessions', () => {
    /** A key of a new brand and a session made with it at `now`. */
    async function aSession(now: Date) {
      const brand = aBrand();
      const { key, record } = await createApiKey(stores().apiKeys, brand);
      const deps = { sessions: stores().consoleSessions, apiKeys: stores().apiKeys, now: () => now };
      const created = await createConsoleSession(
        deps,
        sessionMaker(brand, record.keyId, `Bearer ${key}`),
        {},
      );
      return { brand, key, record, created, deps };
    }

    it('are found by the hash of the token, as their record exactly, never by the token', async () => {
      const now = new Date('2026-12-02T10:00:00.250Z');
      const { brand, key, record, created } = await aSession(now);

      expect(await stores().consoleSessions.findByHash(hashApiKey(created.token))).toEqual({
        brand,
        keyId: record.keyId,
        keyHash: hashApiKey(key),
        createdAt: '2026-12-02T10:00:00.250Z',
        expiresAt: '2026-12-02T11:00:00.000Z',
      });
      expect(await stores().consoleSessions.findByHash(created.token)).toBeUndefined();
      expect(await stores().consoleSessions.findByHash(hashApiKey(`${created.token}x`))).toBeUndefined();
    });

    it('are still found once expired: the reader checks the time, and refuses them', async () => {
      const { created, deps } = await aSession(new Date(Date.now() - 2 * HOUR_MS));

      expect(await stores().consoleSessions.findByHash(hashApiKey(created.token))).toBeDefined();
      expect(
        await authenticateConsoleSession({ ...deps, now: () => new Date() }, created.token),
      ).toBeUndefined();
    });

    it('act for their brand until the second they expire', async () => {
      const now = new Date('2026-12-02T10:00:00.000Z');
      const { brand, record, created, deps } = await aSession(now);
      const at = (ms: number) => ({ ...deps, now: () => new Date(now.getTime() + ms) });

      expect(await authenticateConsoleSession(at(HOUR_MS - 1), created.token)).toEqual({
        brand,
        keyId: record.keyId,
      });
      expect(await authenticateConsoleSession(at(HOUR_MS), created.token)).toBeUndefined();
    });

    it('stop working at once when the key that made them is revoked', async () => {
      const now = new Date();
      const { brand, record, created, deps } = await aSession(now);
      const other = await createApiKey(stores().apiKeys, brand);

      expect(await authenticateConsoleSession(deps, created.token)).toBeDefined();
      expect(await stores().apiKeys.revoke(brand, record.keyId)).toBe(true);
      expect(await authenticateConsoleSession(deps, created.token)).toBeUndefined();
      // The brand's other key still works, and makes sessions that do.
      const again = await createConsoleSession(
        deps,
        sessionMaker(brand, other.record.keyId, `Bearer ${other.key}`),
        {},
      );
      expect(await authenticateConsoleSession(deps, again.token)).toEqual({
        brand,
        keyId: other.record.keyId,
      });
    });

    it('refuse a hash stored already, without naming it, and keep the first record', async () => {
      const { created } = await aSession(new Date());
      const hash = hashApiKey(created.token);
      const first = await stores().consoleSessions.findByHash(hash);

      const error = await stores()
        .consoleSessions.put(hash, { ...(first as NonNullable<typeof first>), brand: aBrand() })
        .then(
          () => undefined,
          (reason: unknown) => reason,
        );
      expect(error).toBeInstanceOf(Error);
      expect(String((error as Error).message)).not.toContain(hash);
      expect(await stores().consoleSessions.findByHash(hash)).toEqual(first);
    });
  });
}
