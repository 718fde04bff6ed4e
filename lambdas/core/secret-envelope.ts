import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/*
 * The encrypted form of one secret field (docs/DATA-MODEL.md "Encrypted fields"):
 *   enc:v1:<wrapped data key>:<iv>:<ciphertext and tag>
 * AES-256-GCM under a data key; the data key travels wrapped (by KMS or the local key file) inside the
 * value, so each value decrypts on its own. The authenticated data names the record and the field, so a
 * ciphertext copied to another subscription or field fails to decrypt. Pure: no key management here.
 */

export const ENVELOPE_PREFIX = 'enc:v1:';
/** A wrapped data key as providers write it: no `:`, so the envelope splits unambiguously. */
export const WRAPPED_KEY = /^[A-Za-z0-9._-]+$/;
/** 96-bit IVs, as NIST SP 800-38D recommends for GCM; random, so a data key is reused a bounded number of times. */
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const DATA_KEY_BYTES = 32;

/** A data key: its plaintext for AES, and its wrapped form, the only one ever stored. */
export interface DataKey {
  readonly plaintext: Uint8Array;
  readonly wrapped: string;
}

/** Makes and unwraps data keys: KMS in AWS, a key file locally (lambdas/adapters/). */
export interface DataKeyProvider {
  generate(): Promise<DataKey>;
  /** The plaintext of a data key this provider wrapped; throws for anything else. */
  decrypt(wrapped: string): Promise<Uint8Array>;
}

/** A value that cannot be decrypted: tampered, moved from another record, or wrapped by another key. */
export class SecretDecryptionError extends Error {
  override readonly name = 'SecretDecryptionError';
}

export interface Envelope {
  readonly wrapped: string;
  readonly iv: Buffer;
  readonly sealed: Buffer;
}

/** What binds a ciphertext to its place: the record's brand and id, and the field's path. */
export function secretAad(brand: string, id: string, fieldPath: string): string {
  return JSON.stringify(['commbox-webhooks/subscription', brand, id, fieldPath]);
}

/** True for a value in the encrypted form; anything else is a plaintext written before encryption. */
export function isSealed(value: string): boolean {
  return value.startsWith(ENVELOPE_PREFIX);
}

export function sealWithKey(plaintext: string, key: DataKey, aad: string): string {
  if (key.plaintext.length !== DATA_KEY_BYTES) throw new Error('a data key must be 32 bytes');
  if (!WRAPPED_KEY.test(key.wrapped)) throw new Error('a wrapped data key must match [A-Za-z0-9._-]+');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.plaintext, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${ENVELOPE_PREFIX}${key.wrapped}:${iv.toString('base64url')}:${sealed.toString('base64url')}`;
}

/** Splits an encrypted value; throws SecretDecryptionError when it is not well formed. */
export function parseEnvelope(value: string): Envelope {
  const parts = isSealed(value) ? value.slice(ENVELOPE_PREFIX.length).split(':') : [];
  const [wrapped, iv, sealed] = parts;
  if (parts.length !== 3 || !wrapped || !WRAPPED_KEY.test(wrapped) || !iv || !sealed) {
    throw new SecretDecryptionError('an encrypted field is malformed');
  }
  const envelope = {
    wrapped,
    iv: Buffer.from(iv, 'base64url'),
    sealed: Buffer.from(sealed, 'base64url'),
  };
  if (envelope.iv.length !== IV_BYTES || envelope.sealed.length < TAG_BYTES) {
    throw new SecretDecryptionError('an encrypted field is malformed');
  }
  return envelope;
}

/** The plaintext; throws SecretDecryptionError when the tag does not match (wrong key, AAD or bytes). */
export function openWithKey(envelope: Envelope, key: Uint8Array, aad: string): string {
  const body = envelope.sealed.subarray(0, envelope.sealed.length - TAG_BYTES);
  const tag = envelope.sealed.subarray(envelope.sealed.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, envelope.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  } catch {
    throw new SecretDecryptionError(
      'an encrypted field failed authentication: it was altered or belongs to another record',
    );
  }
}
