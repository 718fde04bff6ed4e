import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { webhookId } from '../../lambdas/core/signing.js';
import { verifyWebhook } from '../../lambdas/core/verify.js';
import {
  apiClient,
  bodyOf,
  createdSubscriptionSchema,
  deliveryPageSchema,
} from '../../test/integration/support/api-client.js';
import { BRANDS } from '../../test/integration/support/local-process.js';
import { type AnsweredRequest, BEHAVIOURS, type Behaviour, ChaosListener } from './listeners.js';
import { analyseLogs, type StackActivity } from './logs.js';
import type { SoakOptions } from './options.js';
import {
  type EventPlan,
  eventEntry,
  planEvents,
  planSubscriptions,
  type SoakBrand,
  seededRandom,
} from './plan.js';
import { CrashableStack, type QueueDepths } from './stack.js';

/*
 * One soak run, start to end; every wait in it has a deadline and every loop a bound.
 *
 *   1. K listeners (./listeners.ts) and the local stack (a child process on a fresh data folder, with
 *      a fast retry schedule, a short timeout and a short queue visibility timeout).
 *   2. K subscriptions through the API; the planned events (./plan.ts) and, for each, the subscriptions
 *      that must receive it: the expected (event, subscription) pairs, each known by its webhook-id.
 *   3. The producer puts the events with the EventBridge client, 10 per PutEvents, at `rate` per second,
 *      re-putting what fails (the same `Detail.id`, so a put that got in before a crash is not routed
 *      twice). Meanwhile the stack is SIGKILLed `kills` times, evenly over the production, and
 *      restarted on the same data folder each time.
 *   4. The drain: until every pair was accepted by its listener (a 2xx) or is in its subscription's
 *      failed list, and the queues are empty (what a killed process held has come back and been
 *      handled), or the deadline.
 */

export interface SoakResult {
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly options: SoakOptions;
  readonly events: number;
  readonly subscriptions: number;
  /** Expected (event, subscription) pairs. */
  readonly expected: number;
  /** Pairs their listener accepted (2xx) at least once. */
  readonly delivered: number;
  /** Pairs never accepted that are in the subscription's failed list (every attempt used). */
  readonly failedRecorded: number;
  /** expected − delivered − failedRecorded: must be 0. */
  readonly lost: number;
  /** Pairs both accepted and in the failed list (should not happen). */
  readonly deliveredAndFailed: number;
  readonly duplicates: {
    /** 2xx answers beyond the first for the same webhook-id. */
    readonly extra: number;
    /** Webhook-ids accepted more than once. */
    readonly webhookIds: number;
    /** Extra answers with a kill between it and the answer before: the crash redelivered it. */
    readonly acrossKill: number;
    /** Extra answers within one lifetime of the stack. */
    readonly withinLifetime: number;
    /**
     * Extra answers no kill explains: no kill came after the event was first put and before the answer.
     * Without kills the service sends each delivery once; must be 0.
     */
    readonly unexplained: number;
  };
  /** 2xx answers for webhook-ids no planned pair has (a wrong routing): must be 0. */
  readonly unexpected: number;
  /** Requests whose signature did not verify with the subscription's secret: must be 0. */
  readonly badSignatures: number;
  /** Requests at the wrong listener, or whose body is not the event's: must be 0. */
  readonly payloadMismatches: number;
  /** Requests the listeners received, by the behaviour drawn for each. */
  readonly attempts: { readonly total: number; readonly byBehaviour: Record<Behaviour, number> };
  /** 2xx answers that found the connection already gone (the stack had been killed). */
  readonly lateAnswers: number;
  readonly putRetries: number;
  readonly kills: readonly {
    readonly atSeconds: number;
    readonly eventsPut: number;
    readonly deliveredBefore: number;
    readonly restartSeconds: number;
  }[];
  readonly stack: StackActivity;
  readonly queues?: QueueDepths;
  readonly timing: {
    readonly totalSeconds: number;
    /** First put → last put. */
    readonly productionSeconds: number;
    /** Last put → the last pair delivered (or recorded failed). */
    readonly drainSeconds: number;
    /** Last put → the queues empty (late duplicates included). */
    readonly quietSeconds?: number;
  };
  /** Up to 20 pairs neither delivered nor recorded failed, for a lost > 0. */
  readonly outstanding: readonly { webhookId: string; event: string; subscription: string }[];
  readonly dataDir?: string;
}

interface Pair {
  readonly event: EventPlan;
  readonly subscription: number;
  readonly webhookId: string;
  readonly accepted: number[];
  readonly answers: string[];
  failedAt?: number;
}

const API_KEYS = `${BRANDS.acme.brand}:${BRANDS.acme.key},${BRANDS.globex.brand}:${BRANDS.globex.key}`;
const KEYS: Record<SoakBrand, string> = { acme: BRANDS.acme.key, globex: BRANDS.globex.key };
const PUT_ATTEMPTS = 60;
const QUIET_CHECKS = 3;

export async function runSoak(options: SoakOptions, say: (line: string) => void = () => undefined) {
  const startedAt = Date.now();
  const clock = () => ((Date.now() - startedAt) / 1000).toFixed(1);
  const step = (text: string) => say(`[soak ${clock().padStart(6)} s] ${text}`);
  const problems: string[] = [];

  const dataDir = await mkdtemp(join(tmpdir(), 'commbox-soak-'));
  const random = seededRandom(`${options.seed}/events`);
  const subscriptionPlans = planSubscriptions(options.subscriptions);
  const runTag = randomBytes(4).toString('hex');
  const events = planEvents({
    random,
    subscriptions: subscriptionPlans,
    runTag,
    deliveries: options.deliveries,
    ...(options.events !== undefined ? { events: options.events } : {}),
  });
  const expected = events.reduce((sum, event) => sum + event.subscribers.length, 0);

  const pairs = new Map<string, Pair>();
  const secrets: string[] = [];
  let unexpected = 0;
  let badSignatures = 0;
  let payloadMismatches = 0;
  let delivered = 0;
  let lastResolvedAt = 0;
  const markerPattern = (marker: string) => new RegExp(`(?<![0-9])${marker}(?![0-9])`);

  const onAnswer = (answer: AnsweredRequest) => {
    if (answer.behaviour === 'rejected') {
      badSignatures += 1;
      return;
    }
    const pair = pairs.get(answer.webhookId);
    if (!pair) {
      if (answer.accepted) unexpected += 1;
      return;
    }
    if (pair.subscription !== answer.listener || !markerPattern(pair.event.marker).test(answer.body)) {
      payloadMismatches += 1;
      return;
    }
    pair.answers.push(`${((answer.at - startedAt) / 1000).toFixed(2)}:${answer.behaviour}`);
    if (!answer.accepted) return;
    pair.accepted.push(answer.at);
    if (pair.accepted.length === 1) {
      delivered += 1;
      lastResolvedAt = Math.max(lastResolvedAt, answer.at);
    }
  };
  const verify = (index: number) => (headers: IncomingHttpHeaders, body: string) => {
    const secret = secrets[index];
    if (!secret) return false;
    try {
      verifyWebhook({ headers, body, secrets: [secret], parseJson: false });
      return true;
    } catch {
      return false;
    }
  };

  const listeners: ChaosListener[] = [];
  const stack = new CrashableStack(dataDir, {
    WEBHOOKS_API_KEYS: API_KEYS,
    WEBHOOKS_RETRY_SCHEDULE: options.retrySchedule.join(','),
    WEBHOOKS_TIMEOUT_MS: String(options.timeoutMs),
    WEBHOOKS_QUEUE_VISIBILITY_SECONDS: String(options.visibilitySeconds),
  });
  const producers = new Map<string, EventBridgeClient>();
  const kills: {
    atSeconds: number;
    eventsPut: number;
    deliveredBefore: number;
    restartSeconds: number;
    at: number;
  }[] = [];
  let putRetries = 0;
  let eventsPut = 0;
  /** When each event was first offered to PutEvents, by seq. */
  const offeredAt = new Map<number, number>();
  let firstPutAt = 0;
  let lastPutAt = 0;
  let quietAt: number | undefined;
  let depths: QueueDepths | undefined;
  const subscriptionIds: string[] = [];

  try {
    for (let index = 0; index < options.subscriptions; index += 1) {
      listeners.push(
        await ChaosListener.start({
          index,
          random: seededRandom(`${options.seed}/listener/${index}`),
          failureRate: options.failureRate,
          timeoutMs: options.timeoutMs,
          verify: verify(index),
          onAnswer,
        }),
      );
    }
    step(`starting the local stack on ${dataDir}`);
    await stack.start();

    const url = await stack.url();
    for (const plan of subscriptionPlans) {
      const listener = listeners[plan.index] as ChaosListener;
      const response = await apiClient(url, KEYS[plan.brand]).post('/subscriptions', {
        name: plan.name,
        entity: plan.entity,
        events: plan.events,
        url: listener.url,
        format: plan.format,
        includeCompleteData: false,
      });
      const created = bodyOf(createdSubscriptionSchema, response);
      secrets[plan.index] = created.secret;
      subscriptionIds.push(created.id);
    }
    for (const event of events) {
      for (const index of event.subscribers) {
        const id = webhookId(`${event.brand}/${event.id}`, subscriptionIds[index] as string);
        pairs.set(id, { event, subscription: index, webhookId: id, accepted: [], answers: [] });
      }
    }
    step(
      `${events.length} events → ${expected} deliveries over ${options.subscriptions} subscriptions; ` +
        `${options.rate} events/s, ${options.kills} SIGKILL(s), failure rate ${options.failureRate}`,
    );

    // The producer, and the kills keyed to its progress.
    const producer = async (url: string) => {
      let client = producers.get(url);
      if (!client) {
        client = new EventBridgeClient({
          endpoint: url,
          region: 'us-east-1',
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
          maxAttempts: 1,
          requestHandler: { requestTimeout: 10_000 },
        });
        producers.set(url, client);
      }
      return client;
    };
    const put = async (batch: readonly PutEventsRequestEntry[]) => {
      let pending = [...batch];
      for (const entry of batch) offeredAt.set(seqOf(entry), Date.now());
      for (let attempt = 1; attempt <= PUT_ATTEMPTS; attempt += 1) {
        try {
          const client = await producer(await stack.url());
          const output = await client.send(new PutEventsCommand({ Entries: pending }));
          const results = output.Entries ?? [];
          pending = pending.filter((_, i) => results[i]?.EventId === undefined);
          if (pending.length === 0) return;
        } catch {
          // The stack is down or restarting: put again, the same events with the same ids.
        }
        putRetries += 1;
        await sleep(Math.min(100 * attempt, 1000));
      }
      throw new Error(`PutEvents kept failing for ${pending.length} event(s)`);
    };
    const killAt = Array.from({ length: options.kills }, (_, i) =>
      Math.floor((events.length * (i + 1)) / (options.kills + 1)),
    );
    let producing = true;
    const killer = (async () => {
      for (const threshold of killAt) {
        while (producing && eventsPut < threshold) await sleep(20);
        if (!producing) return;
        const at = Date.now();
        const before = { eventsPut, delivered };
        step(`SIGKILL ${kills.length + 1} (${before.eventsPut} events put, ${before.delivered} delivered)`);
        const { readyAt } = await stack.crashAndRestart();
        kills.push({
          atSeconds: (at - startedAt) / 1000,
          eventsPut: before.eventsPut,
          deliveredBefore: before.delivered,
          restartSeconds: (readyAt - at) / 1000,
          at,
        });
        step(`restarted in ${((readyAt - at) / 1000).toFixed(1)} s`);
      }
    })();
    try {
      firstPutAt = Date.now();
      const perBatchMs = (10 / options.rate) * 1000;
      for (let start = 0; start < events.length; start += 10) {
        const due = firstPutAt + (start / 10) * perBatchMs;
        if (due > Date.now()) await sleep(due - Date.now());
        await put(events.slice(start, start + 10).map(eventEntry));
        eventsPut = Math.min(events.length, start + 10);
        if (eventsPut % 1000 < 10) step(`${eventsPut} events put, ${delivered} delivered`);
      }
      lastPutAt = Date.now();
    } finally {
      producing = false;
      await killer;
    }
    step(`all ${events.length} events put in ${((lastPutAt - firstPutAt) / 1000).toFixed(1)} s; draining`);

    // The drain.
    const deadline = lastPutAt + options.drainTimeoutSeconds * 1000;
    let lastFailedQuery = 0;
    let lastProgress = { delivered, at: Date.now() };
    let quietChecks = 0;
    let lastReport = Date.now();
    while (Date.now() < deadline) {
      if (!stack.alive()) throw new Error('the local stack died by itself');
      if (delivered !== lastProgress.delivered) lastProgress = { delivered, at: Date.now() };
      const outstanding = [...pairs.values()].filter((p) => p.accepted.length === 0 && !p.failedAt).length;
      if (Date.now() - lastReport > 10_000) {
        step(`${delivered} delivered, ${outstanding} outstanding`);
        lastReport = Date.now();
      }
      if (outstanding > 0) {
        quietChecks = 0;
        // The failed lists are read only once nothing moves for a while.
        if (Date.now() - lastProgress.at > 2000 && Date.now() - lastFailedQuery > 3000) {
          lastFailedQuery = Date.now();
          await readFailed(await stack.url(), subscriptionPlans, subscriptionIds, pairs).catch(
            () => undefined,
          );
        }
        await sleep(200);
        continue;
      }
      const now = await stack.depths();
      depths = now;
      const quiet = now !== undefined && now.ingest === 0 && now.delivery === 0;
      quietChecks = quiet ? quietChecks + 1 : 0;
      if (quietChecks === 1) quietAt = Date.now();
      if (quietChecks >= QUIET_CHECKS) break;
      await sleep(500);
    }
    if (quietChecks < QUIET_CHECKS) quietAt = undefined;
    await readFailed(await stack.url(), subscriptionPlans, subscriptionIds, pairs);
    depths = (await stack.depths()) ?? depths;
    step('drained; stopping the stack (SIGTERM)');
    await stack.stop();
  } finally {
    await stack.stop().catch(() => undefined);
    for (const client of producers.values()) client.destroy();
    await Promise.all(listeners.map((listener) => listener.close()));
    if (!options.keepData) await rm(dataDir, { recursive: true, force: true });
    else
      for (const lifetime of stack.lifetimes)
        await writeFile(join(dataDir, `stack-${lifetime.generation}.log`), `${lifetime.logs.join('\n')}\n`);
  }

  // The accounting.
  const all = [...pairs.values()];
  const failedRecorded = all.filter((p) => p.accepted.length === 0 && p.failedAt !== undefined);
  const deliveredAndFailed = all.filter((p) => p.accepted.length > 0 && p.failedAt !== undefined).length;
  const outstanding = all.filter((p) => p.accepted.length === 0 && p.failedAt === undefined);
  const lost = expected - delivered - failedRecorded.length;
  for (const p of failedRecorded) lastResolvedAt = Math.max(lastResolvedAt, p.failedAt ?? 0);
  let extra = 0;
  let acrossKill = 0;
  let unexplained = 0;
  let duplicatedIds = 0;
  for (const pair of all) {
    if (pair.accepted.length < 2) continue;
    duplicatedIds += 1;
    for (let i = 1; i < pair.accepted.length; i += 1) {
      extra += 1;
      const [before, after] = [pair.accepted[i - 1] ?? 0, pair.accepted[i] ?? 0];
      if (kills.some((kill) => kill.at >= before && kill.at <= after)) acrossKill += 1;
      const offered = offeredAt.get(pair.event.seq) ?? 0;
      if (!kills.some((kill) => kill.at >= offered && kill.at <= after)) unexplained += 1;
    }
  }
  // SOAK_DEBUG=1: every duplicate with the answers its webhook-id got (seconds from the start).
  if (process.env.SOAK_DEBUG) {
    for (const pair of all.filter((p) => p.accepted.length > 1))
      say(
        `duplicate ${pair.webhookId} sub ${pair.subscription} ${pair.event.entity}.${pair.event.event} seq ${pair.event.seq}: ${pair.answers.join(' ')} kills ${kills.map((k) => ((k.at - startedAt) / 1000).toFixed(2)).join(', ')}`,
      );
  }
  const byBehaviour = Object.fromEntries(
    BEHAVIOURS.map((b) => [b, listeners.reduce((sum, l) => sum + l.counts[b], 0)]),
  ) as Record<Behaviour, number>;
  const stackActivity = analyseLogs(stack.lifetimes);

  if (lost !== 0) problems.push(`${lost} deliveries lost`);
  if (unexpected > 0) problems.push(`${unexpected} unexpected deliveries`);
  if (unexplained > 0) problems.push(`${unexplained} duplicates that no kill explains`);
  if (badSignatures > 0) problems.push(`${badSignatures} requests with a bad signature`);
  if (payloadMismatches > 0)
    problems.push(`${payloadMismatches} requests at the wrong listener or with the wrong body`);
  if (quietAt === undefined) problems.push('the queues were not empty at the deadline');
  if ((depths?.ingestDlq ?? 0) + (depths?.deliveryDlq ?? 0) > 0)
    problems.push(`messages in a dead-letter queue: ${JSON.stringify(depths)}`);

  const result: SoakResult = {
    ok: problems.length === 0,
    problems,
    options,
    events: events.length,
    subscriptions: options.subscriptions,
    expected,
    delivered,
    failedRecorded: failedRecorded.length,
    lost,
    deliveredAndFailed,
    duplicates: {
      extra,
      webhookIds: duplicatedIds,
      acrossKill,
      withinLifetime: extra - acrossKill,
      unexplained,
    },
    unexpected,
    badSignatures,
    payloadMismatches,
    attempts: { total: Object.values(byBehaviour).reduce((a, b) => a + b, 0), byBehaviour },
    lateAnswers: listeners.reduce((sum, l) => sum + l.lateAnswers, 0),
    putRetries,
    kills: kills.map(({ at: _at, ...kill }) => kill),
    stack: stackActivity,
    ...(depths ? { queues: depths } : {}),
    timing: {
      totalSeconds: (Date.now() - startedAt) / 1000,
      productionSeconds: (lastPutAt - firstPutAt) / 1000,
      drainSeconds: Math.max(0, lastResolvedAt - lastPutAt) / 1000,
      ...(quietAt !== undefined ? { quietSeconds: (quietAt - lastPutAt) / 1000 } : {}),
    },
    outstanding: outstanding.slice(0, 20).map((p) => ({
      webhookId: p.webhookId,
      event: `${p.event.brand}/${p.event.id} ${p.event.entity}.${p.event.event}`,
      subscription: subscriptionIds[p.subscription] ?? String(p.subscription),
    })),
    ...(options.keepData ? { dataDir } : {}),
  };
  return result;
}

/** Marks the pairs found in the subscriptions' failed lists (every page; bounded). */
async function readFailed(
  url: string,
  plans: ReturnType<typeof planSubscriptions>,
  ids: readonly string[],
  pairs: Map<string, Pair>,
): Promise<void> {
  for (const plan of plans) {
    const api = apiClient(url, KEYS[plan.brand]);
    let cursor: string | undefined;
    for (let page = 0; page < 1000; page += 1) {
      const query = `?status=failed&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const response = await api.get(`/subscriptions/${ids[plan.index]}/deliveries${query}`);
      const body = bodyOf(deliveryPageSchema, response);
      for (const delivery of body.items) {
        const pair = pairs.get(delivery.webhookId);
        const last = delivery.attempts.at(-1);
        if (pair && pair.failedAt === undefined) pair.failedAt = last ? Date.parse(last.at) : Date.now();
      }
      cursor = body.cursor;
      if (!cursor) break;
    }
  }
}

/** The plan's seq of an entry, from its `Detail.id` (`soak-<run>-<seq>`). */
function seqOf(entry: PutEventsRequestEntry): number {
  const { id } = JSON.parse(entry.Detail ?? '{}') as { id?: string };
  return Number(id?.split('-').at(-1));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
