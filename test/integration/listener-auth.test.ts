import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { verifyWebhook } from '../../lambdas/core/verify.js';
import { exampleData } from '../support/factories.js';
import { type MtlsListener, startMtlsListener } from '../support/mtls-listener.js';
import { encryptKey, type Issued, issue, testPki } from '../support/test-pki.js';
import { bodyOf, subscriptionSchema } from './support/api-client.js';
import { commboxEvent, putEvents } from './support/events.js';
import { assertStatus, subscriptionSpec, uniqueMarker, waitForDelivery } from './support/fixtures.js';
import { useLocalStack } from './support/local-stack.js';
import { recordSecret } from './support/secrets.js';
import { waitUntil } from './support/wait.js';

/*
 * Listener authentication through the real local process: an ed25519 subscription whose deliveries
 * verify with its public key alone, a SOAP subscription's action and parameters, and a client certificate
 * presented to an https listener on 127.0.0.1 that requires one (a PKI made at test time). Retry
 * schedule 0, 1, 1 s. The harness checks that no key, passphrase or `whsk_` reaches a log or a response.
 */

const local = useLocalStack();
/** A subscription response with the listener-authentication members this file reads. */
const authViewSchema = subscriptionSchema.extend({
  secret: z.string().optional(),
  publicKey: z.string().optional(),
  tls: z.unknown().optional(),
});
const PASSPHRASE = uniqueMarker('passphrase');
recordSecret(PASSPHRASE);
let pki: ReturnType<typeof testPki>;
let strangerCa: Issued;
let mtls: MtlsListener;

beforeAll(async () => {
  pki = testPki();
  strangerCa = issue({ commonName: 'Stranger CA', kind: 'ca' });
  mtls = await startMtlsListener(pki.server, pki.ca);
}, 60_000);

afterAll(async () => {
  await mtls?.close();
});

async function create(url: string, overrides: Record<string, unknown>) {
  const response = await local.acme.post(
    '/subscriptions',
    subscriptionSpec(uniqueMarker('auth'), url, overrides),
  );
  assertStatus(response, 201);
  return bodyOf(authViewSchema, response);
}

const putObjectOnNew = (marker: string) =>
  putEvents(local.producer, [
    commboxEvent('acme', 'Object.OnNew', exampleData('Object', 'OnNew', { Snippet: marker })),
  ]);

describe('listener authentication end to end', { timeout: 40_000 }, () => {
  it('signs an ed25519 subscription with v1a, verifiable with the public key the API showed', async () => {
    const listener = await local.listener();
    const created = await create(listener.url, { signatureScheme: 'ed25519' });
    expect(created.publicKey).toMatch(/^whpk_/);
    expect(created.secret).toBeUndefined();
    const marker = uniqueMarker('ed25519');
    await putObjectOnNew(marker);
    const received = await waitUntil(
      () => listener.requests.find((request) => request.body.includes(marker)),
      {
        timeoutMs: 15_000,
        what: () => 'the ed25519 delivery',
      },
    );
    expect(received.headers['webhook-signature']).toMatch(/^v1a,/);
    const verified = verifyWebhook({
      headers: received.headers,
      body: received.body,
      publicKeys: created.publicKey,
    });
    expect(verified.body).toContain(marker);
    const fetched = await local.acme.get(`/subscriptions/${created.id}`);
    expect(fetched.body).toMatchObject({ signatureScheme: 'ed25519', publicKey: created.publicKey });
  });

  it('sends a SOAP subscription its action and its parameters in the soap:Header', async () => {
    const listener = await local.listener();
    await create(listener.url, {
      format: 'soap',
      soap: { action: 'urn:crm:Notify', parameters: { Username: 'crm <bot>' } },
    });
    const marker = uniqueMarker('soap');
    await putObjectOnNew(marker);
    const received = await waitUntil(
      () => listener.requests.find((request) => request.body.includes(marker)),
      {
        timeoutMs: 15_000,
        what: () => 'the SOAP delivery',
      },
    );
    expect(received.headers.soapaction).toBe('"urn:crm:Notify"');
    expect(received.body).toContain('<Username>crm &lt;bot&gt;</Username></soap:Header>');
  });

  it('presents the client certificate to an https listener that requires one, and shows only its summary', async () => {
    const clientKey = encryptKey(pki.client.key, PASSPHRASE);
    recordSecret(clientKey);
    recordSecret(pki.client.key);
    const created = await create(mtls.url(), {
      tls: {
        clientCertificate: pki.client.cert,
        clientKey,
        clientKeyPassphrase: PASSPHRASE,
        serverCa: pki.ca.cert,
      },
    });
    expect(created.tls).toMatchObject({
      clientCertificate: { subject: 'CN=commbox-webhooks client', issuer: 'CN=Test Listener CA' },
      serverCa: { subject: 'CN=Test Listener CA', certificates: 1 },
    });
    const marker = uniqueMarker('mtls');
    await putObjectOnNew(marker);
    const received = await waitUntil(() => mtls.requests.find((request) => request.body.includes(marker)), {
      timeoutMs: 15_000,
      what: () => 'the mutual-TLS delivery',
    });
    expect(received.clientSubject).toBe('commbox-webhooks client');
    await waitForDelivery(
      local.acme,
      created.id,
      (delivery) => delivery.status === 'succeeded',
      'its success',
    );
  });

  it('records a listener certificate that does not chain to serverCa as a TLS failure, retried then failed', async () => {
    recordSecret(pki.client.key);
    const created = await create(mtls.url(), {
      tls: { clientCertificate: pki.client.cert, clientKey: pki.client.key, serverCa: strangerCa.cert },
    });
    await putObjectOnNew(uniqueMarker('untrusted'));
    const failed = await waitForDelivery(
      local.acme,
      created.id,
      (delivery) => delivery.status === 'failed',
      'its failure',
    );
    expect(failed.attempts).toHaveLength(3);
    for (const attempt of failed.attempts) {
      expect(attempt.error).toMatch(
        /^TLS handshake failed: the listener's certificate is not signed by a trusted CA/,
      );
    }
  });
});
