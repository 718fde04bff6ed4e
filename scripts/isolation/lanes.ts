/**
 * Dedicated lanes, measured: brand A puts a flood of events as fast as it can (its listener answers at
 * once) while brand B puts one event every 200 ms; prints B's event→listener latency (p50, p99) during the
 * flood and how long A's flood took to deliver, once on the shared delivery queue and once with A in a lane
 * of its own (WEBHOOKS_DEDICATED_LANES). Runs the local stack (`npm start`'s entry) as a child process;
 * loopback only; every loop is bounded.
 *
 * Settings: LANES_FLOOD (A's events, default 5000). Alone: `npx tsx scripts/isolation/lanes.ts`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { apiClient } from '../../test/integration/support/api-client.js';
import { commboxEvent, eventBridgeClient, putEvents } from '../../test/integration/support/events.js';
import { freshDataDir, removeDataDir } from '../../test/integration/support/fixtures.js';
import { BRANDS, startLocalProcess } from '../../test/integration/support/local-process.js';
import { runAlone } from './support.js';

const FLOOD = Number(process.env.LANES_FLOOD ?? 5000);
const B_EVERY_MS = 200;
const DRAIN_LIMIT_MS = 180_000;

async function startListener(): Promise<{ url: string; server: Server; latencies: number[] }> {
  const latencies: number[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const sentAt = Number(/"SentAt":(\d+(?:\.\d+)?)/.exec(Buffer.concat(chunks).toString('utf8'))?.[1]);
      if (Number.isFinite(sentAt)) latencies.push(Date.now() - sentAt);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, server, latencies };
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function phase(laneForA: boolean): Promise<string> {
  const dataDir = await freshDataDir();
  const stack = await startLocalProcess({
    dataDir,
    env: {
      WEBHOOKS_LOCAL_BACKEND: 'sqlite',
      WEBHOOKS_API_KEYS: `${BRANDS.acme.brand}:${BRANDS.acme.key},${BRANDS.globex.brand}:${BRANDS.globex.key}`,
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      ...(laneForA ? { WEBHOOKS_DEDICATED_LANES: `${BRANDS.acme.brand}:8` } : {}),
    },
  });
  const producer = eventBridgeClient(stack.url);
  const a = await startListener();
  const b = await startListener();
  try {
    for (const [key, url] of [
      [BRANDS.acme.key, a.url],
      [BRANDS.globex.key, b.url],
    ] as const) {
      const response = await apiClient(stack.url, key).post('/subscriptions', {
        name: 'lanes',
        entity: 'Tag',
        events: ['OnAdd'],
        url,
        includeCompleteData: true,
      });
      if (response.status !== 201) throw new Error(`subscription refused: ${JSON.stringify(response.body)}`);
    }
    const tag = (brand: string, id: number) =>
      commboxEvent(brand, 'Tag.OnAdd', { tagId: String(id), name: 'x', SentAt: Date.now() });
    const started = Date.now();
    let sentB = 0;
    let flooding = true;
    // B's trickle runs beside A's flood, until A's flood is delivered.
    const trickle = (async () => {
      while ((flooding || a.latencies.length < FLOOD) && Date.now() - started < DRAIN_LIMIT_MS) {
        sentB += 1;
        await putEvents(producer, [tag(BRANDS.globex.brand, sentB)]);
        await new Promise((resolve) => setTimeout(resolve, B_EVERY_MS));
      }
    })();
    for (let first = 0; first < FLOOD; first += 10) {
      const count = Math.min(10, FLOOD - first);
      await putEvents(
        producer,
        Array.from({ length: count }, (_, index) => tag(BRANDS.acme.brand, first + index)),
      );
    }
    flooding = false;
    const putMs = Date.now() - started;
    await trickle;
    const drainedMs = Date.now() - started;
    const settle = Date.now() + 10_000;
    while (b.latencies.length < sentB && Date.now() < settle)
      await new Promise((resolve) => setTimeout(resolve, 50));
    return (
      `${laneForA ? 'A in its own lane' : 'one shared queue '}: A ${a.latencies.length}/${FLOOD} delivered in ` +
      `${(drainedMs / 1000).toFixed(1)} s (put in ${(putMs / 1000).toFixed(1)} s); B ${b.latencies.length}/${sentB}, ` +
      `p50 ${percentile(b.latencies, 50).toFixed(0)} ms, p99 ${percentile(b.latencies, 99).toFixed(0)} ms`
    );
  } finally {
    a.server.close();
    b.server.close();
    producer.destroy();
    await stack.stop();
    await removeDataDir(dataDir);
  }
}

export async function run(): Promise<{ title: string; lines: string[] }> {
  return {
    title: `Dedicated lanes: A floods ${FLOOD} events; B sends one every ${B_EVERY_MS} ms meanwhile`,
    lines: [await phase(false), await phase(true)],
  };
}

runAlone(import.meta.url, run);
