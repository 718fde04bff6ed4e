import type { AttemptOutcome } from './retry.js';

/**
 * Per-subscription circuit breaker and in-flight bound, so one slow or dead listener cannot starve the
 * others. State lives in the container's memory (one breaker per deliver container, and one for the
 * whole local runtime): each container learns on its own within `failureThreshold` attempts, and no
 * request to the table is spent on it. The subscription's durable health (`failingSince`, auto-disable)
 * is kept separately, in the table.
 *
 * - closed: every delivery may go;
 * - open (after `failureThreshold` consecutive failures that hurt: timeouts, connection errors, 408,
 *   429, 5xx): deliveries are deferred, without an attempt, until the cool-down ends;
 * - half-open: one probe goes; success closes the circuit, failure opens it again with twice the
 *   cool-down (up to `maxCooldownMs`).
 */
export interface BreakerSettings {
  readonly failureThreshold: number;
  readonly cooldownMs: number;
  readonly maxCooldownMs: number;
}

export const DEFAULT_BREAKER_SETTINGS: BreakerSettings = {
  failureThreshold: 5,
  cooldownMs: 30_000,
  maxCooldownMs: 5 * 60_000,
};

/** May this delivery go now? `defer` says for how long to put it back. */
export type Admission =
  | {
      readonly verdict: 'go';
      readonly release: (outcome: AttemptOutcome) => void;
      /** Nothing was sent after all: frees a probe's turn without counting for or against the circuit. */
      readonly abandon: () => void;
    }
  | {
      readonly verdict: 'defer';
      readonly delayMs: number;
      readonly reason: string;
      /** The circuit's state, when it is the circuit that defers. */
      readonly circuit?: 'open' | 'probing';
    };

interface Circuit {
  consecutiveFailures: number;
  openUntil: number;
  /** When the circuit last opened from closed; 0 while closed. */
  openedAt: number;
  cooldownMs: number;
  probing: boolean;
}

export class CircuitBreakers {
  private readonly circuits = new Map<string, Circuit>();

  constructor(
    readonly settings: BreakerSettings = DEFAULT_BREAKER_SETTINGS,
    private readonly clock: () => number = Date.now,
  ) {}

  admit(key: string): Admission {
    const circuit = this.circuitOf(key);
    const now = this.clock();
    if (circuit.openUntil > now) {
      return { verdict: 'defer', delayMs: circuit.openUntil - now, reason: 'circuit open', circuit: 'open' };
    }
    const halfOpen = circuit.openUntil > 0;
    if (halfOpen && circuit.probing) {
      return {
        verdict: 'defer',
        delayMs: Math.min(circuit.cooldownMs, 5_000),
        reason: 'circuit half-open, probing',
        circuit: 'probing',
      };
    }
    if (halfOpen) circuit.probing = true;
    let released = false;
    return {
      verdict: 'go',
      release: (outcome) => {
        if (released) return;
        released = true;
        this.record(circuit, halfOpen, outcome);
      },
      abandon: () => {
        if (released) return;
        released = true;
        if (halfOpen) circuit.probing = false;
      },
    };
  }

  /** Open circuits, for logs and tests. */
  isOpen(key: string): boolean {
    return (this.circuits.get(key)?.openUntil ?? 0) > this.clock();
  }

  /** When the circuit opened (epoch ms), while it is open or half-open; undefined while closed. */
  openedAt(key: string): number | undefined {
    const openedAt = this.circuits.get(key)?.openedAt ?? 0;
    return openedAt > 0 ? openedAt : undefined;
  }

  /** Closes the circuit: a probe elsewhere found the listener back (lambdas/core/parking.ts). */
  close(key: string): void {
    this.circuits.delete(key);
  }

  private record(circuit: Circuit, wasProbe: boolean, outcome: AttemptOutcome): void {
    if (wasProbe) circuit.probing = false;
    if (!hurts(outcome)) {
      circuit.consecutiveFailures = 0;
      circuit.openUntil = 0;
      circuit.openedAt = 0;
      circuit.cooldownMs = this.settings.cooldownMs;
      return;
    }
    circuit.consecutiveFailures += 1;
    if (wasProbe) {
      circuit.cooldownMs = Math.min(circuit.cooldownMs * 2, this.settings.maxCooldownMs);
      circuit.openUntil = this.clock() + circuit.cooldownMs;
    } else if (circuit.consecutiveFailures >= this.settings.failureThreshold && circuit.openUntil === 0) {
      circuit.openedAt = this.clock();
      circuit.openUntil = circuit.openedAt + circuit.cooldownMs;
    }
  }

  private circuitOf(key: string): Circuit {
    let circuit = this.circuits.get(key);
    if (!circuit) {
      circuit = {
        consecutiveFailures: 0,
        openUntil: 0,
        openedAt: 0,
        cooldownMs: this.settings.cooldownMs,
        probing: false,
      };
      this.circuits.set(key, circuit);
    }
    return circuit;
  }
}

/** Failures that cost the sender time or signal overload; a quick 4xx answer does not. */
function hurts(outcome: AttemptOutcome): boolean {
  switch (outcome.kind) {
    case 'timeout':
    case 'network':
    case 'refused':
    case 'tls':
      return true;
    case 'response':
      return outcome.status === 408 || outcome.status === 429 || outcome.status >= 500;
  }
}

/**
 * A bound on concurrent requests per listener (its origin) from this container: a listener that
 * answers slowly holds at most `max` sockets and batch slots, whatever its subscriptions' traffic. A
 * request over the bound waits for a slot, first come first served, up to `maxWaitMs`: a listener that
 * answers quickly frees one within milliseconds, so a full batch for one listener is delivered in one
 * invocation; a slow one does not, and the request is deferred.
 */
export class InFlightLimiter {
  private readonly inFlight = new Map<string, number>();
  private readonly waiting = new Map<string, (() => void)[]>();

  constructor(
    private readonly max: number = 8,
    private readonly maxWaitMs: number = 500,
  ) {}

  /** A release function, or undefined when no slot of the listener's came free within `maxWaitMs`. */
  async acquire(key: string): Promise<(() => void) | undefined> {
    const current = this.inFlight.get(key) ?? 0;
    if (current < this.max) {
      this.inFlight.set(key, current + 1);
      return this.releaser(key);
    }
    if (this.maxWaitMs <= 0) return undefined;
    return new Promise((resolve) => {
      const queue = this.waiting.get(key) ?? [];
      const handOver = () => {
        clearTimeout(timer);
        resolve(this.releaser(key));
      };
      const timer = setTimeout(() => {
        const index = queue.indexOf(handOver);
        if (index >= 0) queue.splice(index, 1);
        if (queue.length === 0) this.waiting.delete(key);
        resolve(undefined);
      }, this.maxWaitMs);
      queue.push(handOver);
      this.waiting.set(key, queue);
    });
  }

  /** Frees the slot once: to the first waiter (the count stays), else back to the pool. */
  private releaser(key: string): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const queue = this.waiting.get(key);
      const next = queue?.shift();
      if (queue?.length === 0) this.waiting.delete(key);
      if (next) {
        next();
        return;
      }
      const left = (this.inFlight.get(key) ?? 1) - 1;
      if (left === 0) this.inFlight.delete(key);
      else this.inFlight.set(key, left);
    };
  }
}
