#!/usr/bin/env node
/**
 * `npm start`: the whole service on 127.0.0.1 in one process (see local/stack.ts and the README).
 * Settings come from the environment: PORT, DATA_DIR, WEBHOOKS_API_KEYS, WEBHOOKS_RETRY_SCHEDULE,
 * WEBHOOKS_TIMEOUT_MS, WEBHOOKS_QUEUE_VISIBILITY_SECONDS, DYNAMODB_PORT, SQS_PORT.
 */
import { resolve } from 'node:path';
import * as z from 'zod';
import { retryScheduleText } from '../lambdas/config.js';
import { DEFAULT_RETRY_SCHEDULE } from '../lambdas/core/retry.js';
import { DEFAULTS } from '../lambdas/environment.js';
import { startLocalStack } from '../local/stack.js';

/** The well-known development key; only this one is ever printed. */
const DEV_KEY = { brand: 'demo', key: 'local-dev-key' };

const port = z.coerce.number().int().min(0).max(65535);
const settingsSchema = z.object({
  PORT: port.default(3000),
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
        return { brand, key };
      });
    }),
  WEBHOOKS_RETRY_SCHEDULE: retryScheduleText,
  WEBHOOKS_TIMEOUT_MS: z.coerce.number().int().min(1).max(60_000).optional(),
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
  const dataDir = resolve(settings.DATA_DIR);
  const stack = await startLocalStack({
    port: settings.PORT,
    dataDir,
    apiKeys: settings.WEBHOOKS_API_KEYS,
    ...(settings.WEBHOOKS_RETRY_SCHEDULE ? { retrySchedule: settings.WEBHOOKS_RETRY_SCHEDULE } : {}),
    ...(settings.WEBHOOKS_TIMEOUT_MS ? { timeoutMs: settings.WEBHOOKS_TIMEOUT_MS } : {}),
    ...(settings.WEBHOOKS_QUEUE_VISIBILITY_SECONDS
      ? { queueVisibilityTimeoutSeconds: settings.WEBHOOKS_QUEUE_VISIBILITY_SECONDS }
      : {}),
    ...(settings.DYNAMODB_PORT !== undefined ? { dynamoPort: settings.DYNAMODB_PORT } : {}),
    ...(settings.SQS_PORT !== undefined ? { sqsPort: settings.SQS_PORT } : {}),
    log: (line) => console.error(`local: ${line}`),
  });
  const schedule = settings.WEBHOOKS_RETRY_SCHEDULE ?? DEFAULT_RETRY_SCHEDULE;
  const keys = settings.WEBHOOKS_API_KEYS.map(({ brand, key }) =>
    key === DEV_KEY.key ? `${brand}: ${key}` : `${brand}: (key from WEBHOOKS_API_KEYS)`,
  );
  console.log(
    [
      'CommBox webhooks, local runtime',
      `  API and EventBridge PutEvents  ${stack.url}`,
      `  DynamoDB (dynalite)            ${stack.dynamoEndpoint}  table ${stack.tableName}`,
      `  SQS (fauxqs)                   ${stack.sqsEndpoint}  delivery queue ${stack.queueUrls.delivery}`,
      `  data folder                    ${dataDir}`,
      `  API keys                       ${keys.join(', ')}`,
      `  retry schedule (s)             ${schedule.join(', ')}`,
      `  timeout per attempt            ${settings.WEBHOOKS_TIMEOUT_MS ?? DEFAULTS.deliveryTimeoutMs} ms`,
      ...(settings.WEBHOOKS_QUEUE_VISIBILITY_SECONDS
        ? [
            `  queue visibility timeout       ${settings.WEBHOOKS_QUEUE_VISIBILITY_SECONDS} s (not as deployed)`,
          ]
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
  process.exit(1);
});
