/**
 * `npm run isolation`: does a bad listener slow the healthy ones? Runs the local stack (`npm start`'s entry,
 * as a child process), three healthy loopback listeners and, in turn, no neighbour, a neighbour that hangs
 * until the attempt times out, and one that answers 500 to everything. Puts events at a steady rate that
 * every subscription receives and prints the healthy listeners' event→listener latency (p50, p90, p99) in
 * each phase. Loopback only; every loop is bounded.
 *
 * Settings: ISOLATION_RATE (events/s, default 40), ISOLATION_SECONDS (per phase, default 20),
 * ISOLATION_TIMEOUT_MS (the attempt timeout, default 2000).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { apiClient } from '../test/integration/support/api-client.js';
import { commboxEvent, eventBridgeClient, putEvents } from '../test/integration/support/events.js';
import { freshDataDir, removeDataDir } from '../test/integration/support/fixtures.js';
import { BRANDS, startLocalProcess } from '../test/integration/support/local-process.js';

const RATE = Number(process.env.ISOLATION_RATE ?? 40);
const SECONDS = Number(process.env.ISOLATION_SECONDS ?? 20);
const TIMEOUT_MS = Number(process.env.ISOLATION_TIMEOUT_MS ?? 2000);
const HEALTHY = 3;

type Behaviour = 'healthy' | 'hang' | 'fail';

/** A loopback listener; healthy ones record the latency carried in each event. */
async function startListener(
  behaviour: Behaviour,
  latencies: number[],
): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (behaviour === 'hang') return; // never answers: the sender's timeout ends it
      if (behaviour === 'fail') {
        response.writeHead(500).end();
        return;
      }
      const sentAt = Number(/"SentAt":(\d+(?:\.\d+)?)/.exec(Buffer.concat(chunks).toString('utf8'))?.[1]);
      if (Number.isFinite(sentAt)) latencies.push(Date.now() - sentAt);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, server };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const dataDir = await freshDataDir();
  const stack = await startLocalProcess({
    dataDir,
    env: {
      WEBHOOKS_API_KEYS: `${BRANDS.acme.brand}:${BRANDS.acme.key}`,
      WEBHOOKS_RETRY_SCHEDULE: '0,5,30',
      WEBHOOKS_TIMEOUT_MS: String(TIMEOUT_MS),
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    },
  });
  const api = apiClient(stack.url, BRANDS.acme.key);
  const producer = eventBridgeClient(stack.url);
  const latencies: number[] = [];
  const servers: Server[] = [];
  const results: { phase: string; count: number; p50: number; p90: number; p99: number }[] = [];
  try {
    for (let index = 0; index < HEALTHY; index += 1) {
      const listener = await startListener('healthy', latencies);
      servers.push(listener.server);
      await api.post('/subscriptions', {
        name: `healthy-${index}`,
        entity: 'Tag',
        events: ['OnAdd'],
        url: listener.url,
        includeCompleteData: true,
      });
    }
    let neighbour: string | undefined;
    // A first, unmeasured phase warms the stack up (JIT, connections), so the phases compare like for like.
    for (const phase of ['warm-up', 'no neighbour', 'hanging neighbour', 'failing neighbour'] as const) {
      if (neighbour) await api.delete(`/subscriptions/${neighbour}`);
      neighbour = undefined;
      if (phase === 'hanging neighbour' || phase === 'failing neighbour') {
        const listener = await startListener(phase === 'hanging neighbour' ? 'hang' : 'fail', []);
        servers.push(listener.server);
        const created = await api.post('/subscriptions', {
          name: `neighbour-${phase}`,
          entity: 'Tag',
          events: ['OnAdd'],
          url: listener.url,
        });
        neighbour = String((created.body as { id: string }).id);
      }
      latencies.length = 0;
      const started = Date.now();
      let sent = 0;
      while (Date.now() - started < SECONDS * 1000) {
        const due = Math.floor(((Date.now() - started) / 1000) * RATE);
        while (sent < due) {
          sent += 1;
          await putEvents(producer, [
            commboxEvent(BRANDS.acme.brand, 'Tag.OnAdd', {
              tagId: String(sent),
              name: 'x',
              SentAt: Date.now(),
            }),
          ]);
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const deadline = Date.now() + 30_000;
      while (latencies.length < sent * HEALTHY && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const sorted = [...latencies].sort((a, b) => a - b);
      if (phase === 'warm-up') continue;
      results.push({
        phase,
        count: sorted.length,
        p50: percentile(sorted, 50),
        p90: percentile(sorted, 90),
        p99: percentile(sorted, 99),
      });
      console.log(`${phase}: ${sorted.length}/${sent * HEALTHY} healthy deliveries`);
    }
  } finally {
    for (const server of servers) server.close();
    producer.destroy();
    await stack.stop();
    await removeDataDir(dataDir);
  }
  console.log(
    `\nHealthy listeners' event→listener latency (ms), ${HEALTHY} healthy subscriptions, ${RATE} events/s for ` +
      `${SECONDS} s per phase, attempt timeout ${TIMEOUT_MS} ms`,
  );
  console.log(
    `machine: ${os.cpus()[0]?.model ?? 'unknown cpu'}, ${os.cpus().length} cores, node ${process.version}`,
  );
  console.log('phase                 deliveries     p50     p90     p99');
  for (const row of results) {
    console.log(
      `${row.phase.padEnd(20)} ${String(row.count).padStart(11)} ${[row.p50, row.p90, row.p99].map((v) => v.toFixed(0).padStart(7)).join(' ')}`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
