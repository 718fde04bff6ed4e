import { describe, expect, it } from 'vitest';
import { bodyOf, deliveryPageSchema } from './support/api-client.js';
import { commboxEvent, putEvents } from './support/events.js';
import { assertStatus, createSubscription, subscriptionSpec, uniqueMarker } from './support/fixtures.js';
import { BRANDS, capturedLogs } from './support/local-process.js';
import { useLocalStack } from './support/local-stack.js';
import { queueReader } from './support/queues.js';
import { sleep, waitUntil } from './support/wait.js';

/*
 * An open circuit parks its deliveries (lambdas/core/parking.ts), on the embedded default: 500 deliveries
 * to a listener that answers 503 are parked in the store once the breaker opens, the delivery queue
 * holds the probe alone and deliver receives little more than the probe while the listener stays down;
 * once it is back, every delivery arrives. The retry schedule is long enough that none runs out.
 */

const DELIVERIES = 500;
/** The circuit's cool-down, first and longest (30 s and 300 s by default), shortened so the test is quick. */
const COOLDOWN_SECONDS = [2, 5] as const;
/** How long the outage is watched once every delivery is parked. */
const WATCH_SECONDS = 20;
const local = useLocalStack({
  WEBHOOKS_RETRY_SCHEDULE: '0,2,600,600,600,600,600,600',
  WEBHOOKS_CIRCUIT_COOLDOWN_SECONDS: COOLDOWN_SECONDS.join(','),
});

/** Every delivery of the subscription with `status`, page by page. */
async function countWith(subscriptionId: string, status: string): Promise<number> {
  let count = 0;
  let cursor: string | undefined;
  do {
    const query = `?status=${status}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const response = await local.acme.get(`/subscriptions/${subscriptionId}/deliveries${query}`);
    assertStatus(response, 200);
    const page = bodyOf(deliveryPageSchema, response);
    count += page.items.length;
    cursor = page.cursor;
  } while (cursor);
  return count;
}

/** Records deliver handled since the start (one log line per received delivery message). */
const handled = () => capturedLogs.filter((entry) => /"message":"delivery /.test(entry.line)).length;

describe('parking an open circuit on the local stack', () => {
  it('parks 500 deliveries while the listener is down, receives only the probe meanwhile, and delivers all once it is back', async () => {
    const listener = await local.listener({ defaultStatus: 503 });
    const subscription = await createSubscription(
      local.acme,
      subscriptionSpec(uniqueMarker('park'), listener.url),
    );
    const events = Array.from({ length: DELIVERIES }, (_, n) =>
      commboxEvent(BRANDS.acme.brand, 'Object.OnNew', { Id: 700_000 + n }),
    );
    for (let start = 0; start < events.length; start += 10) {
      await putEvents(local.producer, events.slice(start, start + 10));
    }

    let counts = '';
    await waitUntil(
      async () => {
        const parked = await countWith(subscription.id, 'parked');
        counts = `parked ${parked}, pending ${await countWith(subscription.id, 'pending')}, failed ${await countWith(subscription.id, 'failed')}, listener requests ${listener.requests.length}`;
        return parked === DELIVERIES;
      },
      { timeoutMs: 90_000, intervalMs: 1000, what: () => `every delivery to be parked (${counts})` },
    );
    const attemptsWhileOpening = listener.requests.length;

    // Breakers that opened at the same moment each sent a probe; all but the park's are dropped on
    // arrival (one cool-down later). Then the outage proper, watched with every delivery parked.
    const queue = queueReader(local.stack);
    const depthOf = async () => {
      const depth = await queue.depth('commbox-webhooks-delivery');
      return depth.visible + depth.inFlight + depth.delayed;
    };
    const settled = Date.now();
    const handledAtPark = handled();
    await waitUntil(async () => (await depthOf()) <= 1, {
      timeoutMs: 90_000,
      intervalMs: 1000,
      what: 'the delivery queue to hold the probe alone',
    });
    console.log(
      `parking: ${handled() - handledAtPark} messages received in the ${Math.round((Date.now() - settled) / 1000)} s ` +
        'until the queue held the probe alone (the stale probes of simultaneous openings)',
    );
    const handledBefore = handled();
    const requestsBefore = listener.requests.length;
    const depths: number[] = [];
    for (let second = 0; second < WATCH_SECONDS; second += 2) {
      depths.push(await depthOf());
      await sleep(2000);
    }
    queue.close();
    const receivedWhileWatched = handled() - handledBefore;
    const probesWhileWatched = listener.requests.length - requestsBefore;
    console.log(
      `parking: ${attemptsWhileOpening} attempts before every delivery was parked; in the next ${WATCH_SECONDS} s ` +
        `${receivedWhileWatched} delivery messages received, ${probesWhileWatched} listener requests, ` +
        `queue depth at most ${Math.max(...depths)}`,
    );
    // The probe (its back-off doubling up to the longest cool-down) and nothing else: not one receive per
    // parked delivery. At most one probe per longest cool-down, plus the one in flight at the start.
    const mostProbes = Math.ceil(WATCH_SECONDS / COOLDOWN_SECONDS[1]) + 2;
    expect(Math.max(...depths)).toBeLessThanOrEqual(1);
    expect(receivedWhileWatched).toBeLessThanOrEqual(mostProbes);
    expect(probesWhileWatched).toBeLessThanOrEqual(mostProbes);
    expect(receivedWhileWatched).toBeGreaterThanOrEqual(1);

    // The listener is back: the next probe succeeds and the drain queues every parked delivery again.
    listener.answerFromNowOn(200);
    await waitUntil(() => listener.webhookIds({ succeeded: true }).size === DELIVERIES, {
      timeoutMs: 90_000,
      intervalMs: 1000,
      what: 'every delivery to arrive once the listener is back',
    });
    // Each event's own Id (700000 + n) in the bodies answered 200: every event, not only 500 webhook-ids.
    const ids = new Set(
      listener.requests
        .filter((request) => request.answeredWith === 200)
        .map((request) => /\b70[0-4]\d{3}\b/.exec(request.body)?.[0]),
    );
    expect(ids.size).toBe(DELIVERIES);
    await waitUntil(async () => (await countWith(subscription.id, 'parked')) === 0, {
      timeoutMs: 30_000,
      intervalMs: 1000,
      what: 'no delivery left parked',
    });
    const duplicates =
      listener.requests.filter((request) => request.answeredWith === 200).length - DELIVERIES;
    console.log(`parking: all ${DELIVERIES} delivered after the recovery, ${duplicates} delivered twice`);
  }, 240_000);
});
