import { randomBytes } from 'node:crypto';
import { type CircuitBreakers, DEFAULT_BREAKER_SETTINGS } from './circuit-breaker.js';
import { requeue } from './delivery-admission.js';
import {
  type DeliveryEvent,
  type DeliveryMessage,
  expiresAtEpoch,
  type StoredDelivery,
  type Subscription,
} from './model.js';
import type { DeliveryQueue, ParkingStore } from './ports.js';
import { webhookId } from './signing.js';

/*
 * Parking of an open circuit (docs/PERFORMANCE.md, "A long outage"). When a deliver container's breaker
 * opens for a subscription (circuit-breaker.ts: consecutive failures that hurt), the subscription is
 * marked parked in the table, which every container reads with the subscription anyway. While parked:
 *
 * - a delivery for it is recorded as `parked` (its record keeps its attempts and its place in the retry
 *   schedule) and its message is deleted: nothing goes round the queue;
 * - one probe message per park retries the oldest parked delivery, on the breaker's back-off (30 s,
 *   doubling to 5 min; every wait under SQS's 900 s delay). A failed probe records the attempt, keeps the
 *   delivery parked and sends the next probe; an exhausted delivery fails as any other and the next probe
 *   takes the next one;
 * - the probe that succeeds clears the park (recording when: containers whose breaker opened before then
 *   close theirs) and sends a drain message; each drain queues up to DRAIN_BATCH parked deliveries again
 *   (the queue adapter sends them ten to a SendMessageBatch) and sets their records back to pending, then
 *   sends the next drain. A parked delivery is always either parked in the table or queued (a crash
 *   between the two queues it twice: at least once, never lost), and a drain handed over again is
 *   harmless. The last drain is followed by one more a minute later, for deliveries parked by a container
 *   that read the subscription just before the recovery.
 *
 * A paused or disabled subscription's probe drains its deliveries, which then follow the rules for that
 * status. Without a parking store (unit test worlds) an open circuit holds deliveries as before.
 */

/** Parked deliveries queued again per drain message: ten SendMessageBatch requests, bounded work per record. */
export const DRAIN_BATCH = 100;
/** The first probe's wait, and the longest: the breaker's cool-down and its cap (defaults shown). */
export const PROBE_FIRST_SECONDS = DEFAULT_BREAKER_SETTINGS.cooldownMs / 1000;
export const PROBE_MAX_SECONDS = DEFAULT_BREAKER_SETTINGS.maxCooldownMs / 1000;
const probeFirstSeconds = (deps: ParkingDeps) => deps.breakers.settings.cooldownMs / 1000;
const probeMaxSeconds = (deps: ParkingDeps) => deps.breakers.settings.maxCooldownMs / 1000;
/** The drain after the last one, for a delivery parked by a container that read the park just before it ended. */
export const SWEEP_DELAY_SECONDS = 60;

export interface ParkingDeps {
  readonly parking?: ParkingStore;
  readonly queue: DeliveryQueue;
  readonly breakers: CircuitBreakers;
  readonly now: () => Date;
  readonly retentionDays: number;
}

export type ParkingResult =
  | { readonly outcome: 'parked'; readonly reason: string }
  | { readonly outcome: 'drained'; readonly count: number }
  | { readonly outcome: 'probing'; readonly reason: string; readonly delaySeconds: number };

/**
 * Parks the delivery when its subscription is parked, or parks the subscription (and sends its probe)
 * when this container's breaker has opened since the last recovery. Undefined when the delivery may go.
 */
export async function parkIfOpen(
  deps: ParkingDeps,
  message: DeliveryMessage,
  subscription: Subscription,
  event: DeliveryEvent,
): Promise<ParkingResult | undefined> {
  if (!deps.parking || message.test) return undefined;
  let since = subscription.parkedSince;
  if (!since) {
    const openedAt = deps.breakers.openedAt(subscription.id);
    if (openedAt === undefined) return undefined;
    if (subscription.circuitClosedAt && Date.parse(subscription.circuitClosedAt) >= openedAt) {
      // A probe found the listener back after this breaker opened.
      deps.breakers.close(subscription.id);
      return undefined;
    }
    // When, and which park: containers whose breakers open in the same millisecond race with different
    // tokens, so exactly one probe chain is the park's.
    since = `${deps.now().toISOString()}/${randomBytes(6).toString('hex')}`;
    // The probe first: a park without its probe would hold the deliveries for ever. A probe whose park
    // lost the race (another container parked first) is dropped on arrival: it carries its own `since`.
    await sendProbe(deps, subscription, since, probeFirstSeconds(deps));
    await deps.parking.parkSubscription(subscription.brand, subscription.id, since);
  }
  const parkedAt = deps.now().toISOString();
  await deps.parking.parkDelivery({
    delivery: {
      id: message.deliveryId,
      subscriptionId: subscription.id,
      brand: subscription.brand,
      eventKey: message.eventKey,
      webhookId: webhookId(message.eventKey, subscription.id),
      entity: event.entity,
      event: event.event,
      receivedAt: event.receivedAt,
      data: event.data,
      createdAt: parkedAt,
      parkedAt,
      runAttemptsBefore: message.runAttemptsBefore ?? 0,
    },
    expiresAt: expiresAtEpoch(event.receivedAt, deps.retentionDays),
  });
  return { outcome: 'parked', reason: `the subscription's circuit is open (parked since ${since})` };
}

/** The message that queues a parked delivery again, where it was in its schedule. */
export function messageOfParked(parked: StoredDelivery): DeliveryMessage {
  return {
    v: 1,
    brand: parked.brand,
    subscriptionId: parked.subscriptionId,
    deliveryId: parked.id,
    eventKey: parked.eventKey,
    attemptsBefore: parked.attempts.at(-1)?.attempt ?? 0,
    runAttemptsBefore: parked.runAttemptsBefore ?? 0,
    unparked: true,
    ...(parked.data
      ? {
          event: {
            entity: parked.entity,
            event: parked.event,
            receivedAt: parked.receivedAt,
            data: parked.data,
          },
        }
      : {}),
  };
}

/**
 * What a probe's attempt came to, as deliverMessage reports it. `paced`: the subscription's rate limit
 * held it back (nothing was sent); its slot is `delaySeconds` away, and `slotAt` is the slot it holds.
 */
export type ProbeOutcome =
  | { readonly outcome: 'succeeded' | 'retrying' | 'failed' | 'gone' | 'dropped' }
  | { readonly outcome: 'paced'; readonly delaySeconds: number; readonly slotAt?: number };

/**
 * Handles a probe or drain message. `attempt` makes the probe's attempt of a parked delivery: it records
 * a failure that would be retried as `parked` (with its schedule place) instead of queueing a retry.
 */
export async function circuitStep(
  deps: ParkingDeps,
  message: DeliveryMessage,
  subscription: Subscription,
  attempt: (message: DeliveryMessage) => Promise<ProbeOutcome>,
): Promise<ParkingResult | { outcome: 'dropped'; reason: string }> {
  const circuit = message.circuit;
  if (!circuit || !deps.parking) return { outcome: 'dropped', reason: 'parking is not configured' };
  if (circuit.step === 'drain') return drain(deps, deps.parking, subscription, circuit.backoffSeconds === 0);
  const since = circuit.parkedSince;
  // Not parked any more (a recovery whose drain could not be queued, a subscription replaced): drain.
  if (!subscription.parkedSince) return drain(deps, deps.parking, subscription, false);
  if (subscription.parkedSince !== since) {
    return { outcome: 'dropped', reason: 'a probe of an earlier park' };
  }
  if (subscription.status !== 'active') return recover(deps, subscription, subscription.parkedSince);
  const [oldest] = await deps.parking.listParked(subscription.id, 1);
  if (!oldest) return recover(deps, subscription, subscription.parkedSince);
  const backoff = circuit.backoffSeconds ?? probeFirstSeconds(deps);
  // A probe that came back for the rate-limit slot it reserved uses that slot.
  const held = message.rateSlotAt === undefined ? {} : { rateSlotAt: message.rateSlotAt };
  const probed = await attempt({ ...messageOfParked(oldest), ...held });
  switch (probed.outcome) {
    case 'succeeded':
    case 'gone':
      // A disabled subscription's deliveries are drained too: they fail as a disabled one's do.
      return recover(deps, subscription, subscription.parkedSince);
    case 'retrying': {
      const next = Math.min(backoff * 2, probeMaxSeconds(deps));
      await sendProbe(deps, subscription, subscription.parkedSince, next);
      return { outcome: 'probing', reason: 'the listener still fails', delaySeconds: next };
    }
    case 'paced': {
      // Nothing was sent: the delivery stays parked, and the probe comes back at its slot, on the same
      // back-off (the listener was not tried).
      const { delaySeconds, slotAt: slot } = probed;
      await sendProbe(deps, subscription, subscription.parkedSince, backoff, { delaySeconds, slot });
      return { outcome: 'probing', reason: 'the probe waits for its rate limit slot', delaySeconds };
    }
    case 'failed':
    case 'dropped':
      // That delivery is done with (exhausted, or undeliverable): the next probe takes the next one.
      if (probed.outcome === 'dropped' && oldest.parkedAt) {
        await deps.parking.unparkDelivery(
          subscription.id,
          oldest.id,
          oldest.parkedAt,
          deps.now().toISOString(),
        );
      }
      await sendProbe(deps, subscription, subscription.parkedSince, backoff);
      return { outcome: 'probing', reason: `the probed delivery ${probed.outcome}`, delaySeconds: backoff };
  }
}

/**
 * Queues the park's next probe, due after its back-off; or, for a probe the rate limit held back, after
 * `paced.delaySeconds`, holding the slot it reserved.
 */
async function sendProbe(
  deps: ParkingDeps,
  subscription: Subscription,
  since: string,
  backoffSeconds: number,
  paced?: { readonly delaySeconds: number; readonly slot: number | undefined },
): Promise<void> {
  const probe: DeliveryMessage = {
    v: 1,
    brand: subscription.brand,
    subscriptionId: subscription.id,
    deliveryId: 'circuit-probe',
    eventKey: 'circuit-probe',
    circuit: { step: 'probe', parkedSince: since, backoffSeconds },
    ...(paced?.slot === undefined ? {} : { rateSlotAt: paced.slot }),
  };
  await requeue(deps, probe, deps.now().getTime() + (paced?.delaySeconds ?? backoffSeconds) * 1000);
}

async function sendDrain(deps: ParkingDeps, subscription: Subscription, sweep: boolean): Promise<void> {
  const drainMessage: DeliveryMessage = {
    v: 1,
    brand: subscription.brand,
    subscriptionId: subscription.id,
    deliveryId: 'circuit-drain',
    eventKey: 'circuit-drain',
    // backoffSeconds 0 marks the sweep after the last drain.
    circuit: { step: 'drain', ...(sweep ? { backoffSeconds: 0 } : {}) },
  };
  const delay = sweep ? SWEEP_DELAY_SECONDS : 0;
  await requeue(deps, drainMessage, deps.now().getTime() + delay * 1000);
}

/** Ends the park (once, whoever races) and starts the drain. */
async function recover(deps: ParkingDeps, subscription: Subscription, since: string): Promise<ParkingResult> {
  const parking = deps.parking as ParkingStore;
  deps.breakers.close(subscription.id);
  const now = deps.now().toISOString();
  // Unparked first: a drain that finds the subscription parked stops. A drain that could not be queued
  // fails the probe's record; the probe handed over again finds the park gone and drains.
  if (await parking.unparkSubscription(subscription.brand, subscription.id, since, now)) {
    await sendDrain(deps, subscription, false);
  }
  return { outcome: 'drained', count: 0 };
}

async function drain(
  deps: ParkingDeps,
  parking: ParkingStore,
  subscription: Subscription,
  sweep: boolean,
): Promise<ParkingResult> {
  // Parked again meanwhile: that park's probe drains them after its recovery.
  if (subscription.parkedSince) return { outcome: 'drained', count: 0 };
  const page = await parking.listParked(subscription.id, DRAIN_BATCH);
  if (page.length === 0) return { outcome: 'drained', count: 0 };
  const notQueued = new Set((await deps.queue.send(page.map(messageOfParked))).map((m) => m.deliveryId));
  const now = deps.now().toISOString();
  await Promise.all(
    page
      .filter((parked) => !notQueued.has(parked.id) && parked.parkedAt)
      .map((parked) => parking.unparkDelivery(subscription.id, parked.id, parked.parkedAt as string, now)),
  );
  // Those not queued are still parked: the drain's record fails and SQS hands it over again.
  if (notQueued.size > 0) throw new Error(`${notQueued.size} parked deliveries could not be queued again`);
  if (page.length === DRAIN_BATCH) await sendDrain(deps, subscription, false);
  else if (!sweep) await sendDrain(deps, subscription, true);
  return { outcome: 'drained', count: page.length };
}
