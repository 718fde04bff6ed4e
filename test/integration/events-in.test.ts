import type { PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_EVENT_DATA_BYTES, MAX_EVENT_DATA_DEPTH } from '../../lambdas/core/routing.js';
import type { CreatedSubscription } from './support/api-client.js';
import { commboxEvent, putEvents } from './support/events.js';
import { createSubscription, listDeliveries, subscriptionSpec, uniqueMarker } from './support/fixtures.js';
import type { Listener } from './support/listener.js';
import { BRANDS, capturedLogs } from './support/local-process.js';
import { useLocalStack } from './support/local-stack.js';
import { type QueueReader, queueReader } from './support/queues.js';
import { sleep, waitUntil } from './support/wait.js';
import { verifiedJson } from './support/webhooks.js';

/*
 * Events in: events that fail their schema, name no catalogue event, carry oversize or too deeply nested
 * data, or repeat a producer id are put with the real EventBridge client (PutEvents accepts every one of
 * them: valid Source, DetailType and Detail JSON). Each invalid one is rejected with its reason in the
 * log, reaches no listener and is not retried (the ingest queue empties, its DLQ stays empty); a valid
 * event beside them is delivered; a repeated producer id is delivered once.
 */

/** How long to keep listening after the expected deliveries, to see that nothing else arrives. */
const SETTLE_MS = 1500;
const INGEST_QUEUE = 'commbox-webhooks-ingest';
const INGEST_DLQ = 'commbox-webhooks-ingest-dlq';

const local = useLocalStack();
let queues: QueueReader | undefined;
let target: Listener | undefined;
let subscription: CreatedSubscription;

beforeAll(async () => {
  queues = queueReader(local.stack);
  target = await local.listener();
  // Every Object event: an invalid event that slipped through as any of them would reach this listener.
  subscription = await createSubscription(
    local.acme,
    subscriptionSpec(uniqueMarker('events-in'), target.url, {
      events: ['OnNew', 'OnNewChild', 'OnNewActivity', 'OnUpdateTag'],
    }),
  );
}, 40_000);

afterAll(() => {
  queues?.close();
});

function listener(): Listener {
  if (!target) throw new Error('no listener');
  return target;
}

function put(entries: readonly PutEventsRequestEntry[]) {
  return putEvents(local.producer, entries);
}

/** An entry with the given Detail (any JSON object), as a producer with a bug would put it. */
function rawEntry(detailType: string, detail: Record<string, unknown>): PutEventsRequestEntry {
  return { Source: 'commbox', DetailType: detailType, Detail: JSON.stringify(detail) };
}

/** `{ a: { a: ... { Id } } }`, `depth` objects deep below `data`. */
function nested(depth: number, leaf: Record<string, unknown>): Record<string, unknown> {
  let value: Record<string, unknown> = leaf;
  for (let level = 0; level < depth; level++) value = { a: value };
  return value;
}

interface LoggedRecord {
  readonly level?: string;
  readonly message?: string;
  readonly reason?: string;
  readonly eventKey?: string;
}

/** The child's structured log records (JSON lines) whose message is `message`. */
function logRecords(message: string): LoggedRecord[] {
  const records: LoggedRecord[] = [];
  for (const { line } of capturedLogs) {
    if (!line.startsWith('{')) continue;
    try {
      const record = JSON.parse(line) as LoggedRecord;
      if (record.message === message) records.push(record);
    } catch {
      // Not a log record.
    }
  }
  return records;
}

/** Requests whose verified payload names this `Message` marker. */
function deliveredWith(marker: string) {
  return listener().requests.filter((request) => {
    const payload = verifiedJson(request, subscription.secret) as {
      Event?: { Object?: { Message?: string } };
    };
    return payload.Event?.Object?.Message === marker;
  });
}

/** The invalid events, each with the reason its log line must give (one line each, no more). */
function invalidEvents(marker: string) {
  const brand = BRANDS.acme.brand;
  return [
    {
      what: 'a required field missing from data',
      entry: commboxEvent(brand, 'Object.OnNew', { StreamId: 71, Message: marker }),
      reason: /^data does not fit Object\.OnNew: Id /,
    },
    {
      what: 'a field of the wrong type',
      entry: commboxEvent(brand, 'Object.OnNewActivity', { Id: 1, Activities: 'all', Message: marker }),
      reason: /^data does not fit Object\.OnNewActivity: Activities /,
    },
    {
      what: 'an unknown event of a known entity',
      entry: commboxEvent(brand, 'Object.OnExplode', { Id: 2, Message: marker }),
      reason: /^unknown detail type "Object\.OnExplode"$/,
    },
    {
      what: 'an unknown entity',
      entry: commboxEvent(brand, 'Ticket.OnNew', { Id: 3, Message: marker }),
      reason: /^unknown detail type "Ticket\.OnNew"$/,
    },
    {
      what: 'a detail type in the wrong case',
      entry: commboxEvent(brand, 'object.onnew', { Id: 4, Message: marker }),
      reason: /^unknown detail type "object\.onnew"$/,
    },
    {
      what: 'a malformed brand',
      entry: commboxEvent('ac me', 'Object.OnNew', { Id: 5, Message: marker }),
      reason: /^detail: brand /,
    },
    {
      what: 'data that is not an object',
      entry: rawEntry('Object.OnNew', { brand, data: [{ Id: 6, Message: marker }] }),
      reason: /^detail: data /,
    },
    {
      what: 'a producer id that is not visible ASCII',
      entry: rawEntry('Object.OnNew', { brand, id: 'id with spaces', data: { Id: 7, Message: marker } }),
      reason: /^detail: id /,
    },
    {
      what: 'data nested too deeply',
      entry: commboxEvent(brand, 'Object.OnNew', {
        Id: 8,
        Message: marker,
        Deep: nested(MAX_EVENT_DATA_DEPTH + 10, { Id: 8 }),
      }),
      reason: new RegExp(`^data is nested deeper than ${MAX_EVENT_DATA_DEPTH}$`),
    },
  ];
}

describe('invalid events', { timeout: 40_000 }, () => {
  it('are rejected with a logged reason and reach no listener, while valid events beside them are delivered', async () => {
    const invalidMarker = uniqueMarker('invalid');
    const valid = [uniqueMarker('valid-1'), uniqueMarker('valid-2')];
    const invalid = invalidEvents(invalidMarker);
    const oversize = {
      what: 'oversize data',
      // Under PutEvents' 256 KB and SQS's message limit, over the router's.
      entry: commboxEvent(BRANDS.acme.brand, 'Object.OnNew', {
        Id: 9,
        Message: invalidMarker,
        Snippet: 'x'.repeat(MAX_EVENT_DATA_BYTES + 10_000),
      }),
      reason: new RegExp(`^data is \\d+ bytes as queued; the limit is ${MAX_EVENT_DATA_BYTES}$`),
    };
    const all = [...invalid, oversize];

    // Ten entries in one PutEvents call, the valid one in the middle; the oversize one with another valid one.
    await put([
      ...invalid.slice(0, 4).map(({ entry }) => entry),
      commboxEvent(BRANDS.acme.brand, 'Object.OnNew', { Id: 101, Message: valid[0] }),
      ...invalid.slice(4).map(({ entry }) => entry),
    ]);
    await put([
      oversize.entry,
      commboxEvent(BRANDS.acme.brand, 'Object.OnNew', { Id: 102, Message: valid[1] }),
    ]);
    await waitUntil(() => valid.every((marker) => deliveredWith(marker).length > 0), {
      timeoutMs: 15_000,
      what: () => `both valid events at the listener (received ${listener().requests.length})`,
    });
    await waitUntil(() => logRecords('event rejected').length >= all.length, {
      timeoutMs: 15_000,
      what: () => `${all.length} 'event rejected' log lines (have ${logRecords('event rejected').length})`,
    });
    await sleep(SETTLE_MS);

    const rejected = logRecords('event rejected');
    expect(rejected).toHaveLength(all.length);
    expect(rejected.every((record) => record.level === 'WARN')).toBe(true);
    const unmatched = [...rejected];
    for (const { what, reason } of all) {
      const index = unmatched.findIndex((record) => reason.test(record.reason ?? ''));
      expect(
        index,
        `no 'event rejected' line for ${what} (${reason}) among ${JSON.stringify(unmatched)}`,
      ).not.toBe(-1);
      unmatched.splice(index, 1);
    }
    expect(listener().requestsWith(invalidMarker)).toEqual([]);
    for (const marker of valid) expect(deliveredWith(marker)).toHaveLength(1);
    const deliveries = await listDeliveries(local.acme, subscription.id);
    expect(deliveries.filter((delivery) => delivery.payload?.body.includes(invalidMarker))).toEqual([]);
  });
});

describe('a repeated producer id', { timeout: 40_000 }, () => {
  it('is delivered once when the second copy comes after the first was delivered', async () => {
    const marker = uniqueMarker('dup-later');
    const id = uniqueMarker('evt');
    const copy = () => commboxEvent(BRANDS.acme.brand, 'Object.OnNew', { Id: 201, Message: marker }, id);

    await put([copy()]);
    await waitUntil(() => deliveredWith(marker).length > 0, { timeoutMs: 15_000, what: 'the first copy' });
    await put([copy()]);
    await waitUntil(() => logRecords('event duplicate').some((record) => record.eventKey === `acme/${id}`), {
      timeoutMs: 15_000,
      what: `an 'event duplicate' log line for acme/${id}`,
    });
    await sleep(SETTLE_MS);

    expect(deliveredWith(marker)).toHaveLength(1);
  });

  // Both copies are routed at the same moment: routing claims the event key with one conditional write
  // before it queues anything, so only one copy's envelope wins and the other is dropped as a duplicate.
  it('is delivered once when both copies are put at the same moment, in two PutEvents calls', async () => {
    const marker = uniqueMarker('dup-now');
    const id = uniqueMarker('evt');
    const copy = () => commboxEvent(BRANDS.acme.brand, 'Object.OnNew', { Id: 202, Message: marker }, id);

    await Promise.all([put([copy()]), put([copy()])]);
    await waitUntil(() => deliveredWith(marker).length > 0, { timeoutMs: 15_000, what: 'a copy delivered' });
    // Both copies were routed: one claimed the key, the other was dropped as its duplicate.
    const key = `acme/${id}`;
    await waitUntil(() => logRecords('event duplicate').some((record) => record.eventKey === key), {
      timeoutMs: 15_000,
      what: `an 'event duplicate' log line for ${key}`,
    });
    await sleep(SETTLE_MS);

    expect(deliveredWith(marker).map((request) => request.headers['webhook-id'])).toHaveLength(1);
    expect(logRecords('event routed').filter((record) => record.eventKey === key)).toHaveLength(1);
    expect(logRecords('event duplicate').filter((record) => record.eventKey === key)).toHaveLength(1);
  });
});

describe('nothing is retried', { timeout: 40_000 }, () => {
  it('leaves the ingest queue empty (nothing waiting for a retry) and its DLQ empty', async () => {
    const reader = queues as QueueReader;
    const counts = (name: string) => reader.depth(name);
    const ingest = INGEST_QUEUE;
    const dlq = INGEST_DLQ;
    const empty = { visible: 0, inFlight: 0, delayed: 0 };

    // A record the router failed would stay in flight for the queue's visibility timeout (180 s), then
    // come back, up to 5 times, then go to the DLQ: an empty queue now means every record was settled.
    let last = await counts(ingest);
    await waitUntil(
      async () => {
        last = await counts(ingest);
        return JSON.stringify(last) === JSON.stringify(empty);
      },
      { timeoutMs: 10_000, what: () => `an empty ingest queue (have ${JSON.stringify(last)})` },
    );
    expect(await counts(dlq)).toEqual(empty);
    const batchFailures = capturedLogs.filter(({ line }) =>
      /route: (the batch failed|delete failed)/.test(line),
    );
    expect(batchFailures).toEqual([]);
    const routingErrors = capturedLogs.filter(
      ({ line }) => line.startsWith('{') && /"level":"ERROR"/.test(line) && line.includes('route'),
    );
    expect(routingErrors).toEqual([]);
  });
});
