import { createHash, createHmac, type Hash, type Hmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';

/*
 * Checks a request's AWS Signature Version 4 as AWS does, against the local runtime's configured
 * credentials: the signature is recomputed with @smithy/signature-v4 (the SDK's own signer) over the
 * request as received, with the date, region and service the client put in its credential scope, and
 * compared in constant time. Refusals use the answers AWS JSON services give (`__type`, `message`).
 */

export interface LocalCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface SignedRequest {
  readonly method: string;
  /** The request target: path and query, as received. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export type SignatureVerdict =
  | { readonly valid: true; readonly accessKeyId: string }
  | { readonly valid: false; readonly type: string; readonly message: string };

/** AWS refuses a signature dated more than 15 minutes away from its clock. */
export const MAX_SIGNATURE_SKEW_MS = 15 * 60 * 1000;

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

const refused = (type: string, message: string): SignatureVerdict => ({ valid: false, type, message });
const MISMATCH = refused(
  'InvalidSignatureException',
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
);

/** Verifies the request's SigV4 `Authorization` header against `credentials`. */
export async function verifySigV4(
  request: SignedRequest,
  credentials: readonly LocalCredentials[],
  now: Date,
): Promise<SignatureVerdict> {
  const authorization = single(request.headers.authorization);
  if (authorization === undefined)
    return refused('MissingAuthenticationTokenException', 'Missing Authentication Token');
  const parts = AUTHORIZATION.exec(authorization);
  if (!parts)
    return refused('IncompleteSignatureException', 'The Authorization header is not a valid SigV4 header.');
  const [, accessKeyId = '', day = '', region = '', service = '', signedList = '', signature = ''] = parts;
  const known = credentials.find((candidate) => candidate.accessKeyId === accessKeyId);
  if (!known)
    return refused('UnrecognizedClientException', 'The security token included in the request is invalid.');
  const date = signingDate(single(request.headers['x-amz-date']));
  if (date === undefined) return MISMATCH;
  if (!date.toISOString().replace(/-/g, '').startsWith(day)) return MISMATCH;
  if (Math.abs(date.getTime() - now.getTime()) > MAX_SIGNATURE_SKEW_MS)
    return refused('InvalidSignatureException', 'Signature expired: the request is dated too far from now.');
  const signedHeaders = signedList.split(';');
  if (!signedHeaders.includes('host')) return MISMATCH;

  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = request.headers[name];
    if (value === undefined) return MISMATCH;
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  // The signer takes a present x-amz-content-sha256 as the payload's hash: it must be the body's.
  const payloadHash = headers['x-amz-content-sha256'];
  if (payloadHash !== undefined && payloadHash !== createHash('sha256').update(request.body).digest('hex'))
    return MISMATCH;
  const [path = '/', search = ''] = request.path.split('?', 2);
  const signer = new SignatureV4({ credentials: known, region, service, sha256: NodeSha256 });
  const signed = await signer.sign(
    {
      method: request.method.toUpperCase(),
      protocol: 'http:',
      hostname: headers.host?.split(':')[0] ?? '',
      path,
      query: queryOf(search),
      headers,
      body: request.body,
    },
    {
      signingDate: date,
      signingRegion: region,
      signingService: service,
      signableHeaders: new Set(signedHeaders),
    },
  );
  const expected = /Signature=([0-9a-f]{64})$/.exec(String(signed.headers.authorization ?? ''))?.[1] ?? '';
  const matches =
    expected.length === signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
  return matches ? { valid: true, accessKeyId } : MISMATCH;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** `X-Amz-Date` (`YYYYMMDDTHHMMSSZ`) as a Date, or undefined. */
function signingDate(text: string | undefined): Date | undefined {
  const parts = text ? AMZ_DATE.exec(text) : null;
  if (!parts) return undefined;
  const [, year, month, day, hours, minutes, seconds] = parts;
  const date = new Date(`${year}-${month}-${day}T${hours}:${minutes}:${seconds}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function queryOf(search: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(search)) {
    const earlier = query[name];
    query[name] = earlier === undefined ? value : [...(Array.isArray(earlier) ? earlier : [earlier]), value];
  }
  return query;
}

/** SHA-256 (or HMAC-SHA256 with a secret) over node:crypto, in the shape the signer takes. */
export class NodeSha256 {
  private hash: Hash | Hmac;

  constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = this.fresh();
  }

  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBuffer(data));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }

  reset(): void {
    this.hash = this.fresh();
  }

  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(this.secret));
  }
}

function toBuffer(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}
