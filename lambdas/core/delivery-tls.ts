import { CERTIFICATE_EXPIRY_NOTICE_MS, clientCertificateSummary } from './listener-tls.js';
import type { Subscription } from './model.js';
import type { OperationalEvents, SubscriptionStore } from './ports.js';
import type { AttemptOutcome } from './retry.js';

/*
 * The delivery's side of a subscription's client certificate: an expired one fails the attempt before
 * any connection (a clear reason in the log instead of a handshake the listener refuses), and one that
 * expires within 30 days is announced once on the bus (Subscription.CertificateExpiring).
 */

/** The outcome of an attempt that cannot present its certificate, or undefined when it can. */
export function clientCertificateProblem(subscription: Subscription, now: Date): AttemptOutcome | undefined {
  const pem = subscription.tls?.clientCertificate;
  const summary = pem === undefined ? undefined : clientCertificateSummary(pem);
  if (!summary || Date.parse(summary.notAfter) > now.getTime()) return undefined;
  return { kind: 'tls', reason: `the client certificate expired on ${summary.notAfter}; set a new one` };
}

interface NoticeDeps {
  readonly subscriptions: SubscriptionStore;
  readonly operational: OperationalEvents;
  readonly now: () => Date;
}

/** Publishes Subscription.CertificateExpiring once per certificate, from 30 days before its notAfter. */
export async function noticeCertificateExpiry(deps: NoticeDeps, subscription: Subscription): Promise<void> {
  const pem = subscription.tls?.clientCertificate;
  const summary = pem === undefined ? undefined : clientCertificateSummary(pem);
  if (!summary || subscription.certificateExpiryNoticed === summary.fingerprint256) return;
  const now = deps.now();
  if (Date.parse(summary.notAfter) - now.getTime() > CERTIFICATE_EXPIRY_NOTICE_MS) return;
  const { brand, id } = subscription;
  if (!(await deps.subscriptions.noteCertificateExpiring(brand, id, summary.fingerprint256))) return;
  await deps.operational.publish([
    {
      type: 'Subscription.CertificateExpiring',
      brand,
      subscriptionId: id,
      at: now.toISOString(),
      reason: `the client certificate expires on ${summary.notAfter}`,
      notAfter: summary.notAfter,
      fingerprint256: summary.fingerprint256,
    },
  ]);
}
