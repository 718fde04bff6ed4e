import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryMessage } from '../../lambdas/core/model.js';
import { DATABASE_FILE, openDatabase } from '../../local/sqlite/database.js';
import { SqliteQueue } from '../../local/sqlite/queue.js';
import { SqliteDeliveryQueue } from '../../local/sqlite/queue-delivery.js';
import {
  aDeliveryMessage,
  describeDeliveryQueueContract,
  type QueueUnderTest,
} from './delivery-queue.contract.js';

/* The DeliveryQueue contract against the embedded default's SQLite queue, on a file as the service uses it. */

let folder: string;
let db: DatabaseSync;
let subject: QueueUnderTest;
let queue: SqliteQueue;

beforeAll(() => {
  folder = mkdtempSync(join(tmpdir(), 'queue-contract-'));
  db = openDatabase(join(folder, DATABASE_FILE));
  queue = new SqliteQueue(db, {
    name: 'commbox-webhooks-delivery',
    visibilityTimeoutSeconds: 30,
    retentionSeconds: 3600,
  });
  subject = {
    queue: new SqliteDeliveryQueue(queue),
    receive: async (max = 10) =>
      queue.receive(max).map((message) => ({
        message: JSON.parse(message.body) as DeliveryMessage,
        receiptHandle: message.receiptHandle,
        receiveCount: message.receiveCount,
      })),
    remove: async (received) => void queue.delete(received.map((entry) => entry.receiptHandle)),
  };
});

afterAll(() => {
  db?.close();
  rmSync(folder, { recursive: true, force: true });
});

describeDeliveryQueueContract(() => subject);

describe('the SQLite delivery queue', () => {
  it("puts each message in its brand's message group, for the fair receive order", async () => {
    const globex = { ...aDeliveryMessage(401), brand: 'globex' };
    await subject.queue.send([aDeliveryMessage(400), globex]);

    const received = queue.receive(10);

    expect(received.map((message) => message.groupId)).toEqual(['acme', 'globex']);
    queue.delete(received.map((message) => message.receiptHandle));
  });
});
