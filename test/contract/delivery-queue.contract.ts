import { describe, expect, it } from 'vitest';
import type { DeliveryMessage } from '../../lambdas/core/model.js';
import type { DeliveryQueue } from '../../lambdas/core/ports.js';

/*
 * The DeliveryQueue port's contract, run against the SQLite adapter of the embedded default and the SQS
 * adapter the AWS stack deploys (on fauxqs): messages arrive as their JSON, whatever their number or text,
 * and a send's delay holds them back. Time is real (delays of one second). Each message's group (its
 * brand) is checked per adapter: fauxqs keeps no group on a standard queue.
 */

export interface ReceivedDelivery {
  readonly message: DeliveryMessage;
  readonly receiptHandle: string;
  readonly receiveCount: number;
}

export interface QueueUnderTest {
  readonly queue: DeliveryQueue;
  /** Receives what is visible now (as many receives as it takes, up to `max` messages). */
  receive(max?: number): Promise<ReceivedDelivery[]>;
  /** Deletes received messages, as the poller does after a success. */
  remove(received: readonly ReceivedDelivery[]): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function aDeliveryMessage(index: number, name = 'Dana'): DeliveryMessage {
  return {
    v: 1,
    brand: 'acme',
    subscriptionId: 'sub_contract',
    deliveryId: `dlv_${index}`,
    eventKey: `acme#evt_${index}`,
    attemptsBefore: 0,
    runAttemptsBefore: 0,
    event: {
      entity: 'User',
      event: 'OnNew',
      receivedAt: '2026-01-01T00:00:00.000Z',
      data: { Id: index, Content: { FirstName: name } },
    },
  };
}

/** Receives until `count` messages came or `timeoutMs` passed. */
async function receiveAll(subject: QueueUnderTest, count: number, timeoutMs = 5_000) {
  const all: ReceivedDelivery[] = [];
  const deadline = Date.now() + timeoutMs;
  while (all.length < count && Date.now() < deadline) {
    const batch = await subject.receive(10);
    all.push(...batch);
    if (batch.length === 0) await sleep(50);
  }
  return all;
}

export function describeDeliveryQueueContract(subject: () => QueueUnderTest): void {
  describe('DeliveryQueue', { timeout: 30_000 }, () => {
    it('queues every message, more than one batch of them, each as it was sent', async () => {
      const messages = Array.from({ length: 23 }, (_, index) => aDeliveryMessage(index));
      expect(await subject().queue.send(messages)).toEqual([]);
      const received = await receiveAll(subject(), messages.length);
      expect(
        received.map((entry) => entry.message).sort((a, b) => a.deliveryId.localeCompare(b.deliveryId)),
      ).toEqual([...messages].sort((a, b) => a.deliveryId.localeCompare(b.deliveryId)));
      await subject().remove(received);
    });

    it('carries emoji, U+2028, right-to-left and 4-byte text unchanged', async () => {
      const name = 'Dana 😀 line\u2028sep \u202Bשלום\u202C 𠜎';
      await subject().queue.send([aDeliveryMessage(100, name)]);
      const [received] = await receiveAll(subject(), 1);
      expect(received?.message.event?.data).toEqual({ Id: 100, Content: { FirstName: name } });
      await subject().remove(received ? [received] : []);
    });

    it('holds a message sent with a delay back until the delay is over', async () => {
      await subject().queue.send([aDeliveryMessage(200)], 1);
      expect(await subject().receive(10)).toEqual([]);
      await sleep(1_100);
      const received = await receiveAll(subject(), 1);
      expect(received.map((entry) => entry.message.deliveryId)).toEqual(['dlv_200']);
      await subject().remove(received);
    });
  });
}
