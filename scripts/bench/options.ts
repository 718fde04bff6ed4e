import type { LocalBackendName } from '../../local/backends/backend.js';

/*
 * The bench's sizes: the numbers by default, `--quick` for a smoke run, and each one overridable
 * from the environment (BENCH_*). Flags: --quick, --profile (CPU-profile the burst phase),
 * --skip=burst,steady,floor,cost,cold (leave sections out; the floor needs the burst),
 * --json=<file> (every figure, as JSON).
 */

export interface BenchOptions {
  readonly quick: boolean;
  /** The burst and steady phases' backend: WEBHOOKS_LOCAL_BACKEND, SQLite by default. */
  readonly backend: LocalBackendName;
  /** Subscriptions (one listener port each) in the main run: the fan-out. */
  readonly fanout: number;
  /** Burst: events put as fast as the producer can (10 per PutEvents call). */
  readonly burstEvents: number;
  /** PutEvents calls in flight during the burst. */
  readonly putConcurrency: number;
  readonly steadyRate: number;
  readonly steadySeconds: number;
  /** Deliveries of each cost run (fan-out 1 and N, delivery log full and failures-only). */
  readonly costDeliveries: number;
  /** Brands of the fan-out 1 cost runs, one subscription and listener each (≤ fanout; default fanout). */
  readonly costBrands: number;
  readonly floorSeconds: number;
  /** Default: the peak of connections the pipeline held open to the listener during the burst. */
  readonly floorConcurrency?: number;
  readonly coldRuns: number;
  /** Longest wait for the deliveries of a phase after its last put. */
  readonly drainSeconds: number;
  /** POWERTOOLS_LOG_LEVEL for the handlers; unset (INFO) as deployed. */
  readonly logLevel?: string;
  readonly profile: boolean;
  readonly skip: ReadonlySet<string>;
  readonly json?: string;
}

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  const flags = new Map(
    argv.map((arg) => {
      const [name = '', value = 'true'] = arg.replace(/^--/, '').split('=');
      return [name, value] as const;
    }),
  );
  for (const name of flags.keys())
    if (!['quick', 'profile', 'skip', 'json'].includes(name)) throw new Error(`unknown flag --${name}`);
  const quick = flags.has('quick');
  const number = (name: string, full: number, smoke: number, min = 1) => {
    const raw = env[name];
    const value = raw === undefined || raw === '' ? (quick ? smoke : full) : Number(raw);
    if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number ≥ ${min}`);
    return value;
  };
  const floorConcurrency = env.BENCH_FLOOR_CONCURRENCY ? number('BENCH_FLOOR_CONCURRENCY', 1, 1) : undefined;
  const fanout = Math.floor(number('BENCH_FANOUT', 5, 5));
  return {
    quick,
    backend: env.WEBHOOKS_LOCAL_BACKEND === 'aws-emulators' ? 'aws-emulators' : 'sqlite',
    fanout,
    burstEvents: Math.floor(number('BENCH_EVENTS', 2000, 200)),
    putConcurrency: Math.floor(number('BENCH_PUT_CONCURRENCY', 8, 8)),
    steadyRate: number('BENCH_STEADY_RATE', 200, 50),
    steadySeconds: number('BENCH_STEADY_SECONDS', 30, 5),
    costDeliveries: Math.floor(number('BENCH_COST_DELIVERIES', 1000, 200)),
    costBrands: Math.min(fanout, Math.floor(number('BENCH_COST_BRANDS', fanout, fanout))),
    floorSeconds: number('BENCH_FLOOR_SECONDS', 5, 2),
    ...(floorConcurrency ? { floorConcurrency: Math.floor(floorConcurrency) } : {}),
    coldRuns: Math.floor(number('BENCH_COLD_RUNS', 10, 3)),
    drainSeconds: number('BENCH_DRAIN_SECONDS', 60, 30),
    ...(env.BENCH_LOG_LEVEL ? { logLevel: env.BENCH_LOG_LEVEL } : {}),
    profile: flags.has('profile'),
    skip: new Set((flags.get('skip') ?? '').split(',').filter(Boolean)),
    ...(flags.get('json') ? { json: flags.get('json') } : {}),
  };
}
