import { ClientError } from './errors.js';
import { newSubscriptionId } from './ids.js';
import { activeSecrets, type SigningSecret, type Subscription } from './model.js';
import type {
  DeliveryQueue,
  DeliveryStore,
  EventStore,
  Page,
  PageRequest,
  SubscriptionStore,
} from './ports.js';
import { generateSecret } from './signing.js';
import { type AddressPolicy, type Resolver, resolveListener } from './ssrf.js';
import { applySubscriptionUpdate, parseSubscriptionCreate, type SubscriptionSpec } from './subscription.js';

/** What the API's use cases need. */
export interface ServiceDeps {
  readonly subscriptions: SubscriptionStore;
  readonly deliveries: DeliveryStore;
  /** Only for LEGACY_EVENTS (ports.ts): records written before records kept their event. */
  readonly events: Pick<EventStore, 'getLegacy'>;
  readonly queue: DeliveryQueue;
  readonly policy: AddressPolicy;
  readonly resolve: Resolver;
  readonly now: () => Date;
  /** A brand may have at most this many subscriptions (409 `subscription_quota_exceeded` beyond). */
  readonly maxSubscriptionsPerBrand: number;
}

/** A rotated-out secret keeps signing this long beside the new one. */
export const SECRET_OVERLAP_MS = 24 * 60 * 60 * 1000;

/** What views show instead of a custom header's value. */
export const REDACTED = '[redacted]';

/**
 * A subscription as the API shows it: never its secrets, and every custom header value redacted unless
 * the client named the header in `publicHeaders`: any header may carry a credential, whatever its name.
 */
export function toSubscriptionView(subscription: Subscription) {
  const { secrets: _secrets, version: _version, failingSince, headers, ...view } = subscription;
  const shown = new Set((subscription.publicHeaders ?? []).map((name) => name.toLowerCase()));
  return {
    ...view,
    ...(headers
      ? {
          headers: Object.fromEntries(
            Object.entries(headers).map(([name, value]) => [
              name,
              shown.has(name.toLowerCase()) ? value : REDACTED,
            ]),
          ),
        }
      : {}),
    ...(failingSince ? { failingSince } : {}),
  };
}

export type SubscriptionView = ReturnType<typeof toSubscriptionView>;

export async function createSubscription(deps: ServiceDeps, brand: string, body: unknown) {
  const spec = parseSubscriptionCreate(body, deps.policy);
  await resolveListener(spec.url, { ...deps.policy, resolve: deps.resolve });
  const now = deps.now().toISOString();
  const secret = generateSecret();
  const subscription: Subscription = {
    ...spec,
    id: newSubscriptionId(),
    brand,
    secrets: [{ secret, createdAt: now }],
    createdAt: now,
    updatedAt: now,
    version: 1,
  };
  await deps.subscriptions.create(subscription, deps.maxSubscriptionsPerBrand);
  return { ...toSubscriptionView(subscription), secret };
}

export async function findSubscription(deps: ServiceDeps, brand: string, id: string): Promise<Subscription> {
  const subscription = await deps.subscriptions.get(brand, id);
  if (!subscription) throw new ClientError(404, 'not_found', `No subscription ${id}`);
  return subscription;
}

export async function listSubscriptions(
  deps: ServiceDeps,
  brand: string,
  page: PageRequest,
): Promise<Page<SubscriptionView>> {
  const { items, cursor } = await deps.subscriptions.list(brand, page);
  return { items: items.map(toSubscriptionView), ...(cursor ? { cursor } : {}) };
}

export async function updateSubscription(deps: ServiceDeps, brand: string, id: string, body: unknown) {
  const current = await findSubscription(deps, brand, id);
  const next = applySubscriptionUpdate(specOf(current), body, deps.policy);
  if (next.url !== current.url) await resolveListener(next.url, { ...deps.policy, resolve: deps.resolve });
  // Setting a status (re-)starts the subscription's health; without one, a disabled subscription stays so.
  const statusGiven = typeof body === 'object' && body !== null && 'status' in body;
  const keptHealth = statusGiven
    ? {}
    : {
        ...(current.status === 'disabled'
          ? { status: 'disabled' as const, disabledReason: current.disabledReason }
          : {}),
        ...(current.failingSince ? { failingSince: current.failingSince } : {}),
      };
  const updated: Subscription = {
    ...next,
    id: current.id,
    brand: current.brand,
    secrets: current.secrets,
    createdAt: current.createdAt,
    updatedAt: deps.now().toISOString(),
    version: current.version + 1,
    ...keptHealth,
  };
  await deps.subscriptions.replace(updated, current.name);
  return toSubscriptionView(updated);
}

export async function deleteSubscription(deps: ServiceDeps, brand: string, id: string): Promise<void> {
  if (!(await deps.subscriptions.delete(brand, id)))
    throw new ClientError(404, 'not_found', `No subscription ${id}`);
}

/** A new secret signs from now on; the previous ones keep signing for 24 hours, then lapse. */
export async function rotateSecret(deps: ServiceDeps, brand: string, id: string) {
  const current = await findSubscription(deps, brand, id);
  const now = deps.now();
  const overlapEnds = new Date(now.getTime() + SECRET_OVERLAP_MS).toISOString();
  const secret = generateSecret();
  const previous = activeSecrets(current.secrets, now).map(
    (old): SigningSecret => ({ ...old, expiresAt: old.expiresAt ?? overlapEnds }),
  );
  const updated: Subscription = {
    ...current,
    secrets: [{ secret, createdAt: now.toISOString() }, ...previous],
    updatedAt: now.toISOString(),
    version: current.version + 1,
  };
  await deps.subscriptions.replace(updated, current.name);
  return { id, secret, previousSecretsExpireAt: overlapEnds };
}

function specOf(subscription: Subscription): SubscriptionSpec {
  const {
    name,
    entity,
    events,
    url,
    format,
    includeCompleteData,
    headers,
    publicHeaders,
    retrySchedule,
    description,
  } = subscription;
  return {
    name,
    entity,
    events,
    url,
    format,
    includeCompleteData,
    status: subscription.status === 'paused' ? 'paused' : 'active',
    ...(headers ? { headers } : {}),
    ...(publicHeaders ? { publicHeaders } : {}),
    ...(retrySchedule ? { retrySchedule } : {}),
    ...(description ? { description } : {}),
  };
}
