import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DATABASE_FILE } from '../database.js';

/*
 * The runtime before the SQLite default kept its data in `dynamodb/` (dynalite) and `sqs/` (fauxqs) under
 * the data folder. Starting the SQLite default on such a folder would silently ignore every subscription,
 * delivery and queued message in it, so it is refused, with the way to keep using that data.
 */

/** A data folder written by the emulator runtime, refused by the SQLite default. */
export class LegacyDataFolderError extends Error {
  constructor(readonly dataDir: string) {
    super(
      [
        `The data folder ${dataDir} was written by the emulator runtime (it has dynamodb/ or sqs/ and no ${DATABASE_FILE});`,
        'the SQLite default cannot read it, and refuses it so that nothing in it is silently ignored.',
        '  To keep using its subscriptions, deliveries and queued messages: npm start -- --aws-emulators',
        '    (or WEBHOOKS_LOCAL_BACKEND=aws-emulators; npm run keys then takes TABLE_NAME and',
        '    AWS_ENDPOINT_URL_DYNAMODB from its banner)',
        '  To start afresh on SQLite: choose another folder with DATA_DIR, or move this one away.',
      ].join('\n'),
    );
    this.name = 'LegacyDataFolderError';
  }
}

/**
 * Throws LegacyDataFolderError when `dataDir` holds the emulator runtime's data and no SQLite database.
 * Call it before opening the database (opening creates the file). A folder with both is the SQLite
 * default's (the emulator mode was also run there): accepted.
 */
export function checkDataFolder(dataDir: string): void {
  if (existsSync(join(dataDir, DATABASE_FILE))) return;
  if (existsSync(join(dataDir, 'dynamodb')) || existsSync(join(dataDir, 'sqs'))) {
    throw new LegacyDataFolderError(dataDir);
  }
}
