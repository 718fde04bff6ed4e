import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../local/sqlite/database.js';
import { SqliteQueue } from '../../local/sqlite/queue.js';
import {
  type QueuePoller,
  type QueuePollerOptions,
  startQueuePoller,
} from '../../local/sqlite/queue-poller.js';

/*
 * The poller over a SQLite queue plays Lambda's event source mapping: real SQSEvent records, the records
 * a handler reports in batchItemFailures come back (receive count raised), the others are deleted, and a
 * batch that throws comes back whole.
 */

let dir: string;
let db: DatabaseSync;
let poller: QueuePoller | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'poller-test-'));
  db = openDatabase(join(dir, 'webhooks.sqlite'));
});

afterEach(async () => {
  await poller?.stop();
  poller = undefined;
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const check = () => {
      if (condition()) resolve();
      else if (Date.now() - started > timeoutMs) reject(new Error('condition not met in time'));
      else setTimeout(check, 10);
    };
    check();
  });
}

function start(
  queue: SqliteQueue,
  handler: (event: SQSEvent) => Promise<SQSBatchResponse | undefined>,
  options: Partial<Pick<QueuePollerOptions, 'concurrency' | 'busyGroupCap'>> = {},
) {
  const errors: string[] = [];
  poller = startQueuePoller({
    name: 'test',
    queue,
    queueArn: 'arn:aws:sqs:us-east-1:000000000000:work',
    region: 'us-east-1',
    batchSize: 10,
    handler,
    timeoutSeconds: 5,
    concurrency: 2,
    onError: (message) => errors.push(message),
    ...options,
  });
  return errors;
}

describe('the SQLite poller', () => {
  it('hands the handler SQSEvent records as Lambda does and deletes what succeeded', async () => {
    const queue = new SqliteQueue(db, { name: 'work', visibilityTimeoutSeconds: 30, retentionSeconds: 3600 });
    const seen: SQSEvent['Records'] = [];
    start(queue, async (event) => {
      seen.push(...event.Records);
      return { batchItemFailures: [] };
    });
    queue.send({ body: '{"hello":"😀"}', groupId: 'brand-a', attributes: { kind: 'test' } });
    await until(() => seen.length === 1 && queue.depth().inFlight === 0);
    expect(seen[0]).toMatchObject({
      body: '{"hello":"😀"}',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:work',
      awsRegion: 'us-east-1',
      attributes: { ApproximateReceiveCount: '1', MessageGroupId: 'brand-a', SenderId: '000000000000' },
      messageAttributes: { kind: { stringValue: 'test', dataType: 'String' } },
    });
    expect(seen[0]?.md5OfBody).toMatch(/^[0-9a-f]{32}$/);
    expect(Number(seen[0]?.attributes.SentTimestamp)).toBeGreaterThan(0);
    expect(queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('leaves the records in batchItemFailures to come back, with their receive count raised', async () => {
    const queue = new SqliteQueue(db, { name: 'work', visibilityTimeoutSeconds: 1, retentionSeconds: 3600 });
    const counts: string[] = [];
    start(queue, async (event) => {
      const failures = event.Records.filter((record) => {
        counts.push(`${record.body}:${record.attributes.ApproximateReceiveCount}`);
        return record.body === 'fails once' && record.attributes.ApproximateReceiveCount === '1';
      });
      return { batchItemFailures: failures.map((record) => ({ itemIdentifier: record.messageId })) };
    });
    queue.sendBatch([{ body: 'fine' }, { body: 'fails once' }]);
    await until(() => counts.includes('fails once:2'));
    await until(() => queue.depth().inFlight === 0);
    expect(counts.sort()).toEqual(['fails once:1', 'fails once:2', 'fine:1']);
    expect(queue.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('leaves a whole batch that threw to come back after its visibility timeout', async () => {
    const queue = new SqliteQueue(db, { name: 'work', visibilityTimeoutSeconds: 1, retentionSeconds: 3600 });
    let calls = 0;
    const errors = start(queue, async () => {
      calls += 1;
      if (calls === 1) throw new Error('boom');
      return undefined;
    });
    queue.send({ body: 'x' });
    await until(() => calls === 2 && queue.depth().inFlight === 0, 5_000);
    expect(errors).toEqual(['test: the batch failed']);
  });

  it('wakes for a delayed message when it is due', async () => {
    const queue = new SqliteQueue(db, { name: 'work', visibilityTimeoutSeconds: 30, retentionSeconds: 3600 });
    const at: number[] = [];
    start(queue, async () => {
      at.push(Date.now());
      return undefined;
    });
    const sent = Date.now();
    queue.send({ body: 'later', delaySeconds: 1 });
    await until(() => at.length === 1, 5_000);
    expect((at[0] ?? 0) - sent).toBeGreaterThanOrEqual(990);
    expect((at[0] ?? 0) - sent).toBeLessThan(1_500);
  });

  it('holds a brand to one batch in flight while the event loop is saturated, and lifts the cap after', async () => {
    const queue = new SqliteQueue(db, { name: 'work', visibilityTimeoutSeconds: 30, retentionSeconds: 3600 });
    let saturated = true;
    const relief: (() => void)[] = [];
    const load = {
      saturated: () => saturated,
      onRelief: (listener: () => void) => void relief.push(listener),
      stop: () => undefined,
    };
    // Each batch stays in the handler until released, so what is in flight can be counted.
    const held: { groups: string[]; release: () => void }[] = [];
    let releaseAll = false;
    start(
      queue,
      (event) =>
        new Promise((resolve) => {
          if (releaseAll) return resolve({ batchItemFailures: [] });
          held.push({
            groups: event.Records.map((record) => record.attributes.MessageGroupId ?? ''),
            release: () => resolve({ batchItemFailures: [] }),
          });
        }),
      { concurrency: 4, busyGroupCap: { inFlight: 10, load } },
    );
    const heldOf = (group: string) => held.flatMap((batch) => batch.groups).filter((g) => g === group).length;
    for (let index = 0; index < 50; index++) queue.send({ body: `a${index}`, groupId: 'brand-a' });
    queue.send({ body: 'b0', groupId: 'brand-b' });

    // Saturated: brand A gets one batch, and brand B's message goes by it on a loop of its own.
    await until(() => heldOf('brand-b') === 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(heldOf('brand-a')).toBe(10);
    expect(queue.depth()).toMatchObject({ inFlight: 11, visible: 40 });

    // The loop has room again: the idle loops take A's messages at once, a batch each.
    saturated = false;
    for (const listener of relief) listener();
    await until(() => heldOf('brand-a') === 30);
    expect(heldOf('brand-a')).toBe(30);
    releaseAll = true;
    for (const batch of held) batch.release();
    await until(() => queue.depth().visible === 0 && queue.depth().inFlight === 0);
  });
});
