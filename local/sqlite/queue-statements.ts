import type { DatabaseSync, StatementSync } from 'node:sqlite';

/*
 * The SQLite queue's table (`queue_messages`, every queue side by side) and its statements, prepared once
 * per queue object. A message is in flight while it has a receipt and its visibility has not run out.
 */

/** A message as the receive queries return it. */
export interface QueueRow {
  seq: number;
  message_id: string;
  body: string;
  attributes: string | null;
  group_id: string | null;
  sent_at: number;
  visible_at: number;
  receive_count: number;
  first_received_at: number | null;
}

export const QUEUE_SCHEMA = `
  CREATE TABLE IF NOT EXISTS queue_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    attributes TEXT,
    group_id TEXT,
    sent_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_received_at INTEGER,
    received_at INTEGER,
    receipt TEXT
  );
  CREATE INDEX IF NOT EXISTS queue_messages_ready ON queue_messages (queue, visible_at, seq);
  CREATE INDEX IF NOT EXISTS queue_messages_groups ON queue_messages (queue, group_id, visible_at, seq);
  CREATE UNIQUE INDEX IF NOT EXISTS queue_messages_receipts ON queue_messages (receipt) WHERE receipt IS NOT NULL;
  CREATE INDEX IF NOT EXISTS queue_messages_in_flight ON queue_messages (queue, visible_at, group_id)
    WHERE receipt IS NOT NULL;
`;

const COLUMNS =
  'seq, message_id, body, attributes, group_id, sent_at, visible_at, receive_count, first_received_at';

export type QueueStatements = ReturnType<typeof prepareQueueStatements>;

export function prepareQueueStatements(db: DatabaseSync) {
  const statement = (sql: string): StatementSync => db.prepare(sql);
  return {
    insert: statement(
      `INSERT INTO queue_messages (queue, message_id, body, attributes, group_id, sent_at, visible_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    ready: statement(
      `SELECT ${COLUMNS} FROM queue_messages WHERE queue = ? AND visible_at <= ? ORDER BY visible_at, seq LIMIT ?`,
    ),
    readyOfGroup: statement(
      `SELECT ${COLUMNS} FROM queue_messages WHERE queue = ? AND group_id = ? AND visible_at <= ?
       ORDER BY visible_at, seq LIMIT ?`,
    ),
    readyWithoutGroup: statement(
      `SELECT ${COLUMNS} FROM queue_messages WHERE queue = ? AND group_id IS NULL AND visible_at <= ?
       ORDER BY visible_at, seq LIMIT ?`,
    ),
    // The queue's groups, one index seek each (a skip scan), not a walk over every message.
    groups: statement(
      `WITH RECURSIVE g(id) AS (
         SELECT min(group_id) FROM queue_messages WHERE queue = ?1 AND group_id IS NOT NULL
         UNION ALL
         SELECT (SELECT min(group_id) FROM queue_messages WHERE queue = ?1 AND group_id > g.id) FROM g
         WHERE g.id IS NOT NULL
       ) SELECT id FROM g WHERE id IS NOT NULL`,
    ),
    // The in-flight messages only (the planner would otherwise walk the delayed ones too).
    inFlightByGroup: statement(
      `SELECT group_id, count(*) AS n FROM queue_messages INDEXED BY queue_messages_in_flight
       WHERE queue = ? AND receipt IS NOT NULL AND visible_at > ? GROUP BY group_id`,
    ),
    markReceived: statement(
      `UPDATE queue_messages SET visible_at = ?, receive_count = ?, first_received_at = ?, received_at = ?,
       receipt = ? WHERE seq = ?`,
    ),
    moveToDlq: statement(
      `UPDATE queue_messages SET queue = ?, visible_at = ?, receive_count = 0, first_received_at = NULL,
       received_at = NULL, receipt = NULL WHERE seq = ?`,
    ),
    delete: statement(`DELETE FROM queue_messages WHERE receipt = ?`),
    changeVisibility: statement(`UPDATE queue_messages SET visible_at = ? WHERE seq = ?`),
    byReceipt: statement(
      `SELECT seq, visible_at, received_at FROM queue_messages WHERE receipt = ? AND queue = ?`,
    ),
    nextVisible: statement(
      `SELECT min(visible_at) AS at FROM queue_messages WHERE queue = ? AND visible_at > ?`,
    ),
    purge: statement(`DELETE FROM queue_messages WHERE queue = ? AND sent_at < ?`),
  };
}
