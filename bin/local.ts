#!/usr/bin/env node
/**
 * `npm start`: the whole service in one process (see local/stack.ts and the README), its store and queues
 * in SQLite under DATA_DIR; `npm start -- --aws-emulators` (or WEBHOOKS_LOCAL_BACKEND=aws-emulators) runs
 * them on dynalite and fauxqs instead. Settings come from the environment: PORT, HOST, DATA_DIR,
 * WEBHOOKS_LOCAL_BACKEND, WEBHOOKS_API_KEYS, WEBHOOKS_ALLOW_LOCAL_TARGETS, WEBHOOKS_RETRY_SCHEDULE,
 * WEBHOOKS_CIRCUIT_COOLDOWN_SECONDS (tests),
 * WEBHOOKS_TIMEOUT_MS, WEBHOOKS_QUEUE_VISIBILITY_SECONDS, WEBHOOKS_QUEUE_INFLIGHT_LIMIT,
 * WEBHOOKS_DEDICATED_LANES, DYNAMODB_PORT, SQS_PORT.
 */
import { resolve } from 'node:path';
import * as z from 'zod';
import { buildConsole } from '../console/build.js';
import { cooldownText, retryScheduleText } from '../lambdas/config.js';
import { CONSOLE_SESSION_PREFIX, isConsoleSessionToken } from '../lambdas/core/console-session-tokens.js';
import { DEFAULT_RETRY_SCHEDULE } from '../lambdas/core/retry.js';
import { DEFAULTS } from '../lambdas/environment.js';
import { LANE_CONCURRENCY, LOCAL_BACKENDS } from '../local/backends/backend.js';
import { STANDARD_QUEUE_IN_FLIGHT_LIMIT } from '../local/sqlite/queue-limits.js';
import { isLoopback, startLocalStack } from '../local/stack.js';

/** The well-known development key; only this one is ever printed. */
const DEV_KEY = { brand: 'demo', key: 'local-dev-key' };

const port = z.coerce.number().int().min(0).max(65535);
const settingsSchema = z.object({
  PORT: port.default(3000),
  /** The API's address; beyond loopback, the SSRF guard of the AWS shape applies to listeners. */
  HOST: z.string().min(1).default('127.0.0.1'),
  WEBHOOKS_LOCAL_BACKEND: z.enum(LOCAL_BACKENDS).default('sqlite'),
  /** Loopback and plain-http listeners; default only while HOST is loopback. */
  WEBHOOKS_ALLOW_LOCAL_TARGETS: z.enum(['true', 'false']).optional(),
  /** Tests: each SQLite queue's in-flight limit (SQS's is 120,000). */
  WEBHOOKS_QUEUE_INFLIGHT_LIMIT: z.coerce
    .number()
    .int()
    .min(1)
    .max(STANDARD_QUEUE_IN_FLIGHT_LIMIT)
    .optional(),
  DATA_DIR: z.string().min(1).default('./.data'),
  WEBHOOKS_API_KEYS: z
    .string()
    .optional()
    .transform((value, context) => {
      if (value === undefined || value.trim() === '') return [DEV_KEY];
      return value.split(',').map((pair) => {
        const [brand = '', ...rest] = pair.trim().split(':');
        const key = rest.join(':');
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(brand) || key.length < 8) {
          context.addIssue({
            code: 'custom',
            message: 'each entry must be brand:key, the key 8 characters or more',
          });
        }
        if (isConsoleSessionToken(key)) {
          context.addIssue({
            code: 'custom',
            message: `a key may not start with ${CONSOLE_SESSION_PREFIX} (console session tokens do)`,
          });
        }
        return { brand, key };
      });
    }),
  WEBHOOKS_RETRY_SCHEDULE: retryScheduleText,
  /**
   * SQLite mode: brands with a delivery queue and poller of their own, `brand[:maxConcurrency]` separated
   * by commas (as the construct's `dedicatedLanes`).
   */
  WEBHOOKS_DEDICATED_LANES: z
    .string()
    .optional()
    .transform((value, context) => {
      if (value === undefined || value.trim() === '') return [];
      const lanes = value.split(',').map((entry) => {
        const [brand = '', concurrency] = entry.trim().split(':');
        const maxConcurrency = concurrency === undefined ? LANE_CONCURRENCY : Number(concurrency);
        if (
          !/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(brand) ||
          !Number.isInteger(maxConcurrency) ||
          maxConcurrency < 1
        ) {
          context.addIssue({
            code: 'custom',
            message: 'each entry must be brand or brand:maxConcurrency (1 or more)',
          });
        }
        return { brand, maxConcurrency };
      });
      if (new Set(lanes.map((lane) => lane.brand)).size !== lanes.length) {
        context.addIssue({ code: 'custom', message: 'a brand may have one lane only' });
      }
      return lanes;
    }),
  WEBHOOKS_TIMEOUT_MS: z.coerce.number().int().min(1).max(60_000).optional(),
  /** Tests only: `first,max` seconds of an open circuit's cool-down (default 30,300). */
  WEBHOOKS_CIRCUIT_COOLDOWN_SECONDS: cooldownText,
  /** Soak and crash tests only (SQS's own range); see LocalStackOptions.queueVisibilityTimeoutSeconds. */
  WEBHOOKS_QUEUE_VISIBILITY_SECONDS: z.coerce.number().int().min(1).max(43_200).optional(),
  DYNAMODB_PORT: port.optional(),
  SQS_PORT: port.optional(),
});

async function main(): Promise<void> {
  const parsed = settingsSchema.safeParse(process.env);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) console.error(`${issue.path.join('.')}: ${issue.message}`);
    process.exit(2);
  }
  const settings = parsed.data;
  const backend = process.argv.includes('--aws-emulators')
    ? 'aws-emulators'
    : settings.WEBHOOKS_LOCAL_BACKEND;
  const dataDir = resolve(settings.DATA_DIR);
  const loopback = isLoopback(settings.HOST);
  // The well-known development key opens only a service no other machine reaches.
  const apiKeys = loopback
    ? settings.WEBHOOKS_API_KEYS
    : settings.WEBHOOKS_API_KEYS.filter((pair) => pair !== DEV_KEY);
  // The console is built from its sources at every start (esbuild, well under a second): nothing built is kept.
  const consoleAssets = await buildConsole();
  const stack = await startLocalStack({
    consoleAssets,
    port: settings.PORT,
    host: settings.HOST,
    backend,
    dataDir,
    apiKeys,
    ...(settings.WEBHOOKS_ALLOW_LOCAL_TARGETS
      ? { allowLocalTargets: settings.WEBHOOKS_ALLOW_LOCAL_TARGETS === 'true' }
      : {}),
    ...(settings.WEBHOOKS_QUEUE_INFLIGHT_LIMIT
      ? { queueInFlightLimit: settings.WEBHOOKS_QUEUE_INFLIGHT_LIMIT }
      : {}),
    ...(settings.WEBHOOKS_DEDICATED_LANES.length > 0
      ? { dedicatedLanes: settings.WEBHOOKS_DEDICATED_LANES }
      : {}),
    ...(settings.WEBHOOKS_RETRY_SCHEDULE ? { retrySchedule: settings.WEBHOOKS_RETRY_SCHEDULE } : {}),
    ...(settings.WEBHOOKS_TIMEOUT_MS ? { timeoutMs: settings.WEBHOOKS_TIMEOUT_MS } : {}),
    ...(settings.WEBHOOKS_CIRCUIT_COOLDOWN_SECONDS
      ? { circuitCooldownSeconds: settings.WEBHOOKS_CIRCUIT_COOLDOWN_SECONDS }
      : {}),
    ...(settings.WEBHOOKS_QUEUE_VISIBILITY_SECONDS
      ? { queueVisibilityTimeoutSeconds: settings.WEBHOOKS_QUEUE_VISIBILITY_SECONDS }
      : {}),
    ...(settings.DYNAMODB_PORT !== undefined ? { dynamoPort: settings.DYNAMODB_PORT } : {}),
    ...(settings.SQS_PORT !== undefined ? { sqsPort: settings.SQS_PORT } : {}),
    log: (line) => console.error(`local: ${line}`),
  });
  const schedule = settings.WEBHOOKS_RETRY_SCHEDULE ?? DEFAULT_RETRY_SCHEDULE;
  const keys = apiKeys.map(({ brand, key }) =>
    key === DEV_KEY.key ? `${brand}: ${key}` : `${brand}: (key from WEBHOOKS_API_KEYS)`,
  );
  console.log(
    [
      backend === 'sqlite'
        ? 'CommBox webhooks, local runtime (embedded default: store and queues in SQLite)'
        : 'CommBox webhooks, local runtime (AWS emulators: DynamoDB on dynalite, SQS on fauxqs)',
      `  API and EventBridge PutEvents  ${stack.url}${loopback ? '' : '  (reachable beyond this machine)'}`,
      `  console                        ${stack.url}/console`,
      ...stack.banner,
      `  data folder                    ${dataDir}`,
      `  listeners allowed              ${
        stack.allowLocalTargets
          ? 'https and http, loopback included (local targets)'
          : 'https on public addresses only (the SSRF guard of the AWS shape)'
      }`,
      `  API keys                       ${keys.length > 0 ? keys.join(', ') : 'none from the environment'}`,
      `  retry schedule (s)             ${schedule.join(', ')}`,
      `  timeout per attempt            ${settings.WEBHOOKS_TIMEOUT_MS ?? DEFAULTS.deliveryTimeoutMs} ms`,
      ...(settings.WEBHOOKS_QUEUE_VISIBILITY_SECONDS
        ? [
            `  queue visibility timeout       ${settings.WEBHOOKS_QUEUE_VISIBILITY_SECONDS} s (not as deployed)`,
          ]
        : []),
      ...(settings.WEBHOOKS_QUEUE_INFLIGHT_LIMIT
        ? [`  queue in-flight limit          ${settings.WEBHOOKS_QUEUE_INFLIGHT_LIMIT} (SQS: 120,000)`]
        : []),
      `ready ${stack.url} (Ctrl-C stops)`,
    ].join('\n'),
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping (finishing the deliveries in flight)...`);
    stack.stop().then(
      () => {
        console.log('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(`local runtime failed to start: ${error instanceof Error ? error.message : String(error)}`);
  // A data folder refused (local/sqlite/stores/data-folder.ts) is a setting to change, like a bad variable.
  process.exit(error instanceof Error && error.name === 'LegacyDataFolderError' ? 2 : 1);
});
