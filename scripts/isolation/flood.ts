/**
 * Flood: brand A puts 20,000 events (× ISOLATION_SCALE) as fast as four producers can, to a listener that
 * answers at once, while brand B puts one event every 200 ms. Prints B's event→listener latency on a quiet
 * service and during A's flood, B's put→routed time (the ingest hop, which has no message group) and A's
 * totals: delivered, lost and how long its flood took to deliver.
 */
import {
  A,
  B,
  flood,
  RecordingListener,
  routedProbe,
  type ScenarioResult,
  scaled,
  sleep,
  startStack,
  steady,
  subscribe,
  summary,
  waitFor,
  warmUp,
} from './support.js';

const FLOOD_EVENTS = scaled(20_000);
const QUIET_MS = 10_000;

export async function run(): Promise<ScenarioResult> {
  const stack = await startStack();
  const listenerA = await RecordingListener.start(() => 'healthy');
  const listenerB = await RecordingListener.start(() => 'healthy');
  const probe = routedProbe(stack.process, B.brand);
  try {
    await subscribe(stack.a, 'a-flood', listenerA.url);
    await subscribe(stack.b, 'b-steady', listenerB.url);

    // Warm-up (JIT, connections), then B alone.
    await warmUp(stack, listenerB);
    const quietFrom = Date.now();
    const quiet = steady(stack.producer, B.brand);
    await sleep(QUIET_MS);
    await quiet.stop();
    const quietUntil = Date.now();
    await sleep(1_000);

    // A floods; B keeps its pace until A's last delivery.
    const floodFrom = Date.now();
    const during = steady(stack.producer, B.brand);
    const lastPut = await flood(stack.producer, A.brand, FLOOD_EVENTS);
    const drained = await waitFor(() => listenerA.tags.size >= FLOOD_EVENTS, 10 * 60_000, 100);
    const floodUntil = Date.now();
    await during.stop();
    await sleep(2_000);

    const inWindow = (from: number, until: number) =>
      listenerB.latencies.filter((entry) => entry.sentAt >= from && entry.sentAt < until).map((e) => e.ms);
    const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    return {
      title: `flood: A puts ${FLOOD_EVENTS} events at once, B one every 200 ms`,
      lines: [
        `B event→listener, quiet:        ${summary(inWindow(quietFrom, quietUntil))}`,
        `B event→listener, A flooding:   ${summary(inWindow(floodFrom, floodUntil))}`,
        `B put→routed, quiet:            ${summary(probe.between(quietFrom, quietUntil))}`,
        `B put→routed, A flooding:       ${summary(probe.between(floodFrom, floodUntil))}`,
        `A: ${listenerA.tags.size}/${FLOOD_EVENTS} delivered, ${FLOOD_EVENTS - listenerA.tags.size} lost` +
          `${drained ? '' : ' (gave up waiting after 10 min)'}; puts took ${seconds(lastPut - floodFrom)}, ` +
          `all delivered after ${seconds(listenerA.lastAt - floodFrom)} ` +
          `(${Math.round(listenerA.tags.size / ((listenerA.lastAt - floodFrom) / 1000))} deliveries/s)`,
      ],
    };
  } finally {
    probe.close();
    listenerA.close();
    listenerB.close();
    await stack.stop();
  }
}
