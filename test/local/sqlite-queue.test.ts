import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../local/sqlite/database.js';
import { type QueueSettings, SqliteQueue } from '../../local/sqlite/queue.js';
import {
  FAIR_QUEUE_NOISY_MIN_IN_FLIGHT,
  MAX_DELAY_SECONDS,
  MAX_MESSAGE_BYTES,
  QueueError,
  STANDARD_QUEUE_IN_FLIGHT_LIMIT,
} from '../../local/sqlite/queue-limits.js';

/*
 * The SQLite queue keeps SQS standard-queue semantics with SQS's numbers: visibility timeout and
 * ChangeMessageVisibility, ApproximateReceiveCount, the redrive to the DLQ, DelaySeconds up to 900, the
 * in-flight limit, fair-queue order, and refusals where SQS refuses. Time is a hand-moved clock.
 */

let dir: string;
let db: DatabaseSync;
let now: number;
const clock = () => now;

function queue(settings: Partial<QueueSettings> = {}): SqliteQueue {
  return new SqliteQueue(
    db,
    { name: 'work', visibilityTimeoutSeconds: 30, retentionSeconds: 3600, ...settings },
    clock,
  );
}

function refusal(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (error instanceof QueueError) return error.code;
    throw error;
  }
  throw new Error('not refused');
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'queue-test-'));
  db = openDatabase(join(dir, 'webhooks.sqlite'));
  now = 1_700_000_000_000;
});

afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('visibility', () => {
  it('hides a received message for the visibility timeout, then hands it out again with a higher receive count', () => {
    const work = queue();
    work.send({ body: 'one' });
    const [first] = work.receive(10);
    expect(first?.receiveCount).toBe(1);
    expect(work.receive(10)).toEqual([]);
    now += 29_999;
    expect(work.receive(10)).toEqual([]);
    now += 1;
    const [again] = work.receive(10);
    expect(again).toMatchObject({ messageId: first?.messageId, body: 'one', receiveCount: 2 });
    expect(again?.firstReceiveTimestamp).toBe(first?.firstReceiveTimestamp);
    expect(again?.receiptHandle).not.toBe(first?.receiptHandle);
  });

  it('deletes only with the latest receipt handle', () => {
    const work = queue();
    work.send({ body: 'one' });
    const [first] = work.receive(10);
    now += 30_000;
    const [second] = work.receive(10);
    expect(work.delete([first?.receiptHandle ?? ''])).toBe(0);
    expect(work.delete([second?.receiptHandle ?? ''])).toBe(1);
    now += 60_000;
    expect(work.receive(10)).toEqual([]);
  });

  it('refuses to take a visibility beyond 12 hours after the receive, in all', () => {
    const work = queue();
    work.send({ body: 'long wait' });
    const [message] = work.receive(10);
    now += 20_000;
    expect(refusal(() => work.changeVisibility(message?.receiptHandle ?? '', 43_200 - 19))).toBe(
      'InvalidParameterValue',
    );
    work.changeVisibility(message?.receiptHandle ?? '', 43_200 - 20);
    expect(work.depth().inFlight).toBe(1);
  });

  it('ChangeMessageVisibility sets when the message comes back, and refuses a message not in flight', () => {
    const work = queue();
    work.send({ body: 'retry me' });
    const [message] = work.receive(10);
    work.changeVisibility(message?.receiptHandle ?? '', 300);
    now += 299_000;
    expect(work.receive(10)).toEqual([]);
    now += 1_000;
    expect(refusal(() => work.changeVisibility(message?.receiptHandle ?? '', 10))).toBe('MessageNotInflight');
    expect(work.receive(10)).toHaveLength(1);
    expect(refusal(() => work.changeVisibility('no-such-receipt', 10))).toBe('ReceiptHandleIsInvalid');
    expect(refusal(() => work.changeVisibility(message?.receiptHandle ?? '', 43_201))).toBe(
      'InvalidParameterValue',
    );
  });
});

describe('the redrive policy', () => {
  it('moves a message to the DLQ on the receive after maxReceiveCount, with a fresh receive count', () => {
    const dlq = queue({ name: 'work-dlq' });
    const work = queue({ redrive: { deadLetterQueue: 'work-dlq', maxReceiveCount: 3 } });
    work.send({ body: 'poison' });
    for (let receive = 1; receive <= 3; receive++) {
      expect(work.receive(10).map((message) => message.receiveCount)).toEqual([receive]);
      now += 30_000;
    }
    expect(work.receive(10)).toEqual([]);
    const [dead] = dlq.receive(10);
    expect(dead).toMatchObject({ body: 'poison', receiveCount: 1 });
  });
});

describe('DelaySeconds', () => {
  it('keeps a delayed message invisible, and not in flight, until its delay is over', () => {
    const work = queue();
    work.send({ body: 'later', delaySeconds: MAX_DELAY_SECONDS });
    expect(work.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 1 });
    expect(work.nextVisibleAt()).toBe(now + MAX_DELAY_SECONDS * 1000);
    now += MAX_DELAY_SECONDS * 1000 - 1;
    expect(work.receive(10)).toEqual([]);
    now += 1;
    expect(work.receive(10)).toHaveLength(1);
  });

  it('refuses a delay over 900 seconds, as SQS does, and sends the batch entries that are valid', () => {
    const work = queue();
    expect(refusal(() => work.send({ body: 'too late', delaySeconds: MAX_DELAY_SECONDS + 1 }))).toBe(
      'InvalidParameterValue',
    );
    const results = work.sendBatch([{ body: 'ok' }, { body: 'too late', delaySeconds: 901 }]);
    expect(results[0]?.messageId).toBeTypeOf('string');
    expect(results[1]?.error?.code).toBe('InvalidParameterValue');
    expect(work.depth().visible).toBe(1);
  });
});

describe('what SQS refuses', () => {
  it('refuses a message over 262,144 bytes and takes one of exactly that size', () => {
    const work = queue();
    expect(refusal(() => work.send({ body: 'x'.repeat(MAX_MESSAGE_BYTES + 1) }))).toBe(
      'InvalidParameterValue',
    );
    // Two-byte characters: the limit is in bytes of UTF-8, not characters.
    expect(refusal(() => work.send({ body: 'é'.repeat(MAX_MESSAGE_BYTES / 2 + 1) }))).toBe(
      'InvalidParameterValue',
    );
    expect(work.send({ body: 'x'.repeat(MAX_MESSAGE_BYTES) })).toBeTypeOf('string');
  });

  it('refuses the characters SQS refuses and takes emoji, U+2028, right-to-left and 4-byte text', () => {
    const work = queue();
    for (const bad of ['\u0000', '\u0008', '\uFFFE', '\uFFFF', '\uD800', 'a\uDC00b'])
      expect(refusal(() => work.send({ body: bad }))).toBe('InvalidMessageContents');
    const text = 'emoji 😀 𝄞 line\u2028separator שלום עולם مرحبا 𠜎\t\n\r';
    work.send({ body: text });
    expect(work.receive(10)[0]?.body).toBe(text);
  });

  it('refuses a batch of more than ten entries or over 256 KiB in all', () => {
    const work = queue();
    const eleven = Array.from({ length: 11 }, () => ({ body: 'x' }));
    expect(refusal(() => work.sendBatch(eleven))).toBe('TooManyEntriesInBatchRequest');
    expect(refusal(() => work.sendBatch([]))).toBe('EmptyBatchRequest');
    const half = { body: 'x'.repeat(MAX_MESSAGE_BYTES / 2 + 1) };
    expect(refusal(() => work.sendBatch([half, half]))).toBe('BatchRequestTooLong');
    expect(refusal(() => work.receive(11))).toBe('InvalidParameterValue');
  });
});

describe('the in-flight limit', () => {
  it('is 120,000 messages per standard queue unless lowered', () => {
    expect(STANDARD_QUEUE_IN_FLIGHT_LIMIT).toBe(120_000);
  });

  it('returns nothing at the limit, and receives again once messages leave flight', () => {
    const work = queue({ inFlightLimit: 5 });
    for (let index = 0; index < 8; index++) work.send({ body: `m${index}` });
    const held = [...work.receive(3), ...work.receive(10)];
    expect(held).toHaveLength(5);
    expect(work.receive(10)).toEqual([]);
    expect(work.depth()).toEqual({ visible: 3, inFlight: 5, delayed: 0 });
    // A retry that waits by its visibility stays in flight: the limit still holds.
    work.changeVisibility(held[0]?.receiptHandle ?? '', 600);
    expect(work.receive(10)).toEqual([]);
    work.delete([held[1]?.receiptHandle ?? '', held[2]?.receiptHandle ?? '']);
    expect(work.receive(10)).toHaveLength(2);
  });
});

describe('fair queues', () => {
  it('serves a quiet group before a noisy group that holds more than 10 % of the in-flight messages', () => {
    const work = queue();
    for (let index = 0; index < 100; index++) work.send({ body: `a${index}`, groupId: 'brand-a' });
    const taken = Array.from({ length: FAIR_QUEUE_NOISY_MIN_IN_FLIGHT / 10 }, () => work.receive(10)).flat();
    expect(taken.every((message) => message.groupId === 'brand-a')).toBe(true);
    work.send({ body: 'b0', groupId: 'brand-b' });
    work.send({ body: 'no group' });
    const next = work.receive(10);
    expect(next.slice(0, 2).map((message) => message.body)).toEqual(['b0', 'no group']);
    expect(next.slice(2).every((message) => message.groupId === 'brand-a')).toBe(true);
  });

  it('keeps plain arrival order while no group holds 30 in flight', () => {
    const work = queue();
    for (let index = 0; index < 29; index++) work.send({ body: `a${index}`, groupId: 'brand-a' });
    for (let index = 0; index < 3; index++) work.receive(10);
    for (let index = 0; index < 5; index++) work.send({ body: `a-more${index}`, groupId: 'brand-a' });
    work.send({ body: 'b0', groupId: 'brand-b' });
    expect(work.receive(10).map((message) => message.body)).toEqual([
      'a-more0',
      'a-more1',
      'a-more2',
      'a-more3',
      'a-more4',
      'b0',
    ]);
  });

  it('among noisy groups, serves the one with fewer in flight first', () => {
    const work = queue();
    for (let index = 0; index < 60; index++) work.send({ body: `a${index}`, groupId: 'brand-a' });
    for (let index = 0; index < 6; index++) work.receive(10);
    for (let index = 0; index < 40; index++) work.send({ body: `c${index}`, groupId: 'brand-c' });
    for (let index = 0; index < 4; index++) work.receive(10);
    work.send({ body: 'a-late', groupId: 'brand-a' });
    work.send({ body: 'c-late', groupId: 'brand-c' });
    expect(work.receive(10).map((message) => message.body)).toEqual(['c-late', 'a-late']);
  });

  it("with the local poller's group cap, gives a group at the cap nothing and the others their turn", () => {
    const work = queue();
    for (let index = 0; index < 25; index++) work.send({ body: `a${index}`, groupId: 'brand-a' });
    work.send({ body: 'b0', groupId: 'brand-b' });
    // Under the noisy threshold, so plain order would hand out a0..a9; the cap of 10 stops brand A at 10.
    const firstTen = work.receive(10, 10);
    expect(firstTen.map((message) => message.body)).toEqual(
      Array.from({ length: 10 }, (_, index) => `a${index}`),
    );
    expect(work.receive(10, 10).map((message) => message.body)).toEqual(['b0']);
    expect(work.receive(10, 10)).toEqual([]);
    // Room again once four of A's messages are deleted: four more, not ten.
    work.delete(firstTen.slice(0, 4).map((message) => message.receiptHandle));
    expect(work.receive(10, 10).map((message) => message.body)).toEqual(['a10', 'a11', 'a12', 'a13']);
    // Without the cap, all that is visible, up to the batch.
    expect(work.receive(10)).toHaveLength(10);
  });

  it('counts the messages of the receive itself against the group cap', () => {
    const work = queue();
    for (let index = 0; index < 8; index++) work.send({ body: `a${index}`, groupId: 'brand-a' });
    for (let index = 0; index < 8; index++) work.send({ body: `c${index}`, groupId: 'brand-c' });
    const taken = work.receive(10, 3).map((message) => message.body);
    expect(taken.filter((body) => body.startsWith('a'))).toEqual(['a0', 'a1', 'a2']);
    expect(taken.filter((body) => body.startsWith('c'))).toEqual(['c0', 'c1', 'c2']);
  });

  it('returns the group of each message', () => {
    const work = queue();
    work.send({ body: 'x', groupId: 'brand-a' });
    expect(work.receive(1)[0]?.groupId).toBe('brand-a');
    expect(refusal(() => work.send({ body: 'x', groupId: '' }))).toBe('InvalidParameterValue');
  });
});

describe('durability', () => {
  it('keeps sent and received state in the file: a new queue object on the same database sees it', () => {
    queue().send({ body: 'kept' });
    const [message] = queue().receive(1);
    expect(message?.body).toBe('kept');
    expect(queue().depth()).toEqual({ visible: 0, inFlight: 1, delayed: 0 });
  });

  it('drops messages older than the retention period', () => {
    const work = queue({ retentionSeconds: 60 });
    work.send({ body: 'old' });
    now += 61_000;
    work.send({ body: 'new' });
    expect(work.purgeExpired()).toBe(1);
    expect(work.receive(10).map((message) => message.body)).toEqual(['new']);
  });
});
