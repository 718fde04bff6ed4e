import type { DatabaseSync } from 'node:sqlite';

/*
 * DynamoDB's TTL for the SQLite store: event claims, rejected events, deliveries and rate buckets carry
 * `expires_at` (epoch seconds, retentionDays after the event; console sessions: their hour) and a sweep
 * deletes those past it, in bounded batches so no single transaction holds the file for long. As with
 * DynamoDB TTL, an expired record stays readable until the sweep removes it; nothing filters on expiry
 * when reading (docs/DECISIONS.md, "Local runtime").
 */

/** Records deleted per statement: a few milliseconds of holding the write lock. */
const PURGE_BATCH = 500;
/** How often the sweeper runs by default. */
export const DEFAULT_EXPIRY_INTERVAL_MS = 10 * 60 * 1000;

const EXPIRING_TABLES = [
  'store_event_claims',
  'store_rejected_events',
  'store_deliveries',
  'store_console_sessions',
  'store_rate_buckets',
] as const;

/** Deletes every record whose expiry is at or before `nowEpochSeconds`; returns how many went. */
export function purgeExpired(db: DatabaseSync, nowEpochSeconds: number): number {
  let deleted = 0;
  for (const table of EXPIRING_TABLES) {
    const statement = db.prepare(
      `DELETE FROM ${table} WHERE rowid IN
         (SELECT rowid FROM ${table} WHERE expires_at <= ? ORDER BY expires_at LIMIT ${PURGE_BATCH})`,
    );
    for (;;) {
      const { changes } = statement.run(nowEpochSeconds);
      deleted += Number(changes);
      if (Number(changes) < PURGE_BATCH) break;
    }
  }
  return deleted;
}

export interface ExpirySweeper {
  stop(): void;
}

/**
 * Purges at once and then every `intervalMs` until stopped. A failure (the file busy too long) is
 * reported to `onError` and the next round tries again.
 */
export function startExpirySweeper(
  db: DatabaseSync,
  options: { intervalMs?: number; now?: () => Date; onError?: (error: unknown) => void } = {},
): ExpirySweeper {
  const now = options.now ?? (() => new Date());
  const sweep = () => {
    try {
      purgeExpired(db, Math.floor(now().getTime() / 1000));
    } catch (error) {
      options.onError?.(error);
    }
  };
  sweep();
  const timer = setInterval(sweep, options.intervalMs ?? DEFAULT_EXPIRY_INTERVAL_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
