import type { DeliveryMessage } from '../../lambdas/core/model.js';
import type {
  DeliveryQueue,
  ListenerPoster,
  ListenerRequest,
  ListenerResult,
  OperationalEvent,
  OperationalEvents,
  RateLimiter,
  RateReservation,
} from '../../lambdas/core/ports.js';
import { reservationOf, takeSlot } from '../../lambdas/core/rate-limit.js';

/*
 * The core's ports kept in memory, for tests of the use cases: the stores (in-memory-stores.ts), the
 * delivery queue, the operational events, the rate buckets, the listener and a clock. Each keeps the contract its doc
 * comment in lambdas/core/ports.ts states, and nothing of SQS's or EventBridge's layout.
 */

export {
  InMemoryDeliveryStore,
  InMemoryEventStore,
  InMemorySubscriptionStore,
} from './in-memory-stores.js';

/** A delivery queue that keeps what was sent, with its delay; `refuse` answers messages as not queued. */
export class InMemoryDeliveryQueue implements DeliveryQueue {
  readonly sent: { message: DeliveryMessage; delaySeconds?: number }[] = [];
  /** How many `send` calls were made. */
  sends = 0;
  private refused: (message: DeliveryMessage) => boolean = () => false;
  private down: Error | undefined;
  /** Runs at each send, before anything is queued (to look at the other stores at that moment). */
  onSend: (messages: readonly DeliveryMessage[]) => void = () => {};

  /** Messages for which `when` holds are answered as not queued (a send of only those throws). */
  refuse(when: (message: DeliveryMessage) => boolean): void {
    this.refused = when;
  }

  /** Every send throws `error` until called again without one. */
  unavailable(error: Error | undefined): void {
    this.down = error;
  }

  messages(): DeliveryMessage[] {
    return this.sent.map((entry) => entry.message);
  }

  async send(messages: readonly DeliveryMessage[], delaySeconds?: number): Promise<DeliveryMessage[]> {
    this.sends += 1;
    this.onSend(messages);
    if (this.down) throw this.down;
    const failed = messages.filter((message) => this.refused(message));
    if (messages.length > 0 && failed.length === messages.length)
      throw new Error('no message could be queued');
    for (const message of messages) {
      if (!failed.includes(message))
        this.sent.push({
          message: structuredClone(message),
          ...(delaySeconds !== undefined && { delaySeconds }),
        });
    }
    return failed.map((message) => ({ ...message }));
  }
}

/** Operational events as published, in order. */
export class RecordingOperationalEvents implements OperationalEvents {
  readonly published: OperationalEvent[] = [];

  async publish(events: readonly OperationalEvent[]): Promise<void> {
    this.published.push(...events);
  }
}

export type ListenerAnswer = (request: ListenerRequest) => ListenerResult | Promise<ListenerResult>;

/** A listener that answers each POST as the test says (200 in 12 ms unless told), keeping every request. */
export class ScriptedListener implements ListenerPoster {
  readonly requests: ListenerRequest[] = [];
  private answerWith: ListenerAnswer = () => respond(200);

  answer(answer: ListenerAnswer): this {
    this.answerWith = answer;
    return this;
  }

  async post(request: ListenerRequest): Promise<ListenerResult> {
    this.requests.push(request);
    return this.answerWith(request);
  }
}

/** A listener's HTTP answer as the listener client reports it. */
export function respond(
  status: number,
  options: { body?: string; retryAfter?: string } = {},
): ListenerResult {
  return {
    outcome: {
      kind: 'response',
      status,
      ...(options.retryAfter !== undefined && { retryAfter: options.retryAfter }),
    },
    durationMs: 12,
    ...(options.body !== undefined && { responseSnippet: options.body }),
  };
}

/** A clock the test moves: `now` for the deps, `millis` for the circuit breakers. */
export class TestClock {
  constructor(private current: Date) {}

  readonly now = (): Date => new Date(this.current);
  readonly millis = (): number => this.current.getTime();

  set(date: Date): void {
    this.current = new Date(date);
  }

  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

/** The rate buckets in a map, by the rule both adapters apply (lambdas/core/rate-limit.ts). */
export class InMemoryRateLimiter implements RateLimiter {
  readonly dueAt = new Map<string, number>();

  async reserve(key: string, perSecond: number, nowMs: number, horizonMs: number): Promise<RateReservation> {
    const step = takeSlot(this.dueAt.get(key), perSecond, nowMs, horizonMs);
    if (step.granted) this.dueAt.set(key, step.nextDueMs);
    return reservationOf(step);
  }
}
