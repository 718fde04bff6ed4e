/**
 * Flood: brand A puts 20,000 events (× ISOLATION_SCALE) as fast as four producers can, to a listener that
 * answers at once, while brand B puts one event every 200 ms. Prints B's event→listener latency on a quiet
 * service and during A's flood, hop by hop (PutEvents answered, put→routed, routed→listener; the ingest hop
 * has no message group) and split into while A's puts arrive and while A's backlog drains; and A's totals
 * (delivered, lost, how long its flood took to deliver), then the same for a second flood of A with B idle.
 *
 * B's producer and listener run on a thread of their own (brand-client.ts), as another brand's client
 * would: on the runner's thread, beside A's producers and listener, B's timestamps would include the
 * runner's own event-loop lag. Alone: `npx tsx scripts/isolation/flood.ts`.
 */
import {
  A,
  B,
  flood,
  RecordingListener,
  routedProbe,
  runAlone,
  type ScenarioResult,
  scaled,
  sleep,
  startBrandClient,
  startStack,
  subscribe,
  summary,
  waitFor,
} from './support.js';

const FLOOD_EVENTS = scaled(20_000);
const QUIET_MS = 10_000;

export async function run(): Promise<ScenarioResult> {
  const stack = await startStack();
  const listenerA = await RecordingListener.start(() => 'healthy');
  const clientB = await startBrandClient(stack, B.brand, 'healthy');
  const probe = routedProbe(stack.process, B.brand);
  try {
    await subscribe(stack.a, 'a-flood', listenerA.url);
    await subscribe(stack.b, 'b-steady', clientB.url);

    // Warm-up (JIT, connections): B for 2 s, until one event reached its listener. Then B alone.
    const warm = await clientB.steady('b-warm');
    await sleep(2_000);
    await warm.stop();
    await waitFor(() => clientB.stats.requests >= 1, 10_000);
    const quietFrom = Date.now();
    const quiet = await clientB.steady('b-quiet');
    await sleep(QUIET_MS);
    const quietPuts = await quiet.stop();
    const quietUntil = Date.now();
    await sleep(1_000);

    // A floods; B keeps its pace until A's last delivery.
    const floodFrom = Date.now();
    const during = await clientB.steady('b-flood');
    const lastPut = await flood(stack.producer, A.brand, FLOOD_EVENTS);
    const drained = await waitFor(() => listenerA.tags.size >= FLOOD_EVENTS, 10 * 60_000, 100);
    const floodUntil = Date.now();
    const floodDelivered = listenerA.tags.size;
    const floodLastAt = listenerA.lastAt;
    const floodPuts = await during.stop();
    await waitFor(() => clientB.stats.delivered >= quietPuts.sent + floodPuts.sent, 10_000);

    // A again, with B idle: how fast A is delivered on its own, on the same stack.
    await sleep(1_000);
    const aloneFrom = Date.now();
    const aloneLastPut = await flood(stack.producer, A.brand, FLOOD_EVENTS, 4, `${A.brand}-alone`);
    const aloneDrained = await waitFor(() => listenerA.tags.size >= 2 * FLOOD_EVENTS, 10 * 60_000, 100);
    const aloneDelivered = listenerA.tags.size - floodDelivered;

    const latencies = await clientB.latencies();
    const routedAt = probe.routedAt();
    const of = (prefix: string) => latencies.filter((entry) => entry.tag?.startsWith(`${prefix}-`));
    // B's latency hop by hop: PutEvents answered; the delivery message queued (routed); the listener reached.
    const hops = (prefix: string, accepted: Map<string, number>) => {
      const entries = of(prefix);
      const routed = entries.flatMap((entry) => {
        const at = entry.tag ? routedAt.get(entry.tag) : undefined;
        return at === undefined
          ? []
          : [{ routed: at - entry.sentAt, delivered: entry.sentAt + entry.ms - at }];
      });
      return [
        `  event→listener  ${summary(entries.map((entry) => entry.ms))}`,
        `  put answered    ${summary([...accepted.values()])}`,
        `  put→routed      ${summary(routed.map((hop) => hop.routed))}`,
        `  routed→listener ${summary(routed.map((hop) => hop.delivered))}`,
      ];
    };
    const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    return {
      title: `flood: A puts ${FLOOD_EVENTS} events at once, B one every 200 ms`,
      lines: [
        `B, quiet (${quietPuts.sent} put in ${seconds(quietUntil - quietFrom)}):`,
        ...hops('b-quiet', quietPuts.accepted),
        `B, while A floods (${floodPuts.sent} put in ${seconds(floodUntil - floodFrom)}):`,
        ...hops('b-flood', floodPuts.accepted),
        `  event→listener while A's puts arrive (${seconds(lastPut - floodFrom)}): ` +
          summary(
            of('b-flood')
              .filter((e) => e.sentAt < lastPut)
              .map((e) => e.ms),
          ),
        `  event→listener while A's backlog drains:   ` +
          summary(
            of('b-flood')
              .filter((e) => e.sentAt >= lastPut)
              .map((e) => e.ms),
          ),
        `A, B steady: ${floodDelivered}/${FLOOD_EVENTS} delivered, ${FLOOD_EVENTS - floodDelivered} lost` +
          `${drained ? '' : ' (gave up waiting after 10 min)'}; puts took ${seconds(lastPut - floodFrom)}, ` +
          `all delivered after ${seconds(floodLastAt - floodFrom)} ` +
          `(${Math.round(floodDelivered / ((floodLastAt - floodFrom) / 1000))} deliveries/s)`,
        `A, B idle:   ${aloneDelivered}/${FLOOD_EVENTS} delivered, ${FLOOD_EVENTS - aloneDelivered} lost` +
          `${aloneDrained ? '' : ' (gave up waiting after 10 min)'}; puts took ${seconds(aloneLastPut - aloneFrom)}, ` +
          `all delivered after ${seconds(listenerA.lastAt - aloneFrom)} ` +
          `(${Math.round(aloneDelivered / ((listenerA.lastAt - aloneFrom) / 1000))} deliveries/s)`,
      ],
    };
  } finally {
    probe.close();
    listenerA.close();
    await clientB.close();
    await stack.stop();
  }
}

runAlone(import.meta.url, run);
