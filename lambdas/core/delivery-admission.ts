import type { Admission, CircuitBreakers, InFlightLimiter } from './circuit-breaker.js';
import type { DeliveryMessage, Subscription } from './model.js';
import type { DeliveryQueue } from './ports.js';
import type { AttemptOutcome } from './retry.js';

/*
 * Whether a delivery may go now, and putting it back when not: the delivery-time side of listener
 * isolation (the breaker and the limiter themselves are in circuit-breaker.ts).
 */

interface AdmissionDeps {
  readonly breakers: CircuitBreakers;
  readonly limiter: InFlightLimiter;
  readonly queue: DeliveryQueue;
}

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
    return admission;
  }
  return { verdict: 'go', release, record: admission.release, abandon: admission.abandon };
}

/**
 * Puts the delivery back without an attempt: a new message, delayed, that keeps the delivery's place in
 * its retry schedule (this receive made no attempt; the ones before it each made one).
 */
export async function defer(
  deps: AdmissionDeps,
  message: DeliveryMessage,
  receipt: { readonly receiveCount: number },
  admission: Deferral,
): Promise<{ outcome: 'deferred'; reason: string; delaySeconds: number }> {
  const made = receipt.receiveCount - 1;
  const delaySeconds = Math.min(Math.max(1, Math.ceil(admission.delayMs / 1000)), 900);
  const next: DeliveryMessage = {
    ...message,
    attemptsBefore: (message.attemptsBefore ?? 0) + made,
    runAttemptsBefore: (message.runAttemptsBefore ?? 0) + made,
  };
  const failed = await deps.queue.send([next], delaySeconds);
  if (failed.length > 0) throw new Error(`delivery ${message.deliveryId} could not be deferred`);
  return { outcome: 'deferred', reason: admission.reason, delaySeconds };
}

function listenerOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
