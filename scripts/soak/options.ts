import { z } from 'zod';

/*
 * A soak run's settings: defaults for the full run (10,000 deliveries), SOAK_* variables, then flags
 * (`--deliveries 500` or `--deliveries=500`), each overriding the one before.
 */

export interface SoakOptions {
  /** Expected deliveries to plan for (events are added until their matches add up to exactly this). */
  readonly deliveries: number;
  /** Or exactly this many events (the expected deliveries are then whatever they match). */
  readonly events?: number;
  /** Subscriptions (each with its own listener), over two brands. */
  readonly subscriptions: number;
  /** Seeds the events and every listener's answers; a run with the same seed puts the same events. */
  readonly seed: string;
  /** SIGKILLs of the stack, evenly spaced over the production; each followed by a restart. */
  readonly kills: number;
  /** Events put per second. */
  readonly rate: number;
  /** Probability that a listener answers an attempt with a failure (5xx, 429, reset, timeout). */
  readonly failureRate: number;
  /** WEBHOOKS_TIMEOUT_MS. */
  readonly timeoutMs: number;
  /** WEBHOOKS_RETRY_SCHEDULE. */
  readonly retrySchedule: readonly number[];
  /** WEBHOOKS_QUEUE_VISIBILITY_SECONDS: how soon a killed process's messages come back. */
  readonly visibilitySeconds: number;
  /** Bound on the wait for the drain after the last event was put. */
  readonly drainTimeoutSeconds: number;
  /** Keep the data folder (and print where) instead of deleting it. */
  readonly keepData: boolean;
}

export const DEFAULT_OPTIONS: SoakOptions = {
  deliveries: 10_000,
  subscriptions: 5,
  seed: 'commbox-soak',
  kills: 2,
  rate: 40,
  failureRate: 0.15,
  timeoutMs: 2000,
  retrySchedule: [0, 1, 1, 2, 2, 3, 3, 5],
  visibilitySeconds: 20,
  drainTimeoutSeconds: 600,
  keepData: false,
};

const count = (max: number) => z.coerce.number().int().min(0).max(max);
const schema = z.strictObject({
  deliveries: count(1_000_000).min(1),
  events: count(1_000_000).min(1).optional(),
  subscriptions: count(24).min(1),
  seed: z.string().min(1).max(100),
  kills: count(10),
  rate: z.coerce.number().positive().max(5000),
  failureRate: z.coerce.number().min(0).max(0.6),
  timeoutMs: count(60_000).min(100),
  retrySchedule: z
    .string()
    .transform((value) => value.split(',').map((delay) => Number(delay.trim())))
    .pipe(z.array(z.number().int().min(0).max(300)).min(1).max(20)),
  visibilitySeconds: count(43_200).min(1),
  drainTimeoutSeconds: count(24 * 3600).min(1),
  keepData: z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1'),
});

const NAMES: Record<keyof SoakOptions, { env: string; flag: string }> = {
  deliveries: { env: 'SOAK_DELIVERIES', flag: 'deliveries' },
  events: { env: 'SOAK_EVENTS', flag: 'events' },
  subscriptions: { env: 'SOAK_SUBSCRIPTIONS', flag: 'subscriptions' },
  seed: { env: 'SOAK_SEED', flag: 'seed' },
  kills: { env: 'SOAK_KILLS', flag: 'kills' },
  rate: { env: 'SOAK_RATE', flag: 'rate' },
  failureRate: { env: 'SOAK_FAILURE_RATE', flag: 'failure-rate' },
  timeoutMs: { env: 'SOAK_TIMEOUT_MS', flag: 'timeout-ms' },
  retrySchedule: { env: 'SOAK_RETRY_SCHEDULE', flag: 'retry-schedule' },
  visibilitySeconds: { env: 'SOAK_VISIBILITY_SECONDS', flag: 'visibility-seconds' },
  drainTimeoutSeconds: { env: 'SOAK_DRAIN_TIMEOUT_S', flag: 'drain-timeout-s' },
  keepData: { env: 'SOAK_KEEP_DATA', flag: 'keep-data' },
};

export const USAGE = `npm run soak [-- --flag value ...]

A fault soak of the local stack: events put with the EventBridge client, delivered to listeners that
fail at random, the stack SIGKILLed and restarted on the same data mid-run. Prints a table and a JSON
line; exits 1 when a delivery was lost (or anything arrived that should not have).

${Object.entries(NAMES)
  .map(([key, { env, flag }]) => {
    const value = DEFAULT_OPTIONS[key as keyof SoakOptions];
    const shown = Array.isArray(value) ? value.join(',') : value === undefined ? '-' : String(value);
    return `  --${flag.padEnd(20)} ${env.padEnd(24)} default ${shown}`;
  })
  .join('\n')}

--events replaces --deliveries: exactly that many events, however many deliveries they make.
SOAK_DEBUG=1 also prints every duplicate with the answers its webhook-id got.`;

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): SoakOptions | 'help' {
  const raw: Record<string, string> = {};
  for (const [key, { env: name }] of Object.entries(NAMES)) {
    const value = env[name];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const byFlag = new Map(Object.entries(NAMES).map(([key, { flag }]) => [flag, key]));
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') return 'help';
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    const key = match?.[1] ? byFlag.get(match[1]) : undefined;
    if (!match || !key) throw new Error(`unknown argument ${JSON.stringify(arg)}\n\n${USAGE}`);
    let value = match[2];
    if (value === undefined) {
      if (key === 'keepData') value = 'true';
      else {
        i += 1;
        value = argv[i];
      }
    }
    if (value === undefined) throw new Error(`--${match[1]} needs a value`);
    raw[key] = value;
  }
  const parsed = schema.partial().safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => {
      const key = issue.path[0] as keyof SoakOptions | undefined;
      const names = key ? NAMES[key] : undefined;
      return `${names ? `--${names.flag} / ${names.env}` : 'options'}: ${issue.message}`;
    });
    throw new Error(issues.join('\n'));
  }
  const defined = Object.fromEntries(Object.entries(parsed.data).filter(([, value]) => value !== undefined));
  return { ...DEFAULT_OPTIONS, ...defined } as SoakOptions;
}
