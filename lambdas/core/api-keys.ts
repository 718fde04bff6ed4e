import { createHash, randomBytes } from 'node:crypto';
import { newApiKeyId } from './ids.js';
import type { ApiKeyRecord, ApiKeyStore } from './ports.js';

/** Keys are stored only as this hash; the key itself is shown once, when it is created. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** `Authorization: Bearer <key>` → the key, or undefined. */
export function bearerKey(authorization: string | undefined): string | undefined {
  const match = /^Bearer ([\x21-\x7e]{8,512})$/i.exec(authorization?.trim() ?? '');
  return match?.[1];
}

/** Creates a key for a brand: `cbk_` + 32 random bytes, base64url. Returns the key (shown once) and its record. */
export async function createApiKey(
  store: ApiKeyStore,
  brand: string,
  options: { description?: string; now?: Date } = {},
): Promise<{ key: string; record: ApiKeyRecord }> {
  const key = `cbk_${randomBytes(32).toString('base64url')}`;
  const record: ApiKeyRecord = {
    keyId: newApiKeyId(),
    brand,
    createdAt: (options.now ?? new Date()).toISOString(),
    ...(options.description ? { description: options.description } : {}),
  };
  await store.put(hashApiKey(key), record);
  return { key, record };
}

/** The brand a key belongs to, or undefined for an unknown or revoked key. */
export async function authenticate(store: ApiKeyStore, authorization: string | undefined) {
  const key = bearerKey(authorization);
  if (!key) return undefined;
  return store.findByHash(hashApiKey(key));
}
