import { createHash, randomBytes } from 'node:crypto';

/** A new subscription id: `sub_` + 16 random base64url characters (96 bits). */
export function newSubscriptionId(): string {
  return `sub_${randomBytes(12).toString('base64url')}`;
}

/** A new API key id, shown to operators and used to revoke the key. */
export function newApiKeyId(): string {
  return `key_${randomBytes(9).toString('base64url')}`;
}

/**
 * The delivery id of an event for a subscription: `dlv_` + the event's arrival time (ms, 9 base36
 * digits, so ids sort by time) + 16 hex digits of SHA-256 over the event key and the subscription id.
 * Deterministic: routing the same event twice gives the same delivery, not a second one.
 */
export function deliveryIdFor(receivedAt: string, eventKey: string, subscriptionId: string): string {
  return `dlv_${deliveryIdTimePrefix(receivedAt)}${createHash('sha256').update(`${eventKey}\n${subscriptionId}`).digest('hex').slice(0, 16)}`;
}

/** The sortable time part of delivery ids for an instant: delivery ids of later events sort after it. */
export function deliveryIdTimePrefix(instant: string): string {
  const ms = Date.parse(instant);
  if (Number.isNaN(ms)) throw new RangeError('not an ISO instant');
  return ms.toString(36).padStart(9, '0');
}
