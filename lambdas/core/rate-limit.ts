import type { Deferral } from './delivery-admission.js';
import type { Subscription } from './model.js';
import type { RateLimiter, RateReservation } from './ports.js';

/*
 * The per-subscription rate limit (`maxRequestsPerSecond`). A token bucket of one token, refilled every
 * 1000 / limit ms, kept as one number: the time the next token is due (the generic cell rate algorithm's
 * "theoretical arrival time"). A delivery reserves the next slot; a slot within RATE_WAIT_HORIZON_MS is
 * waited for in the container, one further off puts the delivery back on the queue without an attempt
 * (delivery-admission.ts `defer`). Slots are spaced evenly and a slot woken up late is given up, so no
 * one-second window holds more than the limit + 10 %.
 */

/** A delivery whose slot is at most this far off sleeps until it; later ones are re-queued. */
export const RATE_WAIT_HORIZON_MS = 1_000;
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

/** The milliseconds between two slots at `perSecond` (whole milliseconds, rounded up: never faster). */
export function slotIntervalMs(perSecond: number): number {
  return Math.ceil(1000 / perSecond);
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

/**
 * Waits for the subscription's next slot when it is near; returns a deferral when it is not (the delivery
 * goes back on the queue, keeping its attempts). Subscriptions without a limit pass at once, at no cost.
 */
export async function pace(deps: PacingDeps, subscription: Subscription): Promise<Deferral | undefined> {
  const limit = subscription.maxRequestsPerSecond;
  if (!limit) return undefined;
  const reason = `the subscription is at its limit of ${limit} requests per second`;
  for (let slot = 1; slot <= LATE_SLOTS; slot++) {
    const reservation = await deps.rateLimiter.reserve(
      rateKey(subscription),
      limit,
      deps.now().getTime(),
      RATE_WAIT_HORIZON_MS,
    );
    if (!reservation.granted) return { verdict: 'defer', delayMs: reservation.retryAfterMs, reason };
    const wait = reservation.atMs - deps.now().getTime();
    if (wait > 0) await deps.sleep(wait);
    if (deps.now().getTime() - reservation.atMs <= RATE_SLOT_LATENESS_MS) return undefined;
  }
  return { verdict: 'defer', delayMs: RATE_WAIT_HORIZON_MS, reason };
}
