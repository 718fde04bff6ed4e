import { createHmac, createPublicKey, type KeyObject, timingSafeEqual, verify } from 'node:crypto';

/**
 * Standard Webhooks (https://www.standardwebhooks.com) verification, for receivers. Self-contained: it
 * imports nothing but `node:crypto`, so a receiver can take this one file. The signer (`signing.ts`)
 * builds on the primitives exported here, so both sides share one definition of the scheme.
 *
 * The scheme: `webhook-signature: v1,<base64 HMAC-SHA256(key, "${id}.${timestamp}.${body}")>`, where the
 * key is the base64-decoded part of the `whsec_` secret; several space-separated entries during a
 * rotation. It mirrors the official `standardwebhooks` library's checks and their order. The asymmetric
 * scheme of the same specification: `v1a,<base64 ed25519 signature of the same content>`, checked with
 * the sender's `whpk_` public key (base64 of the 32 raw key bytes).
 */

export const SECRET_PREFIX = 'whsec_';
export const PUBLIC_KEY_PREFIX = 'whpk_';
/** The sender's ed25519 private key; a receiver never needs it. */
export const SIGNING_KEY_PREFIX = 'whsk_';
export const ED25519_PUBLIC_KEY_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;
/** `v1a` entries checked per request, bounding the work a forged header can cause (rotation sends 2). */
export const MAX_V1A_ENTRIES = 8;
/** The key length range the Standard Webhooks specification recommends, in bytes. */
export const MIN_SECRET_BYTES = 24;
export const MAX_SECRET_BYTES = 64;
/** How far `webhook-timestamp` may be from the receiver's clock, either way (the library's default). */
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

/** The three headers a signed delivery carries, as the signer produces them. */
export interface WebhookHeaders {
  readonly 'webhook-id': string;
  readonly 'webhook-timestamp': string;
  readonly 'webhook-signature': string;
}

/**
 * A configured secret is not a valid `whsec_` secret. This is the holder's misconfiguration (a 500, not a
 * 4xx), and the message never contains the secret or any part of it.
 */
export class InvalidSecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidSecretError';
  }
}

export type WebhookVerificationReason =
  | 'missing_headers'
  | 'malformed'
  | 'timestamp_out_of_range'
  | 'invalid_signature';

/** The one error `verifyWebhook` throws for a request that must be rejected (answer it with a 4xx). */
export class WebhookVerificationError extends Error {
  constructor(
    readonly reason: WebhookVerificationReason,
    message: string,
  ) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The HMAC key inside a `whsec_<base64>` secret. Strict: the prefix is required, the rest must be
 * canonical standard base64 with padding, and the key must be 24–64 bytes. Throws `InvalidSecretError`
 * whose message never echoes the input.
 */
export function parseSecret(secret: string): Buffer {
  return parseNamedSecret(secret, 'The webhook secret');
}

/** `parseSecret`, with `name` (e.g. the secret's position) in the error message. */
export function parseNamedSecret(secret: unknown, name: string): Buffer {
  if (typeof secret !== 'string') {
    throw new InvalidSecretError(`${name} must be a string`);
  }
  if (!secret.startsWith(SECRET_PREFIX)) {
    throw new InvalidSecretError(`${name} must start with "${SECRET_PREFIX}"`);
  }
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (!CANONICAL_BASE64.test(encoded)) {
    throw new InvalidSecretError(
      `${name} must be "${SECRET_PREFIX}" followed by standard base64 with padding`,
    );
  }
  const key = Buffer.from(encoded, 'base64');
  if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) {
    throw new InvalidSecretError(
      `${name} must decode to between ${MIN_SECRET_BYTES} and ${MAX_SECRET_BYTES} bytes`,
    );
  }
  return key;
}

/** Parses every secret of a (rotation) list; an error names the position, never the value. */
export function parseSecrets(secrets: string | readonly string[]): Buffer[] {
  const list: readonly unknown[] = typeof secrets === 'string' ? [secrets] : secrets;
  if (!Array.isArray(list) || list.length === 0) {
    throw new InvalidSecretError('At least one webhook secret is required');
  }
  return list.map((secret, i) => parseNamedSecret(secret, `Webhook secret #${i + 1}`));
}

/**
 * The base64 HMAC-SHA256 of `${id}.${timestamp}.${body}` (without the `v1,` prefix). The body is signed
 * byte for byte as sent; a string is taken as UTF-8, as the official library does.
 */
export function computeSignature(
  key: Uint8Array,
  id: string,
  timestamp: number,
  body: string | Uint8Array,
): string {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`, 'utf8').update(body).digest('base64');
}

/** The signed content of both schemes: `${id}.${timestamp}.` followed by the body's bytes. */
export function signedContent(id: string, timestamp: number, body: string | Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${id}.${timestamp}.`, 'utf8'), Buffer.from(body)]);
}

/**
 * The ed25519 public key inside a `whpk_<base64>` key (32 bytes, canonical base64). Throws
 * `InvalidSecretError` naming the position, never the value.
 */
export function parsePublicKey(publicKey: unknown, name = 'The webhook public key'): KeyObject {
  if (typeof publicKey !== 'string') throw new InvalidSecretError(`${name} must be a string`);
  if (publicKey.startsWith(SIGNING_KEY_PREFIX)) {
    throw new InvalidSecretError(`${name} is a private signing key; a receiver needs the "whpk_" public key`);
  }
  if (!publicKey.startsWith(PUBLIC_KEY_PREFIX)) {
    throw new InvalidSecretError(`${name} must start with "${PUBLIC_KEY_PREFIX}"`);
  }
  const encoded = publicKey.slice(PUBLIC_KEY_PREFIX.length);
  const raw = CANONICAL_BASE64.test(encoded) ? Buffer.from(encoded, 'base64') : undefined;
  if (raw?.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new InvalidSecretError(
      `${name} must be "${PUBLIC_KEY_PREFIX}" followed by the base64 of ${ED25519_PUBLIC_KEY_BYTES} bytes`,
    );
  }
  return ed25519PublicKey(raw);
}

/** An ed25519 public key object from its 32 raw bytes. */
export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  const x = Buffer.from(raw).toString('base64url');
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
}

/** A plain header object (any key case; Node and Lambda shapes) or a fetch `Headers`. */
export type HeadersLike = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

export interface VerifyWebhookInput {
  readonly headers: HeadersLike;
  /** The raw body exactly as received: verify before any JSON parsing or re-serialising. */
  readonly body: string | Uint8Array;
  /** The receiver's `whsec_` secret, or all of them while it rotates: any one matching signature is enough. */
  readonly secrets?: string | readonly string[];
  /** The sender's `whpk_` public key(s), for `v1a` (ed25519) signatures. Give secrets, keys, or both. */
  readonly publicKeys?: string | readonly string[];
  /** The receiver's clock; defaults to the current time. */
  readonly now?: Date;
  readonly toleranceSeconds?: number;
  /** Parse the verified body as JSON into `payload` (default true; an empty body gives `undefined`). */
  readonly parseJson?: boolean;
}

export interface VerifiedWebhook {
  readonly id: string;
  /** `webhook-timestamp`, in seconds since the epoch. */
  readonly timestamp: number;
  /** The verified body as UTF-8 text. */
  readonly body: string;
  /** The body parsed as JSON when `parseJson` is on, otherwise `undefined`. */
  readonly payload: unknown;
}

/**
 * Verifies a delivery and only then hands out its body. Order, as in the official library: the three
 * headers are present → the timestamp is within ±`toleranceSeconds` of `now` (too old and too new both
 * fail) → some `v1,` signature matches one of the secrets (constant-time comparison) or some `v1a,`
 * signature verifies with one of the public keys (entries of other versions are ignored) → the body is
 * decoded (and parsed).
 *
 * Throws `WebhookVerificationError` (with a `reason`) for a request to reject, and `InvalidSecretError`
 * when the receiver's own secret or key is malformed (checked first, whatever the request).
 */
export function verifyWebhook(input: VerifyWebhookInput): VerifiedWebhook {
  const secretList = input.secrets === undefined ? [] : [input.secrets].flat();
  const publicKeyList = input.publicKeys === undefined ? [] : [input.publicKeys].flat();
  if (secretList.length + publicKeyList.length === 0) {
    throw new InvalidSecretError('At least one webhook secret or public key is required');
  }
  const keys = secretList.length > 0 ? parseSecrets(secretList) : [];
  const publicKeys = publicKeyList.map((key, i) => parsePublicKey(key, `Webhook public key #${i + 1}`));
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    throw new RangeError('toleranceSeconds must be a non-negative number');
  }

  const id = headerValue(input.headers, 'webhook-id');
  const timestampHeader = headerValue(input.headers, 'webhook-timestamp');
  const signatureHeader = headerValue(input.headers, 'webhook-signature');
  if (!id || !timestampHeader || !signatureHeader) {
    throw new WebhookVerificationError('missing_headers', 'Missing required webhook headers');
  }

  if (!/^[0-9]+$/.test(timestampHeader) || !Number.isSafeInteger(Number(timestampHeader))) {
    throw new WebhookVerificationError('malformed', 'The webhook-timestamp header is not an integer');
  }
  // Signed as the number (like the official library), so "0123" and "123" are the same timestamp.
  const timestamp = Number(timestampHeader);
  const now = Math.floor((input.now ?? new Date()).getTime() / 1000);
  if (now - timestamp > tolerance) {
    throw new WebhookVerificationError('timestamp_out_of_range', 'The webhook timestamp is too old');
  }
  if (timestamp > now + tolerance) {
    throw new WebhookVerificationError('timestamp_out_of_range', 'The webhook timestamp is too new');
  }

  const expected = keys.map((key) => Buffer.from(computeSignature(key, id, timestamp, input.body), 'utf8'));
  const content = publicKeys.length > 0 ? signedContent(id, timestamp, input.body) : undefined;
  let v1aEntries = 0;
  const matched = signatureHeader.split(' ').some((entry) => {
    const comma = entry.indexOf(',');
    const version = comma < 0 ? undefined : entry.slice(0, comma);
    if (version === 'v1') {
      const given = Buffer.from(entry.slice(comma + 1), 'utf8');
      return expected.some(
        (candidate) => candidate.length === given.length && timingSafeEqual(candidate, given),
      );
    }
    if (version === 'v1a' && content && v1aEntries++ < MAX_V1A_ENTRIES) {
      const encoded = entry.slice(comma + 1);
      const signature = CANONICAL_BASE64.test(encoded) ? Buffer.from(encoded, 'base64') : undefined;
      if (signature?.length !== ED25519_SIGNATURE_BYTES) return false;
      return publicKeys.some((key) => verify(null, content, key, signature));
    }
    return false;
  });
  if (!matched) {
    throw new WebhookVerificationError('invalid_signature', 'No matching webhook signature found');
  }

  const body = typeof input.body === 'string' ? input.body : Buffer.from(input.body).toString('utf8');
  let payload: unknown;
  if ((input.parseJson ?? true) && body !== '') {
    try {
      payload = JSON.parse(body);
    } catch {
      throw new WebhookVerificationError('malformed', 'The webhook body is not valid JSON');
    }
  }
  return { id, timestamp, body, payload };
}

/**
 * One header, case-insensitively, trimmed. A header given twice (an array of several values, or two keys
 * differing only in case with different values) is ambiguous and rejected as malformed.
 */
function headerValue(headers: HeadersLike, name: string): string | undefined {
  if (typeof Headers !== 'undefined' && headers instanceof Headers) {
    return headers.get(name)?.trim();
  }
  const values = new Set<string>();
  for (const [key, raw] of Object.entries(headers as Record<string, unknown>)) {
    if (key.toLowerCase() !== name || raw === undefined) {
      continue;
    }
    const list: readonly unknown[] = Array.isArray(raw) ? raw : [raw];
    for (const value of list) {
      if (typeof value !== 'string') {
        throw new WebhookVerificationError('malformed', `The ${name} header is not a string`);
      }
      values.add(value.trim());
    }
  }
  if (values.size > 1) {
    throw new WebhookVerificationError('malformed', `The ${name} header is given more than once`);
  }
  return values.values().next().value;
}
