/**
 * Dedicated lanes, measured: brand A puts a flood of events as fast as it can (its listener answers at
 * once) while brand B puts one event every 200 ms; prints B's event→listener latency (p50, p99) during the
 * flood and how long A's flood took to deliver, once on the shared delivery queue and once with A in a lane
 * of its own (WEBHOOKS_DEDICATED_LANES). Runs the local stack (`npm start`'s entry) as a child process;
 * loopback only; every loop is bounded.
 *
 * Settings: LANES_FLOOD (A's events, default 5000). Alone: `npx tsx scripts/isolation/lanes.ts`.
 */
import {
  A,
  B,
  flood,
  percentile,
  RecordingListener,
  runAlone,
  startStack,
  steady,
  subscribe,
  waitFor,
} from './support.js';

const FLOOD = Number(process.env.LANES_FLOOD ?? 5000);
const B_EVERY_MS = 200;
const DRAIN_LIMIT_MS = 180_000;

async function phase(laneForA: boolean): Promise<string> {
  const stack = await startStack({
    WEBHOOKS_LOCAL_BACKEND: 'sqlite',
    ...(laneForA ? { WEBHOOKS_DEDICATED_LANES: `${A.brand}:8` } : {}),
  });
  const a = await RecordingListener.start(() => 'healthy');
  const b = await RecordingListener.start(() => 'healthy');
  try {
    await subscribe(stack.a, 'lanes', a.url);
    await subscribe(stack.b, 'lanes', b.url);
    const started = Date.now();
    // B's trickle runs beside A's flood (one producer, ten events a request), until A's flood is delivered.
    const trickle = steady(stack.producer, B.brand, B_EVERY_MS);
    await flood(stack.producer, A.brand, FLOOD, 1);
    const putMs = Date.now() - started;
    await waitFor(() => a.latencies.length >= FLOOD, DRAIN_LIMIT_MS - putMs);
    const sentB = await trickle.stop();
    const drainedMs = Date.now() - started;
    await waitFor(() => b.latencies.length >= sentB, 10_000);
    const latenciesB = b.latencies.map((entry) => entry.ms);
    return (
      `${laneForA ? 'A in its own lane' : 'one shared queue '}: A ${a.latencies.length}/${FLOOD} delivered in ` +
      `${(drainedMs / 1000).toFixed(1)} s (put in ${(putMs / 1000).toFixed(1)} s); B ${latenciesB.length}/${sentB}, ` +
      `p50 ${percentile(latenciesB, 50).toFixed(0)} ms, p99 ${percentile(latenciesB, 99).toFixed(0)} ms`
    );
  } finally {
    a.close();
    b.close();
    await stack.stop();
  }
}

export async function run(): Promise<{ title: string; lines: string[] }> {
  return {
    title: `Dedicated lanes: A floods ${FLOOD} events; B sends one every ${B_EVERY_MS} ms meanwhile`,
    lines: [await phase(false), await phase(true)],
  };
}

runAlone(import.meta.url, run);
