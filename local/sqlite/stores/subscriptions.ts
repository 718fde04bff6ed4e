import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { decodeCursor, encodeCursor } from '../../../lambdas/adapters/dynamo-common.js';
import type { EntityName } from '../../../lambdas/core/catalogue.js';
import {
  ClientError,
  subscriptionNameTaken,
  subscriptionQuotaReached,
} from '../../../lambdas/core/errors.js';
import type { Subscription } from '../../../lambdas/core/model.js';
import type { Page, PageRequest, SubscriptionStore } from '../../../lambdas/core/ports.js';
import { fromDoc, isUniqueTaken } from './schema.js';
import type { TurnBatch } from './turn-batch.js';

/*
 * Subscriptions in `store_subscriptions`, with the semantics of lambdas/adapters/dynamo-subscriptions.ts:
 * names unique per brand ignoring case (a UNIQUE index instead of a name-lock item), replace conditional
 * on the version, listings in id order with the same opaque cursors. Every method is one statement, so
 * each change is atomic. The delivery path's health marks commit with the other writes of their turn
 * (./turn-batch.ts); the API's changes commit at once.
 */

const SUBSCRIPTION_ID = /^sub_[A-Za-z0-9_-]{16}$/;

/** The columns of a subscription besides its document. */
const columns = (subscription: Subscription) => ({
  brand: subscription.brand,
  id: subscription.id,
  nameKey: subscription.name.toLowerCase(),
  entity: subscription.entity,
  status: subscription.status,
  version: subscription.version,
  doc: JSON.stringify(subscription),
});

export class SqliteSubscriptionStore implements SubscriptionStore {
  private readonly insert: StatementSync;
  private readonly selectOne: StatementSync;
  private readonly selectPage: StatementSync;
  private readonly selectActive: StatementSync;
  private readonly updateIfVersion: StatementSync;
  private readonly deleteOne: StatementSync;
  private readonly countBrand: StatementSync;
  private readonly setFailing: StatementSync;
  private readonly clearFailing: StatementSync;
  private readonly setDisabled: StatementSync;
  private readonly setExpiryNoticed: StatementSync;

  constructor(
    db: DatabaseSync,
    private readonly batch: TurnBatch,
  ) {
    this.insert = db.prepare(
      `INSERT INTO store_subscriptions (brand, id, name_key, entity, status, version, doc)
       VALUES (:brand, :id, :nameKey, :entity, :status, :version, :doc)`,
    );
    this.selectOne = db.prepare('SELECT doc FROM store_subscriptions WHERE brand = ? AND id = ?');
    this.selectPage = db.prepare(
      'SELECT doc, id FROM store_subscriptions WHERE brand = ? AND id > ? ORDER BY id LIMIT ?',
    );
    this.selectActive = db.prepare(
      `SELECT doc FROM store_subscriptions WHERE brand = ? AND entity = ? AND status = 'active' ORDER BY id`,
    );
    this.updateIfVersion = db.prepare(
      `UPDATE store_subscriptions
       SET name_key = :nameKey, entity = :entity, status = :status, version = :version, doc = :doc
       WHERE brand = :brand AND id = :id AND version = :version - 1`,
    );
    this.deleteOne = db.prepare('DELETE FROM store_subscriptions WHERE brand = ? AND id = ?');
    this.countBrand = db.prepare('SELECT COUNT(*) AS count FROM store_subscriptions WHERE brand = ?');
    this.setFailing = db.prepare(
      `UPDATE store_subscriptions SET doc = json_set(doc, '$.failingSince', ?)
       WHERE brand = ? AND id = ? AND json_type(doc, '$.failingSince') IS NULL`,
    );
    this.clearFailing = db.prepare(
      `UPDATE store_subscriptions SET doc = json_remove(doc, '$.failingSince')
       WHERE brand = ? AND id = ? AND json_type(doc, '$.failingSince') IS NOT NULL`,
    );
    this.setDisabled = db.prepare(
      `UPDATE store_subscriptions
       SET status = 'disabled', version = version + 1,
           doc = json_set(doc, '$.status', 'disabled', '$.disabledReason', :reason, '$.updatedAt', :at,
                          '$.version', version + 1)
       WHERE brand = :brand AND id = :id`,
    );
    this.setExpiryNoticed = db.prepare(
      `UPDATE store_subscriptions SET doc = json_set(doc, '$.certificateExpiryNoticed', :fingerprint)
       WHERE brand = :brand AND id = :id
         AND coalesce(json_extract(doc, '$.certificateExpiryNoticed'), '') <> :fingerprint`,
    );
  }

  async create(subscription: Subscription, maxPerBrand: number): Promise<void> {
    // Synchronous from the count to the insert: no other statement of this process runs between them.
    const { count } = this.countBrand.get(subscription.brand) as { count: number };
    if (count >= maxPerBrand) throw subscriptionQuotaReached(maxPerBrand);
    try {
      this.insert.run(columns(subscription));
    } catch (error) {
      if (isUniqueTaken(error)) throw subscriptionNameTaken(subscription.name);
      throw error;
    }
  }

  async get(brand: string, id: string): Promise<Subscription | undefined> {
    return fromDoc<Subscription>(this.selectOne.get(brand, id));
  }

  async list(brand: string, page: PageRequest): Promise<Page<Subscription>> {
    // The cursor carries the last id only; the listing stays inside the caller's brand.
    const after = page.cursor === undefined ? '' : decodeCursor(page.cursor, SUBSCRIPTION_ID);
    const rows = this.selectPage.all(brand, after, page.limit + 1);
    const items = rows.slice(0, page.limit).map((row) => fromDoc<Subscription>(row) as Subscription);
    const last = rows.length > page.limit ? items.at(-1)?.id : undefined;
    return last === undefined ? { items } : { items, cursor: encodeCursor(last) };
  }

  async listActive(brand: string, entity: EntityName): Promise<Subscription[]> {
    return this.selectActive.all(brand, entity).map((row) => fromDoc<Subscription>(row) as Subscription);
  }

  async replace(next: Subscription, _previousName: string): Promise<void> {
    // The row holds its own name: the UNIQUE index checks the new one, whatever the previous one was.
    let changes: number | bigint;
    try {
      ({ changes } = this.updateIfVersion.run(columns(next)));
    } catch (error) {
      if (isUniqueTaken(error)) throw subscriptionNameTaken(next.name);
      throw error;
    }
    if (changes === 0) {
      throw new ClientError(409, 'conflict', 'The subscription was changed meanwhile; read it again');
    }
  }

  async delete(brand: string, id: string): Promise<boolean> {
    return this.deleteOne.run(brand, id).changes > 0;
  }

  async markFailing(brand: string, id: string, since: string): Promise<void> {
    await this.batch.write(() => this.setFailing.run(since, brand, id));
  }

  async markHealthy(brand: string, id: string): Promise<void> {
    await this.batch.write(() => this.clearFailing.run(brand, id));
  }

  async disable(brand: string, id: string, reason: string, at: string): Promise<void> {
    await this.batch.write(() => this.setDisabled.run({ brand, id, reason, at }));
  }

  async noteCertificateExpiring(brand: string, id: string, fingerprint256: string): Promise<boolean> {
    const { changes } = await this.batch.write(() =>
      this.setExpiryNoticed.run({ brand, id, fingerprint: fingerprint256 }),
    );
    return Number(changes) > 0;
  }
}
