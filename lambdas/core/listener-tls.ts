import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import type { FieldIssue } from './errors.js';
import type { SubscriptionTls } from './listener-auth.js';

/*
 * The certificate checks of a subscription's mutual-TLS settings (at create, and at update when `tls` is
 * given), and what a response shows of them. Messages name the field and the problem, never any of the
 * key material or the passphrase. Node's X509Certificate and createPrivateKey do the parsing.
 */

/** Certificates in one PEM field, at most: a client certificate and its intermediates, or a few CAs. */
export const MAX_CERTIFICATES_PER_FIELD = 8;
export const MIN_RSA_BITS = 2048;
/** Above this an RSA handshake costs noticeable CPU on every new connection. */
export const MAX_RSA_BITS = 8192;
/** EC curves a client certificate may use (OpenSSL names): P-256 and P-384. */
const ALLOWED_CURVES: Readonly<Record<string, string>> = { prime256v1: 'P-256', secp384r1: 'P-384' };
/** The warning (and the Subscription.CertificateExpiring event) starts this long before notAfter. */
export const CERTIFICATE_EXPIRY_NOTICE_MS = 30 * 24 * 60 * 60 * 1000;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----/g;

/** The certificates of a PEM field, in order; undefined when it holds none or something else as well. */
export function parseCertificates(pem: string): X509Certificate[] | undefined {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0 || pem.replace(PEM_CERTIFICATE, '').trim() !== '') return undefined;
  if (blocks.length > MAX_CERTIFICATES_PER_FIELD) return undefined;
  try {
    return blocks.map((block) => new X509Certificate(block));
  } catch {
    return undefined;
  }
}

/** Every problem with the TLS settings at `now`, by field; empty when they can be used. */
export function tlsIssues(tls: SubscriptionTls, now: Date): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const issue = (field: string, message: string) => issues.push({ field: `tls.${field}`, message });
  const chain =
    tls.clientCertificate === undefined
      ? undefined
      : certificatesOf(tls.clientCertificate, 'clientCertificate');
  function certificatesOf(pem: string, field: keyof SubscriptionTls): X509Certificate[] | undefined {
    const certificates = parseCertificates(pem);
    if (!certificates) {
      issue(
        field,
        `must be 1 to ${MAX_CERTIFICATES_PER_FIELD} PEM certificates ("-----BEGIN CERTIFICATE-----")`,
      );
      return undefined;
    }
    certificates.forEach((certificate, index) => {
      const name = index === 0 ? 'the certificate' : `certificate #${index + 1}`;
      if (certificate.validToDate.getTime() <= now.getTime()) {
        issue(field, `${name} expired on ${certificate.validToDate.toISOString()}`);
      }
    });
    return certificates;
  }

  const key = tls.clientKey === undefined ? undefined : privateKeyOf(tls, issue);
  const leaf = chain?.[0];
  if (leaf && key && !leaf.checkPrivateKey(key)) {
    issue('clientKey', 'is not the private key of tls.clientCertificate');
  }

  if (tls.serverCa !== undefined) {
    certificatesOf(tls.serverCa, 'serverCa')?.forEach((certificate, index) => {
      if (!certificate.ca) issue('serverCa', `certificate #${index + 1} is not a CA certificate`);
    });
  }
  return issues;
}

function privateKeyOf(
  tls: SubscriptionTls,
  issue: (field: string, message: string) => void,
): KeyObject | undefined {
  const pem = tls.clientKey ?? '';
  if (!/^\s*-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    issue('clientKey', 'must be a PEM private key ("-----BEGIN PRIVATE KEY-----")');
    return undefined;
  }
  const encrypted = /ENCRYPTED/.test(pem);
  if (encrypted && tls.clientKeyPassphrase === undefined) {
    issue('clientKeyPassphrase', 'is required: tls.clientKey is encrypted');
    return undefined;
  }
  let key: KeyObject;
  try {
    // Never pass the error on: OpenSSL's messages may quote parts of the input.
    key = createPrivateKey({ key: pem, format: 'pem', passphrase: tls.clientKeyPassphrase ?? '' });
  } catch {
    if (encrypted) issue('clientKeyPassphrase', 'does not decrypt tls.clientKey');
    else issue('clientKey', 'is not a readable PEM private key');
    return undefined;
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
      issue('clientKey', `is an RSA key of ${bits} bits; ${MIN_RSA_BITS} to ${MAX_RSA_BITS} are accepted`);
      return undefined;
    }
  } else if (key.asymmetricKeyType === 'ec') {
    if (!(details.namedCurve && details.namedCurve in ALLOWED_CURVES)) {
      issue('clientKey', 'is an EC key on a curve other than P-256 or P-384');
      return undefined;
    }
  } else {
    issue(
      'clientKey',
      `is of type ${key.asymmetricKeyType}; RSA (≥ ${MIN_RSA_BITS} bits) or EC P-256/P-384 is needed`,
    );
    return undefined;
  }
  return key;
}

const oneLine = (name: string) => name.split('\n').join(', ');

export interface ClientCertificateSummary {
  readonly subject: string;
  readonly issuer: string;
  readonly notAfter: string;
  readonly fingerprint256: string;
}

/** What a response shows of the client certificate (the first of the chain). */
export function clientCertificateSummary(pem: string): ClientCertificateSummary | undefined {
  const leaf = parseCertificates(pem)?.[0];
  if (!leaf) return undefined;
  return {
    subject: oneLine(leaf.subject),
    issuer: oneLine(leaf.issuer),
    notAfter: leaf.validToDate.toISOString(),
    fingerprint256: leaf.fingerprint256,
  };
}

/** What a response shows of the listener's CA: the first certificate, and how many the field holds. */
export function serverCaSummary(pem: string) {
  const certificates = parseCertificates(pem);
  const first = certificates?.[0];
  if (!first) return undefined;
  return {
    subject: oneLine(first.subject),
    notAfter: first.validToDate.toISOString(),
    certificates: certificates.length,
  };
}

/** A warning for a client certificate that expires within 30 days (or has expired), else undefined. */
export function certificateExpiryWarning(
  tls: SubscriptionTls | undefined,
  now: Date,
): FieldIssue | undefined {
  const summary =
    tls?.clientCertificate === undefined ? undefined : clientCertificateSummary(tls.clientCertificate);
  if (!summary) return undefined;
  const left = Date.parse(summary.notAfter) - now.getTime();
  if (left > CERTIFICATE_EXPIRY_NOTICE_MS) return undefined;
  return {
    field: 'tls.clientCertificate',
    message:
      left <= 0
        ? `expired on ${summary.notAfter}: deliveries fail until a new certificate is set`
        : `expires on ${summary.notAfter} (in ${Math.max(1, Math.floor(left / 86_400_000))} days): set a new certificate before then`,
  };
}
