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
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { apiClient } from '../../test/integration/support/api-client.js';
import { commboxEvent, eventBridgeClient, putEvents } from '../../test/integration/support/events.js';
import { freshDataDir, removeDataDir } from '../../test/integration/support/fixtures.js';
import { BRANDS, capturedLogs, startLocalProcess } from '../../test/integration/support/local-process.js';
import { busiestSecond } from '../../test/integration/support/windows.js';
import { runAlone } from './support.js';

const LIMIT = Number(process.env.RATE_LIMIT_PER_SECOND ?? 10);
const EVENTS = Number(process.env.RATE_LIMIT_EVENTS ?? 150);
/** B's pace: one event every 200 ms. */
const B_EVERY_MS = 200;
/** How long to wait for A's burst to drain, beyond what the limit needs. */
const DRAIN_SLACK_MS = 60_000;

/** A loopback listener answering 204 at once; records when each request arrived and its event's latency. */
async function startListener(): Promise<{
  url: string;
  server: Server;
  arrivals: number[];
  latencies: number[];
}> {
  const arrivals: number[] = [];
  const latencies: number[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const now = Date.now();
      arrivals.push(now);
      const sentAt = Number(/"SentAt":(\d+(?:\.\d+)?)/.exec(Buffer.concat(chunks).toString('utf8'))?.[1]);
      if (Number.isFinite(sentAt)) latencies.push(now - sentAt);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    server,
    arrivals,
    latencies,
  };
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export async function run(): Promise<{ title: string; lines: string[] }> {
  const dataDir = await freshDataDir();
  const stack = await startLocalProcess({
    dataDir,
    env: {
      WEBHOOKS_API_KEYS: `${BRANDS.acme.brand}:${BRANDS.acme.key},${BRANDS.globex.brand}:${BRANDS.globex.key}`,
      WEBHOOKS_RETRY_SCHEDULE: '0,5,30',
      // Info: each deferral is a log line, counted below.
      POWERTOOLS_LOG_LEVEL: 'INFO',
    },
  });
  const producer = eventBridgeClient(stack.url);
  const a = await startListener();
  const b = await startListener();
  try {
    const subscribe = async (key: string, url: string, extra: Record<string, unknown>) => {
      const response = await apiClient(stack.url, key).post('/subscriptions', {
        name: 'isolation',
        entity: 'Tag',
        events: ['OnAdd'],
        url,
        includeCompleteData: true,
        ...extra,
      });
      if (response.status !== 201) throw new Error(`subscription refused: ${JSON.stringify(response.body)}`);
    };
    await subscribe(BRANDS.acme.key, a.url, { maxRequestsPerSecond: LIMIT });
    await subscribe(BRANDS.globex.key, b.url, {});
    const tag = (brand: string, id: number) =>
      commboxEvent(brand, 'Tag.OnAdd', { tagId: String(id), name: 'x', SentAt: Date.now() });

    const started = Date.now();
    // A's burst: as fast as PutEvents takes it (10 entries a request).
    for (let first = 0; first < EVENTS; first += 10) {
      const count = Math.min(10, EVENTS - first);
      await putEvents(
        producer,
        Array.from({ length: count }, (_, index) => tag(BRANDS.acme.brand, first + index)),
      );
    }
    // B's steady trickle, until A's burst has drained (or the deadline).
    const deadline = started + (EVENTS / LIMIT) * 1000 + DRAIN_SLACK_MS;
    let sentB = 0;
    while (a.arrivals.length < EVENTS && Date.now() < deadline) {
      sentB += 1;
      await putEvents(producer, [tag(BRANDS.globex.brand, sentB)]);
      await new Promise((resolve) => setTimeout(resolve, B_EVERY_MS));
    }
    const bDeadline = Date.now() + 10_000;
    while (b.latencies.length < sentB && Date.now() < bDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const drainedMs = Math.max(...a.arrivals) - started;
    const requeued = capturedLogs.filter(
      (log) => log.pid === stack.pid && log.line.includes('"delivery deferred"'),
    ).length;
    return {
      title: `Rate limit: A limited to ${LIMIT}/s receives a burst of ${EVENTS}; B sends one event every ${B_EVERY_MS} ms`,
      lines: [
        `A: ${a.arrivals.length}/${EVENTS} delivered in ${(drainedMs / 1000).toFixed(1)} s (${((EVENTS - 1) / LIMIT).toFixed(1)} s at exactly the limit); most in any 1-s window: ${busiestSecond(a.arrivals)} (limit ${LIMIT}, +10 % = ${Math.floor(LIMIT * 1.1)})`,
        `A: re-queued ${requeued} times in all while waiting (${(requeued / EVENTS).toFixed(2)} per delivery): each one SQS message`,
        `B: ${b.latencies.length}/${sentB} delivered; event→listener p50 ${percentile(b.latencies, 50).toFixed(0)} ms, p99 ${percentile(b.latencies, 99).toFixed(0)} ms`,
      ],
    };
  } finally {
    a.server.close();
    b.server.close();
    producer.destroy();
    await stack.stop();
    await removeDataDir(dataDir);
  }
}

runAlone(import.meta.url, run);
