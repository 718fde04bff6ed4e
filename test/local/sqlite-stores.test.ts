import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiKey, hashApiKey } from '../../lambdas/core/api-keys.js';
import { createConsoleSession, sessionMaker } from '../../lambdas/core/console-sessions.js';
import { DATABASE_FILE, inTransaction, openDatabase } from '../../local/sqlite/database.js';
import { checkDataFolder, LegacyDataFolderError } from '../../local/sqlite/stores/data-folder.js';
import { purgeExpired, startExpirySweeper } from '../../local/sqlite/stores/expiry.js';
import { createSqliteStores, type SqliteStores } from '../../local/sqlite/stores/index.js';
import { anEventClaim, aStoredSubscription, aSubscriptionId } from '../support/stored-items.js';

/* What the SQLite store does beyond the port contract (test/contract/): its file, transactions, expiry. */

let folder: string;
let db: DatabaseSync;
let stores: SqliteStores;

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'sqlite-stores-'));
  db = openDatabase(join(folder, DATABASE_FILE));
  stores = createSqliteStores(db);
});

afterEach(() => {
  if (db.isOpen) db.close();
  rmSync(folder, { recursive: true, force: true });
});

const count = (table: string) => Number(db.prepare(`SELECT count(*) AS n FROM ${table}`).get()?.n);

function aDeliveryRecord(expiresAt: number) {
  const subscriptionId = aSubscriptionId();
  return {
    delivery: {
      id: `dlv_${'0'.repeat(9)}${'a'.repeat(16)}`,
      subscriptionId,
      brand: 'acme',
      eventKey: 'acme/evt-1',
      webhookId: 'msg_1',
      entity: 'Object' as const,
      event: 'OnNew',
      receivedAt: '2026-03-04T05:06:07.000Z',
      status: 'succeeded' as const,
      createdAt: '2026-03-04T05:06:07.000Z',
    },
    attempt: { attempt: 1, at: '2026-03-04T05:06:08.000Z', durationMs: 12, statusCode: 200 },
    expiresAt,
  };
}

describe('the SQLite store', () => {
  it('keeps every record across a reopen of its file', async () => {
    const subscription = aStoredSubscription();
    await stores.subscriptions.create(subscription, 100);
    const { key } = await createApiKey(stores.apiKeys, 'acme');
    db.close();

    db = openDatabase(join(folder, DATABASE_FILE));
    const reopened = createSqliteStores(db);
    expect(await reopened.subscriptions.get('acme', subscription.id)).toEqual(subscription);
    expect(await reopened.apiKeys.findByHash(hashApiKey(key))).toMatchObject({ brand: 'acme' });
  });

  it('writes within a caller transaction, so a failure later in it leaves none of its writes', async () => {
    const subscription = aStoredSubscription();

    expect(() =>
      inTransaction(db, () => {
        void stores.subscriptions.create(subscription, 100);
        void stores.events.claim(anEventClaim(), 4_000_000_000);
        throw new Error('the queue refused the message');
      }),
    ).toThrow('the queue refused the message');
    expect(await stores.subscriptions.get('acme', subscription.id)).toBeUndefined();
    expect(count('store_event_claims')).toBe(0);
  });

  it('stores console session tokens only as their hash', async () => {
    const { key, record } = await createApiKey(stores.apiKeys, 'acme');
    const { token } = await createConsoleSession(
      { sessions: stores.consoleSessions, now: () => new Date() },
      sessionMaker('acme', record.keyId, `Bearer ${key}`),
      {},
    );
    db.close();

    const file = readFileSync(join(folder, DATABASE_FILE)).toString('latin1');
    expect(file).not.toContain(token);
    expect(file).toContain(hashApiKey(token));
  });

  it('stores API keys only as their hash', async () => {
    const { key } = await createApiKey(stores.apiKeys, 'acme');
    db.close();

    const file = readFileSync(join(folder, DATABASE_FILE)).toString('latin1');
    expect(file).not.toContain(key);
    expect(file).toContain(hashApiKey(key));
  });
});

describe('expiry', () => {
  it('deletes claims, rejected events and deliveries past their expiry, and nothing else', async () => {
    const now = 2_000_000_000;
    await stores.events.claim(anEventClaim({ key: 'acme/old' }), now - 1);
    await stores.events.claim(anEventClaim({ key: 'acme/new' }), now + 1);
    await stores.events.putRejected({ reason: 'bad', receivedAt: '2026-01-01T00:00:00.000Z' }, now);
    await stores.events.putRejected({ reason: 'bad', receivedAt: '2026-01-02T00:00:00.000Z' }, now + 60);
    const old = aDeliveryRecord(now - 60);
    const kept = aDeliveryRecord(now + 60);
    await stores.deliveries.recordAttempt(old);
    await stores.deliveries.recordAttempt(kept);
    await stores.subscriptions.create(aStoredSubscription(), 100);

    expect(purgeExpired(db, now)).toBe(3);
    expect(await stores.events.claim(anEventClaim({ key: 'acme/old', envelopeId: 'eb-9' }), now + 1)).toBe(
      true,
    );
    expect(await stores.events.claim(anEventClaim({ key: 'acme/new', envelopeId: 'eb-9' }), now + 1)).toBe(
      false,
    );
    expect(count('store_rejected_events')).toBe(1);
    expect(await stores.deliveries.get(old.delivery.subscriptionId, old.delivery.id)).toBeUndefined();
    expect(await stores.deliveries.get(kept.delivery.subscriptionId, kept.delivery.id)).toBeDefined();
    expect(count('store_subscriptions')).toBe(1);
  });

  it('deletes console sessions once past their end, and keeps the ones still running', async () => {
    const session = (hash: string, expiresAt: string) =>
      stores.consoleSessions.put(hash, {
        brand: 'acme',
        keyId: 'key_AAAAAAAAAAAA',
        keyHash: 'k'.repeat(64),
        createdAt: '2033-05-18T02:33:20.000Z',
        expiresAt,
      });
    const now = 2_000_000_000; // 2033-05-18T03:33:20Z
    await session('a'.repeat(64), new Date(now * 1000).toISOString());
    await session('b'.repeat(64), new Date((now + 1) * 1000).toISOString());

    expect(purgeExpired(db, now)).toBe(1);
    expect(await stores.consoleSessions.findByHash('a'.repeat(64))).toBeUndefined();
    expect(await stores.consoleSessions.findByHash('b'.repeat(64))).toMatchObject({ brand: 'acme' });
  });

  it('deletes in batches until nothing expired is left', async () => {
    inTransaction(db, () => {
      for (let i = 0; i < 1_234; i++) void stores.events.claim(anEventClaim({ key: `acme/${i}` }), 100);
    });

    expect(purgeExpired(db, 100)).toBe(1_234);
    expect(count('store_event_claims')).toBe(0);
  });

  it('runs at start and then on its interval until stopped', async () => {
    await stores.events.claim(anEventClaim({ key: 'acme/a' }), 1_000);
    let now = new Date(1_000_000);
    const sweeper = startExpirySweeper(db, { intervalMs: 5, now: () => now });
    expect(count('store_event_claims')).toBe(0);

    await stores.events.claim(anEventClaim({ key: 'acme/b' }), 2_000);
    now = new Date(2_000_000);
    await expect.poll(() => count('store_event_claims'), { timeout: 2_000 }).toBe(0);
    sweeper.stop();
    await stores.events.claim(anEventClaim({ key: 'acme/c' }), 3_000);
    now = new Date(3_000_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(count('store_event_claims')).toBe(1);
  });
});

describe('the data folder check', () => {
  it('accepts an empty or missing folder, and one with the SQLite database', () => {
    expect(() => checkDataFolder(join(folder, 'missing'))).not.toThrow();
    expect(() => checkDataFolder(folder)).not.toThrow();
    mkdirSync(join(folder, 'dynamodb'));
    expect(() => checkDataFolder(folder)).not.toThrow();
  });

  it.each(['dynamodb', 'sqs'])(
    'refuses a folder of the emulator runtime (with %s/ and no database), naming what to do',
    (subfolder) => {
      const legacy = join(folder, 'legacy');
      mkdirSync(join(legacy, subfolder), { recursive: true });
      writeFileSync(join(legacy, subfolder, 'data'), 'x');

      expect(() => checkDataFolder(legacy)).toThrow(LegacyDataFolderError);
      expect(() => checkDataFolder(legacy)).toThrow(/npm start -- --aws-emulators/);
      expect(() => checkDataFolder(legacy)).toThrow(/DATA_DIR/);
    },
  );
});
