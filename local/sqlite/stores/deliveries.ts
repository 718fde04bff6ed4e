import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { decodeCursor, encodeCursor } from '../../../lambdas/adapters/dynamo-common.js';
import { deliveryIdTimePrefix } from '../../../lambdas/core/ids.js';
import type { DeliveryStatus, StoredDelivery } from '../../../lambdas/core/model.js';
import type { DeliveryAttemptRecord, DeliveryStore, Page, PageRequest } from '../../../lambdas/core/ports.js';
import { fromDoc } from './schema.js';
import type { TurnBatch } from './turn-batch.js';

/*
 * Deliveries in `store_deliveries`, with the semantics of lambdas/adapters/dynamo-deliveries.ts: a first
 * attempt that succeeded is written whole; any other attempt creates the delivery or sets its fields and
 * appends the attempt, keeping its `createdAt` (one upsert, so atomic). Delivery ids start with the
 * event's arrival time, so id order is time order: listings newest first (by status through an index),
 * `listBetween` oldest first, with the same opaque cursors. Writes commit with the other writes of their
 * turn (./turn-batch.ts).
 */

const DELIVERY_ID = /^dlv_[0-9a-z]{9}[0-9a-f]{16}$/;
/** Sorts after every delivery id character: the open end of a range. */
const AFTER_EVERY_ID = '~';

type Row = Record<string, unknown>;

export class SqliteDeliveryStore implements DeliveryStore {
  private readonly putWhole: StatementSync;
  private readonly appendAttempt: StatementSync;
  private readonly setPending: StatementSync;
  private readonly selectOne: StatementSync;
  private readonly selectPage: StatementSync;
  private readonly selectPageByStatus: StatementSync;
  private readonly selectBetween: StatementSync;

  constructor(
    db: DatabaseSync,
    private readonly batch: TurnBatch,
  ) {
    const insert = `INSERT INTO store_deliveries (subscription_id, id, status, expires_at, doc)
       VALUES (:subscriptionId, :id, :status, :expiresAt, :doc)
       ON CONFLICT (subscription_id, id) DO UPDATE SET status = excluded.status, expires_at = excluded.expires_at`;
    this.putWhole = db.prepare(`${insert}, doc = excluded.doc`);
    // The new document with the stored createdAt and the stored attempts followed by the new one.
    this.appendAttempt = db.prepare(
      `${insert}, doc = json_set(excluded.doc,
         '$.createdAt', coalesce(doc ->> '$.createdAt', excluded.doc ->> '$.createdAt'),
         '$.attempts', json_insert(json(coalesce(doc -> '$.attempts', '[]')), '$[#]', json(excluded.doc -> '$.attempts[0]')))`,
    );
    this.setPending = db.prepare(
      `UPDATE store_deliveries
       SET status = 'pending', doc = json_remove(json_set(doc, '$.status', 'pending', '$.updatedAt', ?), '$.failureReason')
       WHERE subscription_id = ? AND id = ?`,
    );
    this.selectOne = db.prepare('SELECT doc FROM store_deliveries WHERE subscription_id = ? AND id = ?');
    this.selectPage = db.prepare(
      'SELECT doc FROM store_deliveries WHERE subscription_id = ? AND id < ? ORDER BY id DESC LIMIT ?',
    );
    this.selectPageByStatus = db.prepare(
      `SELECT doc FROM store_deliveries WHERE subscription_id = ? AND status = ? AND id < ?
       ORDER BY id DESC LIMIT ?`,
    );
    this.selectBetween = db.prepare(
      `SELECT doc FROM store_deliveries WHERE subscription_id = ? AND id BETWEEN ? AND ?
       ORDER BY id LIMIT ?`,
    );
  }

  async recordAttempt({ delivery, attempt, expiresAt }: DeliveryAttemptRecord): Promise<void> {
    const doc = JSON.stringify({ ...delivery, attempts: [attempt], updatedAt: attempt.at });
    const row = {
      subscriptionId: delivery.subscriptionId,
      id: delivery.id,
      status: delivery.status,
      expiresAt,
      doc,
    };
    // The common case, a success at the first attempt, is the whole record (as DynamoDB's PutItem).
    const statement =
      attempt.attempt === 1 && delivery.status === 'succeeded' ? this.putWhole : this.appendAttempt;
    await this.batch.write(() => statement.run(row));
  }

  async markPending(subscriptionId: string, deliveryId: string, at: string): Promise<boolean> {
    return this.batch.write(() => this.setPending.run(at, subscriptionId, deliveryId).changes > 0);
  }

  async get(subscriptionId: string, deliveryId: string): Promise<StoredDelivery | undefined> {
    return fromDoc<StoredDelivery>(this.selectOne.get(subscriptionId, deliveryId));
  }

  async list(
    subscriptionId: string,
    filter: { status?: DeliveryStatus } & PageRequest,
  ): Promise<Page<StoredDelivery>> {
    const { status, limit, cursor } = filter;
    // The cursor carries the last delivery id only; the listing stays inside this subscription.
    const before = cursor === undefined ? AFTER_EVERY_ID : decodeCursor(cursor, DELIVERY_ID);
    const rows: Row[] =
      status === undefined
        ? this.selectPage.all(subscriptionId, before, limit + 1)
        : this.selectPageByStatus.all(subscriptionId, status, before, limit + 1);
    const items = rows.slice(0, limit).map((row) => fromDoc<StoredDelivery>(row) as StoredDelivery);
    const last = rows.length > limit ? items.at(-1)?.id : undefined;
    return last === undefined ? { items } : { items, cursor: encodeCursor(last) };
  }

  async listBetween(
    subscriptionId: string,
    since: string,
    until: string,
    limit: number,
  ): Promise<StoredDelivery[]> {
    // The upper bound includes every delivery of `until`'s millisecond.
    const from = `dlv_${deliveryIdTimePrefix(since)}`;
    const to = `dlv_${deliveryIdTimePrefix(until)}${AFTER_EVERY_ID}`;
    return this.selectBetween
      .all(subscriptionId, from, to, limit)
      .map((row) => fromDoc<StoredDelivery>(row) as StoredDelivery);
  }
}
