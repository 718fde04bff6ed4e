import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { backup, DatabaseSync } from 'node:sqlite';

/*
 * Online backup of the embedded default's SQLite file with SQLite's backup API, while the service runs
 * (from another process). The copy is one step, so it is one read transaction: a consistent snapshot of
 * the commits before it began, and the service's writes go on meanwhile (WAL). It is written beside the
 * target, checked with `PRAGMA integrity_check`, and only then renamed to the target: a target file is
 * always a whole backup. Restoring: docs/DEPLOY.md, "Local runtime: backup and restore".
 */

/** Pages per backup step: all of them, so no write of the live service makes the copy start over. */
const ALL_PAGES = 2 ** 31 - 1;
/** How long the backup waits for the service's write lock when the file needs recovery. */
const BUSY_TIMEOUT_MS = 10_000;

export interface BackupResult {
  readonly pages: number;
  readonly bytes: number;
}

/** Copies the database at `sourcePath` to `targetPath` (which must not exist) and checks the copy. */
export async function backupDatabase(sourcePath: string, targetPath: string): Promise<BackupResult> {
  if (!existsSync(sourcePath)) throw new Error(`There is no database at ${sourcePath}`);
  if (existsSync(targetPath))
    throw new Error(`${targetPath} exists already; choose a new file for the backup`);
  const partial = `${targetPath}.partial`;
  removeCopy(partial);
  const source = new DatabaseSync(sourcePath);
  try {
    source.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const pages = await backup(source, partial, { rate: ALL_PAGES });
    finishCopy(partial);
    renameSync(partial, targetPath);
    return { pages, bytes: statSync(targetPath).size };
  } catch (error) {
    removeCopy(partial);
    throw error;
  } finally {
    source.close();
  }
}

/**
 * Makes the copy one self-contained file (rollback journal instead of WAL, so no `-wal` or `-shm` file
 * belongs to it; opening it as the service's database turns WAL on again) and throws unless SQLite finds
 * it whole.
 */
function finishCopy(path: string): void {
  const db = new DatabaseSync(path);
  try {
    db.exec('PRAGMA journal_mode = DELETE');
    const rows = db.prepare('PRAGMA integrity_check').all();
    const verdict = rows.map((row) => String(row.integrity_check)).join('; ');
    if (verdict !== 'ok') throw new Error(`The backup is damaged: ${verdict}`);
  } finally {
    db.close();
  }
}

function removeCopy(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${path}${suffix}`, { force: true });
}
