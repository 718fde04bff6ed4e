import { createHash, randomUUID } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import { inTransaction } from './database.js';
import { fairOrder } from './queue-fair.js';
import {
  checkBatch,
  checkOutgoing,
  checkVisibilityTimeout,
  MAX_RECEIVE_MESSAGES,
  MAX_VISIBILITY_TIMEOUT_SECONDS,
  type OutgoingMessage,
  QueueError,
  STANDARD_QUEUE_IN_FLIGHT_LIMIT,
} from './queue-limits.js';
import {
  prepareQueueStatements,
  QUEUE_SCHEMA,
  type QueueRow,
  type QueueStatements,
} from './queue-statements.js';

/*
 * An SQS standard queue in the embedded default's SQLite file (table `queue_messages`, all queues side by
 * side): send (with DelaySeconds and MessageGroupId), receive (visibility timeout, ApproximateReceiveCount,
 * the redrive to a DLQ after maxReceiveCount, the in-flight limit, fair-queue order), delete and
 * ChangeMessageVisibility, with SQS's numbers (./queue-limits.ts). Each operation is one SQLite
 * transaction, so a `kill -9` leaves every message either sent or not, received or not.
 * A message is in flight while it has a receipt and its visibility has not run out.
 */

export interface QueueSettings {
  readonly name: string;
  readonly visibilityTimeoutSeconds: number;
  readonly retentionSeconds: number;
  /** The redrive policy: after `maxReceiveCount` receives the next receive moves it to `deadLetterQueue`. */
  readonly redrive?: { readonly deadLetterQueue: string; readonly maxReceiveCount: number };
  /** Default STANDARD_QUEUE_IN_FLIGHT_LIMIT. */
  readonly inFlightLimit?: number;
}

export interface ReceivedMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly md5OfBody: string;
  readonly groupId?: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly receiveCount: number;
  readonly sentTimestamp: number;
  readonly firstReceiveTimestamp: number;
}

export type SendResult =
  | { readonly messageId: string; readonly error?: undefined }
  | { readonly error: QueueError; readonly messageId?: undefined };

export interface QueueDepth {
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
}

export class SqliteQueue {
  readonly name: string;
  private readonly waiting: (() => void)[] = [];
  private readonly statements: QueueStatements;

  constructor(
    private readonly db: DatabaseSync,
    private readonly settings: QueueSettings,
    private readonly clock: () => number = Date.now,
  ) {
    this.name = settings.name;
    db.exec(QUEUE_SCHEMA);
    this.statements = prepareQueueStatements(db);
  }

  /** SendMessage: throws the QueueError SQS would answer. */
  send(message: OutgoingMessage): string {
    checkOutgoing(message);
    const [result] = this.sendBatch([message]);
    if (!result || result.error) throw result?.error ?? new QueueError('InternalError', 'not sent');
    return result.messageId;
  }

  /**
   * SendMessageBatch: a request-level fault (no entries, more than ten, too many bytes) throws; an entry
   * SQS would refuse is reported in its place and the others are sent.
   */
  sendBatch(messages: readonly OutgoingMessage[]): SendResult[] {
    checkBatch(messages);
    const now = this.clock();
    let visibleNow = 0;
    const results = inTransaction(this.db, () =>
      messages.map((message): SendResult => {
        try {
          checkOutgoing(message);
        } catch (error) {
          if (error instanceof QueueError) return { error };
          throw error;
        }
        const messageId = randomUUID();
        const delayMs = (message.delaySeconds ?? 0) * 1000;
        if (delayMs === 0) visibleNow += 1;
        this.statements.insert.run(
          this.name,
          messageId,
          message.body,
          message.attributes ? JSON.stringify(message.attributes) : null,
          message.groupId ?? null,
          now,
          now + delayMs,
        );
        return { messageId };
      }),
    );
    this.wake(visibleNow);
    return results;
  }

  /**
   * ReceiveMessage: up to `max` visible messages, each made invisible for the visibility timeout with its
   * receive count raised. A message received maxReceiveCount times already goes to the DLQ instead. At the
   * in-flight limit nothing is returned. `groupCap` is the local poller's, not an SQS parameter: no
   * message of a group with that many in flight (queue-fair.ts).
   */
  receive(max: number = MAX_RECEIVE_MESSAGES, groupCap = Number.POSITIVE_INFINITY): ReceivedMessage[] {
    if (!Number.isInteger(max) || max < 1 || max > MAX_RECEIVE_MESSAGES)
      throw new QueueError(
        'InvalidParameterValue',
        `Value ${max} for parameter MaxNumberOfMessages is invalid. Reason: must be between 1 and ${MAX_RECEIVE_MESSAGES}.`,
      );
    const now = this.clock();
    return inTransaction(this.db, () => {
      const inFlight = this.inFlightByGroup(now);
      const room = (this.settings.inFlightLimit ?? STANDARD_QUEUE_IN_FLIGHT_LIMIT) - inFlight.total;
      const byGroup = new Map(inFlight.byGroup);
      const received: ReceivedMessage[] = [];
      // A message moved to the DLQ leaves room for another: look again, at most a few times.
      for (let round = 0; round < 5 && received.length < Math.min(max, room); round++) {
        const rows = fairOrder(
          this.statements,
          this.name,
          now,
          Math.min(max, room) - received.length,
          { total: inFlight.total + received.length, byGroup },
          groupCap,
        );
        let movedToDlq = 0;
        for (const row of rows) {
          const message = this.take(row, now);
          if (!message) movedToDlq += 1;
          else {
            received.push(message);
            if (message.groupId) byGroup.set(message.groupId, (byGroup.get(message.groupId) ?? 0) + 1);
          }
        }
        if (movedToDlq === 0) break;
      }
      return received;
    });
  }

  /** DeleteMessage(Batch): only the latest receipt of a message deletes it, as in SQS. */
  delete(receiptHandles: readonly string[]): number {
    const deleted = inTransaction(this.db, () =>
      receiptHandles.reduce(
        (count, receipt) => count + Number(this.statements.delete.run(receipt).changes),
        0,
      ),
    );
    // Room under the in-flight limit.
    if (deleted > 0) this.wake(deleted);
    return deleted;
  }

  /**
   * ChangeMessageVisibility: the message becomes visible `seconds` from now (0: at once). Its visibility
   * can reach at most 12 hours after the receive, in all (MAX_VISIBILITY_TIMEOUT_SECONDS).
   */
  changeVisibility(receiptHandle: string, seconds: number): void {
    checkVisibilityTimeout(seconds);
    const now = this.clock();
    const visibleAt = now + seconds * 1000;
    const row = this.statements.byReceipt.get(receiptHandle, this.name) as
      | { seq: number; visible_at: number; received_at: number }
      | undefined;
    if (!row)
      throw new QueueError(
        'ReceiptHandleIsInvalid',
        `The input receipt handle "${receiptHandle}" is not valid.`,
      );
    if (row.visible_at <= now)
      throw new QueueError('MessageNotInflight', 'The message referred to is not in flight.');
    if (visibleAt > row.received_at + MAX_VISIBILITY_TIMEOUT_SECONDS * 1000)
      throw new QueueError(
        'InvalidParameterValue',
        `Value ${seconds} for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [${MAX_VISIBILITY_TIMEOUT_SECONDS} seconds]`,
      );
    this.statements.changeVisibility.run(visibleAt, row.seq);
    if (seconds === 0) this.wake(1);
  }

  /** When the next message that is not visible yet becomes visible (epoch ms), if any. */
  nextVisibleAt(): number | undefined {
    const row = this.statements.nextVisible.get(this.name, this.clock()) as { at: number | null } | undefined;
    return row?.at ?? undefined;
  }

  /**
   * Resolves when messages may be there: a send of visible messages or a delete (one waiter per message),
   * the next delayed or invisible message's time, or after `maxMs`.
   */
  whenReady(maxMs: number): Promise<void> {
    const next = this.nextVisibleAt();
    const ms = next === undefined ? maxMs : Math.min(maxMs, Math.max(0, next - this.clock()));
    return new Promise((resolve) => {
      const resume = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const index = this.waiting.indexOf(resume);
        if (index >= 0) this.waiting.splice(index, 1);
        resolve();
      }, ms);
      this.waiting.push(resume);
    });
  }

  /** Wakes every waiter (a poller that stops). */
  wakeAll(): void {
    this.wake(this.waiting.length);
  }

  depth(): QueueDepth {
    return queueDepth(this.db, this.name, this.clock());
  }

  /** Deletes messages older than the retention period, as SQS does; returns how many. */
  purgeExpired(): number {
    const cutoff = this.clock() - this.settings.retentionSeconds * 1000;
    return Number(this.statements.purge.run(this.name, cutoff).changes);
  }

  private take(row: QueueRow, now: number): ReceivedMessage | undefined {
    const redrive = this.settings.redrive;
    if (redrive && row.receive_count >= redrive.maxReceiveCount) {
      this.statements.moveToDlq.run(redrive.deadLetterQueue, now, row.seq);
      return undefined;
    }
    const receiptHandle = randomUUID();
    const firstReceived = row.first_received_at ?? now;
    this.statements.markReceived.run(
      now + this.settings.visibilityTimeoutSeconds * 1000,
      row.receive_count + 1,
      firstReceived,
      now,
      receiptHandle,
      row.seq,
    );
    return {
      messageId: row.message_id,
      receiptHandle,
      body: row.body,
      md5OfBody: createHash('md5').update(row.body).digest('hex'),
      ...(row.group_id === null ? {} : { groupId: row.group_id }),
      attributes: row.attributes ? (JSON.parse(row.attributes) as Record<string, string>) : {},
      receiveCount: row.receive_count + 1,
      sentTimestamp: row.sent_at,
      firstReceiveTimestamp: firstReceived,
    };
  }

  private inFlightByGroup(now: number): InFlight {
    const rows = this.statements.inFlightByGroup.all(this.name, now) as {
      group_id: string | null;
      n: number;
    }[];
    const byGroup = new Map<string, number>();
    let total = 0;
    for (const { group_id, n } of rows) {
      total += n;
      if (group_id !== null) byGroup.set(group_id, n);
    }
    return { total, byGroup };
  }

  private wake(count: number): void {
    for (const resume of this.waiting.splice(0, count)) resume();
  }
}

/**
 * Messages visible, in flight and delayed on one queue: also for a reader that opened the file read-only
 * (tests and the soak read a running stack's queues this way), so it writes nothing.
 */
export function queueDepth(db: DatabaseSync, queue: string, now = Date.now()): QueueDepth {
  const row = db
    .prepare(
      `SELECT sum(visible_at <= :now) AS visible,
              sum(visible_at > :now AND receipt IS NOT NULL) AS in_flight,
              sum(visible_at > :now AND receipt IS NULL) AS delayed
       FROM queue_messages WHERE queue = :queue`,
    )
    .get({ now, queue }) as { visible: number | null; in_flight: number | null; delayed: number | null };
  return { visible: row.visible ?? 0, inFlight: row.in_flight ?? 0, delayed: row.delayed ?? 0 };
}

/** In-flight messages now: all of them, and per message group. */
export interface InFlight {
  readonly total: number;
  readonly byGroup: ReadonlyMap<string, number>;
}
