import * as z from 'zod';
import { type EventDefinition, findEventByDetailType } from './catalogue.js';
import { EVENT_SOURCE } from './event-sources.js';
import { deliveryIdFor } from './ids.js';
import { jsonObjectSchema } from './json-object.js';
import { matchSubscriptions } from './matching.js';
import { type DeliveryMessage, expiresAtEpoch } from './model.js';
import type { DeliveryQueue, EventStore, RejectedEventStore, SubscriptionStore } from './ports.js';
import { sqsSafeJson } from './sqs-text.js';

/**
 * `data` is refused when longer than this in the form it travels in (JSON with every character SQS
 * refuses escaped, ./sqs-text.ts): its delivery message must fit SQS's 256 KiB message limit
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html) and
 * its delivery record a DynamoDB item (400 KB).
 */
export const MAX_EVENT_DATA_BYTES = 200_000;
/** Nesting deeper than this is refused: no CommBox shape comes close, and renderers recurse. */
export const MAX_EVENT_DATA_DEPTH = 32;

/**
 * The envelope's `time` is the producer's PutEvents `Time` when it set one, so it is taken as the arrival
 * time only when plausible: not ahead of now by more than a clock skew, and not older than the ingest
 * queue can keep a message (SQS keeps one at most 14 days). Anything else would make a delivery id that
 * does not fit its format (before 1970), or records that are stored already expired, or never expire.
 */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;
export const MAX_QUEUED_MS = 14 * 24 * 60 * 60 * 1000;

/** The EventBridge envelope as it arrives in an SQS body. */
const envelopeSchema = z.object({
  id: z.string().min(1),
  source: z.string(),
  'detail-type': z.string(),
  time: z.string().optional(),
  detail: z.unknown(),
});

/** `Detail` as producers put it. */
export const detailSchema = z.object({
  brand: z
    .string()
    .min(1)
    .max(100)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: 'must be letters, digits, ".", "_" or "-"' }),
  id: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[\x21-\x7e]+$/, { error: 'must be visible ASCII' })
    .optional(),
  data: jsonObjectSchema,
});

export interface RoutingDeps {
  /** Only lists: routing reads no secret, so its secret fields may stay encrypted (commons/secrets.ts). */
  readonly subscriptions: Pick<SubscriptionStore, 'listActive'>;
  readonly events: EventStore;
  readonly rejected: RejectedEventStore;
  readonly queue: DeliveryQueue;
  readonly now: () => Date;
  readonly retentionDays: number;
}

export type RoutingResult =
  | { readonly outcome: 'routed'; readonly eventKey: string; readonly deliveries: number }
  | { readonly outcome: 'duplicate'; readonly eventKey: string }
  | { readonly outcome: 'rejected'; readonly reason: string };

/** A valid event, ready to route. */
export interface AcceptedEvent {
  readonly definition: EventDefinition;
  readonly brand: string;
  readonly key: string;
  readonly data: Record<string, unknown>;
  /**
   * When EventBridge received it (its envelope's `time`, when plausible: see MAX_QUEUED_MS), the same on
   * every redelivery; else the time it was accepted.
   */
  readonly receivedAt: string;
  /** EventBridge's id of this copy of the event. */
  readonly envelopeId: string;
  /** Whether `key` holds the producer's id (else EventBridge's, unique to this put). */
  readonly producerId: boolean;
}

/**
 * Validates an EventBridge envelope against the catalogue. Returns the event or the reason it is
 * refused; never throws for bad input, so a bad event is dropped with its reason, never retried.
 */
export function acceptEvent(
  envelope: unknown,
  now = new Date(),
  maxAgeMs = MAX_QUEUED_MS,
): AcceptedEvent | { readonly reason: string } {
  const outer = envelopeSchema.safeParse(envelope);
  if (!outer.success) return { reason: 'not an EventBridge event' };
  const { source, 'detail-type': detailType, detail, id } = outer.data;
  if (source !== EVENT_SOURCE) return { reason: `source "${source.slice(0, 100)}" is not ${EVENT_SOURCE}` };
  const definition = findEventByDetailType(detailType);
  if (!definition) return { reason: `unknown detail type "${detailType.slice(0, 100)}"` };
  const parsed = detailSchema.safeParse(detail);
  if (!parsed.success) return { reason: `detail: ${describeIssues(parsed.error)}` };
  const { brand, data } = parsed.data;
  // Depth first: its walk is bounded, while serializing absurdly deep data could exhaust the stack.
  if (depthOf(data) > MAX_EVENT_DATA_DEPTH)
    return { reason: `data is nested deeper than ${MAX_EVENT_DATA_DEPTH}` };
  // A delivery record keeps the data, and DynamoDB refuses text that is not valid UTF-8: such an event
  // would fail its writes on every retry.
  if (!isWellFormedText(data))
    return { reason: 'data holds text that is not valid Unicode (an unpaired surrogate)' };
  const size = Buffer.byteLength(sqsSafeJson(data));
  if (size > MAX_EVENT_DATA_BYTES)
    return { reason: `data is ${size} bytes as queued; the limit is ${MAX_EVENT_DATA_BYTES}` };
  const valid = definition.schema.safeParse(data);
  if (!valid.success)
    return { reason: `data does not fit ${definition.detailType}: ${describeIssues(valid.error)}` };
  const time = outer.data.time ? Date.parse(outer.data.time) : Number.NaN;
  const plausible = time >= now.getTime() - maxAgeMs && time <= now.getTime() + MAX_CLOCK_SKEW_MS;
  const receivedAt = (plausible ? new Date(time) : now).toISOString();
  const producerId = parsed.data.id;
  return {
    definition,
    brand,
    key: `${brand}/${producerId ?? id}`,
    data,
    receivedAt,
    envelopeId: id,
    producerId: producerId !== undefined,
  };
}

/** What routing one event decided, before its deliveries are queued. */
interface PlannedRoute {
  readonly result: RoutingResult;
  readonly messages: readonly DeliveryMessage[];
}

/**
 * Routes the events of one SQS batch. Each is planned on its own and side by side (see planRoute); then
 * the deliveries of the whole batch are queued together, so ten events at fan-out 1 cost one
 * SendMessageBatch, not ten. One result per envelope, in order: an event fails alone, when its own
 * store or read failed or one of its own deliveries could not be queued (SQS then hands it over again:
 * the same envelope still owns its claim, and queues the same delivery ids).
 */
export async function routeEvents(
  deps: RoutingDeps,
  envelopes: readonly unknown[],
): Promise<PromiseSettledResult<RoutingResult>[]> {
  const planned = await Promise.allSettled(envelopes.map((envelope) => planRoute(deps, envelope)));
  const messages = planned.flatMap((plan) => (plan.status === 'fulfilled' ? plan.value.messages : []));
  // By delivery id, not by object: a queue may answer with copies of the messages it could not send.
  let unqueued: ReadonlySet<string>;
  let queueError: unknown;
  try {
    const failed = messages.length > 0 ? await deps.queue.send(messages) : [];
    unqueued = new Set(failed.map((message) => message.deliveryId));
  } catch (error) {
    unqueued = new Set(messages.map((message) => message.deliveryId));
    queueError = error;
  }
  return planned.map((plan): PromiseSettledResult<RoutingResult> => {
    if (plan.status === 'rejected') return plan;
    const { result, messages: own } = plan.value;
    const lost = own.filter((message) => unqueued.has(message.deliveryId)).length;
    if (lost === 0) return { status: 'fulfilled', value: result };
    return {
      status: 'rejected',
      reason: new Error(`${lost} of ${own.length} deliveries could not be queued`, { cause: queueError }),
    };
  });
}

/**
 * Plans one event: drops it when it carries a producer id that another envelope claimed first (one
 * conditional write; an event without one has EventBridge's id, unique to its put, and no write at all);
 * reads the brand's active subscriptions of the entity (strongly consistent: a subscription created a
 * moment ago is seen); builds one delivery per match, carrying the event. The delivery ids' time part is
 * the event's EventBridge time, not the time it was routed, so routing the same envelope again builds
 * the same ids.
 */
async function planRoute(deps: RoutingDeps, envelope: unknown): Promise<PlannedRoute> {
  // Never older than the records it stores live: a claim stored already expired could let a copy through.
  const maxAgeMs = Math.min(MAX_QUEUED_MS, deps.retentionDays * 24 * 60 * 60 * 1000);
  const accepted = acceptEvent(envelope, deps.now(), maxAgeMs);
  if ('reason' in accepted) {
    const receivedAt = deps.now().toISOString();
    await deps.rejected.putRejected(
      { reason: accepted.reason, receivedAt, ...identify(envelope) },
      expiresAtEpoch(receivedAt, deps.retentionDays),
    );
    return { result: { outcome: 'rejected', reason: accepted.reason }, messages: [] };
  }
  const { definition, brand, key, data, receivedAt, envelopeId, producerId } = accepted;
  if (producerId) {
    const claim = { key, brand, envelopeId, receivedAt };
    if (!(await deps.events.claim(claim, expiresAtEpoch(receivedAt, deps.retentionDays))))
      return { result: { outcome: 'duplicate', eventKey: key }, messages: [] };
  }
  const event = { brand, entity: definition.entity, event: definition.name, data };
  const subscriptions = await deps.subscriptions.listActive(brand, definition.entity);
  const messages: DeliveryMessage[] = matchSubscriptions(event, subscriptions).map((subscription) => ({
    v: 1,
    brand,
    subscriptionId: subscription.id,
    deliveryId: deliveryIdFor(receivedAt, key, subscription.id),
    eventKey: key,
    event: { entity: event.entity, event: event.event, receivedAt, data },
  }));
  return { result: { outcome: 'routed', eventKey: key, deliveries: messages.length }, messages };
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(root)'} ${issue.message}`)
    .join('; ');
}

/** What can be told about an event that failed validation, for the rejected record (never its data). */
function identify(envelope: unknown): { detailType?: string; brand?: string; eventId?: string } {
  const outer = envelopeSchema.safeParse(envelope);
  if (!outer.success) return {};
  const detail = z
    .object({ brand: z.string().max(100), id: z.string().max(200) })
    .partial()
    .safeParse(outer.data.detail);
  return {
    detailType: outer.data['detail-type'].slice(0, 100),
    eventId: (detail.success ? detail.data.id : undefined) ?? outer.data.id,
    ...(detail.success && detail.data.brand ? { brand: detail.data.brand } : {}),
  };
}

/** Whether every string in `value`, keys included, is well-formed UTF-16 (so it encodes as UTF-8). */
function isWellFormedText(value: unknown): boolean {
  if (typeof value === 'string') return value.isWellFormed();
  if (typeof value !== 'object' || value === null) return true;
  for (const [key, child] of Object.entries(value)) {
    if (!key.isWellFormed() || !isWellFormedText(child)) return false;
  }
  return true;
}

function depthOf(value: unknown, depth = 0): number {
  if (depth > MAX_EVENT_DATA_DEPTH || typeof value !== 'object' || value === null) return depth;
  let deepest = depth;
  for (const child of Object.values(value)) deepest = Math.max(deepest, depthOf(child, depth + 1));
  return deepest;
}
