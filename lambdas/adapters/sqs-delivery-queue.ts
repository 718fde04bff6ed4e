import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeliveryMessage } from '../core/model.js';
import type { DeliveryQueue } from '../core/ports.js';
import { SQS_MAX_DELAY_SECONDS } from '../core/retry.js';
import { inSendMessageBatches, sqsSafeJson } from '../core/sqs-text.js';

/** SQS takes at most ten messages per SendMessageBatch. */
const BATCH = 10;
/**
 * ...and at most 256 KiB of messages in all (1 MiB on queues that allow larger messages; 256 KiB is safe on
 * any). Messages carry their event, up to MAX_EVENT_DATA_BYTES of data each: ten of them can be far over.
 */
export const MAX_BATCH_BYTES = 256 * 1024;
/**
 * The delivery queue on SQS: batched sends, each message in its brand's message group, which makes the
 * standard queue a fair queue (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-fair-queues.html):
 * while one brand holds a large share of the messages in flight, the other brands' messages are handed
 * to consumers first.
 */
export class SqsDeliveryQueue implements DeliveryQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(messages: readonly DeliveryMessage[], delaySeconds = 0): Promise<DeliveryMessage[]> {
    const chunks = inSendMessageBatches(
      messages.map((message) => ({ message, body: sqsSafeJson(message) })),
      (outgoing) => outgoing.body,
      { entries: BATCH, bytes: MAX_BATCH_BYTES },
    );
    const sent = await Promise.allSettled(chunks.map((chunk) => this.sendBatch(chunk, delaySeconds)));
    // A chunk whose request failed is failed as a whole; the others stand (their messages are queued).
    const firstError = sent.find((result) => result.status === 'rejected');
    if (firstError && sent.every((result) => result.status === 'rejected')) throw firstError.reason;
    return sent.flatMap((result, index) =>
      result.status === 'fulfilled' ? result.value : (chunks[index] ?? []).map(({ message }) => message),
    );
  }

  private async sendBatch(chunk: readonly Outgoing[], delaySeconds: number): Promise<DeliveryMessage[]> {
    const output = await this.client.send(
      new SendMessageBatchCommand({
        QueueUrl: this.queueUrl,
        Entries: chunk.map(({ message, body }, index) => ({
          Id: String(index),
          MessageBody: body,
          MessageGroupId: message.brand,
          ...(delaySeconds > 0 ? { DelaySeconds: Math.min(delaySeconds, SQS_MAX_DELAY_SECONDS) } : {}),
        })),
      }),
    );
    return (output.Failed ?? []).flatMap((entry) => {
      const outgoing = chunk[Number(entry.Id)];
      return outgoing ? [outgoing.message] : [];
    });
  }
}

interface Outgoing {
  readonly message: DeliveryMessage;
  readonly body: string;
}
