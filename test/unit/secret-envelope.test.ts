import { describe, expect, it } from 'vitest';
import {
  type DataKey,
  isSealed,
  openWithKey,
  parseEnvelope,
  SecretDecryptionError,
  sealWithKey,
  secretAad,
} from '../../lambdas/core/secret-envelope.js';

const KEY: DataKey = {
  plaintext: Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex'),
  wrapped: 'test.key-1',
};
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const AAD = secretAad('acme', 'sub_AAAAAAAAAAAAAAAA', 'secrets.*.secret');
// Sealed once with KEY and AAD and hard-coded: a later build must keep reading what earlier ones wrote.
const KNOWN_ENVELOPE =
  'enc:v1:test.key-1:Px_b6jIyI1GrKlad:grIihiWlQazdaSXukXyY55KihqdlXGoca3RlyIy7KvK9YlFvlLBiw1jDyNfjB75o1GTOic3L';

function open(value: string, aad = AAD, key = KEY.plaintext): string {
  return openWithKey(parseEnvelope(value), key, aad);
}

/** `value` with one character of its ciphertext part changed. */
function tampered(value: string): string {
  const at = value.length - 10;
  return `${value.slice(0, at)}${value[at] === 'A' ? 'B' : 'A'}${value.slice(at + 1)}`;
}

describe('the secret envelope', () => {
  it('decrypts what it encrypted, and names the wrapped key in the clear prefix only', () => {
    const sealed = sealWithKey(SECRET, KEY, AAD);

    expect(sealed).toMatch(/^enc:v1:test\.key-1:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain('whsec_');
    expect(isSealed(sealed)).toBe(true);
    expect(open(sealed)).toBe(SECRET);
  });

  it('encrypts the same secret differently each time (a fresh IV per value)', () => {
    expect(sealWithKey(SECRET, KEY, AAD)).not.toBe(sealWithKey(SECRET, KEY, AAD));
  });

  it('still reads the value format version 1 was first written in', () => {
    expect(open(KNOWN_ENVELOPE)).toBe(SECRET);
  });

  it('refuses a value moved to another subscription, brand or field', () => {
    const sealed = sealWithKey(SECRET, KEY, AAD);

    for (const aad of [
      secretAad('acme', 'sub_BBBBBBBBBBBBBBBB', 'secrets.*.secret'),
      secretAad('globex', 'sub_AAAAAAAAAAAAAAAA', 'secrets.*.secret'),
      secretAad('acme', 'sub_AAAAAAAAAAAAAAAA', 'tls.clientKey'),
    ]) {
      expect(() => open(sealed, aad)).toThrow(SecretDecryptionError);
    }
  });

  it('refuses a tampered ciphertext and a wrong data key, without quoting the value', () => {
    const sealed = sealWithKey(SECRET, KEY, AAD);
    const otherKey = Buffer.alloc(32, 7);

    expect(() => open(tampered(sealed))).toThrow(SecretDecryptionError);
    expect(() => open(sealed, AAD, otherKey)).toThrow(/altered or belongs to another record/);
  });

  it('refuses a malformed value as malformed, not as a plaintext', () => {
    for (const value of [
      'enc:v1:',
      'enc:v1:k:AAAA:BBBB',
      'enc:v1:k::x',
      'enc:v1:a:b:c:d',
      'enc:v1:k@y:AAAAAAAAAAAAAAAA:x',
    ]) {
      expect(() => parseEnvelope(value)).toThrow(/malformed/);
    }
  });

  it('takes anything without the prefix for a plaintext written before encryption', () => {
    expect(isSealed(SECRET)).toBe(false);
    expect(isSealed('-----BEGIN PRIVATE KEY-----')).toBe(false);
  });

  it('refuses to seal with a key that is not 32 bytes or a wrapped form that would break the format', () => {
    expect(() => sealWithKey(SECRET, { ...KEY, plaintext: Buffer.alloc(16) }, AAD)).toThrow(/32 bytes/);
    expect(() => sealWithKey(SECRET, { ...KEY, wrapped: 'a:b' }, AAD)).toThrow(/wrapped data key/);
  });
});
