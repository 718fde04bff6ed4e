import { hashApiKey } from './api-keys.js';
import type { ApiKeyStore, ConsoleSessionStore } from './ports.js';

/*
 * What the authorizer needs of console sessions (./console-sessions.ts makes them): tell a session token
 * from an API key, and admit it. Apart from the module that makes them, so the authorizer's bundle, which
 * runs on every request, carries no validation library.
 */

/** Every session token starts with this; API keys made by `npm run keys` start with `cbk_`. */
export const CONSOLE_SESSION_PREFIX = 'cbs_';

export function isConsoleSessionToken(token: string): boolean {
  return token.startsWith(CONSOLE_SESSION_PREFIX);
}

/**
 * The brand and key id a session token acts for, or undefined when the token is unknown, expired (checked
 * here, whatever the TTL sweep has or has not deleted), or its key was revoked since.
 */
export async function authenticateConsoleSession(
  deps: {
    readonly sessions: ConsoleSessionStore;
    readonly apiKeys: ApiKeyStore;
    readonly now: () => Date;
  },
  token: string,
): Promise<{ brand: string; keyId: string } | undefined> {
  if (!isConsoleSessionToken(token)) return undefined;
  const session = await deps.sessions.findByHash(hashApiKey(token));
  if (!session) return undefined;
  if (!(deps.now().getTime() < Date.parse(session.expiresAt))) return undefined;
  const key = await deps.apiKeys.findByHash(session.keyHash);
  if (!key || key.keyId !== session.keyId || key.brand !== session.brand) return undefined;
  return { brand: session.brand, keyId: session.keyId };
}
