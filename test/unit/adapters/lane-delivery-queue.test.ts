import {
  ChangeMessageVisibilityCommand,
  SendMessageBatchCommand,
  type SendMessageBatchCommandInput,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { deliveryQueueFor } from '../../../lambdas/commons/deps.js';
import { readConfig } from '../../../lambdas/config.js';
import type { DeliveryMessage } from '../../../lambdas/core/model.js';
import { ENV } from '../../../lambdas/environment.js';
import { stubAwsEnvironment } from '../../support/aws-env.js';

/* Dedicated lanes: each brand's deliveries on its own queue, through the queue every handler builds. */

const SHARED = 'http://127.0.0.1:1/000000000000/commbox-deliveries';
const BIG = 'http://127.0.0.1:1/000000000000/commbox-deliveries-big-brand';
const sqs = mockClient(SQSClient);

beforeEach(() => {
  stubAwsEnvironment();
  sqs.on(SendMessageBatchCommand).callsFake(async (input: SendMessageBatchCommandInput) => ({
    Successful: (input.Entries ?? []).map((entry) => ({
      Id: entry.Id,
      MessageId: 'm',
      MD5OfMessageBody: 'x',
    })),
    Failed: [],
  }));
  sqs.on(ChangeMessageVisibilityCommand).resolves({});
});

afterEach(() => {
  sqs.reset();
  vi.unstubAllEnvs();
});

const queue = () =>
  deliveryQueueFor(
    readConfig({
      [ENV.tableName]: 'webhooks',
      [ENV.deliveryQueueUrl]: SHARED,
      [ENV.dedicatedLanes]: JSON.stringify({ 'big-brand': BIG }),
    }),
  );

const aMessage = (brand: string, n: number): DeliveryMessage => ({
  v: 1,
  brand,
  subscriptionId: `sub_${String(n).padStart(16, '0')}`,
  deliveryId: `dlv_${String(n).padStart(25, '0')}`,
  eventKey: `${brand}/evt-${n}`,
});

/** The brands of the messages each queue URL was sent. */
function sentTo(): Record<string, string[]> {
  const sent: Record<string, string[]> = {};
  for (const call of sqs.commandCalls(SendMessageBatchCommand)) {
    const { QueueUrl = '', Entries = [] } = call.args[0].input;
    sent[QueueUrl] = [
      ...(sent[QueueUrl] ?? []),
      ...Entries.map((entry) => (JSON.parse(entry.MessageBody ?? '{}') as DeliveryMessage).brand),
    ];
  }
  return sent;
}

describe('dedicated lanes', () => {
  it("sends a lane brand's deliveries to its queue and every other brand's to the shared one", async () => {
    const failed = await queue().send([aMessage('acme', 1), aMessage('big-brand', 2), aMessage('globex', 3)]);

    expect(failed).toEqual([]);
    expect(sentTo()).toEqual({ [SHARED]: ['acme', 'globex'], [BIG]: ['big-brand'] });
  });

  it('returns what one lane could not take and keeps what the others took', async () => {
    sqs.on(SendMessageBatchCommand, { QueueUrl: BIG }).rejects(new Error('throttled'));
    const big = aMessage('big-brand', 2);

    const failed = await queue().send([aMessage('acme', 1), big]);

    expect(failed).toEqual([big]);
    expect(sentTo()[SHARED]).toEqual(['acme']);
  });
});
