import type { EntityName } from '../../lambdas/core/catalogue.js';
import { ClientError, subscriptionQuotaReached } from '../../lambdas/core/errors.js';
import type {
  DeliveryEvent,
  DeliveryStatus,
  EventClaim,
  StoredDelivery,
  Subscription,
} from '../../lambdas/core/model.js';
import type {
  DeliveryAttemptRecord,
  DeliveryStore,
  EventStore,
  Page,
  PageRequest,
  RejectedEvent,
  RejectedEventStore,
  SubscriptionStore,
} from '../../lambdas/core/ports.js';

/*
 * The core's stores (lambdas/core/ports.ts) kept in memory, for tests of the use cases: each keeps the
 * contract its doc comment states (conditional writes, no-ops, 409s, opaque cursors) and nothing of
 * DynamoDB's layout. `failWhen` makes an operation throw, as a store that is down.
 */

type Failure<Operation extends string> = {
  operation: Operation;
  when: (...args: never[]) => boolean;
  error: Error;
};

/** Injected failures, shared by the stores below. */
class Faults<Operation extends string> {
  private readonly failures: Failure<Operation>[] = [];

  /** Makes `operation` throw `error` whenever `when` holds for its arguments (always when omitted). */
  failWhen(operation: Operation, error: Error, when: (...args: never[]) => boolean = () => true): void {
    this.failures.push({ operation, when, error });
  }

  /** Removes every injected failure: the store is back. */
  heal(): void {
    this.failures.length = 0;
  }

  protected check(operation: Operation, ...args: unknown[]): void {
    const failure = this.failures.find(
      (candidate) =>
        candidate.operation === operation && (candidate.when as (...a: unknown[]) => boolean)(...args),
    );
    if (failure) throw failure.error;
  }
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** An opaque cursor that carries the last id of a page; anything else is refused as the ports say. */
function pageOf<T extends { id: string }>(sorted: readonly T[], page: PageRequest): Page<T> {
  let start = 0;
  if (page.cursor !== undefined) {
    const decoded = BASE64URL.test(page.cursor) ? Buffer.from(page.cursor, 'base64url').toString('utf8') : '';
    start = sorted.findIndex((item) => `after:${item.id}` === decoded) + 1;
    if (start === 0) {
      throw new ClientError(400, 'invalid_cursor', 'The cursor is not valid; start again without one', [
        { field: 'cursor', message: 'must be a cursor returned by this listing' },
      ]);
    }
  }
  const items = sorted.slice(start, start + page.limit);
  const last = items.at(-1);
  const more = start + page.limit < sorted.length;
  return {
    items,
    ...(more && last ? { cursor: Buffer.from(`after:${last.id}`).toString('base64url') } : {}),
  };
}

export class InMemorySubscriptionStore
  extends Faults<'create' | 'get' | 'listActive' | 'replace' | 'disable'>
  implements SubscriptionStore
{
  private readonly stored = new Map<string, Subscription>();
  /** Every `listActive` asked, as `<brand> <entity>`: what routing read. */
  readonly activeReads: string[] = [];
  /** Every `get` asked, as `<brand> <id>`. */
  readonly reads: string[] = [];

  constructor(...subscriptions: Subscription[]) {
    super();
    this.seed(...subscriptions);
  }

  seed(...subscriptions: Subscription[]): this {
    for (const subscription of subscriptions)
      this.stored.set(keyOf(subscription.brand, subscription.id), subscription);
    return this;
  }

  /** The subscription as stored now. */
  current(brand: string, id: string): Subscription | undefined {
    return this.stored.get(keyOf(brand, id));
  }

  async create(subscription: Subscription, maxPerBrand: number): Promise<void> {
    this.check('create', subscription);
    const brandCount = [...this.stored.values()].filter(
      (stored) => stored.brand === subscription.brand,
    ).length;
    if (brandCount >= maxPerBrand) throw subscriptionQuotaReached(maxPerBrand);
    this.refuseTakenName(subscription);
    this.stored.set(keyOf(subscription.brand, subscription.id), subscription);
  }

  async get(brand: string, id: string): Promise<Subscription | undefined> {
    this.reads.push(`${brand} ${id}`);
    this.check('get', brand, id);
    return this.current(brand, id);
  }

  async list(brand: string, page: PageRequest): Promise<Page<Subscription>> {
    return pageOf(this.ofBrand(brand), page);
  }

  async listActive(brand: string, entity: EntityName): Promise<Subscription[]> {
    this.activeReads.push(`${brand} ${entity}`);
    this.check('listActive', brand, entity);
    return this.ofBrand(brand).filter(
      (subscription) => subscription.entity === entity && subscription.status === 'active',
    );
  }

  async replace(next: Subscription, _previousName: string): Promise<void> {
    this.check('replace', next);
    const current = this.current(next.brand, next.id);
    if (!current || current.version !== next.version - 1)
      throw new ClientError(409, 'conflict', 'The subscription was changed meanwhile; read it again');
    this.refuseTakenName(next);
    this.stored.set(keyOf(next.brand, next.id), next);
  }

  async delete(brand: string, id: string): Promise<boolean> {
    return this.stored.delete(keyOf(brand, id));
  }

  async markFailing(brand: string, id: string, since: string): Promise<void> {
    const current = this.current(brand, id);
    if (current && !current.failingSince)
      this.stored.set(keyOf(brand, id), { ...current, failingSince: since });
  }

  async markHealthy(brand: string, id: string): Promise<void> {
    const current = this.current(brand, id);
    if (!current?.failingSince) return;
    const { failingSince: _cleared, ...healthy } = current;
    this.stored.set(keyOf(brand, id), healthy);
  }

  async noteCertificateExpiring(brand: string, id: string, fingerprint256: string): Promise<boolean> {
    const current = this.current(brand, id);
    if (!current || current.certificateExpiryNoticed === fingerprint256) return false;
    this.stored.set(keyOf(brand, id), { ...current, certificateExpiryNoticed: fingerprint256 });
    return true;
  }

  async disable(brand: string, id: string, reason: string, at: string): Promise<void> {
    this.check('disable', brand, id);
    const current = this.current(brand, id);
    if (!current) return;
    this.stored.set(keyOf(brand, id), {
      ...current,
      status: 'disabled',
      disabledReason: reason,
      updatedAt: at,
      version: current.version + 1,
    });
  }

  private ofBrand(brand: string): Subscription[] {
    return [...this.stored.values()]
      .filter((subscription) => subscription.brand === brand)
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  private refuseTakenName(subscription: Subscription): void {
    const taken = this.ofBrand(subscription.brand).some(
      (other) => other.id !== subscription.id && other.name.toLowerCase() === subscription.name.toLowerCase(),
    );
    if (!taken) return;
    const message = `A subscription named "${subscription.name}" already exists`;
    throw new ClientError(409, 'name_taken', message, [{ field: 'name', message }]);
  }
}

function keyOf(brand: string, id: string): string {
  return `${brand}\u0000${id}`;
}

/** Claims, legacy events and rejected events: one store, as the table keeps all three. */
export class InMemoryEventStore
  extends Faults<'claim' | 'putRejected'>
  implements EventStore, RejectedEventStore
{
  readonly claims = new Map<string, { claim: EventClaim; expiresAt: number }>();
  readonly rejected: { rejected: RejectedEvent; expiresAt: number }[] = [];
  private readonly legacy = new Map<string, DeliveryEvent>();
  /** The keys of every legacy event read. */
  readonly legacyReads: string[] = [];
  /** How many claims were asked, won or not. */
  claimsAsked = 0;

  /** An event stored whole under its key, as builds before records kept it did (LEGACY_EVENTS). */
  seedLegacy(key: string, event: DeliveryEvent): this {
    this.legacy.set(key, event);
    return this;
  }

  async claim(claim: EventClaim, expiresAt: number): Promise<boolean> {
    this.claimsAsked += 1;
    this.check('claim', claim);
    const owner = this.claims.get(claim.key);
    if (owner && owner.claim.envelopeId !== claim.envelopeId) return false;
    this.claims.set(claim.key, { claim: { ...claim }, expiresAt });
    return true;
  }

  async getLegacy(key: string): Promise<DeliveryEvent | undefined> {
    this.legacyReads.push(key);
    return this.legacy.get(key);
  }

  async putRejected(rejected: RejectedEvent, expiresAt: number): Promise<void> {
    this.check('putRejected', rejected);
    this.rejected.push({ rejected, expiresAt });
  }
}

export class InMemoryDeliveryStore extends Faults<'recordAttempt'> implements DeliveryStore {
  private readonly stored = new Map<string, StoredDelivery & { expiresAt: number }>();

  seed(...deliveries: StoredDelivery[]): this {
    for (const delivery of deliveries)
      this.stored.set(keyOf(delivery.subscriptionId, delivery.id), { ...delivery, expiresAt: 0 });
    return this;
  }

  /** The delivery as stored now, with its expiry. */
  current(subscriptionId: string, deliveryId: string) {
    return this.stored.get(keyOf(subscriptionId, deliveryId));
  }

  all(): (StoredDelivery & { expiresAt: number })[] {
    return [...this.stored.values()];
  }

  async recordAttempt({ delivery, attempt, expiresAt }: DeliveryAttemptRecord): Promise<void> {
    this.check('recordAttempt', delivery, attempt);
    const key = keyOf(delivery.subscriptionId, delivery.id);
    const before = this.stored.get(key);
    const { nextAttemptAt: _next, failureReason: _reason, ...kept } = before ?? {};
    this.stored.set(key, {
      ...kept,
      ...delivery,
      createdAt: before?.createdAt ?? delivery.createdAt,
      attempts: [...(before?.attempts ?? []), attempt],
      updatedAt: attempt.at,
      expiresAt,
    });
  }

  async markPending(subscriptionId: string, deliveryId: string, at: string): Promise<boolean> {
    const current = this.current(subscriptionId, deliveryId);
    if (!current) return false;
    const { failureReason: _cleared, ...rest } = current;
    this.stored.set(keyOf(subscriptionId, deliveryId), { ...rest, status: 'pending', updatedAt: at });
    return true;
  }

  async get(subscriptionId: string, deliveryId: string): Promise<StoredDelivery | undefined> {
    const current = this.current(subscriptionId, deliveryId);
    if (!current) return undefined;
    const { expiresAt: _expiresAt, ...delivery } = current;
    return delivery;
  }

  async list(
    subscriptionId: string,
    filter: { status?: DeliveryStatus } & PageRequest,
  ): Promise<Page<StoredDelivery>> {
    const newestFirst = this.of(subscriptionId)
      .filter((delivery) => filter.status === undefined || delivery.status === filter.status)
      .sort((a, b) => b.id.localeCompare(a.id));
    return pageOf(newestFirst, filter);
  }

  async listBetween(
    subscriptionId: string,
    since: string,
    until: string,
    limit: number,
  ): Promise<StoredDelivery[]> {
    return this.of(subscriptionId)
      .filter((delivery) => delivery.receivedAt >= since && delivery.receivedAt <= until)
      .sort((a, b) => a.id.localeCompare(b.id))
      .slice(0, limit);
  }

  private of(subscriptionId: string): StoredDelivery[] {
    return this.all()
      .filter((delivery) => delivery.subscriptionId === subscriptionId)
      .map(({ expiresAt: _expiresAt, ...delivery }) => delivery);
  }
}
