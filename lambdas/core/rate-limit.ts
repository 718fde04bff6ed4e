import type { Deferral } from './delivery-admission.js';
import type { DeliveryMessage, Subscription } from './model.js';
import type { RateLimiter, RateReservation } from './ports.js';

/*
 * The per-subscription rate limit (`maxRequestsPerSecond`). A token bucket of one token, refilled every
 * 1000 / limit ms, kept as one number: the time the next token is due (the generic cell rate algorithm's
 * "theoretical arrival time"). A delivery reserves the next slot, up to RATE_RESERVE_AHEAD_MS ahead; a
 * slot within RATE_WAIT_HORIZON_MS is waited for in the container, one further off puts the delivery back on
 * the queue without an attempt (delivery-admission.ts `defer`), carrying its slot (`rateSlotAt`) and
 * delayed to come back shortly before it. So a backlog costs each delivery one reservation and one
 * re-queue, not a re-queue per second of waiting. Slots are spaced evenly and a slot woken up late is given
 * up, so no one-second window holds more than the limit + 10 %.
 */

/** A delivery whose slot is at most this far off sleeps until it; later ones are re-queued until then. */
export const RATE_WAIT_HORIZON_MS = 2_000;
/**
 * Slots are reserved at most this far ahead: SQS delays a message at most 15 minutes, so a delivery
 * queued again comes back before its slot. Beyond it (a backlog of more than 15 minutes at the limit)
 * nothing is reserved and the delivery comes back when the backlog is within reach.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-delay-queues.html
 */
export const RATE_RESERVE_AHEAD_MS = 900_000;
/**
 * A slot woken up later than this (the container was busy) is given up, not used: late requests would
 * bunch up with the punctual ones after them. Requests thus go out within 50 ms of their slots, so one
 * second holds at most limit + 1 + 50 ms' worth of slots: within the limit + 10 % for any limit.
 */
export const RATE_SLOT_LATENESS_MS = 50;
/** Slots given up in a row before the delivery goes back on the queue instead. */
const LATE_SLOTS = 3;

/** What the stored "next token due" becomes when a delivery takes a slot, or why it may not. */
export type BucketStep =
  | { readonly granted: true; readonly atMs: number; readonly nextDueMs: number }
  | { readonly granted: false; readonly retryAfterMs: number };

/**
 * Slots are spaced for this share of the limit: the 5 % margin absorbs the jitter between a slot and the
 * moment the request reaches the listener (a cold container's first request, a busy network), up to
 * about 150 ms at 10 requests/s, so the listener still never sees more than the limit + 10 % in a second.
 */
export const RATE_SPACING_SHARE = 0.95;

/** The milliseconds between two slots at `perSecond` (whole milliseconds, rounded up: never faster). */
export function slotIntervalMs(perSecond: number): number {
  return Math.ceil(1000 / (perSecond * RATE_SPACING_SHARE));
}

/**
 * One reservation on a bucket whose next token is due at `dueMs` (undefined: never used): the rule both
 * adapters apply, DynamoDB as conditional updates and SQLite in one statement's transaction.
 */
export function takeSlot(
  dueMs: number | undefined,
  perSecond: number,
  nowMs: number,
  horizonMs: number,
): BucketStep {
  const interval = slotIntervalMs(perSecond);
  if (dueMs === undefined || dueMs <= nowMs)
    return { granted: true, atMs: nowMs, nextDueMs: nowMs + interval };
  if (dueMs <= nowMs + horizonMs) return { granted: true, atMs: dueMs, nextDueMs: dueMs + interval };
  return { granted: false, retryAfterMs: Math.max(1, dueMs - horizonMs - nowMs) };
}

/** The reservation a bucket step grants, as the port reports it. */
export const reservationOf = (step: BucketStep): RateReservation =>
  step.granted ? { granted: true, atMs: step.atMs } : { granted: false, retryAfterMs: step.retryAfterMs };

/** The bucket of a subscription: its id is unique across brands. */
export const rateKey = (subscription: Pick<Subscription, 'id'>) => subscription.id;

interface PacingDeps {
  readonly rateLimiter: RateLimiter;
  readonly now: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
}

/** A deferral for the rate limit, with the slot the delivery holds when it comes back. */
export type PacedDeferral = Deferral & { readonly slotAt?: number };
/** The delivery may go now, in the slot it waited for (to check again right before sending). */
export interface PacedGo {
  readonly verdict: 'go';
  readonly slotAt: number;
}

/**
 * Waits for the subscription's next slot when it is near (go, in that slot; undefined when there is no
 * limit); returns a deferral when it is not (the delivery
 * goes back on the queue, keeping its attempts, and with the slot it reserved). A delivery that comes back
 * holding a slot uses it without reserving again, unless the slot has passed. Subscriptions without a limit
 * pass at once, at no cost.
 */
export async function pace(
  deps: PacingDeps,
  subscription: Subscription,
  message: Pick<DeliveryMessage, 'rateSlotAt'>,
): Promise<PacedDeferral | PacedGo | undefined> {
  const limit = subscription.maxRequestsPerSecond;
  if (!limit) return undefined;
  const reason = `the subscription is at its limit of ${limit} requests per second`;
  const held = message.rateSlotAt;
  if (held !== undefined && deps.now().getTime() - held <= RATE_SLOT_LATENESS_MS) {
    const going = await goAt(deps, held, reason);
    if (going !== 'late') return going;
  }
  for (let slot = 1; slot <= LATE_SLOTS; slot++) {
    const reservation = await deps.rateLimiter.reserve(
      rateKey(subscription),
      limit,
      deps.now().getTime(),
      RATE_RESERVE_AHEAD_MS,
    );
    if (!reservation.granted) return { verdict: 'defer', delayMs: reservation.retryAfterMs, reason };
    const going = await goAt(deps, reservation.atMs, reason);
    if (going !== 'late') return going;
  }
  return { verdict: 'defer', delayMs: RATE_WAIT_HORIZON_MS, reason };
}

/**
 * At a slot this delivery holds: waits for it when near (go), queues the delivery again to
 * come back within RATE_WAIT_HORIZON_MS of it when far, or says it woke up too late to use it.
 */
async function goAt(
  deps: PacingDeps,
  slotAt: number,
  reason: string,
): Promise<PacedDeferral | PacedGo | 'late'> {
  const wait = slotAt - deps.now().getTime();
  if (wait > RATE_WAIT_HORIZON_MS) {
    // Delays are whole seconds, rounded up by `defer`: it comes back between the horizon and the slot.
    return { verdict: 'defer', delayMs: wait - RATE_WAIT_HORIZON_MS, reason, slotAt };
  }
  if (wait > 0) await deps.sleep(wait);
  return slotMissed(deps, slotAt) ? 'late' : { verdict: 'go', slotAt };
}

/**
 * Whether it is too late for the slot: checked after the wait and again right before the request goes
 * out (rendering, signing and the in-flight bound come between, and a busy container may stall there).
 */
export function slotMissed(deps: Pick<PacingDeps, 'now'>, slotAt: number): boolean {
  return deps.now().getTime() - slotAt > RATE_SLOT_LATENESS_MS;
}

/** The deferral of a delivery that missed its slot right before sending: it reserves anew when back. */
export const missedSlot = (): Deferral => ({
  verdict: 'defer',
  delayMs: 1_000,
  reason: 'the rate limit slot passed before the request could go out',
});
