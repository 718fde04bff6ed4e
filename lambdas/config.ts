import * as z from 'zod';
import { ENV } from '../lib/definitions.js';
import { DEFAULT_RETRY_SCHEDULE, retryScheduleSchema } from './core/retry.js';

const flag = z
  .enum(['true', 'false'])
  .default('false')
  .transform((value) => value === 'true');
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const schema = z.object({
  [ENV.tableName]: z.string().min(3),
  [ENV.deliveryQueueUrl]: z.string().min(1).optional(),
  [ENV.eventBusName]: z.string().min(1).optional(),
  [ENV.allowLocalTargets]: flag,
  [ENV.deliveryTimeoutMs]: positiveInt(15_000),
  [ENV.retrySchedule]: z
    .string()
    .optional()
    .transform((value) => (value ? value.split(',').map((delay) => Number(delay.trim())) : undefined))
    .pipe(retryScheduleSchema.optional()),
  [ENV.retentionDays]: positiveInt(30),
  [ENV.disableAfterDays]: positiveInt(5),
  [ENV.deliveryLog]: z.enum(['full', 'failures']).default('full'),
});

/** The handlers' settings, read once per container from the environment the stack (or `npm start`) sets. */
export interface Config {
  readonly tableName: string;
  readonly deliveryQueueUrl?: string;
  readonly eventBusName?: string;
  /** Local runtime only: loopback listeners and plain http are allowed. */
  readonly allowLocalTargets: boolean;
  readonly deliveryTimeoutMs: number;
  /** The schedule for subscriptions that set none. */
  readonly retrySchedule: readonly number[];
  /** Event and delivery records expire after this many days (DynamoDB TTL). */
  readonly retentionDays: number;
  /** A subscription with no successful delivery for this many days is disabled. */
  readonly disableAfterDays: number;
  /** `failures`: deliveries that succeed at the first attempt are not written to the log. */
  readonly deliveryLog: 'full' | 'failures';
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = schema.safeParse(env);
  if (!result.success) {
    const fields = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new Error(`Invalid configuration: ${fields}`);
  }
  const values = result.data;
  return {
    tableName: values[ENV.tableName],
    deliveryQueueUrl: values[ENV.deliveryQueueUrl],
    eventBusName: values[ENV.eventBusName],
    allowLocalTargets: values[ENV.allowLocalTargets],
    deliveryTimeoutMs: values[ENV.deliveryTimeoutMs],
    retrySchedule: values[ENV.retrySchedule] ?? DEFAULT_RETRY_SCHEDULE,
    retentionDays: values[ENV.retentionDays],
    disableAfterDays: values[ENV.disableAfterDays],
    deliveryLog: values[ENV.deliveryLog],
  };
}
