/*
 * One pipeline configuration end to end: start the pipeline child (one stack, one DELIVERY_LOG), create
 * the subscriptions to the listener's ports through the API, warm up, then measure one phase. The
 * producer lives here, in the parent, and puts events with the real EventBridge client; each event
 * carries its put time (`data.BenchSentAt`, ms on the monotonic clock) and every subscription includes the
 * complete data, so the listener can tell each delivery's latency.
 */
import { closeSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { findEvent } from '../../lambdas/core/catalogue.js';
import type { DeliveryLogMode } from '../../lambdas/environment.js';
import type { LocalBackendName } from '../../local/backends/backend.js';
import { type Cost, priceWindow } from './cost.js';
import { benchBrand, type Child, spawnChild } from './ipc.js';
import { clockMs, type Summary } from './stats.js';
import type { Tally } from './tally.js';

export interface ListenerStats {
  readonly received: number;
  readonly unique: number;
  readonly duplicates: number;
  readonly verified: number;
  readonly rejected: number;
  readonly firstAt: number;
  readonly lastAt: number;
  readonly latency: Summary;
  readonly maxConnections: number;
  readonly sample?: { body: string; headers: Record<string, string> };
}

export interface PhaseResult {
  readonly name: string;
  readonly eventsPut: number;
  readonly putErrors: number;
  readonly expected: number;
  readonly listener: ListenerStats;
  /** From the first put to the last delivery received. */
  readonly seconds: number;
  readonly putSeconds: number;
  readonly deliveriesPerSecond: number;
  readonly cost: Cost;
  readonly stackLogLines: number;
  readonly errors: string[];
  /** The service process's peak resident memory (MiB) up to the end of the phase. */
  readonly peakRssMiB: number;
  /**
   * CPU time (user + system) the service process spent per delivery during the phase: unlike deliveries/s,
   * it hardly moves with what else the machine runs.
   */
  readonly cpuMsPerDelivery: number;
}

export interface ConfigResult {
  readonly backend: LocalBackendName;
  readonly fanout: number;
  readonly brands: number;
  readonly deliveryLog: DeliveryLogMode;
  readonly phase: PhaseResult;
}

/** A burst (as fast as the producer puts, 10 events per call) or a steady rate (one event per call). */
export type PhasePlan =
  | { readonly kind: 'burst'; readonly events: number }
  | { readonly kind: 'steady'; readonly rate: number; readonly seconds: number };

export interface ConfigPlan {
  /** Subscriptions per brand: deliveries per event. */
  readonly fanout: number;
  /**
   * Brands, each with `fanout` subscriptions to listener ports of their own (brands × fanout ports);
   * events go to the brands in turn. Fan-out 1 over several brands is many customers, one listener each.
   */
  readonly brands: number;
  readonly deliveryLog: DeliveryLogMode;
  /** Where the stack keeps its store and queues (the cost runs use the emulators: they count AWS calls). */
  readonly backend: LocalBackendName;
  /** One measured phase per pipeline process: a phase that fell behind leaves no backlog to the next. */
  readonly phase: PhasePlan;
  readonly putConcurrency: number;
  readonly drainSeconds: number;
  readonly logLevel?: string;
  /** Write a CPU profile of the phase to this file. */
  readonly profilePath?: string;
}

const EXAMPLE = findEvent('Object', 'OnNew')?.example ?? {};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Event `sequence`, of brand `sequence % brands`. */
function entry(sequence: number, brands: number): PutEventsRequestEntry {
  return {
    Source: 'commbox',
    DetailType: 'Object.OnNew',
    Detail: JSON.stringify({
      brand: benchBrand(sequence % brands).brand,
      data: { ...EXAMPLE, BenchSeq: sequence, BenchSentAt: clockMs() },
    }),
  };
}

export async function runConfig(
  listener: Child,
  ports: readonly number[],
  plan: ConfigPlan,
): Promise<ConfigResult> {
  const logDir = mkdtempSync(join(tmpdir(), 'commbox-bench-log-'));
  const logFile = join(logDir, 'handlers.log');
  const fd = openSync(logFile, 'w');
  const pipeline = await spawnChild('pipeline.ts', {
    env: {
      DELIVERY_LOG: plan.deliveryLog,
      WEBHOOKS_LOCAL_BACKEND: plan.backend,
      BENCH_BRANDS: String(plan.brands),
      POWERTOOLS_SERVICE_NAME: 'commbox-webhooks',
      ...(plan.logLevel ? { POWERTOOLS_LOG_LEVEL: plan.logLevel } : {}),
    },
    stdout: fd,
  });
  const url = String(pipeline.ready.url);
  const producer = new EventBridgeClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
    // As many sockets as puts in flight (putSteady's bound): a put never waits in the SDK for a socket.
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: 256 }) },
  });
  let sequence = 0;
  try {
    if (plan.brands * plan.fanout > ports.length) throw new Error('more subscriptions than listener ports');
    const secrets: string[] = [];
    for (let index = 0; index < plan.brands * plan.fanout; index += 1) {
      const { key } = benchBrand(Math.floor(index / plan.fanout));
      const response = await fetch(`${url}/subscriptions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: `bench-${index}`,
          entity: 'Object',
          events: ['OnNew'],
          url: `http://127.0.0.1:${ports[index]}/hook`,
          format: 'json',
          includeCompleteData: true,
        }),
        signal: AbortSignal.timeout(10_000),
      });
      const created = (await response.json()) as { secret?: string };
      if (!response.ok || !created.secret) throw new Error(`subscription ${index}: ${response.status}`);
      secrets.push(created.secret);
    }
    await listener.call('configure', { secrets });

    // Warm-up: JIT, connections, the subscription cache if any; not measured.
    await listener.call('reset');
    const warm = await putBurst(producer, 20, 4, plan.brands, () => sequence++);
    await listener.call('wait', { target: warm.put * plan.fanout, timeoutMs: 30_000 }, 35_000);
    await settle(pipeline);

    const { phase, profilePath: profile } = plan;
    const putEvents = () =>
      phase.kind === 'burst'
        ? putBurst(producer, phase.events, plan.putConcurrency, plan.brands, () => sequence++)
        : putSteady(producer, phase.rate, phase.seconds, plan.brands, () => sequence++);
    {
      await listener.call('reset');
      await pipeline.call('begin');
      const logStart = statSync(logFile).size;
      if (profile) await pipeline.call('profileStart');
      const started = clockMs();
      const { put, errors } = await putEvents();
      const putSeconds = (clockMs() - started) / 1000;
      const expected = put * plan.fanout;
      const timeoutMs = plan.drainSeconds * 1000;
      await listener.call('wait', { target: expected, timeoutMs }, timeoutMs + 5_000);
      const stats = await listener.call<ListenerStats>('stats', { expected });
      if (profile) await pipeline.call('profileStop', { path: profile });
      // The handlers' last writes and deletes follow the last delivery.
      if (stats.unique >= expected) await settle(pipeline);
      const tally = await pipeline.call<Tally & { stackLogLines: number; peakRssMiB: number; cpuMs: number }>(
        'end',
      );
      const seconds = (stats.lastAt - started) / 1000;
      const result: PhaseResult = {
        name: phase.kind,
        eventsPut: put,
        putErrors: errors,
        expected,
        listener: stats,
        seconds,
        putSeconds,
        deliveriesPerSecond: stats.unique / seconds,
        cost: priceWindow({
          tally,
          eventsPut: put,
          deliveries: stats.unique,
          logBytes: statSync(logFile).size - logStart,
        }),
        stackLogLines: tally.stackLogLines,
        errors: tally.errors,
        peakRssMiB: tally.peakRssMiB,
        cpuMsPerDelivery: tally.cpuMs / Math.max(1, stats.unique),
      };
      return {
        backend: plan.backend,
        fanout: plan.fanout,
        brands: plan.brands,
        deliveryLog: plan.deliveryLog,
        phase: result,
      };
    }
  } finally {
    producer.destroy();
    await pipeline.stop();
    closeSync(fd);
    rmSync(logDir, { recursive: true, force: true });
  }
}

/** Waits (at most 10 s) until the handlers have no SDK call in flight and made none for 500 ms. */
async function settle(pipeline: Child): Promise<void> {
  type Activity = { inFlight: number; calls: number; invocations: number };
  let last = await pipeline.call<Activity>('activity');
  for (let round = 0; round < 20; round += 1) {
    await sleep(500);
    const now = await pipeline.call<Activity>('activity');
    if (now.inFlight === 0 && now.calls === last.calls && now.invocations === last.invocations) return;
    last = now;
  }
}

/** `events` events, 10 per PutEvents call, `concurrency` calls in flight. */
async function putBurst(
  producer: EventBridgeClient,
  events: number,
  concurrency: number,
  brands: number,
  next: () => number,
) {
  let taken = 0;
  let put = 0;
  let errors = 0;
  const worker = async () => {
    while (taken < events) {
      const size = Math.min(10, events - taken);
      taken += size;
      const entries = Array.from({ length: size }, () => entry(next(), brands));
      try {
        const output = await producer.send(new PutEventsCommand({ Entries: entries }));
        errors += output.FailedEntryCount ?? 0;
        put += size - (output.FailedEntryCount ?? 0);
      } catch {
        errors += size;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { put, errors };
}

/** `rate` events a second for `seconds`, one per PutEvents call, on schedule (≤ 256 calls in flight). */
async function putSteady(
  producer: EventBridgeClient,
  rate: number,
  seconds: number,
  brands: number,
  next: () => number,
) {
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const started = performance.now();
  const inFlight = new Set<Promise<void>>();
  let issued = 0;
  let put = 0;
  let errors = 0;
  while (issued < total && performance.now() - started < seconds * 1000 + 10_000) {
    const due = Math.min(total, Math.floor((performance.now() - started) / interval) + 1);
    for (; issued < due; issued += 1) {
      if (inFlight.size >= 256) {
        errors += 1;
        continue;
      }
      const call: Promise<void> = producer
        .send(new PutEventsCommand({ Entries: [entry(next(), brands)] }))
        .then(
          (output) => {
            if (output.FailedEntryCount) errors += 1;
            else put += 1;
          },
          () => {
            errors += 1;
          },
        )
        .finally(() => inFlight.delete(call));
      inFlight.add(call);
    }
    await sleep(Math.max(1, Math.min(interval, started + issued * interval - performance.now())));
  }
  await Promise.all(inFlight);
  return { put, errors };
}
