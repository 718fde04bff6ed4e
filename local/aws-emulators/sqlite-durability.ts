import { DatabaseSync } from 'node:sqlite';

/*
 * fauxqs keeps the local queues in SQLite (WAL) with SQLite's default `synchronous = FULL`: an fsync on
 * every commit, and node:sqlite is synchronous, so each SQS call stalled the whole local runtime for the
 * length of an fsync. In WAL mode `synchronous = NORMAL` keeps every commit across a crash of the process
 * (`kill -9`, which is what the local runtime promises to survive) and gives up only durability across a
 * power loss or an OS crash. fauxqs has no setting for it, so the pragma follows its own `journal_mode`.
 * Imported for its effect, before fauxqs opens its database; the local runtime only.
 */
const exec = DatabaseSync.prototype.exec;
DatabaseSync.prototype.exec = function execWithNormalSync(this: DatabaseSync, sql: string) {
  exec.call(this, sql);
  if (/^\s*PRAGMA\s+journal_mode\s*=\s*WAL\s*;?\s*$/i.test(sql))
    exec.call(this, 'PRAGMA synchronous = NORMAL');
};
