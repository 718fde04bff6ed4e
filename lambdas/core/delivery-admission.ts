import type { Admission, CircuitBreakers, InFlightLimiter } from './circuit-breaker.js';
import type { DeliveryMessage, Subscription } from './model.js';
import type { DeliveryQueue } from './ports.js';
import { type AttemptOutcome, SQS_MAX_DELAY_SECONDS } from './retry.js';

/*
 * Whether a delivery may go now, and putting it back when not: the delivery-time side of listener
 * isolation (the breaker and the limiter themselves are in circuit-breaker.ts). Putting back is always a
 * new message: nothing waits in flight.
 */

interface AdmissionDeps {
  readonly breakers: CircuitBreakers;
  readonly limiter: InFlightLimiter;
  readonly queue: DeliveryQueue;
}

/**
 * How long a delivery waits while its subscription's circuit is open: the longest one SQS delay, not the
 * cool-down (30 s, doubling to 5 min). A long outage then costs one receive, send and delete per pending
 * delivery every 15 minutes instead of every cool-down (docs/PERFORMANCE.md, "A long outage"); the
 * breaker's probes are the deliveries that arrive meanwhile, and after a recovery a held delivery comes
 * back within 15 minutes.
 */
export const OPEN_CIRCUIT_HOLD_SECONDS = SQS_MAX_DELAY_SECONDS;

/** A deferral: how long to put the delivery back, and why. */
export type Deferral = Extract<Admission, { verdict: 'defer' }>;

export interface Go {
  readonly verdict: 'go';
  /** Frees the listener's in-flight slot. */
  readonly release?: () => void;
  /** Tells the circuit breaker how the attempt went. */
  readonly record: (outcome: AttemptOutcome) => void;
  /** Tells the circuit breaker nothing was sent after all (the delivery goes back on the queue). */
  readonly abandon: () => void;
}

/** The listener's in-flight bound first (waiting a moment for a slot), then the subscription's circuit. */
export async function admit(deps: AdmissionDeps, subscription: Subscription): Promise<Go | Deferral> {
  const origin = listenerOrigin(subscription.url);
  const release = await deps.limiter.acquire(origin);
  if (!release)
    return { verdict: 'defer', delayMs: 1_000, reason: `listener ${origin} has its maximum in flight` };
  const admission = deps.breakers.admit(subscription.id);
  if (admission.verdict === 'defer') {
    release();
    return admission.circuit === 'open'
      ? { ...admission, delayMs: Math.max(admission.delayMs, OPEN_CIRCUIT_HOLD_SECONDS * 1000) }
      : admission;
  }
  return { verdict: 'go', release, record: admission.release, abandon: admission.abandon };
}

/** Puts the delivery back without an attempt: a new message, delayed, that keeps its place in the schedule. */
export async function defer(
  deps: AdmissionDeps & { readonly now: () => Date },
  message: DeliveryMessage,
  admission: Deferral,
): Promise<{ outcome: 'deferred'; reason: string; delaySeconds: number }> {
  const delaySeconds = Math.max(1, Math.ceil(admission.delayMs / 1000));
  await requeue(deps, message, deps.now().getTime() + delaySeconds * 1000);
  return { outcome: 'deferred', reason: admission.reason, delaySeconds };
}

/**
 * Queues `message` again, due at `dueAtMs`: a new message (the received one is then deleted, so a wait
 * holds nothing in flight), delayed up to the 900 s SQS allows; a longer wait carries its due time and
 * goes in hops (waitUntilDue). Returns the delay it was sent with. Throws when it could not be queued:
 * the record then fails and SQS hands the received message over again, so the delivery is never lost.
 */
export async function requeue(
  deps: { readonly queue: DeliveryQueue; readonly now: () => Date },
  message: DeliveryMessage,
  dueAtMs: number,
): Promise<number> {
  const { dueAt: _, ...rest } = message;
  const waitSeconds = Math.max(0, Math.ceil((dueAtMs - deps.now().getTime()) / 1000));
  const next: DeliveryMessage =
    waitSeconds > SQS_MAX_DELAY_SECONDS ? { ...rest, dueAt: new Date(dueAtMs).toISOString() } : rest;
  const delaySeconds = Math.min(waitSeconds, SQS_MAX_DELAY_SECONDS);
  const failed = await deps.queue.send([next], delaySeconds);
  if (failed.length > 0) throw new Error(`delivery ${message.deliveryId} could not be queued again`);
  return delaySeconds;
}

/**
 * A message received before its due time (a wait longer than one SQS delay) is sent again for the rest
 * of the wait, and makes no attempt; undefined when it is due (less than a second early counts as due).
 */
export async function waitUntilDue(
  deps: { readonly queue: DeliveryQueue; readonly now: () => Date },
  message: DeliveryMessage,
): Promise<{ outcome: 'waiting'; delaySeconds: number } | undefined> {
  const dueAtMs = message.dueAt === undefined ? Number.NaN : Date.parse(message.dueAt);
  if (!(dueAtMs - deps.now().getTime() >= 1000)) return undefined;
  return { outcome: 'waiting', delaySeconds: await requeue(deps, message, dueAtMs) };
}

function listenerOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
