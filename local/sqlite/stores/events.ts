import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { DeliveryEvent, EventClaim } from '../../../lambdas/core/model.js';
import type { EventStore, RejectedEvent, RejectedEventStore } from '../../../lambdas/core/ports.js';
import type { TurnBatch } from './turn-batch.js';

/*
 * Event claims (`store_event_claims`) and rejected events (`store_rejected_events`), with the semantics of
 * lambdas/adapters/dynamo-events.ts. A claim is one upsert: it inserts, or rewrites a claim of the same
 * envelope (SQS handing the envelope over again), and changes nothing for another envelope, so two copies
 * claimed at once cannot both win. Only the claim is stored, never the event's data. Writes commit with
 * the other writes of their turn (./turn-batch.ts).
 */

export class SqliteEventStore implements EventStore, RejectedEventStore {
  private readonly upsertClaim: StatementSync;
  private readonly insertRejected: StatementSync;

  constructor(
    db: DatabaseSync,
    private readonly batch: TurnBatch,
  ) {
    this.upsertClaim = db.prepare(
      `INSERT INTO store_event_claims (key, envelope_id, expires_at, doc) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at, doc = excluded.doc
       WHERE envelope_id = excluded.envelope_id`,
    );
    this.insertRejected = db.prepare(
      'INSERT INTO store_rejected_events (received_at, expires_at, doc) VALUES (?, ?, ?)',
    );
  }

  async claim(claim: EventClaim, expiresAt: number): Promise<boolean> {
    // The claim's fields alone, whatever else the object passed carries.
    const doc = JSON.stringify({
      key: claim.key,
      brand: claim.brand,
      envelopeId: claim.envelopeId,
      receivedAt: claim.receivedAt,
    });
    return this.batch.write(
      () => this.upsertClaim.run(claim.key, claim.envelopeId, expiresAt, doc).changes > 0,
    );
  }

  /** No build ever stored whole events in SQLite: there is no legacy event to read (ports.ts, LEGACY_EVENTS). */
  async getLegacy(_key: string): Promise<DeliveryEvent | undefined> {
    return undefined;
  }

  async putRejected(rejected: RejectedEvent, expiresAt: number): Promise<void> {
    // Only the fields a RejectedEvent names: never the event's data, whatever the caller passes.
    const doc = JSON.stringify({
      reason: rejected.reason,
      receivedAt: rejected.receivedAt,
      detailType: rejected.detailType,
      brand: rejected.brand,
      eventId: rejected.eventId,
    });
    await this.batch.write(() => this.insertRejected.run(rejected.receivedAt, expiresAt, doc));
  }
}
