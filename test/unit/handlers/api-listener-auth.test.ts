import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ApiResult } from '../../../lambdas/api/http.js';
import { handler, useServiceDeps } from '../../../lambdas/api.js';
import { serviceDeps } from '../../../lambdas/commons/service-deps.js';
import { readConfig } from '../../../lambdas/config.js';
import type { Subscription } from '../../../lambdas/core/model.js';
import { publicKeyOf } from '../../../lambdas/core/signing-keys.js';
import { apiEvent, lambdaContext } from '../../support/api-events.js';
import { encryptKey, type Issued, issue } from '../../support/test-pki.js';

/*
 * The API with the listener-authentication fields: ed25519 subscriptions show their public key and never
 * the private one; TLS settings are checked (422 naming the field) and shown as certificate summaries,
 * never with the key or its passphrase.
 */

const dynamo = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
const NOW = new Date();
const publicResolver = vi.fn(async () => [{ address: '93.184.216.34', family: 4 as const }]);
const createBody = {
  name: 'CRM sync',
  entity: 'Object',
  events: ['OnNew'],
  url: 'https://crm.example.com/hook',
};
const PASSPHRASE = 'pass-phrase-5c1e';
let ca: Issued;
let client: Issued;
let other: Issued;

beforeAll(() => {
  ca = issue({ commonName: 'API test CA', kind: 'ca', days: 365 });
  client = issue({ commonName: 'api client', kind: 'client', days: 200 }, ca);
  other = issue({ commonName: 'other client', kind: 'client', days: 10 }, ca);
}, 60_000);

async function call(method: string, path: string, body?: unknown) {
  const result = (await handler(
    apiEvent(method, path, { brand: 'acme', ...(body === undefined ? {} : { body }) }),
    lambdaContext,
  )) as ApiResult;
  return {
    status: result.statusCode,
    body: result.body ? JSON.parse(result.body) : undefined,
    raw: result.body ?? '',
  };
}

const written = () =>
  dynamo.commandCalls(TransactWriteCommand).at(-1)?.args[0].input.TransactItems?.[0]?.Put?.Item as
    | Subscription
    | undefined;

/** Creates through the API and serves the written item back to GETs. */
async function created(body: unknown) {
  const response = await call('POST', '/subscriptions', body);
  const item = written();
  if (item) dynamo.on(GetCommand).resolves({ Item: item });
  return { ...response, item };
}

beforeEach(() => {
  vi.stubEnv('TABLE_NAME', 'webhooks');
  vi.stubEnv('DELIVERY_QUEUE_URL', 'https://sqs.us-east-1.amazonaws.com/123456789012/delivery');
  useServiceDeps({ ...serviceDeps(readConfig()), resolve: publicResolver, now: () => NOW });
  sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
  dynamo.on(TransactWriteCommand).resolves({});
});

afterEach(() => {
  dynamo.reset();
  sqs.reset();
  useServiceDeps(undefined);
  vi.unstubAllEnvs();
});

describe('ed25519 subscriptions', () => {
  it('return the public key on create and GET, keep the private key, and never show it', async () => {
    const { status, body, raw, item } = await created({ ...createBody, signatureScheme: 'ed25519' });
    expect(status).toBe(201);
    expect(body.signatureScheme).toBe('ed25519');
    expect(body.publicKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/);
    expect(body.secret).toBeUndefined();
    const privateKey = item?.secrets[0]?.secret ?? '';
    expect(privateKey).toMatch(/^whsk_/);
    expect(publicKeyOf(privateKey)).toBe(body.publicKey);
    expect(raw).not.toContain(privateKey.slice(5, 40));

    const fetched = await call('GET', `/subscriptions/${body.id}`);
    expect(fetched.body.publicKey).toBe(body.publicKey);
    expect(fetched.raw).not.toContain('whsk_');
  });

  it('rotate to a new key pair, returning only the new public key; both keys sign for 24 hours', async () => {
    const { body } = await created({ ...createBody, signatureScheme: 'ed25519' });
    const rotated = await call('POST', `/subscriptions/${body.id}/secret/rotate`);
    expect(rotated.status).toBe(200);
    expect(rotated.body).toEqual({
      id: body.id,
      publicKey: expect.stringMatching(/^whpk_/),
      previousSecretsExpireAt: new Date(NOW.getTime() + 86_400_000).toISOString(),
    });
    expect(rotated.body.publicKey).not.toBe(body.publicKey);
    expect(written()?.secrets.map((secret) => secret.publicKey)).toEqual([
      rotated.body.publicKey,
      body.publicKey,
    ]);
    expect(rotated.raw).not.toContain('whsk_');
  });

  it('keep their scheme: an update may repeat it but not change it', async () => {
    const { body } = await created(createBody);
    expect(body.signatureScheme).toBe('hmac-sha256');
    expect(body.secret).toMatch(/^whsec_/);
    expect(
      (await call('PATCH', `/subscriptions/${body.id}`, { signatureScheme: 'hmac-sha256', name: 'B' }))
        .status,
    ).toBe(200);
    const changed = await call('PATCH', `/subscriptions/${body.id}`, { signatureScheme: 'ed25519' });
    expect(changed.status).toBe(422);
    expect(changed.body.error.details).toEqual([
      { field: 'signatureScheme', message: expect.stringContaining('fixed at creation') },
    ]);
  });
});

describe('client certificates', () => {
  it('are checked at create and shown as a summary, never with the key or the passphrase', async () => {
    const tls = {
      clientCertificate: client.cert,
      clientKey: encryptKey(client.key, PASSPHRASE),
      clientKeyPassphrase: PASSPHRASE,
      serverCa: ca.cert,
    };
    const { status, body, raw, item } = await created({ ...createBody, tls });
    expect(status).toBe(201);
    expect(body.tls).toEqual({
      clientCertificate: {
        subject: 'CN=api client',
        issuer: 'CN=API test CA',
        notAfter: expect.any(String),
        fingerprint256: expect.stringMatching(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/),
      },
      serverCa: { subject: 'CN=API test CA', notAfter: expect.any(String), certificates: 1 },
    });
    expect(body.warnings).toBeUndefined();
    expect(item?.tls).toEqual(tls);
    expect(raw).not.toContain(PASSPHRASE);
    expect(raw).not.toContain('PRIVATE KEY');
    const listed = await call('GET', `/subscriptions/${body.id}`);
    expect(listed.raw).not.toContain('PRIVATE KEY');
  });

  it('answer 422 naming the field for a key of another certificate, and write nothing', async () => {
    const { status, body } = await call('POST', '/subscriptions', {
      ...createBody,
      tls: { clientCertificate: client.cert, clientKey: other.key },
    });
    expect(status).toBe(422);
    expect(body.error.details).toEqual([
      { field: 'tls.clientKey', message: 'is not the private key of tls.clientCertificate' },
    ]);
    expect(dynamo.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('warn when the certificate expires within 30 days', async () => {
    const { body } = await created({
      ...createBody,
      tls: { clientCertificate: other.cert, clientKey: other.key },
    });
    // Made at test time for 10 days, to the second: by the time it is read, 9 whole days and some are left.
    expect(body.warnings).toEqual([
      { field: 'tls.clientCertificate', message: expect.stringMatching(/^expires on .* \(in (9|10) days\)/) },
    ]);
  });

  it('are kept when an update changes only the CA, and are not checked again when tls is not given', async () => {
    const { body } = await created({
      ...createBody,
      tls: { clientCertificate: client.cert, clientKey: client.key },
    });
    const updated = await call('PATCH', `/subscriptions/${body.id}`, { tls: { serverCa: ca.cert } });
    expect(updated.status).toBe(200);
    expect(written()?.tls).toEqual({
      clientCertificate: client.cert,
      clientKey: client.key,
      serverCa: ca.cert,
    });
    // Months later the certificate has expired: pausing still works, replacing the CA does not.
    const later = new Date(NOW.getTime() + 400 * 86_400_000);
    useServiceDeps({ ...serviceDeps(readConfig()), resolve: publicResolver, now: () => later });
    dynamo.on(GetCommand).resolves({ Item: written() });
    expect((await call('PATCH', `/subscriptions/${body.id}`, { status: 'paused' })).status).toBe(200);
    const refused = await call('PATCH', `/subscriptions/${body.id}`, { tls: { serverCa: ca.cert } });
    expect(refused.status).toBe(422);
    expect(refused.body.error.details[0]).toMatchObject({ field: 'tls.clientCertificate' });
  });
});

describe('SOAP subscriptions', () => {
  it('keep their action and parameters, and show each parameter by name with its value redacted', async () => {
    const soap = { action: 'urn:crm:Notify', parameters: { Username: 'bot', Password: 'hunter2-soap' } };
    const { status, body } = await created({ ...createBody, format: 'soap', soap });
    expect(status).toBe(201);
    expect(body.soap).toEqual({
      action: 'urn:crm:Notify',
      parameters: { Username: '[redacted]', Password: '[redacted]' },
    });
    expect(JSON.stringify(body)).not.toContain('hunter2-soap');
  });
});

describe('the OpenAPI document', () => {
  it('describes signatureScheme, soap and tls, and lets an update remove a tls member with null', async () => {
    const { body } = await call('GET', '/openapi.json');
    const create = body.paths['/subscriptions'].post.requestBody.content['application/json'].schema;
    expect(create.properties.signatureScheme.enum).toEqual(['hmac-sha256', 'ed25519']);
    expect(Object.keys(create.properties.soap.properties)).toEqual(['action', 'parameters']);
    expect(Object.keys(create.properties.tls.properties)).toEqual([
      'clientCertificate',
      'clientKey',
      'clientKeyPassphrase',
      'serverCa',
    ]);
    const update = body.paths['/subscriptions/{id}'].patch.requestBody.content['application/json'].schema;
    expect(JSON.stringify(update.properties.tls)).toContain('"type":"null"');
  });
});
