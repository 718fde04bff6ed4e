import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiClient, apiClient } from './support/api-client.js';
import { commboxEvent, eventBridgeClient, putEvents } from './support/events.js';
import {
  createSubscription,
  freshDataDir,
  removeDataDir,
  subscriptionSpec,
  uniqueMarker,
} from './support/fixtures.js';
import { Listener } from './support/listener.js';
import { BRANDS, type LocalProcess, startLocalProcess, TEST_ENV } from './support/local-process.js';

/*
 * Dedicated lanes on the local stack (WEBHOOKS_DEDICATED_LANES, as the construct's `dedicatedLanes`):
 * globex's deliveries go to a queue of its own, consumed by a poller of its own, and a retry waits in the
 * lane it came from; acme's stay on the shared queue.
 */

const SHARED = 'commbox-webhooks-delivery';
const LANE = `${SHARED}-${BRANDS.globex.brand}`;

let dataDir: string | undefined;
let stack: LocalProcess | undefined;
let producer: ReturnType<typeof eventBridgeClient> | undefined;
const listeners: Listener[] = [];

beforeAll(async () => {
  dataDir = await freshDataDir();
  // A failed attempt is retried after 60 s: its message waits in its queue meanwhile.
  stack = await startLocalProcess({
    dataDir,
    env: {
      ...TEST_ENV,
      // Lanes run on the embedded default, whichever backend the suite is run on: the test reads its file.
      WEBHOOKS_LOCAL_BACKEND: 'sqlite',
      WEBHOOKS_RETRY_SCHEDULE: '0,60',
      WEBHOOKS_DEDICATED_LANES: `${BRANDS.globex.brand}:2`,
    },
  });
  producer = eventBridgeClient(stack.url);
}, 40_000);

afterAll(async () => {
  producer?.destroy();
  await stack?.stop();
  await Promise.all(listeners.map((listener) => listener.close()));
  await removeDataDir(dataDir);
}, 30_000);

async function subscribed(api: ApiClient, status: number): Promise<Listener> {
  const listener = await Listener.start({ defaultStatus: status });
  listeners.push(listener);
  await createSubscription(api, subscriptionSpec(uniqueMarker('lane'), listener.url));
  return listener;
}

/** The brand of each delivery message waiting in each delivery queue, read from the service's file. */
function waitingDeliveries(): Record<string, string[]> {
  const file = stack?.databaseFile();
  if (!file) throw new Error('the SQLite backend has no database file');
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const rows = db
      .prepare(
        "SELECT queue, body FROM queue_messages WHERE queue LIKE 'commbox-webhooks-delivery%' ORDER BY seq",
      )
      .all() as { queue: string; body: string }[];
    const waiting: Record<string, string[]> = {};
    for (const row of rows) {
      waiting[row.queue] = [...(waiting[row.queue] ?? []), (JSON.parse(row.body) as { brand: string }).brand];
    }
    return waiting;
  } finally {
    db.close();
  }
}

describe('dedicated lanes (local)', { timeout: 40_000 }, () => {
  it("delivers a lane brand's events from its own queue, and keeps a retry waiting in that lane", async () => {
    if (!stack || !producer) throw new Error('the local stack did not start');
    const acme = apiClient(stack.url, BRANDS.acme.key);
    const globex = apiClient(stack.url, BRANDS.globex.key);
    const acmeListener = await subscribed(acme, 500);
    const globexListener = await subscribed(globex, 200);

    // A delivery through the lane's own poller.
    await putEvents(producer, [commboxEvent(BRANDS.globex.brand, 'Object.OnNew', { Id: 1 })]);
    await globexListener.waitFor(1);
    // Then both brands' listeners fail: each retry waits in its brand's queue.
    globexListener.answerFromNowOn(500);
    await putEvents(producer, [
      commboxEvent(BRANDS.acme.brand, 'Object.OnNew', { Id: 2 }),
      commboxEvent(BRANDS.globex.brand, 'Object.OnNew', { Id: 3 }),
    ]);
    await acmeListener.waitFor(1);
    await globexListener.waitFor(2);

    expect(waitingDeliveries()).toEqual({ [SHARED]: [BRANDS.acme.brand], [LANE]: [BRANDS.globex.brand] });
  });
});
