import { describe, expect, it } from 'vitest';
import { hashApiKey } from '../../../lambdas/core/api-keys.js';
import { authenticateConsoleSession } from '../../../lambdas/core/console-session-tokens.js';
import { createConsoleSession, sessionMaker } from '../../../lambdas/core/console-sessions.js';
import { ClientError } from '../../../lambdas/core/errors.js';
import type { ApiKeyRecord, ConsoleSessionRecord } from '../../../lambdas/core/ports.js';

/* The console session rules at their ports, on maps: lengths, the maker, what the reader refuses. */

const NOW = new Date('2026-12-02T10:00:00.750Z');
const KEY = 'cbk_the-key-of-acme-0123456789abcdef';

function world() {
  const sessions = new Map<string, ConsoleSessionRecord>();
  const keys = new Map<string, ApiKeyRecord>([
    [hashApiKey(KEY), { keyId: 'key_A', brand: 'acme', createdAt: '2026-01-01T00:00:00.000Z' }],
  ]);
  let now = NOW;
  const deps = {
    sessions: {
      put: async (hash: string, record: ConsoleSessionRecord) => void sessions.set(hash, record),
      findByHash: async (hash: string) => sessions.get(hash),
    },
    apiKeys: {
      put: async () => undefined,
      findByHash: async (hash: string) => keys.get(hash),
      list: async () => [],
      revoke: async () => false,
    },
    now: () => now,
  };
  return { sessions, keys, deps, setNow: (date: Date) => (now = date) };
}

const maker = () => sessionMaker('acme', 'key_A', `Bearer ${KEY}`);

describe('making a console session', () => {
  it.each([
    [undefined, '2026-12-02T11:00:00.000Z'],
    [{}, '2026-12-02T11:00:00.000Z'],
    [{ expiresInSeconds: 60 }, '2026-12-02T10:01:00.000Z'],
    [{ expiresInSeconds: 3600 }, '2026-12-02T11:00:00.000Z'],
  ])('with body %j ends at %s (whole seconds)', async (body, expiresAt) => {
    const { deps } = world();
    expect((await createConsoleSession(deps, maker(), body)).expiresAt).toBe(expiresAt);
  });

  it('records the maker, never the token', async () => {
    const { deps, sessions } = world();
    const { token } = await createConsoleSession(deps, maker(), undefined);

    expect([...sessions.entries()]).toEqual([
      [
        hashApiKey(token),
        {
          brand: 'acme',
          keyId: 'key_A',
          keyHash: hashApiKey(KEY),
          createdAt: NOW.toISOString(),
          expiresAt: '2026-12-02T11:00:00.000Z',
        },
      ],
    ]);
  });

  it.each([
    ['no header', undefined],
    ['a session token', 'Bearer cbs_a-session-token-of-enough-length'],
    ['another scheme', `Basic ${KEY}`],
  ])('is refused with 401 naming authorization for %s', (_, authorization) => {
    const error = (() => {
      try {
        sessionMaker('acme', 'key_A', authorization);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ClientError);
    expect(error).toMatchObject({ status: 401, details: [{ field: 'authorization' }] });
  });
});

describe('authenticating a console session', () => {
  it('refuses an API key, an unknown token, a session whose key now belongs elsewhere', async () => {
    const { deps, keys } = world();
    const { token } = await createConsoleSession(deps, maker(), undefined);

    expect(await authenticateConsoleSession(deps, KEY)).toBeUndefined();
    expect(await authenticateConsoleSession(deps, `${token}x`)).toBeUndefined();
    expect(await authenticateConsoleSession(deps, token)).toEqual({ brand: 'acme', keyId: 'key_A' });
    keys.set(hashApiKey(KEY), { keyId: 'key_B', brand: 'acme', createdAt: '2026-01-01T00:00:00.000Z' });
    expect(await authenticateConsoleSession(deps, token)).toBeUndefined();
    keys.set(hashApiKey(KEY), { keyId: 'key_A', brand: 'globex', createdAt: '2026-01-01T00:00:00.000Z' });
    expect(await authenticateConsoleSession(deps, token)).toBeUndefined();
  });

  it('refuses from expiresAt on, to the millisecond', async () => {
    const { deps, setNow } = world();
    const { token, expiresAt } = await createConsoleSession(deps, maker(), { expiresInSeconds: 60 });

    setNow(new Date(Date.parse(expiresAt) - 1));
    expect(await authenticateConsoleSession(deps, token)).toBeDefined();
    setNow(new Date(expiresAt));
    expect(await authenticateConsoleSession(deps, token)).toBeUndefined();
  });
});
