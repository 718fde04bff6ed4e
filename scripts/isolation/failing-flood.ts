/**
 * Failing flood under a small in-flight limit: the stack runs with WEBHOOKS_QUEUE_INFLIGHT_LIMIT=1000
 * (SQS allows about 120,000 per queue); brand A puts 3,000 events (× ISOLATION_SCALE) to a listener that
 * answers 400 to every one (a quick client error: it does not open the circuit, so every delivery is
 * attempted), with a retry schedule whose retry waits 10 minutes, while brand B puts one event every
 * 200 ms. A retry is a new delayed message, so A's waiting deliveries hold nothing in flight
 * and B's receives are never refused. Prints B's latency, the delivery queue's most messages in flight and
 * A's totals.
 */
import { queueReader } from '../../test/integration/support/queues.js';
import {
  A,
  B,
  DELIVERY_QUEUE,
  flood,
  RecordingListener,
  type ScenarioResult,
  scaled,
  sendCounter,
  sleep,
  startStack,
  steady,
  subscribe,
  summary,
  waitFor,
  warmUp,
} from './support.js';

const FAILING_EVENTS = scaled(3_000);
const IN_FLIGHT_LIMIT = 1_000;
/** How long B keeps going once all of A's deliveries wait for their retries (any churn would show). */
const AFTER_MS = 40_000;

export async function run(): Promise<ScenarioResult> {
  const stack = await startStack({ WEBHOOKS_QUEUE_INFLIGHT_LIMIT: String(IN_FLIGHT_LIMIT) });
  const listenerA = await RecordingListener.start(() => 'reject');
  const listenerB = await RecordingListener.start(() => 'healthy');
  const queues = queueReader(stack.process);
  const sendsOfA = sendCounter(stack.process, A.brand);
  let maxInFlight = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      maxInFlight = Math.max(maxInFlight, (await queues.depth(DELIVERY_QUEUE)).inFlight);
      await sleep(100);
    }
  })();
  try {
    await subscribe(stack.a, 'a-failing', listenerA.url, { retrySchedule: [0, 600] });
    await subscribe(stack.b, 'b-steady', listenerB.url);
    await warmUp(stack, listenerB);

    const from = Date.now();
    const during = steady(stack.producer, B.brand);
    const lastPut = await flood(stack.producer, A.brand, FAILING_EVENTS);
    // Once every one of A's deliveries was attempted, how often they go through the queue again.
    await waitFor(() => listenerA.requests >= FAILING_EVENTS, 60_000);
    await sleep(5_000);
    const churnFrom = Date.now();
    await sleep(AFTER_MS);
    const churn = sendsOfA.between(churnFrom, Date.now());
    const sent = await during.stop();
    const until = Date.now();
    await waitFor(() => listenerB.latencies.filter((entry) => entry.sentAt >= from).length >= sent, 10_000);
    sampling = false;
    await sampler;
    const depth = await queues.depth(DELIVERY_QUEUE);

    const latencies = listenerB.latencies
      .filter((entry) => entry.sentAt >= from && entry.sentAt < until)
      .map((entry) => entry.ms);
    return {
      title: `failing flood: in-flight limit ${IN_FLIGHT_LIMIT}, A's listener fails ${FAILING_EVENTS} deliveries (retry in 10 min), B one every 200 ms`,
      lines: [
        `B event→listener, A failing:    ${summary(latencies)}; ${latencies.length}/${sent} delivered`,
        `delivery queue: at most ${maxInFlight} in flight (limit ${IN_FLIGHT_LIMIT}); at the end ` +
          `${depth.delayed} delayed, ${depth.visible} visible, ${depth.inFlight} in flight`,
        `A: ${listenerA.requests} attempts failed at its listener, each retry waiting 10 min; ` +
          `puts took ${((lastPut - from) / 1000).toFixed(1)} s; ${churn} of A's messages queued again in the ` +
          `${AFTER_MS / 1000} s after that (a long outage's churn)`,
      ],
    };
  } finally {
    sampling = false;
    await sampler;
    queues.close();
    sendsOfA.close();
    listenerA.close();
    listenerB.close();
    await stack.stop();
  }
}
