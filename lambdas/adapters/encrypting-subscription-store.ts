import type { EntityName } from '../core/catalogue.js';
import type { Subscription } from '../core/model.js';
import type { Page, PageRequest, SubscriptionStore } from '../core/ports.js';
import type { SecretBox } from '../core/secret-box.js';
import { isSealed, secretAad } from '../core/secret-envelope.js';
import { mapSecretFields, SUBSCRIPTION_SECRET_FIELDS } from '../core/secret-fields.js';

/*
 * A SubscriptionStore that keeps secret fields (lambdas/core/secret-fields.ts) encrypted in the store it
 * wraps, whichever that is (DynamoDB, SQLite): each is encrypted before every write and decrypted after
 * every read. A field written in clear by an older build reads as it is and is encrypted the next time its
 * record is written. The partial updates (health marks, disable, delete) write no secret and pass through.
 */

export class EncryptingSubscriptionStore implements SubscriptionStore {
  constructor(
    private readonly inner: SubscriptionStore,
    private readonly box: SecretBox,
    private readonly secretFields: readonly string[] = SUBSCRIPTION_SECRET_FIELDS,
  ) {}

  async create(subscription: Subscription, maxPerBrand: number): Promise<void> {
    await this.inner.create(await this.encrypt(subscription), maxPerBrand);
  }

  async get(brand: string, id: string): Promise<Subscription | undefined> {
    const stored = await this.inner.get(brand, id);
    return stored && this.decrypt(stored);
  }

  async list(brand: string, page: PageRequest): Promise<Page<Subscription>> {
    const stored = await this.inner.list(brand, page);
    return { ...stored, items: await Promise.all(stored.items.map((item) => this.decrypt(item))) };
  }

  async listActive(brand: string, entity: EntityName): Promise<Subscription[]> {
    const stored = await this.inner.listActive(brand, entity);
    return Promise.all(stored.map((item) => this.decrypt(item)));
  }

  async replace(next: Subscription, previousName: string): Promise<void> {
    await this.inner.replace(await this.encrypt(next), previousName);
  }

  delete(brand: string, id: string): Promise<boolean> {
    return this.inner.delete(brand, id);
  }

  markFailing(brand: string, id: string, since: string): Promise<void> {
    return this.inner.markFailing(brand, id, since);
  }

  markHealthy(brand: string, id: string): Promise<void> {
    return this.inner.markHealthy(brand, id);
  }

  disable(brand: string, id: string, reason: string, at: string): Promise<void> {
    return this.inner.disable(brand, id, reason, at);
  }

  private encrypt(subscription: Subscription): Promise<Subscription> {
    return mapSecretFields(subscription, this.secretFields, (value, path) => {
      // Reads return plaintext, so an encrypted value here means a store wrapped twice: never seal twice.
      if (isSealed(value)) throw new Error(`${path} is already encrypted: is the store wrapped twice?`);
      return this.box.seal(value, secretAad(subscription.brand, subscription.id, path));
    });
  }

  private decrypt(subscription: Subscription): Promise<Subscription> {
    return mapSecretFields(subscription, this.secretFields, (value, path) =>
      this.box.open(value, secretAad(subscription.brand, subscription.id, path)),
    );
  }

  noteCertificateExpiring(brand: string, id: string, fingerprint256: string): Promise<boolean> {
    return this.inner.noteCertificateExpiring(brand, id, fingerprint256);
  }
}
