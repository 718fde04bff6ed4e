/**
 * The bench's webhook listener, a child process of its own: BENCH_LISTENERS servers on 127.0.0.1 (one
 * port per subscription, as separate customers would be), answering 204 to every POST. It verifies a
 * sample of the signatures (1 in BENCH_VERIFY_EVERY, default 16; the secrets come from the parent),
 * records the receive time and the put time the event carries (`BenchSentAt`, monotonic ms), the peak of
 * open connections and duplicate webhook ids, and reports them per window (`reset`, then `stats`).
 * Serves the pipeline and the floor alike.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook } from '../../lambdas/core/verify.js';
import { announceReady, serveCommands } from './ipc.js';
import { clockMs, summarize } from './stats.js';

const count = Number(process.env.BENCH_LISTENERS ?? '1');
const SENT_AT = /"BenchSentAt":\s*"?([0-9.]+)/;
const VERIFY_EVERY = Number(process.env.BENCH_VERIFY_EVERY ?? '16');

let secrets: string[] = [];
let openConnections = 0;
let tally = newWindow();

function newWindow() {
  return {
    received: 0,
    ids: new Set<string>(),
    duplicates: 0,
    verified: 0,
    rejected: 0,
    firstAt: Number.NaN,
    lastAt: Number.NaN,
    latencies: [] as number[],
    /** Peak of open connections: a keep-alive sender opens one per request it has in flight. */
    maxConnections: openConnections,
    sample: undefined as { body: string; headers: Record<string, string> } | undefined,
    waiters: [] as { target: number; resolve: () => void }[],
  };
}

function onRequest(index: number, request: IncomingMessage, finish: () => void): void {
  const current = tally;
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const at = clockMs();
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = request.headers as Record<string, string>;
    const secret = secrets[index];
    // A sample (1 in VERIFY_EVERY) is enough to catch a broken signature, and keeps the listener light.
    if (secret && current.received % VERIFY_EVERY === 0) {
      try {
        verifyWebhook({ headers, body, secrets: [secret], parseJson: false });
        current.verified += 1;
      } catch {
        current.rejected += 1;
      }
    }
    const id = headers['webhook-id'] ?? '';
    if (current.ids.has(id)) current.duplicates += 1;
    else current.ids.add(id);
    current.received += 1;
    if (Number.isNaN(current.firstAt)) current.firstAt = at;
    current.lastAt = at;
    const sentAt = Number(SENT_AT.exec(body)?.[1]);
    if (Number.isFinite(sentAt)) current.latencies.push(at - sentAt);
    current.sample ??= { body, headers: { ...headers } };
    finish();
    if (current.waiters.length > 0) {
      current.waiters = current.waiters.filter((waiter) => {
        if (current.ids.size < waiter.target) return true;
        waiter.resolve();
        return false;
      });
    }
  });
}

const servers: Server[] = [];
const ports: number[] = [];
for (let index = 0; index < count; index += 1) {
  const server = createServer((request, response) => {
    onRequest(index, request, () => response.writeHead(204).end());
  });
  server.keepAliveTimeout = 5_000;
  server.on('connection', (socket) => {
    openConnections += 1;
    tally.maxConnections = Math.max(tally.maxConnections, openConnections);
    socket.once('close', () => {
      openConnections -= 1;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  ports.push((server.address() as AddressInfo).port);
}

serveCommands({
  configure: (args) => {
    secrets = (args.secrets as string[] | undefined) ?? [];
  },
  reset: () => {
    for (const waiter of tally.waiters) waiter.resolve();
    tally = newWindow();
  },
  /** Resolves once `target` distinct webhook ids arrived in this tally, or after `timeoutMs`. */
  wait: (args) =>
    new Promise<number>((resolve) => {
      const current = tally;
      const target = Number(args.target);
      if (current.ids.size >= target) return resolve(current.ids.size);
      const timer = setTimeout(() => resolve(current.ids.size), Number(args.timeoutMs));
      current.waiters.push({
        target,
        resolve: () => {
          clearTimeout(timer);
          resolve(current.ids.size);
        },
      });
    }),
  /** With `expected`, deliveries that never came count as infinitely late in the percentiles. */
  stats: (args) => ({
    received: tally.received,
    unique: tally.ids.size,
    duplicates: tally.duplicates,
    verified: tally.verified,
    rejected: tally.rejected,
    firstAt: tally.firstAt,
    lastAt: tally.lastAt,
    latency: summarize([
      ...tally.latencies,
      ...Array<number>(Math.max(0, Number(args.expected ?? 0) - tally.latencies.length)).fill(
        Number.POSITIVE_INFINITY,
      ),
    ]),
    maxConnections: tally.maxConnections,
    sample: tally.sample,
  }),
});
announceReady({ ports });
