import { ClientError, type FieldIssue, ValidationError } from './errors.js';
import { newSubscriptionId } from './ids.js';
import { DEFAULT_SIGNATURE_SCHEME, type SignatureScheme } from './listener-auth.js';
import { listenerAuthView } from './listener-auth-view.js';
import { tlsIssues } from './listener-tls.js';
import { activeSecrets, type SigningSecret, type Subscription } from './model.js';
import type {
  DeliveryQueue,
  DeliveryStore,
  EventStore,
  Page,
  PageRequest,
  SubscriptionStore,
} from './ports.js';
import { generateSecret, generateSigningKeyPair } from './signing.js';
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
 * A subscription as the API shows it: never its secrets (nor the TLS key), every custom header value
 * redacted unless the client named the header in `publicHeaders` (any header may carry a credential), and
 * every SOAP header parameter's value redacted (a `soap:Header` is where SOAP listeners take credentials).
 */
export function toSubscriptionView(subscription: Subscription, now = new Date()) {
  const {
    secrets: _secrets,
    version: _version,
    failingSince,
    headers,
    soap,
    tls: _tls,
    certificateExpiryNoticed: _noticed,
    parkedSince: _parkedSince,
    circuitClosedAt: _circuitClosedAt,
    ...view
  } = subscription;
  const shown = new Set((subscription.publicHeaders ?? []).map((name) => name.toLowerCase()));
  return {
    ...view,
    ...listenerAuthView(subscription, now),
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
    ...(soap ? { soap: redactedSoap(soap) } : {}),
    ...(failingSince ? { failingSince } : {}),
  };
}

export type SubscriptionView = ReturnType<typeof toSubscriptionView>;

/** SOAP options as views show them: each header parameter by name, its value (a credential) redacted. */
export function redactedSoap(soap: NonNullable<Subscription['soap']>): NonNullable<Subscription['soap']> {
  if (!soap.parameters) return soap;
  const parameters = Object.fromEntries(Object.keys(soap.parameters).map((name) => [name, REDACTED]));
  return { ...soap, parameters };
}

export async function createSubscription(deps: ServiceDeps, brand: string, body: unknown) {
  const spec = parseSubscriptionCreate(body, deps.policy);
  assertTlsUsable(spec, deps.now());
  await resolveListener(spec.url, { ...deps.policy, resolve: deps.resolve });
  const now = deps.now().toISOString();
  const signing = newSigningSecret(spec.signatureScheme);
  const subscription: Subscription = {
    ...spec,
    id: newSubscriptionId(),
    brand,
    secrets: [{ ...signing, createdAt: now }],
    createdAt: now,
    updatedAt: now,
    version: 1,
  };
  await deps.subscriptions.create(subscription, deps.maxSubscriptionsPerBrand);
  // The HMAC secret is shown once, here; an ed25519 private key never (the view shows its public key).
  const view = toSubscriptionView(subscription, deps.now());
  return signing.publicKey ? view : { ...view, secret: signing.secret };
}

/** A new signing secret of the scheme: a `whsec_` secret, or a `whsk_` key with its `whpk_` public key. */
function newSigningSecret(scheme: SignatureScheme = DEFAULT_SIGNATURE_SCHEME): {
  secret: string;
  publicKey?: string;
} {
  return scheme === 'ed25519' ? generateSigningKeyPair() : { secret: generateSecret() };
}

/** The certificate checks (listener-tls.ts), as a 422 naming each field. */
function assertTlsUsable(spec: SubscriptionSpec, now: Date): void {
  const issues = spec.tls ? tlsIssues(spec.tls, now) : [];
  if (issues.length > 0) throw new ValidationError(issues);
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
  const now = deps.now();
  return { items: items.map((item) => toSubscriptionView(item, now)), ...(cursor ? { cursor } : {}) };
}

export async function updateSubscription(deps: ServiceDeps, brand: string, id: string, body: unknown) {
  const current = await findSubscription(deps, brand, id);
  const next = keepRedactedValues(applySubscriptionUpdate(specOf(current), body, deps.policy), current);
  const scheme = current.signatureScheme ?? DEFAULT_SIGNATURE_SCHEME;
  if (next.signatureScheme !== scheme) {
    throw new ValidationError([
      { field: 'signatureScheme', message: `is fixed at creation (${scheme}): create a new subscription` },
    ]);
  }
  // Certificates are checked when they are given: pausing a subscription whose certificate expired works.
  if (typeof body === 'object' && body !== null && 'tls' in body) assertTlsUsable(next, deps.now());
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
    // The circuit's state is the delivery path's (lambdas/core/parking.ts): an update keeps it.
    ...(current.parkedSince ? { parkedSince: current.parkedSince } : {}),
    ...(current.circuitClosedAt ? { circuitClosedAt: current.circuitClosedAt } : {}),
    ...(current.certificateExpiryNoticed
      ? { certificateExpiryNoticed: current.certificateExpiryNoticed }
      : {}),
  };
  await deps.subscriptions.replace(updated, current.name);
  return toSubscriptionView(updated, deps.now());
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
  const signing = newSigningSecret(current.signatureScheme);
  const previous = activeSecrets(current.secrets, now).map(
    (old): SigningSecret => ({ ...old, expiresAt: old.expiresAt ?? overlapEnds }),
  );
  const updated: Subscription = {
    ...current,
    secrets: [{ ...signing, createdAt: now.toISOString() }, ...previous],
    updatedAt: now.toISOString(),
    version: current.version + 1,
  };
  await deps.subscriptions.replace(updated, current.name);
  const shown = signing.publicKey ? { publicKey: signing.publicKey } : { secret: signing.secret };
  return { id, ...shown, previousSecretsExpireAt: overlapEnds };
}

/**
 * A client that saves back what a view showed sends "[redacted]" for each hidden value: that keeps the
 * stored value instead of storing the marker as the listener's credential. With no stored value to keep,
 * the marker is refused, naming the field.
 */
function keepRedactedValues(next: SubscriptionSpec, current: Subscription): SubscriptionSpec {
  const issues: FieldIssue[] = [];
  const restore = (
    given: Readonly<Record<string, string>> | undefined,
    stored: Readonly<Record<string, string>> | undefined,
    field: string,
    anyCase: boolean,
  ): Record<string, string> | undefined => {
    if (!given) return undefined;
    const key = (name: string) => (anyCase ? name.toLowerCase() : name);
    const storedByName = new Map(Object.entries(stored ?? {}).map(([name, value]) => [key(name), value]));
    return Object.fromEntries(
      Object.entries(given).map(([name, value]) => {
        if (value !== REDACTED) return [name, value];
        const kept = storedByName.get(key(name));
        if (kept === undefined)
          issues.push({
            field: `${field}.${name}`,
            message: `is "${REDACTED}" but no value is stored to keep`,
          });
        return [name, kept ?? value];
      }),
    );
  };
  const headers = restore(next.headers, current.headers, 'headers', true);
  const parameters = restore(next.soap?.parameters, current.soap?.parameters, 'soap.parameters', false);
  if (issues.length > 0) throw new ValidationError(issues);
  return {
    ...next,
    ...(headers ? { headers } : {}),
    ...(next.soap && parameters ? { soap: { ...next.soap, parameters } } : {}),
  };
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
    maxRequestsPerSecond,
    description,
  } = subscription;
  const { signatureScheme, soap, tls } = subscription;
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
    ...(maxRequestsPerSecond ? { maxRequestsPerSecond } : {}),
    ...(description ? { description } : {}),
    ...(signatureScheme ? { signatureScheme } : {}),
    ...(soap ? { soap } : {}),
    ...(tls ? { tls } : {}),
  };
}
