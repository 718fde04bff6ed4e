import { DatabaseSync } from 'node:sqlite';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { queueDepth } from '../../../local/sqlite/queue.js';
import type { LocalProcess } from './local-process.js';

/*
 * A running stack's queue depths, in either mode: in the embedded default read from its SQLite file
 * (opened read-only, beside the running process, as WAL allows); in the emulator mode asked of fauxqs with
 * the real SQS client.
 */

export interface Depth {
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
}

export interface QueueReader {
  depth(queueName: string): Promise<Depth>;
  close(): void;
}

export function queueReader(stack: LocalProcess, options: { maxAttempts?: number } = {}): QueueReader {
  const databaseFile = stack.databaseFile();
  if (databaseFile) {
    const db = new DatabaseSync(databaseFile, { readOnly: true });
    return {
      depth: async (queueName) => queueDepth(db, queueName),
      close: () => db.close(),
    };
  }
  const sqs = new SQSClient({
    endpoint: stack.services().sqsEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
  });
  const urls = new Map<string, string>();
  return {
    async depth(queueName) {
      let url = urls.get(queueName);
      if (!url) {
        url = (await sqs.send(new GetQueueUrlCommand({ QueueName: queueName }))).QueueUrl ?? '';
        urls.set(queueName, url);
      }
      const { Attributes: attributes = {} } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: [
            'ApproximateNumberOfMessages',
            'ApproximateNumberOfMessagesNotVisible',
            'ApproximateNumberOfMessagesDelayed',
          ],
        }),
      );
      return {
        visible: Number(attributes.ApproximateNumberOfMessages ?? Number.NaN),
        inFlight: Number(attributes.ApproximateNumberOfMessagesNotVisible ?? Number.NaN),
        delayed: Number(attributes.ApproximateNumberOfMessagesDelayed ?? Number.NaN),
      };
    },
    close: () => sqs.destroy(),
  };
}
