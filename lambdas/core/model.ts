import * as z from 'zod';
import { ENTITY_NAMES, type EntityName } from './catalogue.js';
import { jsonObjectSchema } from './json-object.js';
import type { SubscriptionSpec, SubscriptionStatus } from './subscription.js';

/**
 * A signing secret. A rotated-out secret keeps signing until `expiresAt` (24 h), beside its successor.
 * `secret` is a `whsec_` HMAC secret, or for ed25519 subscriptions a `whsk_` private key with its
 * `whpk_` public key beside it; either way `secret` is the secret (encrypted at rest, never shown).
 */
export interface SigningSecret {
  readonly secret: string;
  /** The `whpk_` public key of a `whsk_` secret: not secret, shown by the API. */
  readonly publicKey?: string;
  readonly createdAt: string;
  readonly expiresAt?: string;
}

/** A subscription as stored: the client's spec plus what the platform keeps about it. */
export interface Subscription extends Omit<SubscriptionSpec, 'status'> {
  readonly id: string;
  readonly brand: string;
  readonly status: SubscriptionStatus;
  /** Why the platform disabled it (410 Gone, failing for days). */
  readonly disabledReason?: string;
  readonly secrets: readonly SigningSecret[];
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Bumped on every change; updates are conditional on it (optimistic locking). */
  readonly version: number;
  /** Set at the first failure after a success, cleared by the next success: drives auto-disable. */
  readonly failingSince?: string;
  /** The fingerprint256 of the client certificate whose coming expiry was announced (once per certificate). */
  readonly certificateExpiryNoticed?: string;
  /**
   * Set while the subscription's circuit is open and its deliveries are parked in the table
   * (lambdas/core/parking.ts): when it opened, an ISO instant followed by `/` and a random tag, so each
   * park is told apart; its one probe message carries it.
   */
  readonly parkedSince?: string;
  /** When a probe last closed the circuit: deliver containers whose breaker opened before then close theirs. */
  readonly circuitClosedAt?: string;
}

/**
 * The claim of a producer's event id: the first envelope to route `<brand>/<id>` owns it, so a copy of
 * the same id routed later (or at the same moment) is dropped as a duplicate.
 */
export interface EventClaim {
  /** `<brand>/<producer id>`: the idempotency key. */
  readonly key: string;
  readonly brand: string;
  /** The EventBridge event id of the envelope that owns the key. */
  readonly envelopeId: string;
  readonly receivedAt: string;
}

/** `parked`: held in the table while its subscription's circuit is open (lambdas/core/parking.ts). */
export const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed', 'parked'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface DeliveryAttempt {
  /** 1-based across the delivery's life (a resend continues the count). */
  readonly attempt: number;
  readonly at: string;
  readonly durationMs: number;
  readonly statusCode?: number;
  readonly error?: string;
}

/** One event for one subscription: its status and every attempt made. */
export interface Delivery {
  readonly id: string;
  readonly subscriptionId: string;
  readonly brand: string;
  readonly eventKey: string;
  readonly webhookId: string;
  readonly entity: EntityName;
  readonly event: string;
  readonly status: DeliveryStatus;
  readonly attempts: readonly DeliveryAttempt[];
  /** When EventBridge received the event (its delivery id sorts by it). */
  readonly receivedAt: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** When the next attempt is due, while pending. */
  readonly nextAttemptAt?: string;
  /** Why it failed, once failed. */
  readonly failureReason?: string;
  /**
   * While parked: since when. A parked delivery waits in the table, using no attempts, while its
   * subscription's circuit is open; it is queued again (pending) when a probe finds the listener back.
   */
  readonly parkedAt?: string;
}

/**
 * A delivery as stored: with its event's data, from which its payload is rendered for the log, resends
 * and replays. Each delivery keeps its own copy, so no event item is written or read per event.
 */
export interface StoredDelivery extends Delivery {
  /** Absent only in records written by builds before records kept it (LEGACY_EVENTS in ports.ts). */
  readonly data?: Record<string, unknown>;
  /** While parked: its place in the retry schedule (the message's runAttemptsBefore), kept for its return. */
  readonly runAttemptsBefore?: number;
}

/** The event a delivery carries, in its message and (with `brand`) in its record. */
export const deliveryEventSchema = z.object({
  entity: z.enum(ENTITY_NAMES),
  event: z.string(),
  receivedAt: z.string(),
  data: jsonObjectSchema,
});
export type DeliveryEvent = z.infer<typeof deliveryEventSchema>;

/** The delivery queue's message: which event goes to which subscription, with the event itself. */
export const deliveryMessageSchema = z.object({
  v: z.literal(1),
  brand: z.string().min(1),
  subscriptionId: z.string().min(1),
  deliveryId: z.string().min(1),
  eventKey: z.string().min(1),
  /**
   * Attempts made before this message (a resend continues the count for the log). A message makes at
   * most one attempt: a retry, a deferral or a hop is a new message carrying the count, never a receive
   * count of the queue's.
   */
  attemptsBefore: z.number().int().nonnegative().default(0),
  /**
   * Attempts of the current retry schedule made before this message: a retry or a deferred delivery is
   * queued again as a new message and keeps its place in the schedule; a resend starts a fresh schedule.
   */
  runAttemptsBefore: z.number().int().nonnegative().default(0),
  /**
   * When the delivery is due (ISO instant), for a wait longer than SQS delays a message: a message
   * received before then is sent again for the rest of the wait (up to 900 s a hop), without an attempt.
   */
  dueAt: z.string().optional(),
  /**
   * Rate-limited subscriptions: the send slot (epoch ms) this delivery reserved before it was queued again
   * to wait for it (lambdas/core/rate-limit.ts); a slot that has passed is not used.
   */
  rateSlotAt: z.number().int().positive().optional(),
  /** A test event from the API: delivered even while the subscription is paused. */
  test: z.boolean().optional(),
  /** Queued again from the parked deliveries (a probe or a drain): its outcome is always recorded. */
  unparked: z.boolean().optional(),
  /**
   * A control message of an open circuit (lambdas/core/parking.ts), not a delivery: `probe` retries the
   * oldest parked delivery (`parkedSince` is the park it belongs to, `backoffSeconds` its current wait),
   * `drain` queues the parked deliveries again after a recovery.
   */
  circuit: z
    .object({
      step: z.enum(['probe', 'drain']),
      parkedSince: z.string().optional(),
      backoffSeconds: z.number().int().nonnegative().optional(),
    })
    .optional(),
  /**
   * The event itself: no delivery reads it back from the table. Absent only in messages queued by builds
   * before records kept the event (resends and replays, and their retries): then it is read from the
   * event item those builds stored (EventStore.getLegacy).
   */
  event: deliveryEventSchema.optional(),
});
export type DeliveryMessage = z.input<typeof deliveryMessageSchema>;

/** Epoch seconds at which a record written at `from` expires (the table's TTL attribute). */
export function expiresAtEpoch(from: string, retentionDays: number): number {
  return Math.floor(Date.parse(from) / 1000) + retentionDays * 24 * 60 * 60;
}

/** Secrets that still sign at `now`: the current one and any rotated-out one within its overlap. */
export function activeSecrets(secrets: readonly SigningSecret[], now: Date): SigningSecret[] {
  return secrets.filter((secret) => !secret.expiresAt || Date.parse(secret.expiresAt) > now.getTime());
}
