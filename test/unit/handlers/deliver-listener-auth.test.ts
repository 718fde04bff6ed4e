import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { logger } from '../../../lambdas/commons/logger.js';
import { deliveryIdFor } from '../../../lambdas/core/ids.js';
import type { Subscription } from '../../../lambdas/core/model.js';
import { SOAP_PARAMETERS_NS } from '../../../lambdas/core/render.js';
import { generateSigningKeyPair } from '../../../lambdas/core/signing.js';
import { verifyWebhook } from '../../../lambdas/core/verify.js';
import { handler, useDeliveryDeps } from '../../../lambdas/deliver.js';
import { stubAwsEnvironment } from '../../support/aws-env.js';
import { FakeTable } from '../../support/dynamo-fake.js';
import { exampleData } from '../../support/factories.js';
import { type LoopbackListener, startLoopbackListener } from '../../support/loopback-listener.js';
import { type MtlsListener, startMtlsListener } from '../../support/mtls-listener.js';
import { aDeliveryRecord, aLambdaContext, anSqsEvent } from '../../support/sqs-events.js';
import { aStoredSubscription, subscriptionItem } from '../../support/stored-items.js';
import { issue, opensslDate, testPki } from '../../support/test-pki.js';

/*
 * Delivering with listener authentication: ed25519 (v1a) signatures, SOAP action and header parameters,
 * client certificates over mutual TLS (a real https listener on 127.0.0.1 requiring one), an expired
 * certificate failing the attempt before any connection, and the expiry announced once.
 */

const TABLE_NAME = 'commbox-webhooks-test';
const REAL_NOW = new Date();
const DAY_MS = 24 * 60 * 60 * 1000;
const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
const eventBridge = mockClient(EventBridgeClient);
let table: FakeTable;
let listener: LoopbackListener;
let mtls: MtlsListener;
let pki: ReturnType<typeof testPki>;

beforeAll(async () => {
  pki = testPki();
  listener = await startLoopbackListener();
  mtls = await startMtlsListener(pki.server, pki.ca);
}, 60_000);

afterAll(async () => {
  await listener.close();
  await mtls.close();
});

beforeEach(() => {
  vi.stubEnv('TABLE_NAME', TABLE_NAME);
  vi.stubEnv('DELIVERY_QUEUE_URL', 'http://127.0.0.1:1/000000000000/commbox-deliveries');
  vi.stubEnv('ALLOW_LOCAL_TARGETS', 'true');
  vi.stubEnv('RETRY_SCHEDULE', '0,5,10');
  vi.stubEnv('DELIVERY_TIMEOUT_MS', '4000');
  vi.stubEnv('DELIVERY_LOG', 'full');
  vi.stubEnv('EVENT_BUS_NAME', 'webhooks-bus');
  vi.stubEnv('AWS_ENDPOINT_URL_EVENTBRIDGE', 'http://127.0.0.1:1');
  stubAwsEnvironment();
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(REAL_NOW);
  logger.setLogLevel('SILENT');
  table = new FakeTable().install(ddb);
  sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
  eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: '1' }] });
  listener.received.length = 0;
  listener.answer(() => ({ status: 200, body: 'ok' }));
});

afterEach(() => {
  useDeliveryDeps(undefined);
  ddb.reset();
  sqs.reset();
  eventBridge.reset();
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

/** Seeds the subscription and returns the record of one Object.OnNew delivery to it. */
function aDeliveryTo(overrides: Partial<Subscription>) {
  const subscription = aStoredSubscription({ url: listener.url(), ...overrides });
  table.seed(subscriptionItem(subscription));
  return { subscription, ...aRecordFor(subscription) };
}

/** The record of one Object.OnNew delivery (event `key`) to a seeded subscription. */
function aRecordFor(subscription: Subscription, key = 'acme/evt-1') {
  const event = {
    entity: 'Object' as const,
    event: 'OnNew',
    receivedAt: REAL_NOW.toISOString(),
    data: exampleData('Object', 'OnNew'),
  };
  const deliveryId = deliveryIdFor(event.receivedAt, key, subscription.id);
  const message = {
    v: 1 as const,
    brand: 'acme',
    subscriptionId: subscription.id,
    deliveryId,
    eventKey: key,
    event,
  };
  return { record: aDeliveryRecord(message), deliveryId };
}

const invoke = (record: ReturnType<typeof aRecordFor>['record']) =>
  handler(anSqsEvent(record), aLambdaContext('deliver'));

const published = () =>
  eventBridge.commandCalls(PutEventsCommand).flatMap((call) => call.args[0].input.Entries ?? []);

describe('ed25519 subscriptions', () => {
  it('sign with v1a: the listener verifies with the public key alone, with both keys during a rotation', async () => {
    const next = generateSigningKeyPair();
    const previous = generateSigningKeyPair();
    const expiresAt = new Date(REAL_NOW.getTime() + DAY_MS).toISOString();
    const { record } = aDeliveryTo({
      signatureScheme: 'ed25519',
      secrets: [
        { ...next, createdAt: REAL_NOW.toISOString() },
        { ...previous, createdAt: '2026-01-01T00:00:00.000Z', expiresAt },
      ],
    });
    await invoke(record);
    const [received] = listener.received;
    expect(received?.headers['webhook-signature']).toMatch(/^v1a,\S+ v1a,\S+$/);
    for (const publicKey of [next.publicKey, previous.publicKey]) {
      const verified = verifyWebhook({
        headers: received?.headers ?? {},
        body: received?.body ?? '',
        publicKeys: publicKey,
      });
      expect(verified.payload).toMatchObject({ Event: { Name: 'OnNew' } });
    }
  });
});

describe('SOAP subscriptions', () => {
  it('send their action quoted in SOAPAction and their parameters in the soap:Header', async () => {
    const { record } = aDeliveryTo({
      format: 'soap',
      soap: { action: 'urn:crm:Notify', parameters: { Username: 'bot & co' } },
    });
    await invoke(record);
    const [received] = listener.received;
    expect(received?.headers.soapaction).toBe('"urn:crm:Notify"');
    expect(received?.body).toContain(
      `<soap:Header xmlns="${SOAP_PARAMETERS_NS}"><Username>bot &amp; co</Username></soap:Header>`,
    );
  });
});

describe('client certificates', () => {
  it('are presented to an https listener that requires one, trusted through serverCa', async () => {
    const { record } = aDeliveryTo({
      url: mtls.url(),
      tls: { clientCertificate: pki.client.cert, clientKey: pki.client.key, serverCa: pki.ca.cert },
    });
    expect(await invoke(record)).toEqual({ batchItemFailures: [] });
    expect(mtls.requests.at(-1)?.clientSubject).toBe('commbox-webhooks client');
  });

  it('that expired fail the attempt before connecting, with the reason in the delivery log, and are retried', async () => {
    const expired = issue(
      { commonName: 'expired', kind: 'client', startDate: '20240101000000Z', endDate: '20240201000000Z' },
      pki.ca,
    );
    const before = mtls.requests.length;
    const { subscription, record, deliveryId } = aDeliveryTo({
      url: mtls.url(),
      tls: { clientCertificate: expired.cert, clientKey: expired.key, serverCa: pki.ca.cert },
    });
    expect(await invoke(record)).toEqual({ batchItemFailures: [] });
    // Retried as a new message on the delivery queue.
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(1);
    expect(mtls.requests.length).toBe(before);
    expect(mtls.refusedHandshakes).toBe(0);
    expect(table.item(`SUB#${subscription.id}`, `DLV#${deliveryId}`)).toMatchObject({
      status: 'pending',
      attempts: [
        {
          attempt: 1,
          error:
            'TLS handshake failed: the client certificate expired on 2024-02-01T00:00:00.000Z; set a new one',
        },
      ],
    });
  });

  it('announce their expiry once, from 30 days before it', async () => {
    const expiring = issue(
      {
        commonName: 'expiring',
        kind: 'client',
        endDate: opensslDate(new Date(REAL_NOW.getTime() + 10 * DAY_MS)),
      },
      pki.ca,
    );
    const { subscription, record } = aDeliveryTo({
      url: mtls.url(),
      tls: { clientCertificate: expiring.cert, clientKey: expiring.key, serverCa: pki.ca.cert },
    });
    await invoke(record);
    expect(mtls.requests.at(-1)?.clientSubject).toBe('expiring');
    expect(table.item('BRAND#acme', `SUB#${subscription.id}`)?.certificateExpiryNoticed).toMatch(
      /^[0-9A-F:]+$/,
    );
    await invoke(aRecordFor(subscription, 'acme/evt-2').record);
    expect(mtls.requests.at(-1)?.clientSubject).toBe('expiring');
    const entries = published();
    expect(entries).toHaveLength(1);
    expect(entries[0]?.DetailType).toBe('Subscription.CertificateExpiring');
    expect(JSON.parse(entries[0]?.Detail ?? '{}')).toMatchObject({
      brand: 'acme',
      subscriptionId: subscription.id,
      notAfter: expect.any(String),
      fingerprint256: expect.stringMatching(/^[0-9A-F:]+$/),
    });
  });
});
