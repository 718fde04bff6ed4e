import { X509Certificate } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createListenerClient, type ListenerClient } from '../../../lambdas/adapters/listener-client.js';
import { TlsAgentCache } from '../../../lambdas/adapters/tls-agents.js';
import { describeOutcome } from '../../../lambdas/core/retry.js';
import { type MtlsListener, startMtlsListener } from '../../support/mtls-listener.js';
import { type Issued, issue, testPki } from '../../support/test-pki.js';

/*
 * Mutual TLS against a real https listener on 127.0.0.1 that requires a client certificate from its CA.
 * The PKI is made at test time (openssl); every connection goes to loopback.
 */

let pki: ReturnType<typeof testPki>;
let strangerCa: Issued;
let stranger: Issued;
let otherClient: Issued;
let listener: MtlsListener;
let client: ListenerClient;

beforeAll(async () => {
  pki = testPki();
  strangerCa = issue({ commonName: 'Stranger CA', kind: 'ca' });
  stranger = issue({ commonName: 'stranger client', kind: 'client' }, strangerCa);
  otherClient = issue({ commonName: 'second client', kind: 'client' }, pki.ca);
  listener = await startMtlsListener(pki.server, pki.ca);
}, 60_000);

afterAll(async () => {
  await listener.close();
});

afterEach(() => {
  client?.close();
});

function post(tls?: Parameters<ListenerClient['post']>[0]['tls'], url = listener.url()) {
  client ??= createListenerClient({ allowLocalTargets: true, timeoutMs: 5000 });
  return client.post({
    url,
    body: '{"ok":true}',
    headers: { 'Content-Type': 'application/json' },
    ...(tls ? { tls } : {}),
  });
}

function freshClient() {
  client?.close();
  client = createListenerClient({ allowLocalTargets: true, timeoutMs: 5000 });
}

describe('mutual TLS', () => {
  it('presents the client certificate and trusts the listener through serverCa', async () => {
    freshClient();
    const result = await post({
      clientCertificate: pki.client.cert,
      clientKey: pki.client.key,
      serverCa: pki.ca.cert,
    });
    expect(result.outcome).toEqual({ kind: 'response', status: 200, retryAfter: undefined });
    expect(listener.requests.at(-1)).toMatchObject({
      clientSubject: 'commbox-webhooks client',
      clientFingerprint256: new X509Certificate(pki.client.cert).fingerprint256,
      body: '{"ok":true}',
    });
  });

  it('records a listener that refuses a connection without a client certificate as a TLS failure', async () => {
    freshClient();
    const refusedBefore = listener.refusedHandshakes;
    const result = await post({ serverCa: pki.ca.cert });
    expect(result.outcome).toMatchObject({
      kind: 'tls',
      reason: expect.stringMatching(/refused the handshake|client certificate/),
    });
    expect(describeOutcome(result.outcome)).toMatch(/^TLS handshake failed: /);
    expect(listener.refusedHandshakes).toBeGreaterThan(refusedBefore);
  });

  it('records a client certificate from a CA the listener does not trust as a TLS failure', async () => {
    freshClient();
    const result = await post({
      clientCertificate: stranger.cert,
      clientKey: stranger.key,
      serverCa: pki.ca.cert,
    });
    // The listener's alert, or (TLS 1.3) the reset that overtakes it.
    expect(result.outcome).toMatchObject({
      kind: 'tls',
      code: expect.stringMatching(/^ERR_SSL_.*ALERT|^ECONNRESET$/),
    });
    expect(listener.requests).not.toContainEqual(
      expect.objectContaining({ clientSubject: 'stranger client' }),
    );
  });

  it('does not trust the listener private CA through the public roots', async () => {
    freshClient();
    const result = await post({ clientCertificate: pki.client.cert, clientKey: pki.client.key });
    expect(result.outcome).toEqual({
      kind: 'tls',
      code: expect.stringMatching(/^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)$/),
      reason: "the listener's certificate is not signed by a trusted CA",
    });
  });

  it('trusts only the CA given in serverCa, not any CA', async () => {
    freshClient();
    const result = await post({
      clientCertificate: pki.client.cert,
      clientKey: pki.client.key,
      serverCa: strangerCa.cert,
    });
    expect(result.outcome).toMatchObject({
      kind: 'tls',
      reason: "the listener's certificate is not signed by a trusted CA",
    });
  });

  it('records a listener certificate for another host name as a TLS failure', async () => {
    const elsewhere = issue(
      { commonName: 'elsewhere', kind: 'server', subjectAltNames: ['DNS:elsewhere.test'] },
      pki.ca,
    );
    const wrongHost = await startMtlsListener(elsewhere, pki.ca);
    try {
      freshClient();
      const result = await post(
        { clientCertificate: pki.client.cert, clientKey: pki.client.key, serverCa: pki.ca.cert },
        wrongHost.url(),
      );
      expect(result.outcome).toEqual({
        kind: 'tls',
        code: 'ERR_TLS_CERT_ALTNAME_INVALID',
        reason: "the listener's certificate does not match its host name",
      });
      expect(wrongHost.requests).toHaveLength(0);
    } finally {
      await wrongHost.close();
    }
  });

  it('never sends one subscription certificate on another subscription connection', async () => {
    freshClient();
    const first = { clientCertificate: pki.client.cert, clientKey: pki.client.key, serverCa: pki.ca.cert };
    const second = { clientCertificate: otherClient.cert, clientKey: otherClient.key, serverCa: pki.ca.cert };
    const before = listener.requests.length;
    for (const tls of [first, second, first, second]) {
      expect((await post(tls)).outcome).toMatchObject({ status: 200 });
    }
    expect(listener.requests.slice(before).map((request) => request.clientSubject)).toEqual([
      'commbox-webhooks client',
      'second client',
      'commbox-webhooks client',
      'second client',
    ]);
  });
});

describe('TlsAgentCache', () => {
  it('keeps one agent per set of TLS settings and drops the least recently used past its bound', () => {
    const cache = new TlsAgentCache({ allowLocalTargets: true, keepAlive: true }, 2);
    const a = cache.agentFor({ serverCa: 'a' });
    const b = cache.agentFor({ serverCa: 'b' });
    expect(cache.agentFor({ serverCa: 'a' })).toBe(a);
    cache.agentFor({ serverCa: 'c' });
    expect(cache.size).toBe(2);
    expect(cache.agentFor({ serverCa: 'a' })).toBe(a);
    expect(cache.agentFor({ serverCa: 'b' })).not.toBe(b);
    cache.destroy();
    expect(cache.size).toBe(0);
  });
});
