#!/usr/bin/env node
/**
 * API key administration: `npm run keys -- create --brand acme [--description "CRM"]`, `list --brand acme`,
 * `revoke --brand acme --id key_...`. Reads TABLE_NAME (the stack's TableName output) and the usual AWS
 * credentials; against the local runtime, AWS_ENDPOINT_URL_DYNAMODB points it at the emulator.
 * A new key is printed once and stored only as its SHA-256 hash.
 */
import { parseArgs } from 'node:util';
import { DynamoApiKeyStore } from '../lambdas/adapters/dynamo-api-keys.js';
import { createDocumentClient } from '../lambdas/adapters/dynamo-common.js';
import { createApiKey } from '../lambdas/core/api-keys.js';
import type { ApiKeyStore } from '../lambdas/core/ports.js';

const USAGE = `usage: npm run keys -- create --brand <brand> [--description <text>]
       npm run keys -- list --brand <brand>
       npm run keys -- revoke --brand <brand> --id <key id>
environment: TABLE_NAME (required), AWS credentials and region as for the AWS CLI`;

export async function runKeysCommand(
  argv: string[],
  store: ApiKeyStore,
  print: (line: string) => void,
): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { brand: { type: 'string' }, id: { type: 'string' }, description: { type: 'string' } },
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

if (import.meta.url === `file://${process.argv[1]}`) {
  const tableName = process.env.TABLE_NAME;
  if (!tableName) {
    console.error(`TABLE_NAME is not set\n${USAGE}`);
    process.exit(2);
  }
  const store = new DynamoApiKeyStore(createDocumentClient(), tableName);
  runKeysCommand(process.argv.slice(2), store, (line) => console.log(line)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`keys: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
