import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keyStoreFor, runKeysCommand } from '../../bin/keys.js';
import { DynamoApiKeyStore } from '../../lambdas/adapters/dynamo-api-keys.js';
import { hashApiKey } from '../../lambdas/core/api-keys.js';
import { DATABASE_FILE, openDatabase } from '../../local/sqlite/database.js';
import { createSqliteStores } from '../../local/sqlite/stores/index.js';

/* `npm run keys` on the embedded default's SQLite file, while the service holds it open. */

let folder: string;

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'keys-command-'));
});

afterEach(() => {
  rmSync(folder, { recursive: true, force: true });
});

/** Runs the command as `npm run keys -- <argv>` would, collecting what it prints. */
async function keys(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const lines: string[] = [];
  const { store, close } = keyStoreFor(argv, env);
  try {
    const code = await runKeysCommand(argv, store, (line) => lines.push(line));
    return { code, output: lines.join('\n') };
  } finally {
    close();
  }
}

describe('npm run keys on the embedded default', () => {
  it('creates, lists and revokes keys that the running service sees at once', async () => {
    const service = openDatabase(join(folder, DATABASE_FILE));
    const apiKeys = createSqliteStores(service).apiKeys;

    const created = await keys(['create', '--brand', 'acme', '--description', 'CRM', '--data-dir', folder]);
    expect(created.code).toBe(0);
    const key = /key \(shown once, keep it secret\): (cbk_\S+)/.exec(created.output)?.[1] ?? '';
    const keyId = /created (key_\S+)/.exec(created.output)?.[1] ?? '';
    expect(await apiKeys.findByHash(hashApiKey(key))).toMatchObject({ brand: 'acme', keyId });

    const listed = await keys(['list', '--brand', 'acme'], { DATA_DIR: folder });
    expect(listed.output).toContain(`${keyId}  `);
    expect(listed.output).toContain('CRM');
    expect(listed.output).not.toContain(key);

    expect((await keys(['revoke', '--brand', 'globex', '--id', keyId, '--data-dir', folder])).code).toBe(1);
    expect((await keys(['revoke', '--brand', 'acme', '--id', keyId, '--data-dir', folder])).code).toBe(0);
    expect(await apiKeys.findByHash(hashApiKey(key))).toBeUndefined();
    service.close();
  });

  it('creates the data folder and its database when they do not exist yet', async () => {
    const fresh = join(folder, 'fresh');

    expect((await keys(['create', '--brand', 'acme', '--data-dir', fresh])).code).toBe(0);
    expect(existsSync(join(fresh, DATABASE_FILE))).toBe(true);
  });

  it("refuses the emulator runtime's data folder, naming what to do", () => {
    mkdirSync(join(folder, 'dynamodb'));

    expect(() => keyStoreFor(['list', '--brand', 'acme', '--data-dir', folder], {})).toThrow(
      /--aws-emulators/,
    );
  });

  it('manages the AWS stack table instead when TABLE_NAME is set', () => {
    const { store, close } = keyStoreFor(['list', '--brand', 'acme'], {
      TABLE_NAME: 'commbox-webhooks',
      DATA_DIR: folder,
    });
    close();

    expect(store).toBeInstanceOf(DynamoApiKeyStore);
    expect(existsSync(join(folder, DATABASE_FILE))).toBe(false);
  });
});
