import type { EntityName } from './catalogue.js';
import type { SubscriptionTls } from './listener-auth.js';
import type {
  DeliveryAttempt,
  DeliveryEvent,
  DeliveryMessage,
  DeliveryStatus,
  EventClaim,
  StoredDelivery,
  Subscription,
} from './model.js';
import type { AttemptOutcome } from './retry.js';

/*
 * What the domain needs from storage, queues and the network. DynamoDB, SQS and HTTP adapters implement
 * these (lambdas/adapters/); the domain does no I/O of its own.
 */

/** A page of a listing; `cursor` is opaque to the client and absent on the last page. */
export interface Page<T> {
  readonly items: T[];
  readonly cursor?: string;
}

export interface PageRequest {
  readonly limit: number;
  /** A cursor from a previous page. An invalid cursor throws a ClientError (400, field `cursor`). */
  readonly cursor?: string;
}

export interface SubscriptionStore {
  /**
   * Stores a new subscription; throws ClientError 409 (`name_taken`) when the brand already has the name,
   * and 409 (`subscription_quota_exceeded`) when it already has `maxPerBrand` subscriptions.
   */
  create(subscription: Subscription, maxPerBrand: number): Promise<void>;
  get(brand: string, id: string): Promise<Subscription | undefined>;
  list(brand: string, page: PageRequest): Promise<Page<Subscription>>;
  /** The brand's active subscriptions of one entity, read strongly consistent: no change is missed. */
  listActive(brand: string, entity: EntityName): Promise<Subscription[]>;
  /**
   * Replaces the subscription if its stored version is still `next.version - 1`; throws ClientError 409
   * (`name_taken`) for a name the brand already uses and 409 (`conflict`) when someone else changed it first.
   */
  replace(next: Subscription, previousName: string): Promise<void>;
  /** Deletes it (and frees its name); false when there was nothing to delete. */
  delete(brand: string, id: string): Promise<boolean>;
  /** Records the first failure after a success; no-op when already failing. */
  markFailing(brand: string, id: string, since: string): Promise<void>;
  /** Clears the failing mark after a success; no-op when not failing. */
  markHealthy(brand: string, id: string): Promise<void>;
  /** Disables it with a reason, unless it was deleted meanwhile. */
  disable(brand: string, id: string, reason: string, at: string): Promise<void>;
  /**
   * Records that the coming expiry of the client certificate with this fingerprint was announced; true
   * only for the one caller that recorded it (so the announcement goes out once per certificate).
   */
  noteCertificateExpiring(brand: string, id: string, fingerprint256: string): Promise<boolean>;
}

export interface EventStore {
  /**
   * Claims a producer's event id for the envelope routing it, unless another envelope claimed it first.
   * True when this envelope owns the key (the first time, or SQS handing the same envelope over again
   * after a crash), false for a duplicate. One conditional write: two copies routed at the same moment
   * cannot both win.
   */
  claim(claim: EventClaim, expiresAt: number): Promise<boolean>;
  /**
   * LEGACY_EVENTS: the event as builds before records kept it stored it whole under its key; undefined
   * for a claim (which has no data) or an expired key. Read only for a record or message without its
   * event; can go once no table holds such records (their retention, 30 days by default, after upgrading).
   */
  getLegacy(key: string): Promise<DeliveryEvent | undefined>;
}

export interface RejectedEvent {
  readonly reason: string;
  readonly receivedAt: string;
  readonly detailType?: string;
  readonly brand?: string;
  readonly eventId?: string;
}

export interface RejectedEventStore {
  /** Keeps an invalid event's reason (never its data) for inspection. */
  putRejected(rejected: RejectedEvent, expiresAt: number): Promise<void>;
}

export interface DeliveryAttemptRecord {
  readonly delivery: Omit<StoredDelivery, 'attempts' | 'updatedAt'>;
  readonly attempt: DeliveryAttempt;
  readonly expiresAt: number;
}

export interface DeliveryStore {
  /** Creates the delivery on its first attempt, else appends the attempt and sets the new status. */
  recordAttempt(record: DeliveryAttemptRecord): Promise<void>;
  /** Sets a delivery back to pending before a resend; false when it does not exist. */
  markPending(subscriptionId: string, deliveryId: string, at: string): Promise<boolean>;
  get(subscriptionId: string, deliveryId: string): Promise<StoredDelivery | undefined>;
  list(
    subscriptionId: string,
    filter: { status?: DeliveryStatus } & PageRequest,
  ): Promise<Page<StoredDelivery>>;
  /** Deliveries whose event arrived between `since` and `until` (ISO instants), oldest first, at most `limit`. */
  listBetween(subscriptionId: string, since: string, until: string, limit: number): Promise<StoredDelivery[]>;
}

/** A delivery put aside while its subscription's circuit is open (lambdas/core/parking.ts). */
export interface ParkedDeliveryRecord {
  /** Its fields as recordAttempt takes them, with `parkedAt` and `runAttemptsBefore` set. */
  readonly delivery: Omit<StoredDelivery, 'attempts' | 'updatedAt' | 'status'> & {
    readonly parkedAt: string;
    readonly runAttemptsBefore: number;
  };
  readonly expiresAt: number;
}

/**
 * Parking of an open circuit's deliveries, in the same store as subscriptions and deliveries: the
 * circuit's state on the subscription (which deliver reads anyway, so every container knows it at no
 * extra read) and each parked delivery as its record with status `parked` (listed like any status).
 */
export interface ParkingStore {
  /** Marks the subscription parked since `since`, unless it already is or is gone; true for the one caller that did. */
  parkSubscription(brand: string, id: string, since: string): Promise<boolean>;
  /**
   * Clears the park `since` (and only that one) and records `at` as `circuitClosedAt`; true for the one
   * caller that did, false when the subscription is not parked, parked again since, or gone.
   */
  unparkSubscription(brand: string, id: string, since: string, at: string): Promise<boolean>;
  /** Creates the delivery's record as parked, or sets an existing one parked keeping its attempts. */
  parkDelivery(record: ParkedDeliveryRecord): Promise<void>;
  /** The subscription's parked deliveries, oldest first, at most `limit`. */
  listParked(subscriptionId: string, limit: number): Promise<StoredDelivery[]>;
  /**
   * Sets a parked delivery back to pending once its message is queued again, if it is still parked with
   * this `parkedAt` (not recorded meanwhile, nor parked again); true when it did.
   */
  unparkDelivery(subscriptionId: string, deliveryId: string, parkedAt: string, at: string): Promise<boolean>;
}

export interface ApiKeyRecord {
  readonly keyId: string;
  readonly brand: string;
  readonly createdAt: string;
  readonly description?: string;
}

export interface ApiKeyStore {
  /** Stores a key by its SHA-256 hash (never the key itself). */
  put(hash: string, record: ApiKeyRecord): Promise<void>;
  findByHash(hash: string): Promise<ApiKeyRecord | undefined>;
  list(brand: string): Promise<ApiKeyRecord[]>;
  /** Revokes at once; false when no such key. */
  revoke(brand: string, keyId: string): Promise<boolean>;
}

/**
 * A console session (lambdas/core/console-sessions.ts): what a `cbs_` token, stored only as its SHA-256
 * hash, stands for. `keyHash` is the hash of the API key that made it (ApiKeyStore's own key): the session
 * works only while that key is still found by it, so revoking the key ends the session.
 */
export interface ConsoleSessionRecord {
  readonly brand: string;
  readonly keyId: string;
  readonly keyHash: string;
  readonly createdAt: string;
  /** ISO instant, whole seconds: the session refuses at and after it, whatever the TTL sweep did. */
  readonly expiresAt: string;
}

export interface ConsoleSessionStore {
  /** Stores a session by the SHA-256 hash of its token (never the token); expires with `expiresAt`. */
  put(hash: string, record: ConsoleSessionRecord): Promise<void>;
  /** The session, expired or not (the caller checks the time); undefined when unknown or swept. */
  findByHash(hash: string): Promise<ConsoleSessionRecord | undefined>;
}

export interface DeliveryQueue {
  /**
   * Queues messages (batched by the adapter), visible after `delaySeconds` (at most 900, SQS's limit);
   * returns those that could not be queued. Throws only when none could be. Each message goes in its
   * brand's message group (`MessageGroupId`), so the queue is fair between brands: a brand with a backlog
   * does not delay the others' messages.
   */
  send(messages: readonly DeliveryMessage[], delaySeconds?: number): Promise<DeliveryMessage[]>;
}

/** A send slot of a rate-limited subscription, or how long until one is near enough to wait for. */
export type RateReservation =
  | { readonly granted: true; readonly atMs: number }
  | { readonly granted: false; readonly retryAfterMs: number };

/**
 * The per-subscription rate limit (`maxRequestsPerSecond`), shared by every deliver container: a token
 * bucket holding one token, kept as the time its next token is due (GCRA; lambdas/core/rate-limit.ts).
 */
export interface RateLimiter {
  /**
   * Reserves `key`'s next send slot at `perSecond` if it falls at most `horizonMs` after `nowMs`: slots of
   * one key are never closer than 1000 / perSecond ms, and never before the `nowMs` of the call that took
   * them. Otherwise reserves nothing and says how long until a slot is within the horizon (at least 1 ms).
   */
  reserve(key: string, perSecond: number, nowMs: number, horizonMs: number): Promise<RateReservation>;
}

export const OPERATIONAL_EVENT_TYPES = [
  'Subscription.Disabled',
  'Subscription.Recovered',
  'Delivery.Exhausted',
  'Subscription.CertificateExpiring',
] as const;

/** What the platform tells operators, on the event bus (source `commbox.webhooks`). */
export interface OperationalEvent {
  readonly type: (typeof OPERATIONAL_EVENT_TYPES)[number];
  readonly brand: string;
  readonly subscriptionId: string;
  readonly at: string;
  readonly reason?: string;
  readonly deliveryId?: string;
  readonly webhookId?: string;
  readonly failingSince?: string;
  /** Subscription.CertificateExpiring: the client certificate's notAfter and fingerprint. */
  readonly notAfter?: string;
  readonly fingerprint256?: string;
}

export interface OperationalEvents {
  /** Best effort: a failure is logged by the adapter, never thrown into the delivery. */
  publish(events: readonly OperationalEvent[]): Promise<void>;
}

/** One POST to a listener. */
export interface ListenerRequest {
  readonly url: string;
  /** Sent as UTF-8. */
  readonly body: string;
  /** Extra headers (content type, signature headers); the client sets Host, Content-Length and User-Agent. */
  readonly headers: Readonly<Record<string, string>>;
  /** The subscription's mutual-TLS settings, for an https listener: its client certificate and CA. */
  readonly tls?: SubscriptionTls;
}

/** What one POST came to, as the listener client reports it. */
export interface ListenerResult {
  readonly outcome: AttemptOutcome;
  /** Wall-clock time of the whole attempt, rounded to whole milliseconds. */
  readonly durationMs: number;
  /** The start of the response body as UTF-8; present whenever a response arrived. */
  readonly responseSnippet?: string;
}

/** Sends one delivery attempt to a listener (lambdas/adapters/listener-client.ts). */
export interface ListenerPoster {
  post(request: ListenerRequest): Promise<ListenerResult>;
}
