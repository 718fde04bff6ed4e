import type { DatabaseSync } from 'node:sqlite';

/*
 * The store's tables in the embedded default's SQLite file (beside the queues' tables): each record is a
 * JSON document (`doc`, the domain object exactly as the DynamoDB adapters store its fields) plus the
 * columns its queries read, each with an index. A field the domain adds later (issue 15's `tls`,
 * `signatureScheme`, `soap`, ...) travels inside `doc` with no change here.
 * `expires_at` is the DynamoDB TTL attribute (epoch seconds); ./expiry.ts deletes what has passed it.
 */

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS store_subscriptions (
    brand    TEXT NOT NULL,
    id       TEXT NOT NULL,
    name_key TEXT NOT NULL, -- the name lowercased: unique per brand, ignoring case
    entity   TEXT NOT NULL,
    status   TEXT NOT NULL,
    version  INTEGER NOT NULL,
    doc      TEXT NOT NULL,
    PRIMARY KEY (brand, id)
  );
  CREATE UNIQUE INDEX IF NOT EXISTS store_subscriptions_name ON store_subscriptions (brand, name_key);
  CREATE INDEX IF NOT EXISTS store_subscriptions_entity ON store_subscriptions (brand, entity, status);

  CREATE TABLE IF NOT EXISTS store_event_claims (
    key         TEXT PRIMARY KEY,
    envelope_id TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    doc         TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS store_event_claims_expiry ON store_event_claims (expires_at);

  CREATE TABLE IF NOT EXISTS store_rejected_events (
    id          INTEGER PRIMARY KEY,
    received_at TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    doc         TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS store_rejected_events_received ON store_rejected_events (received_at);
  CREATE INDEX IF NOT EXISTS store_rejected_events_expiry ON store_rejected_events (expires_at);

  CREATE TABLE IF NOT EXISTS store_deliveries (
    subscription_id TEXT NOT NULL,
    id              TEXT NOT NULL, -- starts with the event's arrival time: sorting by id sorts by time
    status          TEXT NOT NULL,
    expires_at      INTEGER NOT NULL,
    doc             TEXT NOT NULL,
    PRIMARY KEY (subscription_id, id)
  );
  CREATE INDEX IF NOT EXISTS store_deliveries_status ON store_deliveries (subscription_id, status, id);
  CREATE INDEX IF NOT EXISTS store_deliveries_expiry ON store_deliveries (expires_at);

  CREATE TABLE IF NOT EXISTS store_rate_buckets (
    key        TEXT PRIMARY KEY, -- the subscription id
    due_at     INTEGER NOT NULL, -- epoch ms the next token is due
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS store_rate_buckets_expiry ON store_rate_buckets (expires_at);

  CREATE TABLE IF NOT EXISTS store_api_keys (
    hash   TEXT PRIMARY KEY, -- SHA-256 of the key, never the key
    brand  TEXT NOT NULL,
    key_id TEXT NOT NULL,
    doc    TEXT NOT NULL,
    UNIQUE (brand, key_id)
  );

  CREATE TABLE IF NOT EXISTS store_console_sessions (
    hash       TEXT PRIMARY KEY, -- SHA-256 of the session token, never the token
    expires_at INTEGER NOT NULL,
    doc        TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS store_console_sessions_expiry ON store_console_sessions (expires_at);
`;

/** Creates the store's tables and indexes unless they exist: once, when the stores are built. */
export function createStoreSchema(db: DatabaseSync): void {
  db.exec(SCHEMA);
}

/** SQLite's extended result codes for a broken PRIMARY KEY and UNIQUE constraint. */
const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;
const SQLITE_CONSTRAINT_UNIQUE = 2067;

function errcode(error: unknown): number | undefined {
  return typeof error === 'object' &&
    error !== null &&
    'errcode' in error &&
    typeof error.errcode === 'number'
    ? error.errcode
    : undefined;
}

/** The write failed because a row with the same primary key exists. */
export const isPrimaryKeyTaken = (error: unknown) => errcode(error) === SQLITE_CONSTRAINT_PRIMARYKEY;
/** The write failed because a UNIQUE index already holds its value. */
export const isUniqueTaken = (error: unknown) => errcode(error) === SQLITE_CONSTRAINT_UNIQUE;

/** The record a `doc` column holds; the store wrote it, so it is trusted as `T` (as the DynamoDB adapters do). */
export function fromDoc<T>(row: Record<string, unknown> | undefined): T | undefined {
  return row === undefined ? undefined : (JSON.parse(row.doc as string) as T);
}
