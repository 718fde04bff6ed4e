import { join } from 'node:path';
import { KeyFileDataKeyProvider } from '../lambdas/adapters/key-file-data-keys.js';
import { ENV } from '../lambdas/environment.js';

/*
 * The embedded default's key for secret fields: `$DATA_DIR/secret.key` (mode 0600, created on first start)
 * wraps the data keys that encrypt them, as KMS does in AWS. Back it up with the data folder: without it,
 * the stored signing secrets cannot be read.
 */

export const SECRET_KEY_FILE = 'secret.key';

/** The key file's provider, the file created when absent; throws when it is readable by others or malformed. */
export function localSecretsProvider(dataDir: string): KeyFileDataKeyProvider {
  return KeyFileDataKeyProvider.open(join(dataDir, SECRET_KEY_FILE));
}

/**
 * The environment that makes the handler modules encrypt secret fields with the key file; checks (and
 * creates) the file first, so an unsafe one stops the start instead of the first request.
 */
export function localSecretsEnvironment(dataDir: string): Record<string, string> {
  localSecretsProvider(dataDir);
  return { [ENV.secretsKeyFile]: join(dataDir, SECRET_KEY_FILE) };
}
