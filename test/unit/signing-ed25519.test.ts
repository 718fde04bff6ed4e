import * as ed from '@noble/ed25519';
import { describe, expect, it } from 'vitest';
import { generateSigningKeyPair, type SignWebhookInput, signWebhook } from '../../lambdas/core/signing.js';
import { parseSigningKey, publicKeyOf } from '../../lambdas/core/signing-keys.js';
import {
  InvalidSecretError,
  MAX_V1A_ENTRIES,
  verifyWebhook,
  WebhookVerificationError,
} from '../../lambdas/core/verify.js';

/*
 * The asymmetric scheme (v1a, ed25519), checked against @noble/ed25519, an independent implementation:
 * it derives the same public key from our seed, verifies our signatures, and signs what we verify.
 */

const NOW = 1700000000;
const CLOCK = new Date(NOW * 1000);
const BODY = '{"Event":{"Name":"OnNew","text":"שלום — héllo 🌍"}}';
const ID = 'msg_ed25519';
const content = (body = BODY) => new TextEncoder().encode(`${ID}.${NOW}.${body}`);
/** The signed headers as a plain record, the shape receivers get. */
const signed = (input: SignWebhookInput): Record<string, string> => ({ ...signWebhook(input) });
const raw = (key: string, prefix: string) => Buffer.from(key.slice(prefix.length), 'base64');

function rejection(run: () => unknown): WebhookVerificationError {
  try {
    run();
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error;
    throw error;
  }
  throw new Error('expected a WebhookVerificationError');
}

describe('ed25519 signing keys', () => {
  it('are whsk_ with the 32-byte seed and the public key, and whpk_ with the public key', async () => {
    const pair = generateSigningKeyPair();
    const secret = raw(pair.secret, 'whsk_');
    const publicKey = raw(pair.publicKey, 'whpk_');
    expect(secret).toHaveLength(64);
    expect(publicKey).toHaveLength(32);
    expect(secret.subarray(32)).toEqual(publicKey);
    expect(Buffer.from(await ed.getPublicKeyAsync(secret.subarray(0, 32)))).toEqual(publicKey);
    expect(publicKeyOf(pair.secret)).toBe(pair.publicKey);
  });

  it("refuses a whsk_ whose public half is not the seed's, naming its position and not its value", () => {
    const a = generateSigningKeyPair();
    const b = generateSigningKeyPair();
    const spliced = `whsk_${Buffer.concat([raw(a.secret, 'whsk_').subarray(0, 32), raw(b.publicKey, 'whpk_')]).toString('base64')}`;
    expect(() => parseSigningKey(spliced)).toThrow(InvalidSecretError);
    const error = (() => {
      try {
        signed({ id: ID, timestamp: NOW, body: BODY, secrets: [a.secret, spliced] });
      } catch (caught) {
        return caught as Error;
      }
    })();
    expect(error?.message).toMatch(/^Webhook secret #2 /);
    expect(error?.message).not.toContain(spliced.slice(5, 25));
  });
});

describe('signWebhook with a whsk_ key', () => {
  it('sends v1a,<signature> that the independent implementation verifies and would have produced', async () => {
    const pair = generateSigningKeyPair();
    const headers = signed({ id: ID, timestamp: NOW, body: BODY, secrets: [pair.secret] });
    const [version, signature = ''] = (headers['webhook-signature'] ?? '').split(',');
    expect(version).toBe('v1a');
    const bytes = Buffer.from(signature, 'base64');
    expect(await ed.verifyAsync(bytes, content(), raw(pair.publicKey, 'whpk_'))).toBe(true);
    // ed25519 is deterministic: the same seed signs the same content to the same bytes.
    expect(Buffer.from(await ed.signAsync(content(), raw(pair.secret, 'whsk_').subarray(0, 32)))).toEqual(
      bytes,
    );
  });

  it('sends one v1a signature per key while rotating, each verifiable with its own public key', () => {
    const next = generateSigningKeyPair();
    const previous = generateSigningKeyPair();
    const headers = signed({
      id: ID,
      timestamp: NOW,
      body: BODY,
      secrets: [next.secret, previous.secret],
    });
    expect(headers['webhook-signature']).toMatch(/^v1a,\S{88} v1a,\S{88}$/);
    for (const publicKey of [next.publicKey, previous.publicKey]) {
      expect(verifyWebhook({ headers, body: BODY, publicKeys: publicKey, now: CLOCK }).body).toBe(BODY);
    }
  });
});

describe('verifyWebhook with whpk_ public keys', () => {
  it('accepts a signature made by the independent implementation', async () => {
    const seed = ed.utils.randomSecretKey();
    const publicKey = `whpk_${Buffer.from(await ed.getPublicKeyAsync(seed)).toString('base64')}`;
    const signature = Buffer.from(await ed.signAsync(content(), seed)).toString('base64');
    const headers = {
      'webhook-id': ID,
      'webhook-timestamp': String(NOW),
      'webhook-signature': `v1a,${signature}`,
    };
    expect(verifyWebhook({ headers, body: BODY, publicKeys: [publicKey], now: CLOCK }).payload).toEqual(
      JSON.parse(BODY),
    );
  });

  it('rejects a tampered body, another key, and a v1 signature when it holds only public keys', () => {
    const pair = generateSigningKeyPair();
    const headers = signed({ id: ID, timestamp: NOW, body: BODY, secrets: [pair.secret] });
    const other = generateSigningKeyPair().publicKey;
    const verify =
      (input: { body: string; publicKeys: string }, signed = headers) =>
      () =>
        verifyWebhook({ headers: signed, now: CLOCK, ...input });
    expect(rejection(verify({ body: `${BODY} `, publicKeys: pair.publicKey })).reason).toBe(
      'invalid_signature',
    );
    expect(rejection(verify({ body: BODY, publicKeys: other })).reason).toBe('invalid_signature');
    const hmac = signed({ id: ID, timestamp: NOW, body: BODY, secrets: [`whsec_${'A'.repeat(43)}=`] });
    expect(rejection(verify({ body: BODY, publicKeys: pair.publicKey }, hmac)).reason).toBe(
      'invalid_signature',
    );
  });

  it('accepts a delivery signed with both schemes by either a secret or a public key', () => {
    const pair = generateSigningKeyPair();
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const headers = signed({ id: ID, timestamp: NOW, body: BODY, secrets: [secret, pair.secret] });
    expect(verifyWebhook({ headers, body: BODY, secrets: secret, now: CLOCK }).id).toBe(ID);
    expect(verifyWebhook({ headers, body: BODY, publicKeys: pair.publicKey, now: CLOCK }).id).toBe(ID);
  });

  it(`checks at most ${MAX_V1A_ENTRIES} v1a entries, so a padded header costs a bounded amount of work`, () => {
    const pair = generateSigningKeyPair();
    const real = signed({ id: ID, timestamp: NOW, body: BODY, secrets: [pair.secret] })['webhook-signature'];
    const bogus = `v1a,${Buffer.alloc(64, 1).toString('base64')}`;
    const header = (padding: number) => ({
      'webhook-id': ID,
      'webhook-timestamp': String(NOW),
      'webhook-signature': [...Array.from({ length: padding }, () => bogus), real].join(' '),
    });
    const verify = (padding: number) => () =>
      verifyWebhook({ headers: header(padding), body: BODY, publicKeys: pair.publicKey, now: CLOCK });
    expect(verify(MAX_V1A_ENTRIES - 1)().id).toBe(ID);
    expect(rejection(verify(MAX_V1A_ENTRIES)).reason).toBe('invalid_signature');
  });

  it('refuses a private whsk_ key or a malformed key as a public key, without quoting it', () => {
    const pair = generateSigningKeyPair();
    const headers = signed({ id: ID, timestamp: NOW, body: BODY, secrets: [pair.secret] });
    const attempt = (publicKeys: string) => () =>
      verifyWebhook({ headers, body: BODY, publicKeys, now: CLOCK });
    expect(attempt(pair.secret)).toThrow(/private signing key/);
    expect(attempt('whpk_AAAA')).toThrow(InvalidSecretError);
    expect(() => verifyWebhook({ headers, body: BODY, now: CLOCK })).toThrow(
      /secret or public key is required/,
    );
    try {
      attempt(pair.secret)();
    } catch (error) {
      expect((error as Error).message).not.toContain(pair.secret.slice(5, 30));
    }
  });
});
