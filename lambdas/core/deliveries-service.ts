import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import { findEvent } from './catalogue.js';
import { ClientError, ValidationError } from './errors.js';
import { deliveryIdFor } from './ids.js';
import {
  DELIVERY_STATUSES,
  type Delivery,
  type DeliveryMessage,
  type DeliveryStatus,
  type StoredDelivery,
  type Subscription,
} from './model.js';
import type { Page, PageRequest } from './ports.js';
import { renderPayload } from './render.js';
import { toFieldIssues } from './subscription.js';
import { findSubscription, redactedSoap, type ServiceDeps } from './subscriptions-service.js';

/** A replay re-sends at most this many deliveries per call; the response says when the range held more. */
export const MAX_REPLAY = 1000;

export async function listDeliveries(
  deps: ServiceDeps,
  brand: string,
  subscriptionId: string,
  filter: { status?: DeliveryStatus } & PageRequest,
): Promise<Page<DeliveryView>> {
  const subscription = await findSubscription(deps, brand, subscriptionId);
  const page = await deps.deliveries.list(subscriptionId, filter);
  const items = await Promise.all(page.items.map((delivery) => withPayload(deps, subscription, delivery)));
  return { ...page, items };
}

/** One delivery with its attempts and its payload. */
export async function getDelivery(
  deps: ServiceDeps,
  brand: string,
  subscriptionId: string,
  deliveryId: string,
) {
  const subscription = await findSubscription(deps, brand, subscriptionId);
  return withPayload(deps, subscription, await findDelivery(deps, subscriptionId, deliveryId));
}

export type DeliveryView = Delivery & { payload: { contentType: string; body: string } | null };

/**
 * The delivery with the payload as the listener receives it, rendered from the event data its record
 * keeps (null if the catalogue no longer has its event, or for a legacy record whose event expired). SOAP
 * header parameters are credentials: the view shows each one's value as "[redacted]", as the
 * subscription's view does.
 */
async function withPayload(
  deps: ServiceDeps,
  subscription: Subscription,
  stored: StoredDelivery,
): Promise<DeliveryView> {
  const { data: kept, runAttemptsBefore: _schedulePlace, ...delivery } = stored;
  const data = kept ?? (await deps.events.getLegacy(delivery.eventKey))?.data;
  const definition = findEvent(delivery.entity, delivery.event);
  if (!definition || !data) return { ...delivery, payload: null };
  const { contentType, body } = renderPayload(subscription.format, {
    definition,
    brand: subscription.brand,
    data,
    includeCompleteData: subscription.includeCompleteData,
    ...(subscription.soap ? { soap: redactedSoap(subscription.soap) } : {}),
  });
  return { ...delivery, payload: { contentType, body } };
}

/** Queues a delivery again; it gets a fresh retry schedule and keeps its webhook-id. */
export async function resendDelivery(
  deps: ServiceDeps,
  brand: string,
  subscriptionId: string,
  deliveryId: string,
) {
  await findSubscription(deps, brand, subscriptionId);
  const delivery = await findDelivery(deps, subscriptionId, deliveryId);
  await requeue(deps, [delivery]);
  return { deliveryId, status: 'pending' as const };
}

export const replaySchema = z
  .strictObject({ since: z.iso.datetime({ offset: true }), until: z.iso.datetime({ offset: true }) })
  .refine((range) => Date.parse(range.since) < Date.parse(range.until), {
    error: 'since must be before until',
    path: ['until'],
  });

/** Re-sends the subscription's deliveries whose events arrived in `[since, until]`, oldest first. */
export async function replayDeliveries(
  deps: ServiceDeps,
  brand: string,
  subscriptionId: string,
  body: unknown,
) {
  const result = replaySchema.safeParse(body);
  if (!result.success) throw new ValidationError(toFieldIssues(result.error));
  await findSubscription(deps, brand, subscriptionId);
  const since = new Date(result.data.since).toISOString();
  const until = new Date(result.data.until).toISOString();
  const deliveries = await deps.deliveries.listBetween(subscriptionId, since, until, MAX_REPLAY + 1);
  const replayed = deliveries.slice(0, MAX_REPLAY);
  await requeue(deps, replayed);
  return { queued: replayed.length, truncated: deliveries.length > MAX_REPLAY, since, until };
}

export const testEventSchema = z.strictObject({ event: z.string().min(1).max(100).optional() }).optional();

/**
 * Sends the catalogue's example of one of the subscription's events (the first selected one unless the
 * body names another) through the normal pipeline: rendered, signed, retried, logged.
 */
export async function sendTestEvent(deps: ServiceDeps, brand: string, subscriptionId: string, body: unknown) {
  const parsed = testEventSchema.safeParse(body ?? undefined);
  if (!parsed.success) throw new ValidationError(toFieldIssues(parsed.error));
  const subscription = await findSubscription(deps, brand, subscriptionId);
  const eventName = parsed.data?.event ?? subscription.events[0]?.name ?? '';
  const definition = findEvent(subscription.entity, eventName);
  if (!definition) {
    throw new ValidationError([
      { field: 'event', message: `${subscription.entity} has no event "${eventName}"` },
    ]);
  }
  const receivedAt = deps.now().toISOString();
  const eventKey = `${brand}/test_${randomBytes(9).toString('base64url')}`;
  const message: DeliveryMessage = {
    v: 1,
    brand,
    subscriptionId,
    deliveryId: deliveryIdFor(receivedAt, eventKey, subscriptionId),
    eventKey,
    test: true,
    event: {
      entity: subscription.entity,
      event: definition.name,
      receivedAt,
      data: structuredClone(definition.example),
    },
  };
  await sendAll(deps, [message]);
  return { deliveryId: message.deliveryId, event: definition.detailType, status: 'pending' as const };
}

export function parseDeliveryStatus(value: string | undefined): DeliveryStatus | undefined {
  if (value === undefined) return undefined;
  if ((DELIVERY_STATUSES as readonly string[]).includes(value)) return value as DeliveryStatus;
  throw new ValidationError([{ field: 'status', message: `must be one of ${DELIVERY_STATUSES.join(', ')}` }]);
}

async function findDelivery(
  deps: ServiceDeps,
  subscriptionId: string,
  deliveryId: string,
): Promise<StoredDelivery> {
  const delivery = await deps.deliveries.get(subscriptionId, deliveryId);
  if (!delivery) throw new ClientError(404, 'not_found', `No delivery ${deliveryId}`);
  return delivery;
}

async function requeue(deps: ServiceDeps, deliveries: readonly StoredDelivery[]): Promise<void> {
  const at = deps.now().toISOString();
  for (const delivery of deliveries)
    await deps.deliveries.markPending(delivery.subscriptionId, delivery.id, at);
  await sendAll(
    deps,
    deliveries.map((delivery) => ({
      v: 1,
      brand: delivery.brand,
      subscriptionId: delivery.subscriptionId,
      deliveryId: delivery.id,
      eventKey: delivery.eventKey,
      attemptsBefore: delivery.attempts.length,
      runAttemptsBefore: 0,
      // A legacy record (without its event) queues a message without it: deliver reads the event item.
      ...(delivery.data && {
        event: {
          entity: delivery.entity,
          event: delivery.event,
          receivedAt: delivery.receivedAt,
          data: delivery.data,
        },
      }),
    })),
  );
}

async function sendAll(deps: ServiceDeps, messages: readonly DeliveryMessage[]): Promise<void> {
  const failed = await deps.queue.send(messages);
  if (failed.length > 0)
    throw new Error(`${failed.length} of ${messages.length} delivery messages could not be queued`);
}
