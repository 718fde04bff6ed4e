import type { AttemptOutcome } from '../core/retry.js';

/*
 * Node's TLS error codes as the delivery log words them: the listener's certificate is not trusted or
 * not for its host, or the listener refused the handshake (often: our client certificate). Only the code
 * and a fixed sentence are kept: OpenSSL's messages are not needed and may be long.
 */

/** OpenSSL's certificate verification codes (X509_V_ERR_*, as Node names them). */
const UNTRUSTED = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
]);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

/** The TLS outcome for an error code, or undefined when the code is not a TLS failure. */
export function classifyTlsError(code: string | undefined): (AttemptOutcome & { kind: 'tls' }) | undefined {
  if (code === undefined) return undefined;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return { kind: 'tls', code, reason: "the listener's certificate does not match its host name" };
  }
  if (UNTRUSTED.has(code)) {
    return { kind: 'tls', code, reason: "the listener's certificate is not signed by a trusted CA" };
  }
  if (EXPIRED.has(code)) {
    return { kind: 'tls', code, reason: "the listener's certificate is outside its validity period" };
  }
  if (/^ERR_SSL_.*ALERT_/.test(code)) {
    return { kind: 'tls', code, reason: 'the listener refused the handshake (check the client certificate)' };
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code === 'EPROTO') {
    return { kind: 'tls', code, reason: 'the TLS handshake with the listener failed' };
  }
  return undefined;
}

/**
 * A fresh connection of a subscription with TLS settings, reset before any response: under TLS 1.3 a
 * listener checks the client certificate after the client's handshake is done, and often closes with a
 * reset that overtakes its alert. Recorded as a TLS failure, worded as the likely cause, not a certainty.
 */
export function resetAfterHandshake(
  code: string | undefined,
): (AttemptOutcome & { kind: 'tls' }) | undefined {
  if (code !== 'ECONNRESET') return undefined;
  return {
    kind: 'tls',
    code,
    reason:
      'the listener closed the connection after the handshake (it may have refused the client certificate)',
  };
}
