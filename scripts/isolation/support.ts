/**
 * What the isolation scenarios share: a local stack (`npm start`'s entry as a child process, on a fresh
 * data folder), loopback listeners that record each event's latency, producers, percentiles and the
 * scale. Loopback only; every wait is bounded.
 */

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DatabaseSync } from 'node:sqlite';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { type ApiClient, apiClient } from '../../test/integration/support/api-client.js';
import {
  commboxEvent,
  eventBridgeClient,
  putFlood,
  putSteadily,
} from '../../test/integration/support/events.js';
import { freshDataDir, removeDataDir } from '../../test/integration/support/fixtures.js';
import {
  BRANDS,
  type LocalProcess,
  startLocalProcess,
} from '../../test/integration/support/local-process.js';
import type {
  BrandClientCommand,
  BrandClientData,
  BrandClientMessage,
  BrandClientStats,
} from './brand-client.js';

/** Every scenario's result: a title and the lines printed under it. */
export interface ScenarioResult {
  readonly title: string;
  readonly lines: string[];
}

/** ISOLATION_SCALE (default 1) scales each scenario's event counts, e.g. 0.1 for a quick run. */
export const SCALE = Number(process.env.ISOLATION_SCALE ?? 1);
export const scaled = (count: number): number => Math.max(10, Math.round(count * SCALE));

/** Brand A floods or fails; brand B is the quiet neighbour whose latency is measured. */
export const A = BRANDS.acme;
export const B = BRANDS.globex;
export const DELIVERY_QUEUE = 'commbox-webhooks-delivery';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface Stack {
  readonly process: LocalProcess;
  readonly a: ApiClient;
  readonly b: ApiClient;
  readonly producer: EventBridgeClient;
  stop(): Promise<void>;
}

/** The local stack with both brands' keys and `env`, on a fresh data folder (removed by `stop`). */
export async function startStack(env: Record<string, string> = {}): Promise<Stack> {
  const dataDir = await freshDataDir();
  const stack = await startLocalProcess({
    dataDir,
    env: {
      WEBHOOKS_API_KEYS: `${A.brand}:${A.key},${B.brand}:${B.key}`,
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      ...env,
    },
  });
  const producer = eventBridgeClient(stack.url);
  return {
    process: stack,
    a: apiClient(stack.url, A.key),
    b: apiClient(stack.url, B.key),
    producer,
    async stop() {
      producer.destroy();
      await stack.stop();
      await removeDataDir(dataDir);
    },
  };
}

/** `fail` answers 500 (opens the circuit after five), `reject` 400 (a quick client error, which does not). */
export type Behaviour = 'healthy' | 'hang' | 'fail' | 'reject';

/** A loopback listener. Each request's event carries `SentAt` (epoch ms) and `tagId`. */
export class RecordingListener {
  /** event→listener latency (ms) of each request, with the time it was put and its tag id. */
  readonly latencies: { sentAt: number; ms: number; tag?: string }[] = [];
  /** Distinct tag ids received. */
  readonly tags = new Set<string>();
  requests = 0;
  lastAt = 0;

  private constructor(
    readonly url: string,
    private readonly server: Server,
  ) {}

  static async start(behaviour: () => Behaviour): Promise<RecordingListener> {
    let self: RecordingListener | undefined;
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const now = Date.now();
        const body = Buffer.concat(chunks).toString('utf8');
        if (self) {
          self.requests += 1;
          self.lastAt = now;
        }
        const mode = behaviour();
        if (mode === 'hang') return; // never answers: the sender's timeout ends it
        if (mode === 'fail' || mode === 'reject') {
          response.writeHead(mode === 'fail' ? 500 : 400).end();
          return;
        }
        const sentAt = Number(/"SentAt":(\d+)/.exec(body)?.[1]);
        const tag = /"tagId":"([^"]+)"/.exec(body)?.[1];
        if (self && Number.isFinite(sentAt)) self.latencies.push({ sentAt, ms: now - sentAt, tag });
        if (self && tag) self.tags.add(tag);
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new RecordingListener(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, server);
    return self;
  }

  close(): void {
    this.server.closeAllConnections();
    this.server.close();
  }
}

/** Subscribes the brand's Tag.OnAdd to `url` (the complete data, so the listener sees SentAt). */
export async function subscribe(
  api: ApiClient,
  name: string,
  url: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const created = await api.post('/subscriptions', {
    name,
    entity: 'Tag',
    events: ['OnAdd'],
    url,
    includeCompleteData: true,
    ...extra,
  });
  if (created.status !== 201) throw new Error(`subscription ${name}: ${JSON.stringify(created.body)}`);
  return String((created.body as { id: string }).id);
}

/** One Tag.OnAdd of `brand`, stamped with the time it is put. */
export const tagEvent = (brand: string, tagId: string) =>
  commboxEvent(brand, 'Tag.OnAdd', { tagId, name: 'x', SentAt: Date.now() });

/**
 * Puts `count` events of `brand` as fast as `parallel` producers can (ten to a PutEvents); resolves with
 * the time the last put was accepted.
 */
export async function flood(
  producer: EventBridgeClient,
  brand: string,
  count: number,
  parallel = 4,
  prefix = brand,
): Promise<number> {
  await putFlood(producer, count, (index) => tagEvent(brand, `${prefix}-${index}`), parallel);
  return Date.now();
}

/**
 * B's steady producer: one event every `everyMs` until `stop()`; `stop` resolves with how many were put.
 * `accepted` maps each event's tag id to how long its PutEvents took (ms), the first hop of its latency.
 */
export function steady(producer: EventBridgeClient, brand: string, everyMs = 200, prefix = brand) {
  const steps = putSteadily(producer, everyMs, (n) => tagEvent(brand, `${prefix}-${n}`));
  return {
    get accepted(): Map<string, number> {
      return new Map(steps.putMs.map((ms, index) => [`${prefix}-${index + 1}`, ms]));
    },
    stop: steps.stop,
  };
}

/** Waits until `done()` or `timeoutMs` passed; true when done. */
export async function waitFor(done: () => boolean, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await sleep(stepMs);
  }
  return true;
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** `p50 … ms  p99 … ms  (n events)` of a set of latencies. */
export function summary(values: readonly number[]): string {
  const ms = (v: number) => `${Number.isFinite(v) ? v.toFixed(0) : '-'} ms`;
  return `p50 ${ms(percentile(values, 50)).padStart(8)}  p99 ${ms(percentile(values, 99)).padStart(8)}  max ${ms(Math.max(...values)).padStart(8)}  (${values.length} events)`;
}

/**
 * When route queued each of B's delivery messages: a trigger on the stack's SQLite file (a scratch data
 * folder) copies the routed time (the message's sent_at, the stack's clock), the event's SentAt and its
 * tag id of every first delivery message in B's group into a table of its own. Put→routed = sent_at −
 * SentAt.
 */
export function routedProbe(stack: LocalProcess, brand: string) {
  const file = stack.databaseFile();
  if (!file) throw new Error('the routed probe needs the SQLite mode');
  const db = new DatabaseSync(file);
  db.exec('PRAGMA busy_timeout = 10000');
  db.exec(`
    CREATE TABLE IF NOT EXISTS isolation_routed (put_at INTEGER, routed_at INTEGER, tag TEXT);
    CREATE TRIGGER IF NOT EXISTS isolation_routed_probe AFTER INSERT ON queue_messages
    WHEN NEW.queue = '${DELIVERY_QUEUE}' AND NEW.group_id = '${brand}'
      AND ifnull(json_extract(NEW.body, '$.attemptsBefore'), 0) = 0
    BEGIN
      INSERT INTO isolation_routed
      VALUES (json_extract(NEW.body, '$.event.data.SentAt'), NEW.sent_at, json_extract(NEW.body, '$.event.data.tagId'));
    END;`);
  return {
    /** When (epoch ms) each of B's events, by tag id, was routed. */
    routedAt(): Map<string, number> {
      const rows = db.prepare('SELECT tag, routed_at FROM isolation_routed').all() as {
        tag: string;
        routed_at: number;
      }[];
      return new Map(rows.map((row) => [row.tag, row.routed_at]));
    },
    close: () => db.close(),
  };
}

/**
 * Every message queued in `brand`'s group of the delivery queue (routed, retried, deferred or a hop),
 * counted by a trigger on the stack's SQLite file: how much a brand's deliveries churn through the queue.
 */
export function sendCounter(stack: LocalProcess, brand: string) {
  const file = stack.databaseFile();
  if (!file) throw new Error('the send counter needs the SQLite mode');
  const db = new DatabaseSync(file);
  db.exec('PRAGMA busy_timeout = 10000');
  db.exec(`
    CREATE TABLE IF NOT EXISTS isolation_sends (sent_at INTEGER);
    CREATE TRIGGER IF NOT EXISTS isolation_sends_${brand} AFTER INSERT ON queue_messages
    WHEN NEW.queue = '${DELIVERY_QUEUE}' AND NEW.group_id = '${brand}'
    BEGIN
      INSERT INTO isolation_sends VALUES (NEW.sent_at);
    END;`);
  return {
    /** Messages queued between `from` and `until` (epoch ms). */
    between(from: number, until: number): number {
      const row = db
        .prepare('SELECT count(*) AS n FROM isolation_sends WHERE sent_at >= ? AND sent_at < ?')
        .get(from, until) as { n: number };
      return row.n;
    },
    close: () => db.close(),
  };
}

/** A scenario run on its own (`npx tsx scripts/isolation/<name>.ts`): prints it as the runner would. */
export function runAlone(moduleUrl: string, run: () => Promise<ScenarioResult>): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  run()
    .then(({ title, lines }) => {
      console.log(title);
      for (const line of lines) console.log(`  ${line}`);
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}

/** Warm-up (JIT, connections): B puts events for 2 s and at least one reaches its listener. */
export async function warmUp(stack: Stack, listenerB: RecordingListener): Promise<void> {
  const warm = steady(stack.producer, B.brand);
  await sleep(2_000);
  await warm.stop();
  await waitFor(() => listenerB.requests >= 1, 10_000);
}

/** A brand's client (listener and producers) on a thread of its own: see brand-client.ts. */
export interface BrandClient {
  /** The brand's listener. */
  readonly url: string;
  /** The listener's figures, at most 100 ms old: requests, distinct tags delivered, the last request's time. */
  readonly stats: BrandClientStats;
  /** Starts one event every `everyMs` (tag ids `<prefix>-<n>`); `stop` resolves as `steady`'s does. */
  steady(
    prefix: string,
    everyMs?: number,
  ): Promise<{ stop(): Promise<{ sent: number; accepted: Map<string, number> }> }>;
  /** The listener's event→listener latencies so far, with their tag ids. */
  latencies(): Promise<{ sentAt: number; ms: number; tag?: string }[]>;
  close(): Promise<void>;
}

export async function startBrandClient(
  stack: Stack,
  brand: string,
  behaviour: Behaviour,
): Promise<BrandClient> {
  const worker = new Worker(new URL('./brand-client.ts', import.meta.url), {
    workerData: { stackUrl: stack.process.url, brand, behaviour } satisfies BrandClientData,
  });
  const stats = { requests: 0, delivered: 0, lastAt: 0 };
  const pending = new Map<number, (value: unknown) => void>();
  let nextId = 0;
  const url = await new Promise<string>((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (message: BrandClientMessage) => {
      if (message.kind === 'ready') resolve(message.url);
      else if (message.kind === 'stats') Object.assign(stats, message);
      else {
        pending.get(message.id)?.(message.value);
        pending.delete(message.id);
      }
    });
  });
  const ask = <T>(command: DistributiveOmit<BrandClientCommand, 'id'>): Promise<T> =>
    new Promise<T>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve as (value: unknown) => void);
      worker.postMessage({ ...command, id });
    });
  return {
    url,
    stats,
    async steady(prefix, everyMs = 200) {
      await ask({ kind: 'steady', prefix, everyMs });
      return {
        async stop() {
          const { sent, accepted } = await ask<{ sent: number; accepted: [string, number][] }>({
            kind: 'steady-stop',
          });
          return { sent, accepted: new Map(accepted) };
        },
      };
    },
    latencies: () => ask({ kind: 'latencies' }),
    async close() {
      await Promise.race([ask({ kind: 'stop' }), sleep(2_000)]);
      await worker.terminate();
    },
  };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
