#!/usr/bin/env node
/**
 * API key administration: `npm run keys -- create --brand acme [--description "CRM"]`, `list --brand acme`,
 * `revoke --brand acme --id key_...`. With TABLE_NAME (the stack's TableName output) it manages the AWS
 * stack's keys with the usual AWS credentials (AWS_ENDPOINT_URL_DYNAMODB points it at the emulator mode's
 * DynamoDB); without, the embedded default's: the SQLite file in `--data-dir`, DATA_DIR or ./.data, also
 * while the service runs. A new key is printed once and stored only as its SHA-256 hash.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoApiKeyStore } from '../lambdas/adapters/dynamo-api-keys.js';
import { createDocumentClient } from '../lambdas/adapters/dynamo-common.js';
import { createApiKey } from '../lambdas/core/api-keys.js';
import type { ApiKeyStore } from '../lambdas/core/ports.js';
import { DATABASE_FILE, openDatabase } from '../local/sqlite/database.js';
import { checkDataFolder } from '../local/sqlite/stores/data-folder.js';
import { createSqliteStores } from '../local/sqlite/stores/index.js';

const USAGE = `usage: npm run keys -- create --brand <brand> [--description <text>] [--data-dir <folder>]
       npm run keys -- list --brand <brand> [--data-dir <folder>]
       npm run keys -- revoke --brand <brand> --id <key id> [--data-dir <folder>]
the embedded default (npm start): the data folder is --data-dir, else DATA_DIR, else ./.data
the AWS stack: TABLE_NAME, AWS credentials and region as for the AWS CLI`;

export async function runKeysCommand(
  argv: string[],
  store: ApiKeyStore,
  print: (line: string) => void,
): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      brand: { type: 'string' },
      id: { type: 'string' },
      description: { type: 'string' },
      // Read by keyStoreFor; accepted here so the command line is parsed in one place.
      'data-dir': { type: 'string' },
    },
  });
  const [command] = positionals;
  const brand = values.brand;
  if (!brand || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(brand)) {
    print(USAGE);
    return 2;
  }
  switch (command) {
    case 'create': {
      const { key, record } = await createApiKey(store, brand, {
        ...(values.description ? { description: values.description } : {}),
      });
      print(`created ${record.keyId} for brand ${brand}`);
      print(`key (shown once, keep it secret): ${key}`);
      return 0;
    }
    case 'list':
      for (const record of await store.list(brand)) {
        print(`${record.keyId}  ${record.createdAt}  ${record.description ?? ''}`.trimEnd());
      }
      return 0;
    case 'revoke':
      if (!values.id) break;
      if (await store.revoke(brand, values.id)) {
        print(`revoked ${values.id}`);
        return 0;
      }
      print(`no key ${values.id} for brand ${brand}`);
      return 1;
  }
  print(USAGE);
  return 2;
}

/**
 * The key store the command manages: the AWS stack's table when TABLE_NAME is set, else the embedded
 * default's SQLite file (its data folder created when missing, as `npm start` does).
 */
export function keyStoreFor(argv: string[], env: NodeJS.ProcessEnv): { store: ApiKeyStore; close(): void } {
  if (env.TABLE_NAME) {
    const client = createDocumentClient();
    return { store: new DynamoApiKeyStore(client, env.TABLE_NAME), close: () => client.destroy() };
  }
  const { values } = parseArgs({ args: argv, strict: false, options: { 'data-dir': { type: 'string' } } });
  const flag = values['data-dir'];
  const dataDir = resolve(typeof flag === 'string' ? flag : (env.DATA_DIR ?? './.data'));
  checkDataFolder(dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = openDatabase(join(dataDir, DATABASE_FILE));
  return { store: createSqliteStores(db).apiKeys, close: () => db.close() };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const fail = (error: unknown) => {
    console.error(`keys: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  };
  try {
    const { store, close } = keyStoreFor(argv, process.env);
    runKeysCommand(argv, store, (line) => console.log(line)).then((code) => {
      close();
      process.exit(code);
    }, fail);
  } catch (error) {
    fail(error);
  }
}
