import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll } from 'vitest';
import { DATABASE_FILE, openDatabase } from '../../local/sqlite/database.js';
import { createSqliteStores } from '../../local/sqlite/stores/index.js';
import { describeStoreContract, type Stores } from './stores.contract.js';

/* The store contract against the embedded default's SQLite stores, on a file as the service uses it. */

let folder: string;
let db: DatabaseSync;
let stores: Stores;

beforeAll(() => {
  folder = mkdtempSync(join(tmpdir(), 'store-contract-'));
  db = openDatabase(join(folder, DATABASE_FILE));
  stores = createSqliteStores(db);
});

afterAll(() => {
  db?.close();
  rmSync(folder, { recursive: true, force: true });
});

describeStoreContract(() => stores);
