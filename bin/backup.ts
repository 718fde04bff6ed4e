#!/usr/bin/env node
/**
 * `npm run backup -- <file> [--data-dir <folder>]`: an online backup of the embedded default's SQLite file
 * ($DATA_DIR/webhooks.sqlite, DATA_DIR defaulting to ./.data) into a new file, while the service runs.
 * Restoring it: docs/DEPLOY.md, "Local runtime: backup and restore".
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DATABASE_FILE } from '../local/sqlite/database.js';
import { backupDatabase } from '../local/sqlite/stores/backup.js';

const USAGE = `usage: npm run backup -- <backup file> [--data-dir <folder>]
environment: DATA_DIR (the service's data folder, default ./.data)`;

export async function runBackupCommand(
  argv: string[],
  env: NodeJS.ProcessEnv,
  print: (line: string) => void,
): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'data-dir': { type: 'string' } },
  });
  const [target] = positionals;
  if (!target || positionals.length > 1) {
    print(USAGE);
    return 2;
  }
  const source = join(resolve(values['data-dir'] ?? env.DATA_DIR ?? './.data'), DATABASE_FILE);
  const { pages, bytes } = await backupDatabase(source, resolve(target));
  print(`backed up ${source} to ${resolve(target)}: ${pages} pages, ${bytes} bytes, integrity ok`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runBackupCommand(process.argv.slice(2), process.env, (line) => console.log(line)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`backup: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
