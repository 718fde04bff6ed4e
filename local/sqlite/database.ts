import { DatabaseSync } from 'node:sqlite';

/*
 * The embedded default's one SQLite file ($DATA_DIR/webhooks.sqlite): the store and the queues live in it
 * side by side, so a hop that writes records and queues messages can do both in one transaction.
 * WAL with `synchronous = NORMAL`: every commit survives `kill -9` of the process; only a power loss or an
 * OS crash can lose the last commits (docs/DECISIONS.md, "Local runtime").
 */

export const DATABASE_FILE = 'webhooks.sqlite';

/** Opens (creating if needed) the database with the pragmas every part relies on. */
export function openDatabase(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec(`
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = NORMAL;
    PRAGMA busy_timeout = 5000;
    PRAGMA foreign_keys = ON;
  `);
  return db;
}

let savepoints = 0;

/**
 * Runs `work` atomically: all its writes commit together or none does, also under `kill -9`. Nests (an
 * inner call is a savepoint of the outer one). `work` is synchronous: node:sqlite is, and an `await` inside
 * would let another caller's statements into the transaction.
 */
export function inTransaction<T>(db: DatabaseSync, work: () => T): T {
  const name = `sp${++savepoints}`;
  db.exec(`SAVEPOINT ${name}`);
  try {
    const result = work();
    db.exec(`RELEASE ${name}`);
    return result;
  } catch (error) {
    db.exec(`ROLLBACK TO ${name}`);
    db.exec(`RELEASE ${name}`);
    throw error;
  }
}
