import type { IncomingHttpHeaders } from 'node:http';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { SendMessageBatchCommand, type SendMessageBatchCommandInput, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ApiResult } from '../../../lambdas/api/http.js';
import { handler as api, useServiceDeps } from '../../../lambdas/api.js';
import { logger } from '../../../lambdas/commons/logger.js';
import { serviceDeps } from '../../../lambdas/commons/service-deps.js';
import { readConfig } from '../../../lambdas/config.js';
import { deliveryIdFor } from '../../../lambdas/core/ids.js';
import { verifyWebhook } from '../../../lambdas/core/verify.js';
import { handler as deliver } from '../../../lambdas/deliver.js';
import { handler as route } from '../../../lambdas/route.js';
import { apiEvent, lambdaContext } from '../../support/api-events.js';
import { stubAwsEnvironment } from '../../support/aws-env.js';
import { FakeTable } from '../../support/dynamo-fake.js';
import { exampleData } from '../../support/factories.js';
import { emulateKms } from '../../support/kms-fake.js';
import { type LoopbackListener, startLoopbackListener } from '../../support/loopback-listener.js';
import {
  aDeliveryRecord,
  aLambdaContext,
  anEventBridgeEnvelope,
  anIngestRecord,
  anSqsEvent,
} from '../../support/sqs-events.js';
import { aStoredSubscription, subscriptionItem } from '../../support/stored-items.js';

// The handlers as the stack wires them, with SECRETS_KMS_KEY_ID set: the API encrypts what it writes,
// deliver decrypts to sign, and route never needs a key. The SDK is stubbed at the client classes (KMS
// emulated by test/support/kms-fake.ts); listeners are http.Servers of ours on 127.0.0.1.

const KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const QUEUE_URL = 'http://127.0.0.1:1/000000000000/commbox-deliveries';
const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
const kms = mockClient(KMSClient);
let table: FakeTable;
let listener: LoopbackListener;

beforeAll(async () => {
  listener = await startLoopbackListener();
});

afterAll(async () => {
  await listener.close();
});

beforeEach(() => {
  vi.stubEnv('TABLE_NAME', 'commbox-webhooks-test');
  vi.stubEnv('DELIVERY_QUEUE_URL', QUEUE_URL);
  vi.stubEnv('ALLOW_LOCAL_TARGETS', 'true');
  vi.stubEnv('SECRETS_KMS_KEY_ID', KEY_ARN);
  stubAwsEnvironment();
  logger.setLogLevel('SILENT');
  table = new FakeTable().install(ddb);
  // create and replace are transactions: their puts are stored (their conditions are the adapter's tests').
  ddb.on(TransactWriteCommand).callsFake(async (input) => {
    for (const item of input.TransactItems ?? []) if (item.Put?.Item) table.seed(item.Put.Item);
    return {};
  });
  sqs.on(SendMessageBatchCommand).callsFake(async (input: SendMessageBatchCommandInput) => ({
    Successful: (input.Entries ?? []).map((entry) => ({ Id: entry.Id, MessageId: `m-${entry.Id}` })),
    Failed: [],
  }));
  emulateKms(kms, KEY_ARN);
  useServiceDeps(serviceDeps(readConfig()));
  listener.received.length = 0;
});

afterEach(() => {
  useServiceDeps(undefined);
  ddb.reset();
  sqs.reset();
  kms.reset();
  vi.unstubAllEnvs();
});

async function callApi(method: string, path: string, body?: unknown) {
  const result = (await api(apiEvent(method, path, { brand: 'acme', body }), lambdaContext)) as ApiResult;
  return { status: result.statusCode, body: result.body ? JSON.parse(result.body) : undefined };
}

const scan = () => JSON.stringify(table.itemsUnder(''));

const signedBy = (secret: string, received: { headers: IncomingHttpHeaders; body: string }) =>
  verifyWebhook({ headers: received.headers, body: received.body, secrets: secret, parseJson: false });

describe('with a KMS key configured', () => {
  it('the API stores created and rotated secrets encrypted, and deliver signs with both', async () => {
    const created = await callApi('POST', '/subscriptions', {
      name: 'CRM sync',
      entity: 'Object',
      events: ['OnNew'],
      url: listener.url('/hook'),
    });
    expect(created.status).toBe(201);
    const rotated = await callApi('POST', `/subscriptions/${created.body.id}/secret/rotate`);
    expect(rotated.status).toBe(200);

    expect(scan()).not.toContain('whsec_');
    expect(scan()).toContain('enc:v1:kms.');

    const event = {
      entity: 'Object' as const,
      event: 'OnNew',
      receivedAt: new Date().toISOString(),
      data: exampleData('Object', 'OnNew'),
    };
    const response = await deliver(
      anSqsEvent(
        aDeliveryRecord({
          v: 1,
          brand: 'acme',
          subscriptionId: created.body.id,
          deliveryId: deliveryIdFor(event.receivedAt, 'acme/evt-1', created.body.id),
          eventKey: 'acme/evt-1',
          event,
        }),
      ),
      aLambdaContext('deliver'),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    const [received] = listener.received;
    if (!received) throw new Error('nothing delivered');
    expect(() => signedBy(rotated.body.secret, received)).not.toThrow();
    expect(() => signedBy(created.body.secret, received)).not.toThrow();
    expect(kms.commandCalls(GenerateDataKeyCommand)).toHaveLength(1);
  });

  it('route matches subscriptions whose secrets it cannot decrypt, and never calls KMS', async () => {
    const subscription = aStoredSubscription();
    const undecryptable = 'enc:v1:kms.bm90LWEta2V5:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAAAA';
    table.seed(
      subscriptionItem({
        ...subscription,
        secrets: [{ secret: undecryptable, createdAt: subscription.createdAt }],
      }),
    );
    const envelope = anEventBridgeEnvelope({
      detailType: 'Object.OnNew',
      detail: { brand: 'acme', data: exampleData('Object', 'OnNew') },
    });

    const response = await route(anSqsEvent(anIngestRecord(envelope)), aLambdaContext('route'));

    expect(response).toEqual({ batchItemFailures: [] });
    const queued = sqs
      .commandCalls(SendMessageBatchCommand)
      .flatMap((call) => call.args[0].input.Entries ?? []);
    expect(queued.map((entry) => JSON.parse(entry.MessageBody ?? '{}').subscriptionId)).toEqual([
      subscription.id,
    ]);
    expect(kms.commandCalls(DecryptCommand)).toHaveLength(0);
    expect(kms.commandCalls(GenerateDataKeyCommand)).toHaveLength(0);
  });
});

describe('the secrets key setting', () => {
  it('is a KMS key or a key file, and refuses both at once', () => {
    const base = { TABLE_NAME: 'commbox-webhooks-test' };

    expect(readConfig({ ...base, SECRETS_KMS_KEY_ID: KEY_ARN }).secretsKey).toEqual({ kmsKeyId: KEY_ARN });
    expect(readConfig({ ...base, SECRETS_KEY_FILE: '/data/secret.key' }).secretsKey).toEqual({
      keyFile: '/data/secret.key',
    });
    expect(readConfig(base).secretsKey).toBeUndefined();
    expect(() =>
      readConfig({ ...base, SECRETS_KMS_KEY_ID: KEY_ARN, SECRETS_KEY_FILE: '/data/secret.key' }),
    ).toThrow(/set SECRETS_KMS_KEY_ID or SECRETS_KEY_FILE, not both/);
  });
});
