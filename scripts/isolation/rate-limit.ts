/**
 * The rate-limit scenario of `npm run isolation`: brand A's subscription has `maxRequestsPerSecond`
 * (default 10) and receives a burst of events at once (its listener answers at once); brand B, with no
 * limit, sends one event every 200 ms meanwhile. Prints the most requests A's listener saw in any
 * one-second window, how long A's burst took to drain, and B's event→listener latency (p50, p99).
 * Runs the local stack (`npm start`'s entry) as a child process; loopback only; every loop is bounded.
 *
 * Settings: RATE_LIMIT_PER_SECOND (default 10), RATE_LIMIT_EVENTS (A's burst, default 150).
 * Alone: `npx tsx scripts/isolation/rate-limit.ts`.
 */
import { capturedLogs } from '../../test/integration/support/local-process.js';
import { busiestSecond } from '../../test/integration/support/windows.js';
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

const LIMIT = Number(process.env.RATE_LIMIT_PER_SECOND ?? 10);
const EVENTS = Number(process.env.RATE_LIMIT_EVENTS ?? 150);
/** B's pace: one event every 200 ms. */
const B_EVERY_MS = 200;
/** How long to wait for A's burst to drain, beyond what the limit needs. */
const DRAIN_SLACK_MS = 60_000;

export async function run(): Promise<{ title: string; lines: string[] }> {
  const stack = await startStack({
    WEBHOOKS_RETRY_SCHEDULE: '0,5,30',
    // Info: each deferral is a log line, counted below.
    POWERTOOLS_LOG_LEVEL: 'INFO',
  });
  const a = await RecordingListener.start(() => 'healthy');
  const b = await RecordingListener.start(() => 'healthy');
  try {
    await subscribe(stack.a, 'isolation', a.url, { maxRequestsPerSecond: LIMIT });
    await subscribe(stack.b, 'isolation', b.url);

    const started = Date.now();
    // A's burst: as fast as PutEvents takes it (one producer, 10 entries a request).
    await flood(stack.producer, A.brand, EVENTS, 1);
    // B's steady trickle, until A's burst has drained (or the deadline).
    const trickle = steady(stack.producer, B.brand, B_EVERY_MS);
    await waitFor(
      () => a.requests >= EVENTS,
      started + (EVENTS / LIMIT) * 1000 + DRAIN_SLACK_MS - Date.now(),
    );
    const sentB = await trickle.stop();
    await waitFor(() => b.latencies.length >= sentB, 10_000);
    // When each of A's requests arrived: its event's put time plus its latency.
    const arrivals = a.latencies.map((entry) => entry.sentAt + entry.ms);
    const drainedMs = Math.max(...arrivals) - started;
    const requeued = capturedLogs.filter(
      (log) => log.pid === stack.process.pid && log.line.includes('"delivery deferred"'),
    ).length;
    const latenciesB = b.latencies.map((entry) => entry.ms);
    return {
      title: `Rate limit: A limited to ${LIMIT}/s receives a burst of ${EVENTS}; B sends one event every ${B_EVERY_MS} ms`,
      lines: [
        `A: ${arrivals.length}/${EVENTS} delivered in ${(drainedMs / 1000).toFixed(1)} s (${((EVENTS - 1) / LIMIT).toFixed(1)} s at exactly the limit); most in any 1-s window: ${busiestSecond(arrivals)} (limit ${LIMIT}, +10 % = ${Math.floor(LIMIT * 1.1)})`,
        `A: re-queued ${requeued} times in all while waiting (${(requeued / EVENTS).toFixed(2)} per delivery): each one SQS message`,
        `B: ${latenciesB.length}/${sentB} delivered; event→listener p50 ${percentile(latenciesB, 50).toFixed(0)} ms, p99 ${percentile(latenciesB, 99).toFixed(0)} ms`,
      ],
    };
  } finally {
    a.close();
    b.close();
    await stack.stop();
  }
}

runAlone(import.meta.url, run);
