import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { RateLimiter, RateReservation } from '../../../lambdas/core/ports.js';
import { reservationOf, takeSlot } from '../../../lambdas/core/rate-limit.js';
import type { TurnBatch } from './turn-batch.js';

/*
 * Rate buckets (`store_rate_buckets`), with the semantics of lambdas/adapters/dynamo-rate-limiter.ts: a
 * subscription's next token due time, read and moved on in one write of the turn's transaction
 * (./turn-batch.ts), so two reservations never get the same slot. Expire a day after their last use.
 */

/** A bucket unused for a day is removed by the expiry sweep (./expiry.ts). */
const KEEP_SECONDS = 24 * 60 * 60;

export class SqliteRateLimiter implements RateLimiter {
  private readonly selectDue: StatementSync;
  private readonly upsertDue: StatementSync;

  constructor(
    db: DatabaseSync,
    private readonly batch: TurnBatch,
  ) {
    this.selectDue = db.prepare('SELECT due_at FROM store_rate_buckets WHERE key = ?');
    this.upsertDue = db.prepare(
      `INSERT INTO store_rate_buckets (key, due_at, expires_at) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET due_at = excluded.due_at, expires_at = excluded.expires_at`,
    );
  }

  reserve(key: string, perSecond: number, nowMs: number, horizonMs: number): Promise<RateReservation> {
    return this.batch.write(() => {
      const row = this.selectDue.get(key) as { due_at: number } | undefined;
      const step = takeSlot(row?.due_at, perSecond, nowMs, horizonMs);
      if (step.granted) {
        this.upsertDue.run(key, step.nextDueMs, Math.ceil(step.nextDueMs / 1000) + KEEP_SECONDS);
      }
      return reservationOf(step);
    });
  }
}
