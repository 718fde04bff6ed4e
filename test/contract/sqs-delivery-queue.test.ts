import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { type FauxqsServer, startFauxqs } from 'fauxqs';
import { afterAll, beforeAll } from 'vitest';
import { SqsDeliveryQueue } from '../../lambdas/adapters/sqs-delivery-queue.js';
import type { DeliveryMessage } from '../../lambdas/core/model.js';
import { escapeBodiesFauxqsRefuses } from '../../local/aws-emulators/fauxqs-bodies.js';
import { describeDeliveryQueueContract, type QueueUnderTest } from './delivery-queue.contract.js';

/*
 * The DeliveryQueue contract against the SQS adapter the AWS stack deploys, on fauxqs. Its client gets the
 * escaping the emulator mode adds (fauxqs refuses characters above U+FFFF that real SQS takes).
 */

let server: FauxqsServer;
let client: SQSClient;
let subject: QueueUnderTest;

beforeAll(async () => {
  server = await startFauxqs({ port: 0, logger: false });
  client = new SQSClient({
    endpoint: server.address,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    useQueueUrlAsEndpoint: false,
  });
  escapeBodiesFauxqsRefuses(client);
  const { QueueUrl: queueUrl = '' } = await client.send(
    new CreateQueueCommand({ QueueName: 'delivery-contract', Attributes: { VisibilityTimeout: '30' } }),
  );
  subject = {
    queue: new SqsDeliveryQueue(client, queueUrl),
    async receive(max = 10) {
      const output = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: max,
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
      );
      return (output.Messages ?? []).map((message) => ({
        message: JSON.parse(message.Body ?? '') as DeliveryMessage,
        receiptHandle: message.ReceiptHandle ?? '',
        receiveCount: Number(message.Attributes?.ApproximateReceiveCount),
      }));
    },
    async remove(received) {
      // DeleteMessageBatch takes ten entries at most.
      for (let start = 0; start < received.length; start += 10) {
        await client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: received
              .slice(start, start + 10)
              .map((entry, index) => ({ Id: String(index), ReceiptHandle: entry.receiptHandle })),
          }),
        );
      }
    },
  };
});

afterAll(async () => {
  client?.destroy();
  await server?.stop();
});

describeDeliveryQueueContract(() => subject);
