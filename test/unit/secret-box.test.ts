import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox } from '../../lambdas/core/secret-box.js';
import { type DataKey, type DataKeyProvider, secretAad } from '../../lambdas/core/secret-envelope.js';

/** A provider that keeps its data keys in memory and counts its calls, as KMS would bill them. */
class CountingProvider implements DataKeyProvider {
  generated = 0;
  decrypted = 0;
  private readonly keys = new Map<string, Uint8Array>();

  async generate(): Promise<DataKey> {
    this.generated++;
    const key = { plaintext: randomBytes(32), wrapped: `mem.${this.generated}` };
    this.keys.set(key.wrapped, key.plaintext);
    return key;
  }

  async decrypt(wrapped: string): Promise<Uint8Array> {
    this.decrypted++;
    const key = this.keys.get(wrapped);
    if (!key) throw new Error('unknown data key');
    return key;
  }
}

const AAD = secretAad('acme', 'sub_AAAAAAAAAAAAAAAA', 'secrets.*.secret');
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

function aClock(start = 0) {
  const clock = { at: start, now: () => clock.at };
  return clock;
}

describe('SecretBox', () => {
  it('seals many values with one data key, and reads its own values back without unwrapping', async () => {
    const provider = new CountingProvider();
    const box = new SecretBox(provider);

    const sealed = await Promise.all(Array.from({ length: 50 }, () => box.seal(SECRET, AAD)));
    const opened = await Promise.all(sealed.map((value) => box.open(value, AAD)));

    expect(opened.every((value) => value === SECRET)).toBe(true);
    expect(provider.generated).toBe(1);
    expect(provider.decrypted).toBe(0);
  });

  it('generates a new data key after the uses or the age a data key is allowed', async () => {
    const provider = new CountingProvider();
    const clock = aClock();
    const box = new SecretBox(provider, { maxUsesPerDataKey: 3, dataKeyMaxAgeMs: 1000, now: clock.now });

    for (let i = 0; i < 7; i++) await box.seal(SECRET, AAD);
    expect(provider.generated).toBe(3);

    clock.at += 1000;
    await box.seal(SECRET, AAD);
    expect(provider.generated).toBe(4);
  });

  it("unwraps another container's data key once for all its values, even asked at the same moment", async () => {
    const provider = new CountingProvider();
    const writer = new SecretBox(provider);
    const reader = new SecretBox(provider);
    const sealed = await Promise.all(Array.from({ length: 20 }, () => writer.seal(SECRET, AAD)));

    await Promise.all(sealed.map((value) => reader.open(value, AAD)));
    await reader.open(sealed[0] ?? '', AAD);

    expect(provider.decrypted).toBe(1);
  });

  it('unwraps a data key again once its cached plaintext is too old', async () => {
    const provider = new CountingProvider();
    const clock = aClock();
    const sealed = await new SecretBox(provider).seal(SECRET, AAD);
    const reader = new SecretBox(provider, { unwrappedKeyMaxAgeMs: 60_000, now: clock.now });

    await reader.open(sealed, AAD);
    clock.at += 59_999;
    await reader.open(sealed, AAD);
    clock.at += 1;
    await reader.open(sealed, AAD);

    expect(provider.decrypted).toBe(2);
  });

  it('keeps at most the configured number of unwrapped keys, evicting the least recently used', async () => {
    const provider = new CountingProvider();
    const writer = new SecretBox(provider, { maxUsesPerDataKey: 1 });
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => writer.seal(SECRET, AAD)));
    const reader = new SecretBox(provider, { maxUnwrappedKeys: 2 });

    for (const value of [a, b, a, c, a]) await reader.open(value ?? '', AAD);
    expect(provider.decrypted).toBe(3);
    await reader.open(b ?? '', AAD);
    expect(provider.decrypted).toBe(4);
  });

  it('returns a legacy plaintext as it is, without asking for a key', async () => {
    const provider = new CountingProvider();

    expect(await new SecretBox(provider).open(SECRET, AAD)).toBe(SECRET);
    expect(provider.decrypted + provider.generated).toBe(0);
  });

  it('lets a failed unwrap be tried again rather than caching the failure', async () => {
    const provider = new CountingProvider();
    const sealed = await new SecretBox(provider).seal(SECRET, AAD);
    const flaky: DataKeyProvider = {
      generate: () => provider.generate(),
      decrypt: async (wrapped) => {
        if (provider.decrypted++ === 0) throw new Error('throttled');
        return provider.decrypt(wrapped);
      },
    };
    const reader = new SecretBox(flaky);

    await expect(reader.open(sealed, AAD)).rejects.toThrow('throttled');
    expect(await reader.open(sealed, AAD)).toBe(SECRET);
  });
});
