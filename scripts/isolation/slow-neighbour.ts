/**
 * Slow neighbour: does a bad listener slow the healthy ones? Three healthy loopback listeners of one
 * brand and, in turn, no neighbour, a neighbour that hangs until the attempt times out, and one that
 * answers 500 to everything. Events at a steady rate that every subscription receives; prints the healthy
 * listeners' event→listener latency in each phase.
 *
 * Settings: ISOLATION_RATE (events/s, default 40), ISOLATION_SECONDS (per phase, default 10),
 * ISOLATION_TIMEOUT_MS (the attempt timeout, default 2000).
 */
import { putEvents } from '../../test/integration/support/events.js';
import {
  A,
  RecordingListener,
  type ScenarioResult,
  sleep,
  startStack,
  subscribe,
  summary,
  tagEvent,
  waitFor,
} from './support.js';

const RATE = Number(process.env.ISOLATION_RATE ?? 40);
const SECONDS = Number(process.env.ISOLATION_SECONDS ?? 10);
const TIMEOUT_MS = Number(process.env.ISOLATION_TIMEOUT_MS ?? 2000);
const HEALTHY = 3;
const PHASES = ['warm-up', 'no neighbour', 'hanging neighbour', 'failing neighbour'] as const;

export async function run(): Promise<ScenarioResult> {
  const stack = await startStack({
    WEBHOOKS_RETRY_SCHEDULE: '0,5,30',
    WEBHOOKS_TIMEOUT_MS: String(TIMEOUT_MS),
  });
  const listeners: RecordingListener[] = [];
  const lines: string[] = [];
  try {
    const healthy: RecordingListener[] = [];
    for (let index = 0; index < HEALTHY; index += 1) {
      const listener = await RecordingListener.start(() => 'healthy');
      listeners.push(listener);
      healthy.push(listener);
      await subscribe(stack.a, `healthy-${index}`, listener.url);
    }
    let neighbour: string | undefined;
    for (const phase of PHASES) {
      if (neighbour) await stack.a.delete(`/subscriptions/${neighbour}`);
      neighbour = undefined;
      if (phase === 'hanging neighbour' || phase === 'failing neighbour') {
        const listener = await RecordingListener.start(() =>
          phase === 'hanging neighbour' ? 'hang' : 'fail',
        );
        listeners.push(listener);
        neighbour = await subscribe(stack.a, `neighbour-${phase}`, listener.url);
      }
      const started = Date.now();
      const received = () => healthy.reduce((sum, listener) => sum + listener.latencies.length, 0);
      const before = received();
      let sent = 0;
      while (Date.now() - started < SECONDS * 1000) {
        const due = Math.floor(((Date.now() - started) / 1000) * RATE);
        while (sent < due) {
          sent += 1;
          await putEvents(stack.producer, [tagEvent(A.brand, `${phase}-${sent}`)]);
        }
        await sleep(5);
      }
      await waitFor(() => received() - before >= sent * HEALTHY, 30_000);
      if (phase === 'warm-up') continue;
      const latencies = healthy.flatMap((listener) =>
        listener.latencies.filter((entry) => entry.sentAt >= started).map((entry) => entry.ms),
      );
      lines.push(
        `${phase.padEnd(18)} ${summary(latencies)}; ${latencies.length}/${sent * HEALTHY} delivered`,
      );
    }
  } finally {
    for (const listener of listeners) listener.close();
    await stack.stop();
  }
  return {
    title: `slow neighbour: ${HEALTHY} healthy subscriptions, ${RATE} events/s for ${SECONDS} s per phase, attempt timeout ${TIMEOUT_MS} ms`,
    lines,
  };
}
