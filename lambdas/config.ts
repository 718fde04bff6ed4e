import * as z from 'zod';
import { DEFAULT_RETRY_SCHEDULE, retryScheduleSchema } from './core/retry.js';
import { DEFAULTS, DELIVERY_LOG_MODES, type DeliveryLogMode, ENV } from './environment.js';

/**
 * The rules each setting must meet, shared with the CDK construct's prop validation so a stack that synthesizes
 * never starts handlers that refuse their configuration.
 */
export const settingSchemas = {
  deliveryTimeoutMs: z.number().int().positive(),
  days: z.number().int().min(1),
  deliveryLog: z.enum(DELIVERY_LOG_MODES),
  retrySchedule: retryScheduleSchema,
  maxSubscriptionsPerBrand: z.number().int().min(1).max(10_000),
} as const;

/** A retry schedule written as comma-separated seconds (`0,5,300`), as environment variables carry it. */
export const retryScheduleText = z
  .string()
  .optional()
  .transform((value) => (value ? value.split(',').map((delay) => Number(delay.trim())) : undefined))
  .pipe(retryScheduleSchema.optional());

/** Ports written as comma-separated numbers (`3000,4566`), as environment variables carry them. */
const portsText = z
  .string()
  .optional()
  .transform((value) => (value ? value.split(',').map((port) => Number(port.trim())) : []))
  .pipe(z.array(z.number().int().min(1).max(65_535)));

/** DEDICATED_LANES: JSON mapping each brand with a lane of its own to its delivery queue URL. */
const lanesText = z
  .string()
  .optional()
  .transform((value, context) => {
    if (!value) return {};
    try {
      return JSON.parse(value) as unknown;
    } catch {
      context.addIssue({ code: 'custom', message: 'must be JSON: {"<brand>": "<queue URL>"}' });
      return z.NEVER;
    }
  })
  .pipe(z.record(z.string().min(1), z.string().min(1)));

const flag = z
  .enum(['true', 'false'])
  .default('false')
  .transform((value) => value === 'true');
/** `first,max` seconds of an open circuit's cool-down (tests), as environment variables carry them. */
export const cooldownText = z
  .string()
  .optional()
  .transform((value) => (value ? value.split(',').map((seconds) => Number(seconds.trim())) : undefined))
  .pipe(
    z
      .tuple([z.number().int().min(1).max(3_600), z.number().int().min(1).max(3_600)])
      .refine(([first, max]) => first <= max, 'the first cool-down must not exceed the longest')
      .optional(),
  );

const fromText = (schema: z.ZodNumber, fallback: number) => z.coerce.number().pipe(schema).default(fallback);

const schema = z.object({
  [ENV.tableName]: z.string().min(3),
  [ENV.deliveryQueueUrl]: z.string().min(1).optional(),
  [ENV.dedicatedLanes]: lanesText,
  [ENV.eventBusName]: z.string().min(1).optional(),
  [ENV.allowLocalTargets]: flag,
  [ENV.refusedListenerPorts]: portsText,
  [ENV.deliveryTimeoutMs]: fromText(settingSchemas.deliveryTimeoutMs, DEFAULTS.deliveryTimeoutMs),
  [ENV.retrySchedule]: retryScheduleText,
  [ENV.circuitCooldownSeconds]: cooldownText,
  [ENV.retentionDays]: fromText(settingSchemas.days, DEFAULTS.retentionDays),
  [ENV.disableAfterDays]: fromText(settingSchemas.days, DEFAULTS.disableAfterDays),
  [ENV.deliveryLog]: settingSchemas.deliveryLog.default(DEFAULTS.deliveryLog),
  [ENV.secretsKmsKeyId]: z.string().min(1).optional(),
  [ENV.secretsKeyFile]: z.string().min(1).optional(),
  [ENV.maxSubscriptionsPerBrand]: fromText(
    settingSchemas.maxSubscriptionsPerBrand,
    DEFAULTS.maxSubscriptionsPerBrand,
  ),
});

/** The handlers' settings, read once per container from the environment the stack (or `npm start`) sets. */
export interface Config {
  readonly tableName: string;
  readonly deliveryQueueUrl?: string;
  /** Brands whose deliveries have a queue of their own: brand → queue URL (the rest use deliveryQueueUrl). */
  readonly dedicatedLanes: Readonly<Record<string, string>>;
  readonly eventBusName?: string;
  /** Local runtime only: loopback listeners and plain http are allowed. */
  readonly allowLocalTargets: boolean;
  /** Local runtime: the service's own loopback ports (API, internal stores), refused as listeners. */
  readonly refusedListenerPorts: readonly number[];
  readonly deliveryTimeoutMs: number;
  /** The schedule for subscriptions that set none. */
  readonly retrySchedule: readonly number[];
  /** Tests: an open circuit's first and longest cool-down; unset, the breaker's defaults. */
  readonly circuitCooldownSeconds?: readonly [number, number];
  /** Event and delivery records expire after this many days (DynamoDB TTL). */
  readonly retentionDays: number;
  /** A subscription with no successful delivery for this many days is disabled. */
  readonly disableAfterDays: number;
  /** `failures`: deliveries that succeed at the first attempt are not written to the log. */
  readonly deliveryLog: DeliveryLogMode;
  /**
   * What encrypts secret fields at rest (docs/DECISIONS.md "Secrets at rest"): a KMS key in AWS, a key
   * file locally; neither (unit tests) stores them as given.
   */
  readonly secretsKey?: { readonly kmsKeyId: string } | { readonly keyFile: string };
  /** A brand may have at most this many subscriptions. */
  readonly maxSubscriptionsPerBrand: number;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = schema.safeParse(env);
  if (!result.success) {
    const fields = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new Error(`Invalid configuration: ${fields}`);
  }
  const values = result.data;
  const kmsKeyId = values[ENV.secretsKmsKeyId];
  const keyFile = values[ENV.secretsKeyFile];
  if (kmsKeyId && keyFile) {
    throw new Error(`Invalid configuration: set ${ENV.secretsKmsKeyId} or ${ENV.secretsKeyFile}, not both`);
  }
  return {
    tableName: values[ENV.tableName],
    deliveryQueueUrl: values[ENV.deliveryQueueUrl],
    dedicatedLanes: values[ENV.dedicatedLanes],
    eventBusName: values[ENV.eventBusName],
    allowLocalTargets: values[ENV.allowLocalTargets],
    refusedListenerPorts: values[ENV.refusedListenerPorts],
    deliveryTimeoutMs: values[ENV.deliveryTimeoutMs],
    retrySchedule: values[ENV.retrySchedule] ?? DEFAULT_RETRY_SCHEDULE,
    ...(values[ENV.circuitCooldownSeconds]
      ? { circuitCooldownSeconds: values[ENV.circuitCooldownSeconds] }
      : {}),
    retentionDays: values[ENV.retentionDays],
    disableAfterDays: values[ENV.disableAfterDays],
    deliveryLog: values[ENV.deliveryLog],
    ...(kmsKeyId ? { secretsKey: { kmsKeyId } } : keyFile ? { secretsKey: { keyFile } } : {}),
    maxSubscriptionsPerBrand: values[ENV.maxSubscriptionsPerBrand],
  };
}
