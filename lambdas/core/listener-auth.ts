import * as z from 'zod';
import type { FieldIssue } from './errors.js';

/*
 * How a subscription authenticates to its listener, and what its SOAP messages carry: the signature
 * scheme (HMAC `v1` or ed25519 `v1a`), the SOAP action and header parameters, and the client
 * certificate presented over mutual TLS (with an optional private CA for the listener's certificate).
 * The shapes and the checks that need no cryptography; the certificate checks are in listener-tls.ts.
 */

export const SIGNATURE_SCHEMES = ['hmac-sha256', 'ed25519'] as const;
export type SignatureScheme = (typeof SIGNATURE_SCHEMES)[number];
export const DEFAULT_SIGNATURE_SCHEME: SignatureScheme = 'hmac-sha256';

export const MAX_SOAP_PARAMETERS = 20;
export const MAX_SOAP_ACTION_LENGTH = 1024;
export const MAX_SOAP_PARAMETER_LENGTH = 1024;
/** A chain of a few certificates; a 4096-bit RSA certificate is about 2 KB of PEM. */
export const MAX_CERTIFICATE_PEM_LENGTH = 16 * 1024;
/** An encrypted 8192-bit RSA key in PKCS#8 PEM is about 6.5 KB. */
export const MAX_KEY_PEM_LENGTH = 8 * 1024;
export const MAX_PASSPHRASE_LENGTH = 1024;

/** RFC 3986 URI characters: no space, quote, backslash or control character can reach the header. */
const URI_REFERENCE = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]*$/;
/** An XML NCName of ASCII letters, digits and `_.-`, not starting with `xml` (reserved names). */
const XML_ELEMENT_NAME = /^(?![Xx][Mm][Ll])[A-Za-z_][A-Za-z0-9_.-]{0,99}$/;
/** Text XML 1.0 can carry: no C0 control character but tab and line breaks, no U+FFFE/U+FFFF. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters XML forbids
const XML_FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

export const signatureSchemeSchema = z
  .enum(SIGNATURE_SCHEMES)
  .describe(
    '`ed25519` signs with a key pair (`v1a`): the response shows its `publicKey`, never the private key',
  );

export const soapSchema = z
  .strictObject({
    action: z
      .string()
      .max(MAX_SOAP_ACTION_LENGTH)
      .regex(URI_REFERENCE, { error: 'must be a URI (no spaces, quotes or control characters)' })
      .optional()
      .describe('Sent as the SOAPAction header, quoted'),
    parameters: z
      .record(
        z.string().regex(XML_ELEMENT_NAME, {
          error: 'must be an XML element name (letters, digits, _ . -; not starting with "xml")',
        }),
        z
          .string()
          .max(MAX_SOAP_PARAMETER_LENGTH)
          .refine((text) => text.isWellFormed() && !XML_FORBIDDEN.test(text), {
            error: 'must be text XML can carry (no control characters or unpaired surrogates)',
          }),
      )
      .refine((parameters) => Object.keys(parameters).length <= MAX_SOAP_PARAMETERS, {
        error: `at most ${MAX_SOAP_PARAMETERS} parameters`,
      })
      .optional()
      .describe('Rendered as elements of the soap:Header block, XML-escaped'),
  })
  .describe('For `format: "soap"` only');
export type SoapOptions = z.infer<typeof soapSchema>;

const pem = (max: number) =>
  z
    .string()
    .max(max, { error: `must be at most ${max} characters` })
    .refine((text) => text.isWellFormed(), { error: 'must be valid Unicode text' });
const passphrase = z.string().min(1).max(MAX_PASSPHRASE_LENGTH);

export const tlsMembers = {
  clientCertificate: pem(MAX_CERTIFICATE_PEM_LENGTH).describe(
    'PEM: the client certificate, then any intermediates, presented to the listener',
  ),
  clientKey: pem(MAX_KEY_PEM_LENGTH).describe(
    'PEM private key of the certificate (RSA ≥ 2048 bits, EC P-256/P-384); a secret, never shown',
  ),
  clientKeyPassphrase: passphrase.describe('When the key is encrypted; a secret, never shown'),
  serverCa: pem(MAX_CERTIFICATE_PEM_LENGTH).describe(
    "PEM CA certificate(s) the listener's certificate must chain to, instead of the public roots",
  ),
};

const hasMembers = (tls: object) => Object.keys(tls).length > 0;

export const tlsSchema = z
  .strictObject({
    clientCertificate: tlsMembers.clientCertificate.optional(),
    clientKey: tlsMembers.clientKey.optional(),
    clientKeyPassphrase: tlsMembers.clientKeyPassphrase.optional(),
    serverCa: tlsMembers.serverCa.optional(),
  })
  .refine(hasMembers, { error: 'give at least one member, or leave tls out' })
  .describe('Mutual TLS for https listeners: certificate and key come together');

/** In an update, each member may be left out (kept), given (replaced) or null (removed). */
export const tlsPatchSchema = z
  .strictObject({
    clientCertificate: tlsMembers.clientCertificate.nullable().optional(),
    clientKey: tlsMembers.clientKey.nullable().optional(),
    clientKeyPassphrase: tlsMembers.clientKeyPassphrase.nullable().optional(),
    serverCa: tlsMembers.serverCa.nullable().optional(),
  })
  .refine(hasMembers, { error: 'give at least one member to change, or null to remove tls' })
  .describe('Members left out are kept (the key is never shown, so a form need not resend it); null removes');

/**
 * A subscription's TLS settings as stored. `clientKey` and `clientKeyPassphrase` are secrets: never in a
 * response, a log line or an error, and encrypted at rest with the signing secrets.
 */
export type SubscriptionTls = z.infer<typeof tlsSchema>;

/** The stored TLS settings with a patch's members applied (null removes one); undefined when none is left. */
export function mergeTls(
  current: SubscriptionTls | undefined,
  patch: z.infer<typeof tlsPatchSchema>,
): SubscriptionTls | undefined {
  const merged: Record<string, string> = { ...current };
  for (const [member, value] of Object.entries(patch)) {
    if (value === null) delete merged[member];
    else if (value !== undefined) merged[member] = value;
  }
  // A new certificate without a new key keeps the old key only if it matches (checked with the rest).
  return Object.keys(merged).length > 0 ? merged : undefined;
}

interface AuthSpec {
  readonly url: string;
  readonly format: 'json' | 'soap';
  readonly soap?: SoapOptions;
  readonly tls?: SubscriptionTls;
}

/** The checks across fields: SOAP options need a SOAP subscription, TLS an https listener and a whole pair. */
export function listenerAuthIssues(spec: AuthSpec): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (spec.soap && spec.format !== 'soap') {
    issues.push({ field: 'soap', message: 'is for format "soap" subscriptions only' });
  }
  const tls = spec.tls;
  if (!tls) return issues;
  if (!spec.url.toLowerCase().startsWith('https:')) {
    issues.push({ field: 'tls', message: 'applies to https listener URLs only' });
  }
  if (tls.clientCertificate !== undefined && tls.clientKey === undefined) {
    issues.push({ field: 'tls.clientKey', message: 'is required with tls.clientCertificate' });
  }
  if (tls.clientKey !== undefined && tls.clientCertificate === undefined) {
    issues.push({ field: 'tls.clientCertificate', message: 'is required with tls.clientKey' });
  }
  if (tls.clientKeyPassphrase !== undefined && tls.clientKey === undefined) {
    issues.push({ field: 'tls.clientKeyPassphrase', message: 'is given without tls.clientKey' });
  }
  return issues;
}
