import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  type ApiClient,
  apiClient,
  bodyOf,
  type CreatedSubscription,
  subscriptionPageSchema,
  subscriptionSchema,
} from './support/api-client.js';
import { commboxEvent, eventBridgeClient, putEvents } from './support/events.js';
import {
  assertStatus,
  createSubscription,
  freshDataDir,
  listDeliveries,
  removeDataDir,
  subscriptionSpec,
  uniqueMarker,
} from './support/fixtures.js';
import { Listener } from './support/listener.js';
import {
  BRANDS,
  capturedLogs,
  type LocalProcess,
  startLocalProcess,
  TEST_ENV,
} from './support/local-process.js';
import { expectNoSecretsLeaked } from './support/secrets.js';
import { sleep, waitUntil } from './support/wait.js';
import { verifiesWith } from './support/webhooks.js';

/*
 * A restart on the same data folder loses nothing: subscriptions, secrets, and every event that was
 * put but not yet delivered. Retries are 4 s apart here, so deliveries that failed once are still
 * waiting for their next attempt when the process stops or dies.
 */

const RESTART_ENV = { ...TEST_ENV, WEBHOOKS_RETRY_SCHEDULE: '0,4,4,4,4,4,4,4,4,4' };
/** Two events per subscription: below the circuit breaker's threshold, so no delivery is deferred. */
const EVENTS_PER_SUBSCRIPTION = 2;

let dataDir: string | undefined;
let stack: LocalProcess | undefined;
let listeners: Listener[] = [];

afterEach(async () => {
  await stack?.kill();
  stack = undefined;
  await Promise.all(listeners.map((listener) => listener.close()));
  listeners = [];
  await removeDataDir(dataDir);
  dataDir = undefined;
}, 30_000);

// After every stack of this file stopped (afterEach), so their logs are complete.
afterAll(() => expectNoSecretsLeaked(capturedLogs));

async function start(): Promise<{ acme: ApiClient; globex: ApiClient; url: string }> {
  dataDir ??= await freshDataDir();
  stack = await startLocalProcess({ dataDir, env: RESTART_ENV });
  return {
    url: stack.url,
    acme: apiClient(stack.url, BRANDS.acme.key),
    globex: apiClient(stack.url, BRANDS.globex.key),
  };
}

interface Subscriber {
  readonly api: 'acme' | 'globex';
  readonly subscription: CreatedSubscription;
  readonly listener: Listener;
  /** The event this subscription receives (twice, with different data). */
  readonly event: [brand: string, detailType: string];
}

/** Three subscriptions (two brands, JSON and SOAP), each with a listener answering `status`. */
async function subscribeAll(clients: { acme: ApiClient; globex: ApiClient }, status: number) {
  const specs = [
    { api: 'acme', overrides: { entity: 'Object', events: ['OnNew'] }, event: ['acme', 'Object.OnNew'] },
    {
      api: 'acme',
      overrides: { entity: 'Tag', events: ['OnAdd'], format: 'soap' },
      event: ['acme', 'Tag.OnAdd'],
    },
    { api: 'globex', overrides: { entity: 'Object', events: ['OnNew'] }, event: ['globex', 'Object.OnNew'] },
  ] as const;
  const subscribers: Subscriber[] = [];
  for (const spec of specs) {
    const listener = await Listener.start({ defaultStatus: status });
    listeners.push(listener);
    const subscription = await createSubscription(
      clients[spec.api],
      subscriptionSpec(uniqueMarker('restart'), listener.url, spec.overrides),
    );
    subscribers.push({ api: spec.api, subscription, listener, event: [...spec.event] });
  }
  return subscribers;
}

/** Puts EVENTS_PER_SUBSCRIPTION events for each subscriber, in one PutEvents call. */
async function putEventsFor(url: string, subscribers: readonly Subscriber[]): Promise<void> {
  const producer = eventBridgeClient(url);
  try {
    const entries = subscribers.flatMap(({ event: [brand, detailType] }, index) =>
      Array.from({ length: EVENTS_PER_SUBSCRIPTION }, (_, n) =>
        commboxEvent(
          brand,
          detailType,
          detailType === 'Tag.OnAdd'
            ? { tagId: String(100 * index + n), name: 'VIP' }
            : { Id: 100 * index + n },
        ),
      ),
    );
    await putEvents(producer, entries);
  } finally {
    producer.destroy();
  }
}

/** Waits until every subscriber's listener has seen `count` distinct webhook-ids (any answer). */
async function waitForDistinct(subscribers: readonly Subscriber[], count: number, succeeded: boolean) {
  await waitUntil(
    () => subscribers.every(({ listener }) => listener.webhookIds({ succeeded }).size >= count),
    {
      timeoutMs: 25_000,
      what: () =>
        `${count} ${succeeded ? 'accepted' : 'attempted'} webhook-ids per listener (have ${subscribers
          .map(({ listener }) => listener.webhookIds({ succeeded }).size)
          .join(', ')})`,
    },
  );
}

/** After the restart: the same subscriptions, and every event delivered, signed with the original secret. */
async function expectNothingLost(clients: { acme: ApiClient; globex: ApiClient }, subscribers: Subscriber[]) {
  for (const { api, subscription } of subscribers) {
    const fetched = await clients[api].get(`/subscriptions/${subscription.id}`);
    assertStatus(fetched, 200);
    const { secret: _secret, ...view } = subscription;
    expect(bodyOf(subscriptionSchema, fetched)).toMatchObject({
      id: view.id,
      name: view.name,
      brand: view.brand,
      entity: view.entity,
      events: view.events,
      url: view.url,
      format: view.format,
      createdAt: view.createdAt,
    });
  }
  const acmeIds = bodyOf(subscriptionPageSchema, await clients.acme.get('/subscriptions')).items.map(
    (item) => item.id,
  );
  expect(acmeIds.sort()).toEqual(
    subscribers
      .filter(({ api }) => api === 'acme')
      .map(({ subscription }) => subscription.id)
      .sort(),
  );

  await waitForDistinct(subscribers, EVENTS_PER_SUBSCRIPTION, true);
  for (const { api, subscription, listener } of subscribers) {
    const accepted = listener.requests.filter((request) => request.answeredWith === 200);
    expect(listener.webhookIds({ succeeded: true }).size).toBe(EVENTS_PER_SUBSCRIPTION);
    for (const request of accepted) expect(verifiesWith(request, subscription.secret)).toBe(true);
    const deliveries = await waitUntil(
      async () => {
        const list = await listDeliveries(clients[api], subscription.id);
        return list.length === EVENTS_PER_SUBSCRIPTION && list.every((d) => d.status === 'succeeded') && list;
      },
      { timeoutMs: 10_000, what: `the deliveries of ${subscription.id} to show as succeeded` },
    );
    expect(new Set(deliveries.map((delivery) => delivery.webhookId))).toEqual(
      listener.webhookIds({ succeeded: true }),
    );
  }
}

describe('a restart on the same data folder', { timeout: 90_000 }, () => {
  it('loses nothing when the process is stopped (SIGTERM) while deliveries wait for a retry', async () => {
    const first = await start();
    const subscribers = await subscribeAll(first, 503);
    await putEventsFor(first.url, subscribers);
    await waitForDistinct(subscribers, EVENTS_PER_SUBSCRIPTION, false);

    const exit = await stack?.stop();
    for (const { listener } of subscribers) listener.answerFromNowOn(200);
    const second = await start();

    expect(exit).toEqual({ code: 0, signal: null });
    await expectNothingLost(second, subscribers);
    for (const { api, subscription } of subscribers) {
      for (const delivery of await listDeliveries(second[api], subscription.id)) {
        expect(delivery.attempts[0]).toMatchObject({ attempt: 1, statusCode: 503 });
        expect(delivery.attempts.at(-1)).toMatchObject({ statusCode: 200 });
      }
    }
  });

  it('loses nothing when the process is stopped (SIGTERM) right after the events were put', async () => {
    const first = await start();
    const subscribers = await subscribeAll(first, 503);
    await putEventsFor(first.url, subscribers);

    const exit = await stack?.stop();
    const acceptedBeforeStop = subscribers.map(
      ({ listener }) => listener.webhookIds({ succeeded: true }).size,
    );
    for (const { listener } of subscribers) listener.answerFromNowOn(200);
    const second = await start();

    expect(exit).toEqual({ code: 0, signal: null });
    expect(acceptedBeforeStop).toEqual([0, 0, 0]);
    await expectNothingLost(second, subscribers);
  });

  it('loses nothing when the process is killed (SIGKILL) while deliveries wait for a retry', async () => {
    const first = await start();
    const subscribers = await subscribeAll(first, 503);
    await putEventsFor(first.url, subscribers);
    await waitForDistinct(subscribers, EVENTS_PER_SUBSCRIPTION, false);
    await waitForQuietPipeline(first, subscribers);

    const exit = await stack?.kill();
    for (const { listener } of subscribers) listener.answerFromNowOn(200);
    const second = await start();

    expect(exit).toEqual({ code: null, signal: 'SIGKILL' });
    await expectNothingLost(second, subscribers);
  });
});

/**
 * Waits until every delivery recorded its failed first attempt and no attempt is in progress, so the
 * kill finds every message waiting on the queue (a message taken by a crashed process would only come
 * back after the queue's 6-minute visibility timeout, as on AWS: too slow for a test).
 */
async function waitForQuietPipeline(
  clients: { acme: ApiClient; globex: ApiClient },
  subscribers: readonly Subscriber[],
): Promise<void> {
  const pending = async () => {
    const all = await Promise.all(
      subscribers.map(({ api, subscription }) => listDeliveries(clients[api], subscription.id)),
    );
    return all.flat();
  };
  await waitUntil(
    async () => {
      const deliveries = await pending();
      return (
        deliveries.length === subscribers.length * EVENTS_PER_SUBSCRIPTION &&
        deliveries.every((delivery) => delivery.status === 'pending' && delivery.attempts.length === 1)
      );
    },
    { timeoutMs: 10_000, what: 'every delivery to record its first (failed) attempt' },
  );
  const requestsBefore = subscribers.reduce((sum, { listener }) => sum + listener.requests.length, 0);
  await sleep(500);
  const requestsAfter = subscribers.reduce((sum, { listener }) => sum + listener.requests.length, 0);
  const nextAttempts = (await pending()).map((delivery) => Date.parse(String(delivery.nextAttemptAt)));
  if (requestsAfter !== requestsBefore || nextAttempts.some((at) => !(at - Date.now() > 1000))) {
    throw new Error('The pipeline did not settle before the next retries: cannot kill it at a quiet moment');
  }
}
