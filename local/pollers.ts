import { randomUUID } from 'node:crypto';
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import type { QueueDefinition } from '../lib/definitions.js';
import { invokeBatch, type SqsHandler } from './invoke-batch.js';

export interface PollerOptions {
  readonly name: string;
  readonly client: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly queue: QueueDefinition;
  readonly handler: SqsHandler;
  readonly timeoutSeconds: number;
  /** Concurrent receive loops: Lambda runs several batches at once, and so do we. */
  readonly concurrency: number;
  readonly region: string;
  readonly onError: (message: string, error: unknown) => void;
  /** Told how long each handler invocation took, as Lambda would bill it (benchmarks). */
  readonly onInvoke?: (name: string, durationMs: number, records: number) => void;
}

export interface Poller {
  stop(): Promise<void>;
}

/**
 * Plays Lambda's SQS event source mapping for one queue: receives batches (up to the mapping's batch
 * size), invokes the handler with a real SQSEvent, deletes the records it did not report in
 * `batchItemFailures`, and leaves the failed ones to come back after their visibility timeout (or the
 * delay the handler set). A thrown error or a timeout fails the whole batch, as in Lambda. maxReceiveCount
 * and the DLQ are the queue's own redrive policy.
 *
 * `concurrency` loops receive and invoke side by side, but only one of them long-polls at a time: several
 * long polls on one queue would all be woken by each new message, and all but one would come back empty
 * and poll again, a burst of empty requests on every arrival. The others wait, and are woken by
 * receives that got messages (one loop per message): then they poll without waiting, for as long as they
 * get messages.
 */
export function startPoller(options: PollerOptions): Poller {
  let stopped = false;
  let longPolling = false;
  let idle: (() => void)[] = [];
  const wake = (count: number) => {
    for (const resume of idle.splice(0, count)) resume();
  };
  const loops = Array.from({ length: options.concurrency }, () => pollLoop());

  async function pollLoop(): Promise<void> {
    while (!stopped) {
      const lead = !longPolling;
      if (lead) longPolling = true;
      let messages: Message[];
      try {
        const output = await options.client.send(
          new ReceiveMessageCommand({
            QueueUrl: options.queueUrl,
            MaxNumberOfMessages: options.queue.batchSize,
            WaitTimeSeconds: lead ? 1 : 0,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
        );
        messages = output.Messages ?? [];
      } catch (error) {
        if (lead) longPolling = false;
        if (stopped) return;
        options.onError(`${options.name}: receive failed`, error);
        await sleep(500);
        continue;
      }
      if (lead) longPolling = false;
      // Messages suggest more: as many idle loops as messages came poll too (the first of them takes the
      // long poll while this one invokes), so a backlog is drained side by side and one message costs one.
      wake(messages.length);
      if (messages.length > 0) {
        await invoke(messages);
      } else if (!lead && !stopped && longPolling) {
        // Idle until messages show. Only while another loop long-polls: when none does (its poll came back
        // while this one's short poll was out), this loop takes the long poll itself, at the top. The
        // timer is a safety net.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            idle = idle.filter((waiting) => waiting !== resume);
            resolve();
          }, 5_000);
          const resume = () => {
            clearTimeout(timer);
            resolve();
          };
          idle.push(resume);
        });
      }
    }
  }

  async function invoke(messages: Message[]): Promise<void> {
    const failed = await invokeBatch(
      options,
      messages.map((message) => toRecord(message, options)),
    );
    if (failed === undefined) return;
    const done = messages.filter((message) => message.MessageId && !failed.has(message.MessageId));
    if (done.length === 0) return;
    try {
      await options.client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: done.map((message, index) => ({
            Id: String(index),
            ReceiptHandle: message.ReceiptHandle,
          })),
        }),
      );
    } catch (error) {
      // The records come back after their visibility timeout: at-least-once, like Lambda.
      options.onError(`${options.name}: delete failed`, error);
    }
  }

  return {
    async stop() {
      // No abort of the receive in flight: fauxqs would still hand messages to an abandoned long poll,
      // leaving them invisible for the queue's visibility timeout. The last receive (at most
      // WaitTimeSeconds) ends, and every batch received is handled, before the poller stops.
      stopped = true;
      wake(idle.length);
      await Promise.allSettled(loops);
    },
  };
}

function toRecord(message: Message, options: PollerOptions): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? randomUUID(),
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? '000000000000',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: options.queueArn,
    awsRegion: options.region,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
