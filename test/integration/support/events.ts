import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';

/*
 * Producers' side: the real @aws-sdk/client-eventbridge pointed at the local PutEvents endpoint.
 */

/** An EventBridge client for the local stack at `url` (dummy credentials: nothing checks them locally). */
export function eventBridgeClient(url: string): EventBridgeClient {
  return new EventBridgeClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

/** A CommBox entity event as producers put it: `Source: commbox`, `DetailType: <Entity>.<Event>`. */
export function commboxEvent(
  brand: string,
  detailType: string,
  data: Record<string, unknown>,
  id?: string,
): PutEventsRequestEntry {
  return {
    Source: 'commbox',
    DetailType: detailType,
    Detail: JSON.stringify({ brand, ...(id ? { id } : {}), data }),
  };
}

/** Puts the entries (one request, at most 10) and fails unless every entry was accepted. */
export async function putEvents(
  client: EventBridgeClient,
  entries: readonly PutEventsRequestEntry[],
): Promise<PutEventsResultEntry[]> {
  const output = await client.send(new PutEventsCommand({ Entries: [...entries] }));
  const results = output.Entries ?? [];
  if ((output.FailedEntryCount ?? 0) > 0 || results.length !== entries.length) {
    throw new Error(`PutEvents refused entries: ${JSON.stringify(results)}`);
  }
  return results;
}

/**
 * Puts `count` entries as fast as `parallel` producers can, ten to a request: `entryOf(index)` makes the
 * entry of each index, in order. Resolves when the last put was accepted.
 */
export async function putFlood(
  client: EventBridgeClient,
  count: number,
  entryOf: (index: number) => PutEventsRequestEntry,
  parallel = 4,
): Promise<void> {
  let next = 0;
  const producer = async () => {
    while (next < count) {
      const start = next;
      next = Math.min(count, next + 10);
      const entries = [];
      for (let index = start; index < next; index += 1) entries.push(entryOf(index));
      await putEvents(client, entries);
    }
  };
  await Promise.all(Array.from({ length: parallel }, producer));
}

/**
 * Puts one entry every `everyMs` (`entryOf(n)` makes the n-th, from 1) until `stop()`, which resolves with
 * how many were put. `putMs[n - 1]` is how long the n-th PutEvents took.
 */
export function putSteadily(
  client: EventBridgeClient,
  everyMs: number,
  entryOf: (n: number) => PutEventsRequestEntry,
) {
  let running = true;
  let sent = 0;
  const putMs: number[] = [];
  const loop = (async () => {
    const started = Date.now();
    while (running) {
      sent += 1;
      const putAt = Date.now();
      await putEvents(client, [entryOf(sent)]);
      putMs.push(Date.now() - putAt);
      const due = started + sent * everyMs;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
    }
  })();
  return {
    putMs,
    async stop(): Promise<number> {
      running = false;
      await loop;
      return sent;
    },
  };
}
