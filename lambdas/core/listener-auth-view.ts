import { DEFAULT_SIGNATURE_SCHEME } from './listener-auth.js';
import { certificateExpiryWarning, clientCertificateSummary, serverCaSummary } from './listener-tls.js';
import { activeSecrets, type Subscription } from './model.js';

/*
 * What a response shows of a subscription's listener authentication: the signature scheme and, for
 * ed25519, the current public key; a summary of the client certificate and the CA (never the key or its
 * passphrase); and a warning while the certificate nears or passes its expiry. Field names follow the
 * request's, so a form can put each beside its control.
 */
export function listenerAuthView(subscription: Subscription, now: Date) {
  const { tls } = subscription;
  const signatureScheme = subscription.signatureScheme ?? DEFAULT_SIGNATURE_SCHEME;
  const publicKey = activeSecrets(subscription.secrets, now).find((secret) => secret.publicKey)?.publicKey;
  const clientCertificate = tls?.clientCertificate && clientCertificateSummary(tls.clientCertificate);
  const serverCa = tls?.serverCa && serverCaSummary(tls.serverCa);
  const warning = certificateExpiryWarning(tls, now);
  return {
    signatureScheme,
    ...(publicKey ? { publicKey } : {}),
    ...(clientCertificate || serverCa
      ? { tls: { ...(clientCertificate ? { clientCertificate } : {}), ...(serverCa ? { serverCa } : {}) } }
      : {}),
    ...(warning ? { warnings: [warning] } : {}),
  };
}
