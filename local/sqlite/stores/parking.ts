import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { StoredDelivery } from '../../../lambdas/core/model.js';
import type { ParkedDeliveryRecord, ParkingStore } from '../../../lambdas/core/ports.js';
import { fromDoc } from './schema.js';
import type { TurnBatch } from './turn-batch.js';

/*
 * Parking of an open circuit's deliveries (lambdas/core/parking.ts) in `store_subscriptions` and
 * `store_deliveries`, with the semantics of lambdas/adapters/dynamo-parking.ts: each change is one
 * conditional statement; parked deliveries are listed oldest first through the status index.
 */

export class SqliteParkingStore implements ParkingStore {
  private readonly setParked: StatementSync;
  private readonly clearParked: StatementSync;
  private readonly upsertParked: StatementSync;
  private readonly selectParked: StatementSync;
  private readonly setPending: StatementSync;

  constructor(
    db: DatabaseSync,
    private readonly batch: TurnBatch,
  ) {
    this.setParked = db.prepare(
      `UPDATE store_subscriptions SET doc = json_set(doc, '$.parkedSince', ?)
       WHERE brand = ? AND id = ? AND json_type(doc, '$.parkedSince') IS NULL`,
    );
    this.clearParked = db.prepare(
      `UPDATE store_subscriptions SET doc = json_set(json_remove(doc, '$.parkedSince'), '$.circuitClosedAt', ?)
       WHERE brand = ? AND id = ? AND doc ->> '$.parkedSince' = ?`,
    );
    // The new document with the stored createdAt and attempts (none for a delivery parked at once).
    this.upsertParked = db.prepare(
      `INSERT INTO store_deliveries (subscription_id, id, status, expires_at, doc)
       VALUES (:subscriptionId, :id, 'parked', :expiresAt, :doc)
       ON CONFLICT (subscription_id, id) DO UPDATE SET status = 'parked', expires_at = excluded.expires_at,
         doc = json_set(excluded.doc,
           '$.createdAt', coalesce(doc ->> '$.createdAt', excluded.doc ->> '$.createdAt'),
           '$.attempts', json(coalesce(doc -> '$.attempts', '[]')))`,
    );
    this.selectParked = db.prepare(
      `SELECT doc FROM store_deliveries WHERE subscription_id = ? AND status = 'parked' ORDER BY id LIMIT ?`,
    );
    this.setPending = db.prepare(
      `UPDATE store_deliveries
       SET status = 'pending',
         doc = json_remove(json_set(doc, '$.status', 'pending', '$.updatedAt', ?), '$.parkedAt', '$.runAttemptsBefore')
       WHERE subscription_id = ? AND id = ? AND status = 'parked' AND doc ->> '$.parkedAt' = ?`,
    );
  }

  async parkSubscription(brand: string, id: string, since: string): Promise<boolean> {
    return this.batch.write(() => this.setParked.run(since, brand, id).changes > 0);
  }

  async unparkSubscription(brand: string, id: string, since: string, at: string): Promise<boolean> {
    return this.batch.write(() => this.clearParked.run(at, brand, id, since).changes > 0);
  }

  async parkDelivery({ delivery, expiresAt }: ParkedDeliveryRecord): Promise<void> {
    const { nextAttemptAt: _next, failureReason: _reason, ...fields } = delivery;
    const doc = JSON.stringify({ ...fields, status: 'parked', attempts: [], updatedAt: delivery.parkedAt });
    await this.batch.write(() =>
      this.upsertParked.run({ subscriptionId: delivery.subscriptionId, id: delivery.id, expiresAt, doc }),
    );
  }

  async listParked(subscriptionId: string, limit: number): Promise<StoredDelivery[]> {
    return this.selectParked
      .all(subscriptionId, limit)
      .map((row) => fromDoc<StoredDelivery>(row) as StoredDelivery);
  }

  async unparkDelivery(
    subscriptionId: string,
    deliveryId: string,
    parkedAt: string,
    at: string,
  ): Promise<boolean> {
    return this.batch.write(() => this.setPending.run(at, subscriptionId, deliveryId, parkedAt).changes > 0);
  }
}
