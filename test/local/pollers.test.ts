import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { type FauxqsServer, startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUES } from '../../lib/definitions.js';
import { type Poller, startPoller } from '../../local/pollers.js';

/*
 * The local event source mapping against the local SQS (fauxqs): batches handed to concurrent
 * invocations, and one long poll at a time per queue.
 */

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
let fauxqs: FauxqsServer;
let client: SQSClient;
/** ReceiveMessage requests the client has sent. */
let receives = 0;

beforeAll(async () => {
  fauxqs = await startFauxqs({ port: 0, logger: false });
  client = new SQSClient({ endpoint: fauxqs.address, region: 'us-east-1', credentials });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'ReceiveMessageCommand') receives += 1;
      return next(args);
    },
    { step: 'initialize', name: 'countReceives' },
  );
});

afterAll(async () => {
  client?.destroy();
  await fauxqs?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function aQueue(): Promise<string> {
  const name = `pollers-${Math.random().toString(36).slice(2, 10)}`;
  const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: name }));
  return QueueUrl ?? '';
}

async function send(queueUrl: string, count: number): Promise<void> {
  for (let start = 0; start < count; start += 10) {
    const size = Math.min(10, count - start);
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Array.from({ length: size }, (_, index) => ({
          Id: String(index),
          MessageBody: `m-${start + index}`,
        })),
      }),
    );
  }
}

async function left(queueUrl: string): Promise<number> {
  const { Attributes = {} } = await client.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible)
  );
}

function aPoller(queueUrl: string, concurrency: number, handler: (event: SQSEvent) => Promise<void>): Poller {
  return startPoller({
    name: 'test',
    client,
    queueUrl,
    queueArn: 'arn:aws:sqs:us-east-1:000000000000:test',
    queue: QUEUES.delivery,
    handler: async (event) => {
      await handler(event);
      return { batchItemFailures: [] };
    },
    timeoutSeconds: 10,
    concurrency,
    region: 'us-east-1',
    onError: () => {},
  });
}

async function until(condition: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(10);
  }
}

describe('the local event source mapping', () => {
  it('hands each batch to an invocation of its own, up to `concurrency` at once, and deletes what it handled', async () => {
    const queueUrl = await aQueue();
    await send(queueUrl, 60);
    const handled: string[] = [];
    let inFlight = 0;
    let peak = 0;
    const poller = aPoller(queueUrl, 3, async (event) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await sleep(40);
      handled.push(...event.Records.map((record) => record.body));
      inFlight -= 1;
    });

    await until(() => handled.length === 60);
    await poller.stop();

    expect(new Set(handled).size).toBe(60);
    expect(peak).toBe(3);
    expect(await left(queueUrl)).toBe(0);
  });

  it('keeps one long poll at a time: a message reaching an idle queue costs one receive, not one per slot', async () => {
    const queueUrl = await aQueue();
    const handled: string[] = [];
    const poller = aPoller(queueUrl, 8, async (event) => {
      handled.push(...event.Records.map((record) => record.body));
    });
    await sleep(100);
    const before = receives;

    await send(queueUrl, 1);
    await until(() => handled.length === 1);
    await sleep(100);
    const during = receives - before;
    await poller.stop();

    // The receive that got the message and the next long poll; eight woken polls would be nine or more.
    expect(during).toBeLessThanOrEqual(2);
    expect(handled).toEqual(['m-0']);
  });

  it('finishes the batches it received before stop() resolves', async () => {
    const queueUrl = await aQueue();
    await send(queueUrl, 20);
    let finished = 0;
    let started = 0;
    const poller = aPoller(queueUrl, 2, async (event) => {
      started += event.Records.length;
      await sleep(200);
      finished += event.Records.length;
    });
    await until(() => started > 0);

    await poller.stop();

    expect(finished).toBe(started);
    expect(await left(queueUrl)).toBe(20 - finished);
  });
});
