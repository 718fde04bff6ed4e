import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  certificateExpiryWarning,
  clientCertificateSummary,
  MAX_CERTIFICATES_PER_FIELD,
  serverCaSummary,
  tlsIssues,
} from '../../lambdas/core/listener-tls.js';
import { encryptKey, type Issued, issue } from '../support/test-pki.js';

const NOW = new Date();
const PASSPHRASE = 'correct horse battery staple';
let ca: Issued;
let client: Issued;
let other: Issued;

beforeAll(() => {
  ca = issue({ commonName: 'Unit CA', kind: 'ca', days: 365 });
  client = issue({ commonName: 'unit client', kind: 'client', days: 20 }, ca);
  other = issue({ commonName: 'another client', kind: 'client' }, ca);
}, 60_000);

/** Every line of base64 in a PEM: none may appear in an error message. */
function secretLines(pem: string): string[] {
  return pem.split('\n').filter((line) => line.length > 20 && !line.startsWith('-----'));
}

describe('tlsIssues', () => {
  it('accepts an EC P-256 client certificate with its key and a CA certificate for the listener', () => {
    expect(
      tlsIssues({ clientCertificate: client.cert, clientKey: client.key, serverCa: ca.cert }, NOW),
    ).toEqual([]);
  });

  it('accepts a certificate followed by its intermediates, and an RSA 2048 key', () => {
    const rsa = issue({ commonName: 'rsa client', kind: 'client', key: 'rsa2048' }, ca);
    expect(tlsIssues({ clientCertificate: `${rsa.cert}${ca.cert}`, clientKey: rsa.key }, NOW)).toEqual([]);
  });

  it('refuses text that is not PEM certificates, naming the field', () => {
    expect(tlsIssues({ clientCertificate: 'hello', clientKey: client.key }, NOW)).toEqual([
      { field: 'tls.clientCertificate', message: expect.stringContaining('PEM certificates') },
    ]);
    const corrupted = client.cert.replace(/\n[A-Za-z]/, '\nA!');
    expect(tlsIssues({ clientCertificate: corrupted, clientKey: client.key }, NOW)[0]?.field).toBe(
      'tls.clientCertificate',
    );
  });

  it(`refuses more than ${MAX_CERTIFICATES_PER_FIELD} certificates in one field`, () => {
    const many = Array.from({ length: MAX_CERTIFICATES_PER_FIELD + 1 }, () => ca.cert).join('');
    expect(tlsIssues({ serverCa: many }, NOW)).toEqual([
      { field: 'tls.serverCa', message: expect.stringContaining(`1 to ${MAX_CERTIFICATES_PER_FIELD}`) },
    ]);
  });

  it('refuses a key that belongs to another certificate', () => {
    expect(tlsIssues({ clientCertificate: client.cert, clientKey: other.key }, NOW)).toEqual([
      { field: 'tls.clientKey', message: 'is not the private key of tls.clientCertificate' },
    ]);
  });

  it('refuses an expired certificate with the date it expired', () => {
    const expired = issue(
      { commonName: 'old', kind: 'client', startDate: '20200101000000Z', endDate: '20200201000000Z' },
      ca,
    );
    expect(tlsIssues({ clientCertificate: expired.cert, clientKey: expired.key }, NOW)).toEqual([
      { field: 'tls.clientCertificate', message: 'the certificate expired on 2020-02-01T00:00:00.000Z' },
    ]);
  });

  it.each([
    ['rsa1024', 'is an RSA key of 1024 bits'],
    ['p521', 'curve other than P-256 or P-384'],
    ['ed25519', 'is of type ed25519'],
  ] as const)('refuses a %s client key', (key, message) => {
    const weak = issue({ commonName: `weak ${key}`, kind: 'client', key }, ca);
    expect(tlsIssues({ clientCertificate: weak.cert, clientKey: weak.key }, NOW)).toEqual([
      { field: 'tls.clientKey', message: expect.stringContaining(message) },
    ]);
  });

  it('reads an encrypted key with its passphrase, and names the passphrase when it is missing or wrong', () => {
    const encrypted = encryptKey(client.key, PASSPHRASE);
    const tls = { clientCertificate: client.cert, clientKey: encrypted };
    expect(tlsIssues({ ...tls, clientKeyPassphrase: PASSPHRASE }, NOW)).toEqual([]);
    expect(tlsIssues(tls, NOW)).toEqual([
      { field: 'tls.clientKeyPassphrase', message: 'is required: tls.clientKey is encrypted' },
    ]);
    const wrong = tlsIssues({ ...tls, clientKeyPassphrase: 'not it' }, NOW);
    expect(wrong).toEqual([{ field: 'tls.clientKeyPassphrase', message: 'does not decrypt tls.clientKey' }]);
  });

  it('refuses a server CA that is not a CA certificate', () => {
    expect(tlsIssues({ serverCa: `${ca.cert}${other.cert}` }, NOW)).toEqual([
      { field: 'tls.serverCa', message: 'certificate #2 is not a CA certificate' },
    ]);
  });

  it('never quotes key material or the passphrase in its messages', () => {
    const encrypted = encryptKey(client.key, PASSPHRASE);
    const messages = JSON.stringify([
      tlsIssues({ clientCertificate: client.cert, clientKey: other.key }, NOW),
      tlsIssues({ clientCertificate: client.cert, clientKey: encrypted, clientKeyPassphrase: 'x' }, NOW),
      tlsIssues({ clientCertificate: client.cert, clientKey: `${other.key.slice(0, 200)}garbage` }, NOW),
    ]);
    for (const line of [...secretLines(other.key), ...secretLines(encrypted)]) {
      expect(messages).not.toContain(line);
    }
    expect(messages).not.toContain(PASSPHRASE);
  });
});

describe('what a response shows', () => {
  it('summarises the client certificate by subject, issuer, notAfter and SHA-256 fingerprint', () => {
    const x509 = new X509Certificate(client.cert);
    expect(clientCertificateSummary(client.cert)).toEqual({
      subject: 'CN=unit client',
      issuer: 'CN=Unit CA',
      notAfter: x509.validToDate.toISOString(),
      fingerprint256: x509.fingerprint256,
    });
    expect(serverCaSummary(ca.cert)).toEqual({
      subject: 'CN=Unit CA',
      notAfter: new X509Certificate(ca.cert).validToDate.toISOString(),
      certificates: 1,
    });
  });

  it('warns from 30 days before the certificate expires, and after it expired', () => {
    const tls = { clientCertificate: client.cert, clientKey: client.key };
    const notAfter = new X509Certificate(client.cert).validToDate.getTime();
    const daysBefore = (days: number) => new Date(notAfter - days * 86_400_000);
    expect(certificateExpiryWarning(tls, daysBefore(31))).toBeUndefined();
    expect(certificateExpiryWarning(tls, daysBefore(29.5))).toEqual({
      field: 'tls.clientCertificate',
      message: expect.stringMatching(/^expires on .* \(in 29 days\)/),
    });
    expect(certificateExpiryWarning(tls, daysBefore(-1))?.message).toMatch(/^expired on /);
  });
});
