import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { ConsoleSessionRecord, ConsoleSessionStore } from '../../../lambdas/core/ports.js';
import { fromDoc, isPrimaryKeyTaken } from './schema.js';

/*
 * Console sessions in `store_console_sessions`, with the semantics of
 * lambdas/adapters/dynamo-console-sessions.ts: found by the SHA-256 of the token (the primary key), never
 * the token itself; `expires_at` (epoch seconds) is swept by ./expiry.ts as DynamoDB's TTL, and the reader
 * checks the time itself, so a session the sweep has not reached yet is still refused once expired.
 */

export class SqliteConsoleSessionStore implements ConsoleSessionStore {
  private readonly insert: StatementSync;
  private readonly selectByHash: StatementSync;

  constructor(db: DatabaseSync) {
    this.insert = db.prepare('INSERT INTO store_console_sessions (hash, expires_at, doc) VALUES (?, ?, ?)');
    this.selectByHash = db.prepare('SELECT doc FROM store_console_sessions WHERE hash = ?');
  }

  async put(hash: string, record: ConsoleSessionRecord): Promise<void> {
    const doc = JSON.stringify({
      brand: record.brand,
      keyId: record.keyId,
      keyHash: record.keyHash,
      createdAt: record.createdAt,
      expiresAt: record.expiresAt,
    });
    try {
      this.insert.run(hash, Math.floor(Date.parse(record.expiresAt) / 1000), doc);
    } catch (error) {
      if (isPrimaryKeyTaken(error)) throw new Error('A console session with this hash already exists');
      throw error;
    }
  }

  async findByHash(hash: string): Promise<ConsoleSessionRecord | undefined> {
    return fromDoc<ConsoleSessionRecord>(this.selectByHash.get(hash));
  }
}
