import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import {
  ED25519_PUBLIC_KEY_BYTES,
  InvalidSecretError,
  PUBLIC_KEY_PREFIX,
  SIGNING_KEY_PREFIX,
  signedContent,
} from './verify.js';

/**
 * The asymmetric scheme of Standard Webhooks: ed25519 key pairs as `whsk_` (the sender's private signing
 * key, a secret) and `whpk_` (the public key receivers verify `v1a` signatures with). `whsk_` is the base64
 * of the 32-byte seed followed by the 32-byte public key (libsodium's and tweetnacl's 64-byte secret key
 * layout); `whpk_` the base64 of the 32 raw public key bytes.
 */

export interface SigningKeyPair {
  /** `whsk_...`: kept like a signing secret, never shown. */
  readonly secret: string;
  /** `whpk_...`: shown to the subscription's owner. */
  readonly publicKey: string;
}

const SEED_BYTES = 32;

/** A new ed25519 key pair. */
export function generateSigningKeyPair(): SigningKeyPair {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d ?? '', 'base64url');
  const publicKey = Buffer.from(jwk.x ?? '', 'base64url');
  return {
    secret: SIGNING_KEY_PREFIX + Buffer.concat([seed, publicKey]).toString('base64'),
    publicKey: PUBLIC_KEY_PREFIX + publicKey.toString('base64'),
  };
}

/**
 * The private key of a `whsk_` signing key. Strict: 64 bytes whose second half is the public key of the
 * first. Throws `InvalidSecretError` naming `name`, never the value.
 */
export function parseSigningKey(secret: string, name = 'The webhook signing key'): KeyObject {
  const encoded = secret.startsWith(SIGNING_KEY_PREFIX) ? secret.slice(SIGNING_KEY_PREFIX.length) : '';
  const raw = Buffer.from(encoded, 'base64');
  const invalid = () =>
    new InvalidSecretError(
      `${name} must be "${SIGNING_KEY_PREFIX}" followed by the base64 of a ${SEED_BYTES + ED25519_PUBLIC_KEY_BYTES}-byte ed25519 key`,
    );
  if (raw.length !== SEED_BYTES + ED25519_PUBLIC_KEY_BYTES || raw.toString('base64') !== encoded) {
    throw invalid();
  }
  const x = raw.subarray(SEED_BYTES).toString('base64url');
  const privateKey = createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', d: raw.subarray(0, SEED_BYTES).toString('base64url'), x },
    format: 'jwk',
  });
  if (createPublicKey(privateKey).export({ format: 'jwk' }).x !== x) throw invalid();
  return privateKey;
}

/** The `whpk_` public key of a `whsk_` signing key. */
export function publicKeyOf(secret: string): string {
  const jwk = createPublicKey(parseSigningKey(secret)).export({ format: 'jwk' });
  return PUBLIC_KEY_PREFIX + Buffer.from(jwk.x ?? '', 'base64url').toString('base64');
}

/** The base64 ed25519 signature of `${id}.${timestamp}.${body}` (without the `v1a,` prefix). */
export function signEd25519(
  secret: string,
  id: string,
  timestamp: number,
  body: string | Uint8Array,
  name?: string,
): string {
  return sign(null, signedContent(id, timestamp, body), parseSigningKey(secret, name)).toString('base64');
}
