import { spawn } from 'node:child_process';
import { dirname } from 'node:path';
import type { LocalProcess } from './local-process.js';
import { REPO_ROOT } from './local-process.js';
import { recordSecret } from './secrets.js';

/*
 * `npm run keys` (bin/keys.ts, run with tsx as the script does) against a running local stack: in the
 * SQLite default its data folder (`--data-dir`, from the database file in the banner); in the emulator
 * mode its table and DynamoDB endpoint from the banner, with dummy credentials, as the README tells an
 * operator to do. Every key it prints is recorded as a secret (./secrets.ts).
 */

export interface KeysCommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const TIMEOUT_MS = 30_000;
/** What `create` prints: `key (shown once, keep it secret): cbk_...`. */
const PRINTED_KEY = /\b(cbk_[A-Za-z0-9_-]+)/g;

/** Where the keys live: a local process, or an in-process stack described the same way. */
export type KeysTarget = Pick<LocalProcess, 'databaseFile' | 'services'>;

export async function runKeysCommand(stack: KeysTarget, args: readonly string[]): Promise<KeysCommandResult> {
  const databaseFile = stack.databaseFile();
  const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  const env = databaseFile === undefined ? { ...base, ...emulatorEnvironment(stack) } : base;
  const where = databaseFile === undefined ? [] : ['--data-dir', dirname(databaseFile)];
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/keys.ts', ...args, ...where], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    new Promise<number | null>((resolve) => child.once('close', (exitCode) => resolve(exitCode))),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(
          new Error(`keys ${args.join(' ')} did not finish within ${TIMEOUT_MS} ms:\n${stdout}${stderr}`),
        );
      }, TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
  for (const [, key] of `${stdout}\n${stderr}`.matchAll(PRINTED_KEY)) recordSecret(key);
  return { code, stdout, stderr };
}

/** The emulator mode's DynamoDB, with dummy credentials and nothing else AWS could reach. */
function emulatorEnvironment(stack: KeysTarget): NodeJS.ProcessEnv {
  const { dynamoEndpoint, tableName } = stack.services();
  return {
    TABLE_NAME: tableName,
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    // Nothing but the local endpoint, ever: no instance metadata, no shared config or profiles.
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
}
