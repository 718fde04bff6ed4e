import { findEvent } from './catalogue.js';
import type { CircuitBreakers, InFlightLimiter } from './circuit-breaker.js';
import { admit, defer, type Go, requeue, waitUntilDue } from './delivery-admission.js';
import type { DeliveryLogMode } from './delivery-log.js';
import { clientCertificateProblem, noticeCertificateExpiry } from './delivery-tls.js';
import {
  activeSecrets,
  type DeliveryEvent,
  type DeliveryMessage,
  type DeliveryStatus,
  expiresAtEpoch,
  type Subscription,
} from './model.js';
import { circuitStep, type ParkingResult, type ProbeOutcome, parkIfOpen } from './parking.js';
import type {
  DeliveryQueue,
  DeliveryStore,
  EventStore,
  ListenerPoster,
  ListenerResult,
  OperationalEvent,
  OperationalEvents,
  ParkingStore,
  RateLimiter,
  SubscriptionStore,
} from './ports.js';
import { missedSlot, type PacedDeferral, pace, slotMissed } from './rate-limit.js';
import { renderPayload } from './render.js';
import { decideNextStep, type NextStep } from './retry.js';
import { signWebhook, webhookId } from './signing.js';

/** A subscription that failed for at least this long announces its recovery (Subscription.Recovered). */
export const RECOVERY_NOTICE_AFTER_MS = 10 * 60 * 1000;

export interface DeliveryDeps {
  readonly subscriptions: SubscriptionStore;
  readonly deliveries: DeliveryStore;
  /** Only for LEGACY_EVENTS (ports.ts): messages queued before records kept their event. */
  readonly events: Pick<EventStore, 'getLegacy'>;
  readonly queue: DeliveryQueue;
  readonly listener: ListenerPoster;
  readonly now: () => Date;
  readonly retrySchedule: readonly number[];
  readonly retentionDays: number;
  readonly disableAfterDays: number;
  readonly deliveryLog: DeliveryLogMode;
  readonly breakers: CircuitBreakers;
  readonly limiter: InFlightLimiter;
  readonly operational: OperationalEvents;
  /** Slots of subscriptions with `maxRequestsPerSecond`, shared by every container. */
  readonly rateLimiter: RateLimiter;
  /** Waits for a rate-limited subscription's slot when it is less than a second off. */
  readonly sleep: (ms: number) => Promise<void>;
  /** Parking of open circuits (./parking.ts); without it an open circuit holds deliveries in the queue. */
  readonly parking?: ParkingStore;
}

export type DeliveryResult =
  | { readonly outcome: 'succeeded' | 'failed' | 'gone'; readonly attempt: number; readonly reason?: string }
  | {
      readonly outcome: 'retrying';
      readonly attempt: number;
      readonly reason: string;
      readonly delaySeconds: number;
    }
  | { readonly outcome: 'dropped'; readonly reason: string }
  | {
      readonly outcome: 'deferred';
      readonly reason: string;
      readonly delaySeconds: number;
      /** A probe's delivery that waits for its rate-limit slot: the slot it holds (epoch ms). */
      readonly slotAt?: number;
    }
  | { readonly outcome: 'waiting'; readonly delaySeconds: number }
  | ParkingResult;

/**
 * Makes one attempt of a delivery: renders the event for the subscription, signs it with every active
 * secret, POSTs it, records the attempt and decides what follows. Every outcome returns and the received
 * message is deleted: a retry (or a deferral, or the next hop of a long wait) is a new, delayed message
 * carrying the delivery's place in its schedule, so nothing waits in flight. Throws only when the
 * attempt's outcome could not be kept (a store or queue failure): SQS then hands the message over again.
 */
export async function deliverMessage(deps: DeliveryDeps, message: DeliveryMessage): Promise<DeliveryResult> {
  // Not due yet (a wait longer than SQS delays a message): the next hop, before any read.
  const waiting = await waitUntilDue(deps, message);
  if (waiting) return waiting;
  const subscription = await deps.subscriptions.get(message.brand, message.subscriptionId);
  if (!subscription) return { outcome: 'dropped', reason: 'the subscription was deleted' };
  // A probe or drain of an open circuit (./parking.ts): the probe's attempt is the attempt below.
  if (message.circuit) {
    return circuitStep(deps, message, subscription, async (parked) =>
      probeOutcome(await attemptDelivery(deps, parked, subscription, true)),
    );
  }
  return attemptDelivery(deps, message, subscription, false);
}

function probeOutcome(result: DeliveryResult): ProbeOutcome {
  switch (result.outcome) {
    case 'succeeded':
    case 'retrying':
    case 'failed':
    case 'gone':
      return { outcome: result.outcome };
    case 'deferred':
      return {
        outcome: 'paced',
        delaySeconds: result.delaySeconds,
        ...(result.slotAt === undefined ? {} : { slotAt: result.slotAt }),
      };
    default:
      return { outcome: 'dropped' };
  }
}

/**
 * One attempt of `message` to `subscription`. A probe (`probe`) skips the breaker (it is the circuit's
 * probe) and parks the delivery again instead of queueing a retry; when the rate limit holds it back, it
 * queues nothing and says when its slot is (the delivery stays parked and the probe comes back then).
 */
async function attemptDelivery(
  deps: DeliveryDeps,
  message: DeliveryMessage,
  subscription: Subscription,
  probe: boolean,
): Promise<DeliveryResult> {
  // The event rides in the message (resends and replays rebuild it from the delivery's record); a legacy
  // message without it reads the event item older builds stored (LEGACY_EVENTS in ports.ts).
  const carried = message.event ?? (await deps.events.getLegacy(message.eventKey));
  if (!carried) return { outcome: 'dropped', reason: 'the event has expired' };
  const event = { ...carried, brand: message.brand };
  const definition = findEvent(event.entity, event.event);
  if (!definition)
    return { outcome: 'dropped', reason: `the catalogue has no ${event.entity}.${event.event}` };

  const attempt = (message.attemptsBefore ?? 0) + 1;
  const started = deps.now();
  const id = webhookId(message.eventKey, subscription.id);
  const record = (status: DeliveryStatus, result: ListenerResult, step: NextStep) =>
    recordAttempt(deps, { message, subscription, event, id, attempt, started, status, result, step, probe });

  if (subscription.status !== 'active' && !message.test) {
    const reason = `the subscription is ${subscription.status}`;
    const step: NextStep = { action: 'failed', reason };
    await record('failed', { outcome: { kind: 'refused', reason }, durationMs: 0 }, step);
    return { outcome: 'failed', attempt, reason };
  }

  // An open circuit's deliveries wait in the table (./parking.ts), before they take a rate slot.
  if (!probe) {
    const parked = await parkIfOpen(deps, message, subscription, event);
    if (parked) return parked;
  }
  // The subscription's rate limit next: a delivery past it waits for its slot or goes back on the queue
  // without an attempt, and takes no in-flight slot meanwhile.
  const paced = await pace(deps, subscription, message);
  const { rateSlotAt: _held, ...unslotted } = message;
  if (paced?.verdict === 'defer') {
    if (probe) return waitForSlot(paced);
    const next = paced.slotAt === undefined ? unslotted : { ...unslotted, rateSlotAt: paced.slotAt };
    return defer(deps, next, paced);
  }
  // Admission next: a deferred delivery is neither rendered nor signed, and the signature's timestamp is
  // the time the POST goes out, after any wait for a slot.
  const admission = probe ? PROBE_ADMISSION : await admit(deps, subscription);
  if (admission.verdict === 'defer') {
    // The circuit opened while this delivery waited for a slot: parked as well, not held in the queue.
    const parked = admission.circuit === 'open' && (await parkIfOpen(deps, message, subscription, event));
    return parked || defer(deps, message, admission);
  }
  let result: ListenerResult | undefined;
  try {
    const payload = renderPayload(subscription.format, {
      definition,
      brand: event.brand,
      data: event.data,
      includeCompleteData: subscription.includeCompleteData,
      ...(subscription.soap ? { soap: subscription.soap } : {}),
    });
    const now = deps.now();
    const signature = signWebhook({
      id,
      timestamp: Math.floor(now.getTime() / 1000),
      body: payload.body,
      secrets: activeSecrets(subscription.secrets, now).map((secret) => secret.secret),
    });
    // An expired client certificate fails the attempt before connecting, with a reason in the log.
    const certificateProblem = clientCertificateProblem(subscription, now);
    // A rate-limited delivery that stalled past its slot since the wait does not go: sent late, it would
    // bunch with the punctual ones after it.
    result =
      paced && slotMissed(deps, paced.slotAt)
        ? undefined
        : certificateProblem
          ? { outcome: certificateProblem, durationMs: 0 }
          : await deps.listener.post({
              url: subscription.url,
              body: payload.body,
              headers: {
                ...subscription.headers,
                ...payload.headers,
                'Content-Type': payload.contentType,
                ...signature,
              },
              ...(subscription.tls ? { tls: subscription.tls } : {}),
            });
  } catch (error) {
    // Nothing was sent (the listener client reports its failures as results): the circuit still hears
    // of it, so a half-open circuit does not wait for this probe forever, and the record is retried.
    admission.record({ kind: 'refused', reason: 'the delivery failed before it was sent' });
    throw error;
  } finally {
    admission.release?.();
  }
  if (!result) {
    admission.abandon();
    return probe ? waitForSlot(missedSlot()) : defer(deps, unslotted, missedSlot());
  }
  admission.record(result.outcome);
  await noticeCertificateExpiry(deps, subscription);
  const step = decideNextStep({
    attempt: (message.runAttemptsBefore ?? 0) + 1,
    outcome: result.outcome,
    schedule: subscription.retrySchedule ?? deps.retrySchedule,
    now: deps.now(),
  });

  switch (step.action) {
    case 'succeeded':
      // Failures-only log: a first-attempt success leaves no record (one write less per delivery).
      if (deps.deliveryLog === 'full' || attempt > 1 || message.unparked)
        await record('succeeded', result, step);
      if (subscription.failingSince) {
        await deps.subscriptions.markHealthy(subscription.brand, subscription.id);
        // A retry that worked is routine; operators hear of a recovery after a real outage only.
        if (deps.now().getTime() - Date.parse(subscription.failingSince) >= RECOVERY_NOTICE_AFTER_MS) {
          await deps.operational.publish([
            operationalEvent(deps, subscription, 'Subscription.Recovered', {
              failingSince: subscription.failingSince,
            }),
          ]);
        }
      }
      return { outcome: 'succeeded', attempt };
    case 'retry':
      await record(probe ? 'parked' : 'pending', result, step);
      await noteFailure(deps, subscription);
      // A probe's delivery stays parked; the probe itself comes again (./parking.ts).
      if (probe) return { outcome: 'retrying', attempt, reason: step.reason, delaySeconds: 0 };
      await requeue(
        deps,
        {
          ...message,
          attemptsBefore: (message.attemptsBefore ?? 0) + 1,
          runAttemptsBefore: (message.runAttemptsBefore ?? 0) + 1,
        },
        deps.now().getTime() + step.delaySeconds * 1000,
      );
      return { outcome: 'retrying', attempt, reason: step.reason, delaySeconds: step.delaySeconds };
    case 'failed':
      await record('failed', result, step);
      await deps.operational.publish([
        operationalEvent(deps, subscription, 'Delivery.Exhausted', {
          reason: step.reason,
          deliveryId: message.deliveryId,
          webhookId: id,
        }),
      ]);
      await noteFailure(deps, subscription);
      return { outcome: 'failed', attempt, reason: step.reason };
    case 'gone':
      await record('failed', result, step);
      await disableSubscription(deps, subscription, 'the listener answered 410 Gone');
      return { outcome: 'gone', attempt, reason: step.reason };
  }
}

/** A probe held back by the rate limit: nothing is queued, the probe itself comes back (./parking.ts). */
function waitForSlot(deferral: PacedDeferral): DeliveryResult {
  return {
    outcome: 'deferred',
    reason: deferral.reason,
    delaySeconds: Math.max(1, Math.ceil(deferral.delayMs / 1000)),
    ...(deferral.slotAt === undefined ? {} : { slotAt: deferral.slotAt }),
  };
}

/** A probe goes whatever this container's breaker says; its outcome is not the breaker's to count. */
const PROBE_ADMISSION: Go = { verdict: 'go', record: () => {}, abandon: () => {} };

/** Disables the subscription with its reason, and says so on the bus. */
async function disableSubscription(
  deps: DeliveryDeps,
  subscription: Subscription,
  reason: string,
): Promise<void> {
  await deps.subscriptions.disable(subscription.brand, subscription.id, reason, deps.now().toISOString());
  await deps.operational.publish([operationalEvent(deps, subscription, 'Subscription.Disabled', { reason })]);
}

function operationalEvent(
  deps: DeliveryDeps,
  subscription: Subscription,
  type: OperationalEvent['type'],
  detail: Pick<OperationalEvent, 'reason' | 'deliveryId' | 'webhookId' | 'failingSince'>,
): OperationalEvent {
  return {
    type,
    brand: subscription.brand,
    subscriptionId: subscription.id,
    at: deps.now().toISOString(),
    ...detail,
  };
}

/** Starts the failing clock, or disables the subscription once it has failed for `disableAfterDays`. */
async function noteFailure(deps: DeliveryDeps, subscription: Subscription): Promise<void> {
  const now = deps.now();
  if (!subscription.failingSince) {
    await deps.subscriptions.markFailing(subscription.brand, subscription.id, now.toISOString());
    return;
  }
  const failingMs = now.getTime() - Date.parse(subscription.failingSince);
  if (failingMs >= deps.disableAfterDays * 24 * 60 * 60 * 1000) {
    await disableSubscription(
      deps,
      subscription,
      `no successful delivery for ${deps.disableAfterDays} days (failing since ${subscription.failingSince})`,
    );
  }
}

interface AttemptContext {
  readonly message: DeliveryMessage;
  readonly subscription: Subscription;
  readonly event: DeliveryEvent;
  readonly id: string;
  readonly attempt: number;
  readonly started: Date;
  readonly status: DeliveryStatus;
  readonly result: ListenerResult;
  readonly step: NextStep;
  /** A probe's attempt: a failure to retry parks the delivery again, keeping its place in the schedule. */
  readonly probe: boolean;
}

async function recordAttempt(deps: DeliveryDeps, context: AttemptContext): Promise<void> {
  const { message, subscription, event, id, attempt, started, status, result, step, probe } = context;
  const at = started.toISOString();
  const statusCode = result.outcome.kind === 'response' ? result.outcome.status : undefined;
  await deps.deliveries.recordAttempt({
    delivery: {
      id: message.deliveryId,
      subscriptionId: subscription.id,
      brand: subscription.brand,
      eventKey: message.eventKey,
      webhookId: id,
      entity: event.entity,
      event: event.event,
      receivedAt: event.receivedAt,
      data: event.data,
      status,
      createdAt: at,
      ...(status === 'parked'
        ? { parkedAt: deps.now().toISOString(), runAttemptsBefore: (message.runAttemptsBefore ?? 0) + 1 }
        : {}),
      ...(step.action === 'retry' && !probe
        ? { nextAttemptAt: new Date(deps.now().getTime() + step.delaySeconds * 1000).toISOString() }
        : {}),
      ...(status === 'failed' && 'reason' in step ? { failureReason: step.reason } : {}),
    },
    attempt: {
      attempt,
      at,
      durationMs: Math.round(result.durationMs),
      ...(statusCode !== undefined ? { statusCode } : {}),
      ...(step.action !== 'succeeded' && 'reason' in step ? { error: errorText(step.reason, result) } : {}),
    },
    expiresAt: expiresAtEpoch(event.receivedAt, deps.retentionDays),
  });
}

/** The attempt's error for the log: the reason and the start of the listener's answer. */
function errorText(reason: string, result: ListenerResult): string {
  const snippet = result.responseSnippet?.trim();
  return snippet ? `${reason}: ${snippet.slice(0, 500)}` : reason;
}
