import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inTransaction, openDatabase } from '../../local/sqlite/database.js';
import { TurnBatch, turnBatchFor } from '../../local/sqlite/stores/turn-batch.js';

/* The group commit of the delivery path's writes (local/sqlite/stores/turn-batch.ts). */

let folder: string;
let db: DatabaseSync;
let batch: TurnBatch;

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'turn-batch-'));
  db = openDatabase(join(folder, 'test.sqlite'));
  db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, value TEXT NOT NULL)');
  batch = new TurnBatch(db);
});

afterEach(() => {
  db.close();
  rmSync(folder, { recursive: true, force: true });
});

const insert = (id: number, value: string | null) => () =>
  db.prepare('INSERT INTO items (id, value) VALUES (?, ?)').run(id, value).changes;

describe('a turn batch', () => {
  it("commits a turn's writes together, each caller getting its own result, visible to others once settled", async () => {
    const other = new DatabaseSync(join(folder, 'test.sqlite'));
    const writes = [batch.write(insert(1, 'a')), batch.write(insert(2, 'b')), batch.write(() => 'third')];
    expect(other.prepare('SELECT count(*) AS n FROM items').get()?.n).toBe(0);

    expect(await Promise.all(writes)).toEqual([1, 1, 'third']);
    expect(other.prepare('SELECT count(*) AS n FROM items').get()?.n).toBe(2);
    other.close();
  });

  it('fails only the write that failed, leaving none of its changes, and commits the others', async () => {
    const results = await Promise.allSettled([
      batch.write(insert(1, 'a')),
      batch.write(() => {
        insert(2, 'half written')();
        return insert(3, null)();
      }),
      batch.write(insert(4, 'd')),
    ]);

    expect(results.map(({ status }) => status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(
      db
        .prepare('SELECT id FROM items ORDER BY id')
        .all()
        .map(({ id }) => id),
    ).toEqual([1, 4]);
  });

  it("runs at once, as part of it, inside a caller's transaction", async () => {
    expect(() =>
      inTransaction(db, () => {
        void batch.write(insert(1, 'a'));
        expect(db.prepare('SELECT count(*) AS n FROM items').get()?.n).toBe(1);
        throw new Error('rolled back');
      }),
    ).toThrow('rolled back');
    expect(db.prepare('SELECT count(*) AS n FROM items').get()?.n).toBe(0);
  });

  it('is one per database, shared by whoever writes to it', () => {
    expect(turnBatchFor(db)).toBe(turnBatchFor(db));
    const other = new DatabaseSync(':memory:');
    expect(turnBatchFor(other)).not.toBe(turnBatchFor(db));
    other.close();
  });
});
