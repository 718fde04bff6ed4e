import { XMLParser } from 'fast-xml-parser';
import { verifyWebhook } from '../../../lambdas/core/verify.js';
import type { ReceivedRequest } from './listener.js';

/*
 * The receiver's side of a delivery: verify it with the project's verifier and read its payload.
 */

/** The request's JSON payload, verified against `secrets` (throws when no signature matches). */
export function verifiedJson(request: ReceivedRequest, secrets: string | readonly string[]): unknown {
  return verifyWebhook({ headers: request.headers, body: request.body, secrets }).payload;
}

/** Whether some signature of the request verifies with `secret`. */
export function verifiesWith(request: ReceivedRequest, secret: string): boolean {
  try {
    verifyWebhook({ headers: request.headers, body: request.body, secrets: [secret], parseJson: false });
    return true;
  } catch {
    return false;
  }
}

/** The `webhook-signature` entries, one per signing secret. */
export function signaturesOf(request: ReceivedRequest): string[] {
  return String(request.headers['webhook-signature'] ?? '')
    .split(' ')
    .filter((entry) => entry !== '');
}

/** The request with only one of its signatures, to tell which secret made which. */
export function withSignature(request: ReceivedRequest, signature: string): ReceivedRequest {
  return { ...request, headers: { ...request.headers, 'webhook-signature': signature } };
}

export function webhookIdOf(request: ReceivedRequest): string {
  return String(request.headers['webhook-id']);
}

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', removeNSPrefix: true });

/** The `Event` element of a SOAP envelope, attributes as `@Name`; fails unless it is a SOAP envelope. */
export function soapEvent(body: string): Record<string, unknown> {
  const document = xml.parse(body) as { Envelope?: { Body?: { Event?: Record<string, unknown> } } };
  const event = document.Envelope?.Body?.Event;
  if (!event) throw new Error(`Not a SOAP envelope with an Event: ${body.slice(0, 300)}`);
  return event;
}
