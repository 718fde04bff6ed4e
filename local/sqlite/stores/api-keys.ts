import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { ApiKeyRecord, ApiKeyStore } from '../../../lambdas/core/ports.js';
import { isPrimaryKeyTaken, isUniqueTaken } from './schema.js';

/*
 * API keys in `store_api_keys`, with the semantics of lambdas/adapters/dynamo-api-keys.ts: found by the
 * SHA-256 of the key (the primary key), listed and revoked by brand and key id (a UNIQUE index). The hash
 * never leaves the table: not in a record, not in an error. `npm run keys` writes this table from another
 * process while the service runs; the authorizer reads it on every request, so a revocation holds at once.
 */

function toRecord(row: Record<string, unknown> | undefined): ApiKeyRecord | undefined {
  if (row === undefined) return undefined;
  const { keyId, brand, createdAt, description } = JSON.parse(row.doc as string) as ApiKeyRecord;
  return { keyId, brand, createdAt, ...(typeof description === 'string' && { description }) };
}

export class SqliteApiKeyStore implements ApiKeyStore {
  private readonly insert: StatementSync;
  private readonly selectByHash: StatementSync;
  private readonly selectByBrand: StatementSync;
  private readonly deleteOne: StatementSync;

  constructor(db: DatabaseSync) {
    this.insert = db.prepare('INSERT INTO store_api_keys (hash, brand, key_id, doc) VALUES (?, ?, ?, ?)');
    this.selectByHash = db.prepare('SELECT doc FROM store_api_keys WHERE hash = ?');
    this.selectByBrand = db.prepare('SELECT doc FROM store_api_keys WHERE brand = ? ORDER BY key_id');
    this.deleteOne = db.prepare('DELETE FROM store_api_keys WHERE brand = ? AND key_id = ?');
  }

  async put(hash: string, record: ApiKeyRecord): Promise<void> {
    const doc = JSON.stringify({
      keyId: record.keyId,
      brand: record.brand,
      createdAt: record.createdAt,
      description: record.description,
    });
    try {
      this.insert.run(hash, record.brand, record.keyId, doc);
    } catch (error) {
      // Our own messages, naming the key id only: SQLite's would name the columns, never the values.
      if (isPrimaryKeyTaken(error)) throw new Error('An API key with this hash already exists');
      if (isUniqueTaken(error)) throw new Error(`The API key id ${record.keyId} already exists`);
      throw error;
    }
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    return toRecord(this.selectByHash.get(hash));
  }

  async list(brand: string): Promise<ApiKeyRecord[]> {
    return this.selectByBrand.all(brand).map((row) => toRecord(row) as ApiKeyRecord);
  }

  async revoke(brand: string, keyId: string): Promise<boolean> {
    return this.deleteOne.run(brand, keyId).changes > 0;
  }
}
