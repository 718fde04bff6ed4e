import type { DatabaseSync } from 'node:sqlite';
import { inTransaction } from '../database.js';

/*
 * Group commit for the delivery path's writes. A commit of one small write costs about as much as the
 * write itself several times over (the WAL frames of every page it touched, the locks), so the writes
 * asked for in one event-loop turn are run together, in one transaction, when the turn ends; each
 * caller's promise settles after that commit, with its own result or error (as the DynamoDB adapters
 * coalesce a turn's writes into one BatchWriteItem). Under load a turn holds many writes; idle, one.
 * A write asked for inside a transaction (the caller's inTransaction) runs at once, as part of it.
 */

interface PendingWrite {
  readonly write: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export class TurnBatch {
  private pending: PendingWrite[] = [];

  constructor(private readonly db: DatabaseSync) {}

  /** Runs `write` with the other writes of this turn in one transaction; settles after the commit. */
  write<T>(write: () => T): Promise<T> {
    if (this.db.isTransaction) {
      try {
        return Promise.resolve(write());
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ write, resolve: resolve as (value: unknown) => void, reject });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      inTransaction(this.db, () => {
        for (const { write } of batch) {
          // A savepoint each: a write that fails leaves nothing, and the others still commit.
          try {
            outcomes.push({ ok: true, value: inTransaction(this.db, write) });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      for (const { reject } of batch) reject(error);
      return;
    }
    batch.forEach(({ resolve, reject }, index) => {
      const outcome = outcomes[index];
      if (outcome?.ok) resolve(outcome.value);
      else reject(outcome?.error);
    });
  }
}

const batches = new WeakMap<DatabaseSync, TurnBatch>();

/** The one group commit of a database, shared by every store (and queue) writing to it. */
export function turnBatchFor(db: DatabaseSync): TurnBatch {
  let batch = batches.get(db);
  if (!batch) {
    batch = new TurnBatch(db);
    batches.set(db, batch);
  }
  return batch;
}
