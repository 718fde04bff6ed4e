import {
  type DataKey,
  type DataKeyProvider,
  isSealed,
  openWithKey,
  parseEnvelope,
  sealWithKey,
} from './secret-envelope.js';

/*
 * Encrypts and decrypts secret values with data keys from a provider, caching them for the container's
 * life so a delivery does not pay a KMS call (docs/DECISIONS.md "Secrets at rest"):
 * - one generated data key seals up to `maxUsesPerDataKey` values or for `dataKeyMaxAgeMs`, whichever
 *   ends first, then a new one is generated;
 * - an unwrapped data key is kept by its wrapped form, at most `maxUnwrappedKeys` of them (least recently
 *   used evicted) and each for `unwrappedKeyMaxAgeMs`, so a revoked KMS key stops working within that time.
 * Concurrent requests for the same key share one provider call.
 */

export interface SecretBoxOptions {
  readonly maxUsesPerDataKey: number;
  readonly dataKeyMaxAgeMs: number;
  readonly maxUnwrappedKeys: number;
  readonly unwrappedKeyMaxAgeMs: number;
  readonly now: () => number;
}

export const DEFAULT_SECRET_BOX_OPTIONS: SecretBoxOptions = {
  maxUsesPerDataKey: 10_000,
  dataKeyMaxAgeMs: 5 * 60 * 1000,
  maxUnwrappedKeys: 1_000,
  unwrappedKeyMaxAgeMs: 60 * 60 * 1000,
  now: Date.now,
};

interface CurrentKey {
  readonly key: DataKey;
  readonly createdAt: number;
  uses: number;
}

interface UnwrappedKey {
  readonly plaintext: Uint8Array;
  readonly unwrappedAt: number;
}

export class SecretBox {
  private readonly options: SecretBoxOptions;
  private current: CurrentKey | undefined;
  private generating: Promise<void> | undefined;
  /** Insertion order is recency: a hit is moved to the end, the first entry is the least recently used. */
  private readonly unwrapped = new Map<string, UnwrappedKey>();
  private readonly unwrapping = new Map<string, Promise<Uint8Array>>();

  constructor(
    private readonly provider: DataKeyProvider,
    options: Partial<SecretBoxOptions> = {},
  ) {
    this.options = { ...DEFAULT_SECRET_BOX_OPTIONS, ...options };
    const { maxUsesPerDataKey, dataKeyMaxAgeMs, maxUnwrappedKeys } = this.options;
    if (!(maxUsesPerDataKey >= 1 && dataKeyMaxAgeMs > 0 && maxUnwrappedKeys >= 1)) {
      throw new Error('SecretBox: a data key must be usable at least once, for some time, and cached');
    }
  }

  /** The encrypted form of `plaintext`, bound to `aad`. */
  async seal(plaintext: string, aad: string): Promise<string> {
    return sealWithKey(plaintext, await this.reserveKey(), aad);
  }

  /** The plaintext of an encrypted value; a value not in the encrypted form (a legacy plaintext) as is. */
  async open(value: string, aad: string): Promise<string> {
    if (!isSealed(value)) return value;
    const envelope = parseEnvelope(value);
    return openWithKey(envelope, await this.unwrap(envelope.wrapped), aad);
  }

  /** The current data key, counted as used once; a new one when it is used up or too old. */
  private async reserveKey(): Promise<DataKey> {
    for (;;) {
      const current = this.current;
      if (
        current &&
        current.uses < this.options.maxUsesPerDataKey &&
        this.options.now() - current.createdAt < this.options.dataKeyMaxAgeMs
      ) {
        current.uses++;
        return current.key;
      }
      this.generating ??= this.generate().finally(() => {
        this.generating = undefined;
      });
      await this.generating;
    }
  }

  private async generate(): Promise<void> {
    const key = await this.provider.generate();
    this.current = { key, createdAt: this.options.now(), uses: 0 };
    // What this container sealed, it can read back without unwrapping.
    this.remember(key.wrapped, key.plaintext);
  }

  private async unwrap(wrapped: string): Promise<Uint8Array> {
    const cached = this.unwrapped.get(wrapped);
    if (cached && this.options.now() - cached.unwrappedAt < this.options.unwrappedKeyMaxAgeMs) {
      this.unwrapped.delete(wrapped);
      this.unwrapped.set(wrapped, cached);
      return cached.plaintext;
    }
    let pending = this.unwrapping.get(wrapped);
    if (!pending) {
      pending = this.provider
        .decrypt(wrapped)
        .then((plaintext) => {
          this.remember(wrapped, plaintext);
          return plaintext;
        })
        .finally(() => this.unwrapping.delete(wrapped));
      this.unwrapping.set(wrapped, pending);
    }
    return pending;
  }

  private remember(wrapped: string, plaintext: Uint8Array): void {
    this.unwrapped.delete(wrapped);
    this.unwrapped.set(wrapped, { plaintext, unwrappedAt: this.options.now() });
    while (this.unwrapped.size > this.options.maxUnwrappedKeys) {
      const oldest = this.unwrapped.keys().next().value;
      if (oldest === undefined) break;
      this.unwrapped.delete(oldest);
    }
  }
}
