import { ChangeMessageVisibilityCommand, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeliveryMessage } from '../core/model.js';
import type { DeliveryQueue } from '../core/ports.js';
import { inSendMessageBatches, sqsSafeJson } from '../core/sqs-text.js';

/** SQS takes at most ten messages per SendMessageBatch. */
const BATCH = 10;
/**
 * ...and at most 256 KiB of messages in all (1 MiB on queues that allow larger messages; 256 KiB is safe on
 * any). Messages carry their event, up to MAX_EVENT_DATA_BYTES of data each: ten of them can be far over.
 */
export const MAX_BATCH_BYTES = 256 * 1024;
/** SQS delays a new message at most 15 minutes. */
const MAX_DELAY_SECONDS = 900;

/** The delivery queue on SQS: batched sends, and retries delayed through the message's visibility. */
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

  async delay(receiptHandle: string, seconds: number): Promise<void> {
    await this.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  }

  private async sendBatch(chunk: readonly Outgoing[], delaySeconds: number): Promise<DeliveryMessage[]> {
    const output = await this.client.send(
      new SendMessageBatchCommand({
        QueueUrl: this.queueUrl,
        Entries: chunk.map(({ body }, index) => ({
          Id: String(index),
          MessageBody: body,
          ...(delaySeconds > 0 ? { DelaySeconds: Math.min(delaySeconds, MAX_DELAY_SECONDS) } : {}),
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
