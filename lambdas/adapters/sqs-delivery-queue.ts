import { ChangeMessageVisibilityCommand, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeliveryMessage } from '../core/model.js';
import type { DeliveryQueue } from '../core/ports.js';

/** SQS takes at most ten messages per SendMessageBatch. */
const BATCH = 10;
/** SQS delays a new message at most 15 minutes. */
const MAX_DELAY_SECONDS = 900;

/** The delivery queue on SQS: batched sends, and retries delayed through the message's visibility. */
export class SqsDeliveryQueue implements DeliveryQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(messages: readonly DeliveryMessage[], delaySeconds = 0): Promise<DeliveryMessage[]> {
    const chunks: DeliveryMessage[][] = [];
    for (let start = 0; start < messages.length; start += BATCH)
      chunks.push(messages.slice(start, start + BATCH));
    const failed = await Promise.all(chunks.map((chunk) => this.sendBatch(chunk, delaySeconds)));
    return failed.flat();
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

  private async sendBatch(
    chunk: readonly DeliveryMessage[],
    delaySeconds: number,
  ): Promise<DeliveryMessage[]> {
    const output = await this.client.send(
      new SendMessageBatchCommand({
        QueueUrl: this.queueUrl,
        Entries: chunk.map((message, index) => ({
          Id: String(index),
          MessageBody: JSON.stringify(message),
          ...(delaySeconds > 0 ? { DelaySeconds: Math.min(delaySeconds, MAX_DELAY_SECONDS) } : {}),
        })),
      }),
    );
    return (output.Failed ?? []).flatMap((entry) => {
      const message = chunk[Number(entry.Id)];
      return message ? [message] : [];
    });
  }
}
