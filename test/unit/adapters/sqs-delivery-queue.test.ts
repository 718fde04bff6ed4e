import { SendMessageBatchCommand, type SendMessageBatchCommandInput, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_BATCH_BYTES, SqsDeliveryQueue } from '../../../lambdas/adapters/sqs-delivery-queue.js';
import type { DeliveryMessage } from '../../../lambdas/core/model.js';
import { MAX_EVENT_DATA_BYTES } from '../../../lambdas/core/routing.js';

const QUEUE_URL = 'http://127.0.0.1:1/000000000000/commbox-deliveries';
const sqs = mockClient(SQSClient);
const queue = new SqsDeliveryQueue(
  new SQSClient({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:1' }),
  QUEUE_URL,
);

beforeEach(() => {
  sqs.on(SendMessageBatchCommand).callsFake(async (input: SendMessageBatchCommandInput) => ({
    Successful: (input.Entries ?? []).map((entry) => ({
      Id: entry.Id,
      MessageId: `sqs-${entry.Id}`,
      MD5OfMessageBody: 'x',
    })),
    Failed: [],
  }));
});

afterEach(() => {
  sqs.reset();
});

/** A message for subscription `n`, carrying an event whose data serializes to about `dataBytes`. */
function aMessage(n: number, dataBytes = 100): DeliveryMessage {
  return {
    v: 1,
    brand: 'acme',
    subscriptionId: `sub_${String(n).padStart(16, '0')}`,
    deliveryId: `dlv_${String(n).padStart(25, '0')}`,
    eventKey: 'acme/evt-1',
    event: {
      entity: 'Object',
      event: 'OnNew',
      receivedAt: '2026-03-04T05:06:07.000Z',
      data: { Id: 1, Message: 'x'.repeat(dataBytes) },
    },
  };
}

const batches = () =>
  sqs.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input.Entries ?? []);
const bytesOf = (entries: { MessageBody?: string }[]) =>
  entries.reduce((sum, entry) => sum + Buffer.byteLength(entry.MessageBody ?? ''), 0);

describe('queueing delivery messages', () => {
  it('sends small messages ten to a SendMessageBatch, each body the message as JSON', async () => {
    const messages = Array.from({ length: 23 }, (_, n) => aMessage(n));

    expect(await queue.send(messages)).toEqual([]);

    expect(batches().map((entries) => entries.length)).toEqual([10, 10, 3]);
    expect(
      batches()
        .flat()
        .map((entry) => JSON.parse(entry.MessageBody ?? '')),
    ).toEqual(messages);
    expect(sqs.commandCalls(SendMessageBatchCommand)[0]?.args[0].input.QueueUrl).toBe(QUEUE_URL);
  });

  it("sends each message in its brand's message group (a fair queue), with the delay asked", async () => {
    const messages = [aMessage(1), { ...aMessage(2), brand: 'globex' }];

    expect(await queue.send(messages, 30)).toEqual([]);

    expect(batches()[0]?.map((entry) => [entry.MessageGroupId, entry.DelaySeconds])).toEqual([
      ['acme', 30],
      ['globex', 30],
    ]);
  });

  it('delays a message at most the 900 s SQS allows', async () => {
    await queue.send([aMessage(1)], 3600);

    expect(batches()[0]?.[0]?.DelaySeconds).toBe(900);
  });

  it('keeps every SendMessageBatch under the 256 KiB SQS takes, for messages carrying large events', async () => {
    const messages = Array.from({ length: 10 }, (_, n) => aMessage(n, MAX_EVENT_DATA_BYTES - 100));

    expect(await queue.send(messages)).toEqual([]);

    expect(batches()).toHaveLength(10);
    for (const entries of batches()) expect(bytesOf(entries)).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    expect(
      batches()
        .flat()
        .map((entry) => JSON.parse(entry.MessageBody ?? '')),
    ).toEqual(messages);
  });

  it('writes every character SQS refuses in a body (U+FFFE, U+FFFF, emoji) as an escape of the same value', async () => {
    const text = 'a\uFFFE b\uFFFF c😀 d\u0001 \u05D0';
    const odd: DeliveryMessage = {
      ...aMessage(1),
      event: {
        entity: 'Object',
        event: 'OnNew',
        receivedAt: '2026-03-04T05:06:07.000Z',
        data: { Id: 1, Message: text, [text]: text },
      },
    };

    expect(await queue.send([odd])).toEqual([]);

    const body = batches()[0]?.[0]?.MessageBody ?? '';
    // SQS takes #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD (and, on AWS, characters above U+FFFF).
    expect(body).toMatch(/^[\t\n\r\x20-\uD7FF\uE000-\uFFFD]*$/);
    expect(JSON.parse(body)).toEqual(odd);
  });

  it('fills each batch as far as the size allows', async () => {
    const messages = Array.from({ length: 7 }, (_, n) => aMessage(n, 60_000));

    await queue.send(messages);

    expect(batches().map((entries) => entries.length)).toEqual([4, 3]);
    for (const entries of batches()) expect(bytesOf(entries)).toBeLessThanOrEqual(MAX_BATCH_BYTES);
  });

  it('returns the messages SQS answered as failed, from whichever batch', async () => {
    sqs.on(SendMessageBatchCommand).callsFake(async (input: SendMessageBatchCommandInput) => {
      const [first, ...rest] = input.Entries ?? [];
      return {
        Successful: rest.map((entry) => ({ Id: entry.Id, MessageId: 'm', MD5OfMessageBody: 'x' })),
        Failed: [{ Id: first?.Id, SenderFault: false, Code: 'InternalError' }],
      };
    });
    // Two messages of 100 KB fit a batch, a third does not: batches [0, 1] and [2], the first of each failing.
    const messages = Array.from({ length: 3 }, (_, n) => aMessage(n, 100_000));

    const failed = await queue.send(messages);

    expect(batches().map((entries) => entries.length)).toEqual([2, 1]);
    expect(failed.map((message) => message.subscriptionId)).toEqual(
      [messages[0], messages[2]].map((message) => message?.subscriptionId),
    );
  });

  it('returns the messages of a SendMessageBatch request that failed, keeping the batches that went', async () => {
    sqs.on(SendMessageBatchCommand).callsFake(async (input: SendMessageBatchCommandInput) => {
      if ((input.Entries ?? []).length < 10) throw new Error('SQS throttled this batch');
      return { Successful: [], Failed: [] };
    });
    const messages = Array.from({ length: 12 }, (_, n) => aMessage(n));

    const failed = await queue.send(messages);

    expect(batches().map((entries) => entries.length)).toEqual([10, 2]);
    expect(failed).toEqual(messages.slice(10));
  });

  it('throws the error when no batch could be sent at all', async () => {
    sqs.on(SendMessageBatchCommand).rejects(new Error('SQS is unavailable'));

    await expect(queue.send(Array.from({ length: 12 }, (_, n) => aMessage(n)))).rejects.toThrow(
      'SQS is unavailable',
    );
  });
});
