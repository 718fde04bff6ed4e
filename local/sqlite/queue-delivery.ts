import type { DeliveryMessage } from '../../lambdas/core/model.js';
import type { DeliveryQueue } from '../../lambdas/core/ports.js';
import { inSendMessageBatches, sqsSafeJson } from '../../lambdas/core/sqs-text.js';
import type { SqliteQueue } from './queue.js';
import { MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, MAX_DELAY_SECONDS, QueueError } from './queue-limits.js';

/*
 * The DeliveryQueue port on the SQLite queue, as lambdas/adapters/sqs-delivery-queue.ts implements it on
 * SQS: messages sent in SendMessageBatch-sized batches (a batch SQS would refuse whole fails alone, an entry
 * it would refuse is returned as not queued), each in its brand's message group (the queue's fair receive
 * order, ./queue-fair.ts), the delay capped at 900 s as that adapter does.
 */
export class SqliteDeliveryQueue implements DeliveryQueue {
  /** `transact` runs each batch's send; default: at once (see the poller's). */
  constructor(
    private readonly queue: SqliteQueue,
    private readonly transact: <T>(work: () => T) => Promise<T> = async (work) => work(),
  ) {}

  async send(messages: readonly DeliveryMessage[], delaySeconds = 0): Promise<DeliveryMessage[]> {
    const delay = Math.min(delaySeconds, MAX_DELAY_SECONDS);
    const failed: DeliveryMessage[] = [];
    const batches = inSendMessageBatches(
      messages.map((message) => ({ message, body: sqsSafeJson(message) })),
      (outgoing) => outgoing.body,
      { entries: MAX_BATCH_ENTRIES, bytes: MAX_BATCH_BYTES },
    );
    let refused: unknown;
    for (const batch of batches) {
      try {
        const results = await this.transact(() =>
          this.queue.sendBatch(
            batch.map(({ message, body }) => ({
              body,
              groupId: message.brand,
              ...(delay > 0 ? { delaySeconds: delay } : {}),
            })),
          ),
        );
        results.forEach((result, index) => {
          const outgoing = batch[index];
          if (result.error && outgoing) failed.push(outgoing.message);
        });
      } catch (error) {
        if (!(error instanceof QueueError)) throw error;
        refused ??= error;
        failed.push(...batch.map(({ message }) => message));
      }
    }
    if (refused && failed.length === messages.length) throw refused;
    return failed;
  }
}
