import { createHash, randomBytes } from 'node:crypto';
import { signEd25519 } from './signing-keys.js';
import {
  computeSignature,
  InvalidSecretError,
  MAX_SECRET_BYTES,
  MIN_SECRET_BYTES,
  parseNamedSecret,
  SECRET_PREFIX,
  SIGNING_KEY_PREFIX,
  type WebhookHeaders,
} from './verify.js';

/**
 * Signing deliveries the Standard Webhooks way (https://www.standardwebhooks.com) and managing the
 * `whsec_` secrets. The scheme itself (key parsing, the HMAC) lives in `verify.ts`, which receivers can
 * take alone; the secret helpers are re-exported here so the sender has one import. The asymmetric
 * scheme's keys (`whsk_` / `whpk_`, ed25519) live in `signing-keys.ts`.
 */

export { generateSigningKeyPair, type SigningKeyPair } from './signing-keys.js';
export {
  InvalidSecretError,
  MAX_SECRET_BYTES,
  MIN_SECRET_BYTES,
  parseSecret,
  SECRET_PREFIX,
  type WebhookHeaders,
} from './verify.js';

/** A new secret: `whsec_` + base64 of `bytes` random bytes (24–64; 32 is an HMAC-SHA256 block's worth). */
export function generateSecret(bytes = 32): string {
  if (!Number.isInteger(bytes) || bytes < MIN_SECRET_BYTES || bytes > MAX_SECRET_BYTES) {
    throw new RangeError(
      `A webhook secret must have between ${MIN_SECRET_BYTES} and ${MAX_SECRET_BYTES} bytes`,
    );
  }
  return SECRET_PREFIX + randomBytes(bytes).toString('base64');
}

const WEBHOOK_ID_DOMAIN = 'commbox-webhook-id/v1';
const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * The `webhook-id` of an event delivered to a subscription: the same on every retry, so receivers can
 * deduplicate on it, and different for each subscription of the same event.
 *
 * `msg_` + the first 160 bits of SHA-256("commbox-webhook-id/v1" ‖ 0x00 ‖ u32be(len) ‖ eventId ‖ u32be(len)
 * ‖ subscriptionId) (lengths in UTF-8 bytes, so no two pairs share an input), as lowercase unpadded RFC 4648
 * base32: exactly 32 characters from [a-z2-7], 36 in all. Header- and URL-safe, and case-insensitive-safe
 * for receivers that store it in a case-folding column; 160 bits make a collision negligible.
 *
 * Changing this derivation changes the id of in-flight retries and defeats receivers' deduplication:
 * give a new scheme a new domain string and roll it out between deliveries, never silently.
 */
export function webhookId(eventId: string, subscriptionId: string): string {
  if (typeof eventId !== 'string' || eventId === '') {
    throw new TypeError('eventId must be a non-empty string');
  }
  if (typeof subscriptionId !== 'string' || subscriptionId === '') {
    throw new TypeError('subscriptionId must be a non-empty string');
  }
  const hash = createHash('sha256')
    .update(WEBHOOK_ID_DOMAIN, 'utf8')
    .update(new Uint8Array([0]));
  for (const part of [eventId, subscriptionId]) {
    const bytes = Buffer.from(part, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hash.update(length).update(bytes);
  }
  return `msg_${base32(hash.digest().subarray(0, 20))}`;
}

function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32_ALPHABET.charAt((buffer >>> bits) & 31);
    }
  }
  if (bits > 0) {
    out += BASE32_ALPHABET.charAt((buffer << (5 - bits)) & 31);
  }
  return out;
}

export interface SignWebhookInput {
  /** The `webhook-id`, normally `webhookId(eventId, subscriptionId)`: visible ASCII, no spaces. */
  readonly id: string;
  /** The attempt's time in whole seconds since the epoch (not milliseconds). */
  readonly timestamp: number;
  /** The exact body sent on the wire (a string is sent as UTF-8). */
  readonly body: string | Uint8Array;
  /**
   * Every active secret of the subscription, in this order: one `v1,` signature per `whsec_` secret and
   * one `v1a,` (ed25519) signature per `whsk_` signing key.
   */
  readonly secrets: readonly string[];
}

/** Any real seconds timestamp is below this (year 5138); any millisecond one since 1973 is above it. */
const MAX_TIMESTAMP_SECONDS = 1e11;

/**
 * The three Standard Webhooks headers for one delivery attempt. Throws `InvalidSecretError` (naming the
 * secret's position, never its value) for a malformed secret, and `TypeError`/`RangeError` for a bad id or
 * timestamp.
 */
export function signWebhook(input: SignWebhookInput): WebhookHeaders {
  const { id, timestamp, body } = input;
  if (typeof id !== 'string' || !/^[\x21-\x7e]+$/.test(id)) {
    throw new TypeError('The webhook id must be non-empty visible ASCII without spaces');
  }
  if (!Number.isSafeInteger(timestamp) || timestamp < 0 || timestamp >= MAX_TIMESTAMP_SECONDS) {
    throw new RangeError('The webhook timestamp must be whole seconds since the epoch');
  }
  if (!Array.isArray(input.secrets) || input.secrets.length === 0) {
    throw new InvalidSecretError('At least one webhook secret is required');
  }
  const signatures = new Set(
    input.secrets.map((secret, i) => {
      const name = `Webhook secret #${i + 1}`;
      if (typeof secret === 'string' && secret.startsWith(SIGNING_KEY_PREFIX)) {
        return `v1a,${signEd25519(secret, id, timestamp, body, name)}`;
      }
      return `v1,${computeSignature(parseNamedSecret(secret, name), id, timestamp, body)}`;
    }),
  );
  // A secret listed twice would only repeat its signature (the Set keeps one).
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': [...signatures].join(' '),
  };
}
