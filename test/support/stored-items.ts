import { randomBytes } from 'node:crypto';
import type { EventClaim, Subscription } from '../../lambdas/core/model.js';
import { generateSecret } from '../../lambdas/core/signing.js';

/*
 * Domain objects as the DynamoDB adapters store them (docs/DATA-MODEL.md): the object's fields beside
 * the table's keys. Seed a FakeTable with these to give a handler realistic reads.
 */

/** A fresh, well-formed subscription id (`sub_` + 16 base64url characters). */
export function aSubscriptionId(): string {
  return `sub_${randomBytes(12).toString('base64url')}`;
}

/** An active JSON subscription of acme to Object.OnNew with one current secret. */
export function aStoredSubscription(overrides: Partial<Subscription> = {}): Subscription {
  return {
    id: aSubscriptionId(),
    brand: 'acme',
    name: `Orders ${randomBytes(3).toString('hex')}`,
    entity: 'Object',
    events: [{ name: 'OnNew' }],
    url: 'https://listener.example.com/hook',
    format: 'json',
    includeCompleteData: false,
    status: 'active',
    secrets: [{ secret: generateSecret(), createdAt: '2026-01-01T00:00:00.000Z' }],
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    version: 1,
    ...overrides,
  };
}

/** The subscription's item: `BRAND#<brand>` / `SUB#<id>` and every field. */
export function subscriptionItem(subscription: Subscription): Record<string, unknown> {
  return { ...subscription, pk: `BRAND#${subscription.brand}`, sk: `SUB#${subscription.id}` };
}

/** The claim of acme's producer id evt-1 by envelope eb-1. */
export function anEventClaim(overrides: Partial<EventClaim> = {}): EventClaim {
  return {
    key: 'acme/evt-1',
    brand: 'acme',
    envelopeId: 'eb-1',
    receivedAt: '2026-03-04T05:06:07.000Z',
    ...overrides,
  };
}

/** The claim's item: `EVENT#<key>` / `EVENT`, every field, and its TTL. */
export function claimItem(claim: EventClaim, expiresAt = 1_900_000_000): Record<string, unknown> {
  return { ...claim, pk: `EVENT#${claim.key}`, sk: 'EVENT', expiresAt };
}

/** The key of a delivery's item. */
export function deliveryKey(subscriptionId: string, deliveryId: string): { pk: string; sk: string } {
  return { pk: `SUB#${subscriptionId}`, sk: `DLV#${deliveryId}` };
}
