import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runBackupCommand } from '../../bin/backup.js';
import { DATABASE_FILE, inTransaction, openDatabase } from '../../local/sqlite/database.js';
import { createSqliteStores } from '../../local/sqlite/stores/index.js';
import { anEventClaim, aStoredSubscription } from '../support/stored-items.js';

/*
 * `npm run backup` on a live database, and the restore steps of docs/DEPLOY.md ("Local runtime: backup
 * and restore"): stop the service, put the backup in place as webhooks.sqlite with no -wal or -shm file
 * beside it, start again.
 */

let folder: string;

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'sqlite-backup-'));
});

afterEach(() => {
  rmSync(folder, { recursive: true, force: true });
});

describe('npm run backup', () => {
  it('copies a database that is being written into a consistent file that restores as the data folder', async () => {
    const live = join(folder, 'live');
    mkdirSync(live);
    const db = openDatabase(join(live, DATABASE_FILE));
    const stores = createSqliteStores(db);
    // Each write is a subscription and a claim in one transaction: a backup that tore one would show it.
    let written = 0;
    const writeOne = () => {
      written += 1;
      inTransaction(db, () => {
        void stores.subscriptions.create(aStoredSubscription({ name: `Subscription ${written}` }), 1_000_000);
        void stores.events.claim(anEventClaim({ key: `acme/evt-${written}` }), 4_000_000_000);
      });
    };
    for (let i = 0; i < 2_000; i++) writeOne();
    const writer = setInterval(() => {
      for (let i = 0; i < 20; i++) writeOne();
    }, 1);

    const lines: string[] = [];
    const backupFile = join(folder, 'backup.sqlite');
    const code = await runBackupCommand([backupFile, '--data-dir', live], {}, (line) => lines.push(line));
    clearInterval(writer);
    const writtenInTheEnd = written;
    db.close();

    expect(code).toBe(0);
    expect(writtenInTheEnd).toBeGreaterThan(2_000);
    expect(lines.join('\n')).toMatch(/integrity ok/);
    expect(readdirSync(folder).sort()).toEqual(['backup.sqlite', 'live']);

    const restored = join(folder, 'restored');
    mkdirSync(restored);
    copyFileSync(backupFile, join(restored, DATABASE_FILE));
    const restoredDb = openDatabase(join(restored, DATABASE_FILE));
    const count = (table: string) =>
      Number(restoredDb.prepare(`SELECT count(*) AS n FROM ${table}`).get()?.n);
    const subscriptions = count('store_subscriptions');
    expect(subscriptions).toBeGreaterThanOrEqual(2_000);
    expect(subscriptions).toBeLessThanOrEqual(writtenInTheEnd);
    expect(count('store_event_claims')).toBe(subscriptions);
    const page = await createSqliteStores(restoredDb).subscriptions.list('acme', { limit: 3 });
    expect(page.items).toHaveLength(3);
    restoredDb.close();
  });

  it('refuses to overwrite an existing file, and to back up a folder without a database', async () => {
    const lines: string[] = [];
    const existing = join(folder, 'existing.sqlite');
    const db = openDatabase(existing);
    db.close();

    await expect(runBackupCommand([existing, '--data-dir', folder], {}, () => undefined)).rejects.toThrow(
      /no database/,
    );
    openDatabase(join(folder, DATABASE_FILE)).close();
    await expect(runBackupCommand([existing], { DATA_DIR: folder }, () => undefined)).rejects.toThrow(
      /exists already/,
    );
    expect(await runBackupCommand([], {}, (line) => lines.push(line))).toBe(2);
    expect(lines.join('\n')).toMatch(/usage: npm run backup/);
    expect(existsSync(`${existing}.partial`)).toBe(false);
  });
});
