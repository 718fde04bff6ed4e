import type { SQSRecord } from 'aws-lambda';
import type { EventLoopLoad } from '../event-loop-load.js';
import { invokeBatch, type SqsHandler } from '../invoke-batch.js';
import type { ReceivedMessage, SqliteQueue } from './queue.js';

/*
 * Lambda's SQS event source mapping over a SQLite queue: `concurrency` loops each receive a batch, invoke
 * the handler with a real SQSEvent, delete the records it did not report in `batchItemFailures` and leave
 * the failed ones to come back after their visibility timeout (or the delay the handler set). A thrown
 * error or a timeout fails the whole batch, as in Lambda. An idle loop sleeps until a send wakes it (one
 * loop per message sent), the next delayed message is due, or a second has passed.
 *
 * What Lambda has and one process has not: a container per batch. Here every batch shares one event loop,
 * so while it is saturated (event-loop-load.ts) a message group may hold only `busyGroupCap` messages in
 * flight: a brand that floods then runs one batch at a time (as fast as before, the loop being full
 * anyway), and its hundreds of callbacks no longer sit in front of every step of another brand's event.
 */

export interface QueuePollerOptions {
  readonly name: string;
  readonly queue: SqliteQueue;
  readonly queueArn: string;
  readonly region: string;
  readonly batchSize: number;
  readonly handler: SqsHandler;
  readonly timeoutSeconds: number;
  readonly concurrency: number;
  readonly onError: (message: string, error: unknown) => void;
  /** Told how long each handler invocation took (benchmarks). */
  readonly onInvoke?: (name: string, durationMs: number, records: number) => void;
  /**
   * A message group's most messages in flight while `load` says the event loop is saturated (the deliver
   * pollers: one batch). Unset: no cap.
   */
  readonly busyGroupCap?: { readonly inFlight: number; readonly load: EventLoopLoad };
  /**
   * Runs a receive or a delete; default: at once. The stack passes the database's group commit, so the
   * queue writes of one event-loop turn share one commit with the store's.
   */
  readonly transact?: <T>(work: () => T) => Promise<T>;
}

export interface QueuePoller {
  stop(): Promise<void>;
}

/** The longest an idle loop sleeps before it looks again. */
const IDLE_MS = 1_000;

export function startQueuePoller(options: QueuePollerOptions): QueuePoller {
  let stopped = false;
  const transact = options.transact ?? (async <T>(work: () => T) => work());
  const busy = options.busyGroupCap;
  const groupCap = () => (busy?.load.saturated() ? busy.inFlight : Number.POSITIVE_INFINITY);
  // Loops left idle by the cap look again as soon as it lifts.
  busy?.load.onRelief(() => options.queue.wakeAll());
  const loops = Array.from({ length: options.concurrency }, () => pollLoop());

  async function pollLoop(): Promise<void> {
    while (!stopped) {
      let messages: ReceivedMessage[];
      try {
        messages = await transact(() => options.queue.receive(options.batchSize, groupCap()));
      } catch (error) {
        options.onError(`${options.name}: receive failed`, error);
        messages = [];
      }
      if (messages.length === 0) {
        await options.queue.whenReady(IDLE_MS);
        continue;
      }
      await invoke(messages);
    }
  }

  async function invoke(messages: ReceivedMessage[]): Promise<void> {
    const failed = await invokeBatch(
      options,
      messages.map((message) => toRecord(message, options)),
    );
    if (failed === undefined) return;
    const done = messages.filter((message) => !failed.has(message.messageId));
    if (done.length === 0) return;
    try {
      await transact(() => options.queue.delete(done.map((message) => message.receiptHandle)));
    } catch (error) {
      // The records come back after their visibility timeout: at-least-once, like Lambda.
      options.onError(`${options.name}: delete failed`, error);
    }
  }

  return {
    async stop() {
      // Every batch received is handled before the poller stops.
      stopped = true;
      options.queue.wakeAll();
      await Promise.allSettled(loops);
    },
  };
}

/** The record as Lambda hands it over (system attributes as strings, as SQS returns them). */
export function toRecord(
  message: ReceivedMessage,
  options: { readonly queueArn: string; readonly region: string },
): SQSRecord {
  return {
    messageId: message.messageId,
    receiptHandle: message.receiptHandle,
    body: message.body,
    attributes: {
      ApproximateReceiveCount: String(message.receiveCount),
      SentTimestamp: String(message.sentTimestamp),
      SenderId: '000000000000',
      ApproximateFirstReceiveTimestamp: String(message.firstReceiveTimestamp),
      ...(message.groupId ? { MessageGroupId: message.groupId } : {}),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.attributes).map(([name, value]) => [
        name,
        { stringValue: value, stringListValues: [], binaryListValues: [], dataType: 'String' },
      ]),
    ),
    md5OfBody: message.md5OfBody,
    eventSource: 'aws:sqs',
    eventSourceARN: options.queueArn,
    awsRegion: options.region,
  };
}
