import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { recordSecret } from './secrets.js';

/*
 * The real `npm start` entry (bin/local.ts) as a child process: the integration tests drive it only
 * through its HTTP port, exactly as a client and a producer would, and can stop it gently (SIGTERM) or
 * crash it (SIGKILL) and start another on the same data folder.
 */

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The two brands every integration suite uses, and their API keys. */
export const BRANDS = {
  acme: { brand: 'acme', key: 'acme-key-123456' },
  globex: { brand: 'globex', key: 'globex-key-123456' },
} as const;

/** The settings every suite starts its stack with: two brands, a fast retry schedule, a short timeout. */
export const TEST_ENV: Readonly<Record<string, string>> = {
  WEBHOOKS_API_KEYS: `${BRANDS.acme.brand}:${BRANDS.acme.key},${BRANDS.globex.brand}:${BRANDS.globex.key}`,
  WEBHOOKS_RETRY_SCHEDULE: '0,1,1',
  WEBHOOKS_TIMEOUT_MS: '2000',
};

const READY_LINE = /^ready (http:\/\/127\.0\.0\.1:\d+)\b/;
/** Banner lines: `  DynamoDB (dynalite)   http://127.0.0.1:<port>  table <name>`, `  SQS (fauxqs)   http://...`. */
const DYNAMODB_LINE = /^\s*DynamoDB\b.*?(http:\/\/127\.0\.0\.1:\d+)\s+table\s+(\S+)/;
const SQS_LINE = /^\s*SQS\b.*?(http:\/\/127\.0\.0\.1:\d+)/;
/** Banner line of the embedded default: `  store and queues (SQLite)   <path of the database file>`. */
const SQLITE_LINE = /^\s*store and queues \(SQLite\)\s+(\S.*)$/;
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 20_000;

export interface LogLine {
  readonly pid: number;
  readonly stream: 'stdout' | 'stderr';
  readonly line: string;
}

/** Every line every local process of this test file printed, in order (to search the logs for secrets). */
export const capturedLogs: LogLine[] = [];

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Where the stack's own services listen, as its startup banner prints them. */
export interface LocalServices {
  /** dynalite: point `AWS_ENDPOINT_URL_DYNAMODB` (the keys command) or a DynamoDB client here. */
  readonly dynamoEndpoint: string;
  readonly tableName: string;
  /** fauxqs: an SQS client with this `endpoint` reads the queues (their URLs' host is never used). */
  readonly sqsEndpoint: string;
}

export interface LocalProcess {
  /** `http://127.0.0.1:<port>`: the API and the EventBridge PutEvents endpoint. */
  readonly url: string;
  /** The DynamoDB and SQS endpoints and the table, from the banner; throws if the banner lacked them. */
  services(): LocalServices;
  /** The embedded default's SQLite file, from the banner; undefined in the emulator mode. */
  databaseFile(): string | undefined;
  readonly pid: number;
  /** This process's stdout and stderr lines, as they arrive. */
  readonly logs: readonly string[];
  /** SIGTERM (the stack finishes its work in flight) and wait for the exit. */
  stop(): Promise<ProcessExit>;
  /** SIGKILL (a crash: nothing is finished or flushed) and wait for the exit. */
  kill(): Promise<ProcessExit>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A test worker that dies (or forgets afterAll) must not leave stacks running. */
function killLeftoversOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

/** Starts bin/local.ts on `dataDir` (any free ports) and resolves once it printed its `ready` line. */
export async function startLocalProcess(options: {
  dataDir: string;
  env?: Record<string, string>;
}): Promise<LocalProcess> {
  killLeftoversOnExit();
  recordApiKeys(options.env?.WEBHOOKS_API_KEYS);
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/local.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: '0', DATA_DIR: options.dataDir, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const pid = child.pid ?? -1;
  const logs: string[] = [];
  const exited = new Promise<ProcessExit>((resolve) => {
    // 'close' comes after both output streams ended, so `logs` is complete by then.
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });

  let onReady: (url: string) => void = () => undefined;
  const ready = new Promise<string>((resolve) => {
    onReady = resolve;
  });
  for (const stream of ['stdout', 'stderr'] as const) {
    const lines = createInterface({ input: child[stream], crlfDelay: Number.POSITIVE_INFINITY });
    lines.on('line', (line) => {
      logs.push(line);
      capturedLogs.push({ pid, stream, line });
      const match = stream === 'stdout' ? READY_LINE.exec(line) : null;
      if (match?.[1]) onReady(match[1]);
    });
  }

  const output = () => logs.slice(-60).join('\n');
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    ready.then((url) => ({ url })),
    exited.then((exit) => ({ exit })),
    new Promise<{ timeout: true }>((resolve) => {
      timer = setTimeout(() => resolve({ timeout: true }), READY_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
  if ('exit' in outcome) {
    const { code, signal } = outcome.exit;
    throw new Error(`bin/local.ts exited (code ${code}, signal ${signal}) before it was ready:\n${output()}`);
  }
  if ('timeout' in outcome) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`bin/local.ts was not ready within ${READY_TIMEOUT_MS} ms:\n${output()}`);
  }

  const end = async (signal: NodeJS.Signals): Promise<ProcessExit> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    let stopTimer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      exited,
      new Promise<undefined>((resolve) => {
        stopTimer = setTimeout(() => resolve(undefined), STOP_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(stopTimer);
    if (result) return result;
    child.kill('SIGKILL');
    await exited;
    throw new Error(`bin/local.ts did not exit within ${STOP_TIMEOUT_MS} ms of ${signal}:\n${output()}`);
  };

  const services = (): LocalServices => {
    const banner = logs.slice(0, logs.findIndex((line) => READY_LINE.test(line)) + 1);
    const dynamo = banner.map((line) => DYNAMODB_LINE.exec(line)).find((match) => match);
    const sqs = banner.map((line) => SQS_LINE.exec(line)).find((match) => match);
    if (!dynamo?.[1] || !dynamo[2] || !sqs?.[1]) {
      throw new Error(`The banner does not name the DynamoDB and SQS endpoints:\n${banner.join('\n')}`);
    }
    return { dynamoEndpoint: dynamo[1], tableName: dynamo[2], sqsEndpoint: sqs[1] };
  };

  const databaseFile = (): string | undefined => {
    const banner = logs.slice(0, logs.findIndex((line) => READY_LINE.test(line)) + 1);
    return banner.map((line) => SQLITE_LINE.exec(line)?.[1]).find(Boolean);
  };

  return {
    url: outcome.url,
    services,
    databaseFile,
    pid,
    logs,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
  };
}

/** The keys of `WEBHOOKS_API_KEYS` (`brand:key,...`) are secrets: recorded, to search the logs for them. */
function recordApiKeys(setting: string | undefined): void {
  for (const pair of (setting ?? '').split(',')) {
    const [, ...key] = pair.trim().split(':');
    recordSecret(key.join(':'));
  }
}
