/**
 * `npm run bench`: the delivery pipeline's performance on this machine, in one run (docs/PERFORMANCE.md).
 *
 *   1. End to end: the local stack (local/stack.ts, the deployed handler modules) in a child process,
 *      K subscriptions to loopback listeners in another, events put with the real EventBridge client from
 *      this one. A burst (as fast as the producer puts) gives deliveries/s; a steady rate gives the
 *      event → listener latency percentiles.
 *   2. The floor: the same listener, payload and signature scheme, POSTed straight by a keep-alive loop
 *      at the same concurrency; the ratio end to end / floor.
 *   3. What AWS would bill: every SDK call the handlers make (and the event source mappings' SQS calls),
 *      priced per million deliveries for fan-out 1 and N, with the delivery log full and failures-only.
 *   4. Cold start: each function's bundle as deployed and its module load time.
 *
 * Everything listens on 127.0.0.1 only; every loop is bounded in count and time. `--quick` for a smoke
 * run; sizes from BENCH_* variables (scripts/bench/options.ts); `--profile` for a CPU profile of the burst.
 * The burst and steady phases run on the embedded default (SQLite), or on the AWS emulators with
 * WEBHOOKS_LOCAL_BACKEND=aws-emulators; the cost runs always on the emulators (they count AWS calls).
 */
import { writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { measureColdStart } from './bench/cold-start.js';
import { spawnChild } from './bench/ipc.js';
import { parseOptions } from './bench/options.js';
import { formatProfile, summarizeProfile } from './bench/profile.js';
import { type BenchResults, cpuPressure, type FloorResult, formatReport, machine } from './bench/report.js';
import { type ListenerStats, runConfig } from './bench/run.js';

const options = parseOptions(process.argv.slice(2), process.env);
const started = performance.now();
const step = (text: string) =>
  console.error(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${text}`);

const results: { -readonly [K in keyof BenchResults]: BenchResults[K] } = {
  machine: machine(),
  costRuns: [],
};
const listener = await spawnChild('listener.ts', { env: { BENCH_LISTENERS: String(options.fanout) } });
const ports = listener.ready.ports as number[];

try {
  const common = {
    putConcurrency: options.putConcurrency,
    drainSeconds: options.drainSeconds,
    ...(options.logLevel ? { logLevel: options.logLevel } : {}),
  };
  const main = {
    ...common,
    backend: options.backend,
    fanout: options.fanout,
    brands: 1,
    deliveryLog: 'full' as const,
  };
  const profilePath = options.profile
    ? join(tmpdir(), `commbox-bench-burst-${Date.now()}.cpuprofile`)
    : undefined;
  if (!options.skip.has('burst')) {
    step(`burst: fan-out ${options.fanout}, ${options.burstEvents} events as fast as the producer puts them`);
    results.burst = await runConfig(listener, ports, {
      ...main,
      phase: { kind: 'burst', events: options.burstEvents },
      ...(profilePath ? { profilePath } : {}),
    });
    if (profilePath)
      results.profile = `${formatProfile(summarizeProfile(profilePath, 15))}\n (profile: ${profilePath})`;
  }

  if (!options.skip.has('steady')) {
    step(`steady: fan-out ${options.fanout}, ${options.steadyRate} events/s for ${options.steadySeconds} s`);
    results.steady = await runConfig(listener, ports, {
      ...main,
      phase: { kind: 'steady', rate: options.steadyRate, seconds: options.steadySeconds },
    });
  }

  // The floor replays the burst's own payload at the burst's concurrency.
  const burst = results.burst?.phase;
  if (!options.skip.has('floor') && burst?.listener.sample) {
    const concurrency = options.floorConcurrency ?? Math.max(1, burst.listener.maxConnections);
    step(`floor: keep-alive signed POSTs, concurrency ${concurrency}, ${options.floorSeconds} s`);
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    await listener.call('configure', { secrets: ports.map(() => secret) });
    const floor = await spawnChild('floor.ts');
    try {
      const body = burst.listener.sample.body;
      const loop = (seconds: number) =>
        floor.call<Omit<FloorResult, 'concurrency' | 'bodyBytes' | 'verified' | 'rejected'>>(
          'run',
          { ports, body, secret, concurrency, durationMs: seconds * 1000, maxRequests: 1_000_000 },
          seconds * 1000 + 30_000,
        );
      await loop(1); // warm-up: JIT and connections, as the pipeline had its own
      await listener.call('reset');
      const run = await loop(options.floorSeconds);
      const seen = await listener.call<ListenerStats>('stats');
      results.floor = {
        ...run,
        concurrency,
        bodyBytes: Buffer.byteLength(body),
        verified: seen.verified,
        rejected: seen.rejected,
      };
    } finally {
      await floor.stop();
    }
  }

  if (!options.skip.has('cost')) {
    // Fan-out 1 is spread over brands with a listener each (many customers), as fan-out N spreads its
    // deliveries over N listeners: about the same load per listener.
    const runs = [
      { fanout: 1, brands: options.costBrands, deliveryLog: 'full' },
      { fanout: 1, brands: options.costBrands, deliveryLog: 'failures' },
      { fanout: options.fanout, brands: 1, deliveryLog: 'full' },
      { fanout: options.fanout, brands: 1, deliveryLog: 'failures' },
    ] as const;
    for (const run of runs) {
      const events = Math.ceil(options.costDeliveries / run.fanout);
      step(`cost: fan-out ${run.fanout} × ${run.brands} brands, log ${run.deliveryLog}, ${events} events`);
      results.costRuns.push(
        await runConfig(listener, ports, {
          ...common,
          ...run,
          // AWS's bill counts AWS calls: the emulator mode makes them (the SQLite default makes none).
          backend: 'aws-emulators',
          phase: { kind: 'burst', events },
        }),
      );
    }
  }

  if (!options.skip.has('cold')) {
    step(`cold start: esbuild bundles, ${options.coldRuns} fresh processes each`);
    results.cold = await measureColdStart(options.coldRuns);
  }
} finally {
  await listener.stop();
}

step('done');
results.machine.loadAverageAtEnd = loadavg()
  .map((value) => value.toFixed(2))
  .join(' ');
results.machine.cpuPressureAtEnd = cpuPressure();
console.log(formatReport(results));
if (options.json) writeFileSync(options.json, JSON.stringify(results, null, 2));
