import { EncryptingSubscriptionStore } from '../adapters/encrypting-subscription-store.js';
import { KeyFileDataKeyProvider } from '../adapters/key-file-data-keys.js';
import { KmsDataKeyProvider } from '../adapters/kms-data-keys.js';
import type { Config } from '../config.js';
import type { SubscriptionStore } from '../core/ports.js';
import { SecretBox } from '../core/secret-box.js';
import { kmsClient } from './clients.js';
import { storesFor } from './deps.js';

/*
 * Encryption of secret fields at rest, for the handlers that read or write secrets (api: create, update,
 * rotate; deliver: signs). One SecretBox per container, so its cache of data keys outlives invocations.
 * The route function never reads a secret, so it neither imports this (nor the KMS client) nor may decrypt
 * (lib/webhooks-service.ts).
 */

let box: { readonly key: string; readonly box: SecretBox } | undefined;

/** The container's SecretBox for the configured key; undefined when none is configured. */
export function secretBoxFor(config: Config): SecretBox | undefined {
  const secretsKey = config.secretsKey;
  if (!secretsKey) return undefined;
  const key = JSON.stringify(secretsKey);
  if (box?.key !== key) {
    const provider =
      'kmsKeyId' in secretsKey
        ? new KmsDataKeyProvider(kmsClient(), secretsKey.kmsKeyId)
        : KeyFileDataKeyProvider.open(secretsKey.keyFile);
    box = { key, box: new SecretBox(provider) };
  }
  return box.box;
}

/** `store` with its secret fields encrypted at rest, when a key is configured. */
export function withEncryptedSecrets(store: SubscriptionStore, config: Config): SubscriptionStore {
  const secretBox = secretBoxFor(config);
  return secretBox ? new EncryptingSubscriptionStore(store, secretBox) : store;
}

/** storesFor, with the subscriptions' secret fields encrypted at rest when a key is configured. */
export function storesWithSecretsFor(config: Config) {
  const stores = storesFor(config);
  return { ...stores, subscriptions: withEncryptedSecrets(stores.subscriptions, config) };
}
