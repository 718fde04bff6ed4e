import { randomUUID } from 'node:crypto';
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { QueueDefinition } from '../definitions.js';
import { localLambdaContext } from './lambda-context.js';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

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
 */
export function startPoller(options: PollerOptions): Poller {
  let stopped = false;
  const loops = Array.from({ length: options.concurrency }, () => pollLoop());

  async function pollLoop(): Promise<void> {
    while (!stopped) {
      let messages: Message[];
      try {
        const output = await options.client.send(
          new ReceiveMessageCommand({
            QueueUrl: options.queueUrl,
            MaxNumberOfMessages: options.queue.batchSize,
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
        );
        messages = output.Messages ?? [];
      } catch (error) {
        if (stopped) return;
        options.onError(`${options.name}: receive failed`, error);
        await sleep(500);
        continue;
      }
      if (messages.length > 0) await invoke(messages);
    }
  }

  async function invoke(messages: Message[]): Promise<void> {
    const records = messages.map((message) => toRecord(message, options));
    let failed: Set<string>;
    const started = performance.now();
    try {
      const response = await withTimeout(
        options.handler(
          { Records: records },
          localLambdaContext(options.name, options.timeoutSeconds * 1000),
        ),
        options.timeoutSeconds * 1000,
      );
      failed = new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
    } catch (error) {
      options.onError(`${options.name}: the batch failed`, error);
      return;
    } finally {
      options.onInvoke?.(options.name, performance.now() - started, records.length);
    }
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
      // No abort of the receives in flight: fauxqs would still hand messages to an abandoned long poll,
      // leaving them invisible for the queue's visibility timeout. Each loop's last receive (at most
      // WaitTimeSeconds) ends, and what it got is handled, before the poller stops.
      stopped = true;
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

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
