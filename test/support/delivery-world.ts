import { CircuitBreakers, InFlightLimiter } from '../../lambdas/core/circuit-breaker.js';
import { type DeliveryDeps, type DeliveryResult, deliverMessage } from '../../lambdas/core/delivery.js';
import { deliveryIdFor } from '../../lambdas/core/ids.js';
import type { DeliveryEvent, DeliveryMessage, Subscription } from '../../lambdas/core/model.js';
import type { ListenerRequest } from '../../lambdas/core/ports.js';
import { verifyWebhook, WebhookVerificationError } from '../../lambdas/core/verify.js';
import { exampleData } from './factories.js';
import {
  InMemoryDeliveryQueue,
  InMemoryDeliveryStore,
  InMemoryEventStore,
  InMemoryRateLimiter,
  InMemorySubscriptionStore,
  RecordingOperationalEvents,
  ScriptedListener,
  TestClock,
} from './in-memory-ports.js';
import { aStoredSubscription } from './stored-items.js';

/*
 * deliverMessage's world for the use-case tests (test/unit/core/delivery*.test.ts): in-memory ports, the
 * real circuit breakers and in-flight limiter on the test's clock, and the deliveries the tests make.
 */

export const NOW = new Date('2026-03-04T05:06:07.000Z');
export const DAY_MS = 24 * 60 * 60 * 1000;
export const LISTENER_URL = 'https://listener.example.com/hook';

/** acme's Object.OnNew `acme/evt-1` with the catalogue's example data, as a delivery message carries it. */
export const anEvent = (): DeliveryEvent => ({
  entity: 'Object',
  event: 'OnNew',
  receivedAt: '2026-03-04T05:06:00.000Z',
  data: exampleData('Object', 'OnNew'),
});

export interface Delivery {
  readonly subscription: Subscription;
  readonly message: DeliveryMessage;
}

export class DeliveryWorld {
  readonly subscriptions = new InMemorySubscriptionStore();
  readonly deliveries = new InMemoryDeliveryStore();
  readonly events = new InMemoryEventStore();
  readonly queue = new InMemoryDeliveryQueue();
  readonly listener = new ScriptedListener();
  readonly operational = new RecordingOperationalEvents();
  readonly clock = new TestClock(NOW);
  readonly rateLimiter = new InMemoryRateLimiter();
  /** The deps deliverMessage gets: a 3-attempt schedule, auto-disable after 5 days, the full log. */
  deps: DeliveryDeps = {
    subscriptions: this.subscriptions,
    deliveries: this.deliveries,
    events: this.events,
    queue: this.queue,
    listener: this.listener,
    operational: this.operational,
    now: this.clock.now,
    retrySchedule: [0, 5, 10],
    retentionDays: 30,
    disableAfterDays: 5,
    deliveryLog: 'full',
    breakers: new CircuitBreakers(undefined, this.clock.millis),
    limiter: new InFlightLimiter(),
    rateLimiter: this.rateLimiter,
    sleep: async (ms) => this.clock.advance(ms),
  };

  /** Stores a subscription (with a custom header) and builds the message of acme/evt-1 for it. */
  aDelivery(overrides: Partial<Subscription> = {}): Delivery {
    const subscription = aStoredSubscription({
      url: LISTENER_URL,
      headers: { 'X-Team': 'blue' },
      ...overrides,
    });
    this.subscriptions.seed(subscription);
    const event = anEvent();
    return {
      subscription,
      message: {
        v: 1,
        brand: subscription.brand,
        subscriptionId: subscription.id,
        deliveryId: deliveryIdFor(event.receivedAt, 'acme/evt-1', subscription.id),
        eventKey: 'acme/evt-1',
        event,
      },
    };
  }

  /**
   * Attempt number `attempt` (1 unless given) of the message's schedule: the message as the retries
   * before it would have queued it, carrying `attempt - 1` more attempts made.
   */
  deliver(message: DeliveryMessage, attempt = 1): Promise<DeliveryResult> {
    const made = attempt - 1;
    return deliverMessage(this.deps, {
      ...message,
      attemptsBefore: (message.attemptsBefore ?? 0) + made,
      runAttemptsBefore: (message.runAttemptsBefore ?? 0) + made,
    });
  }

  recorded({ message }: Delivery) {
    return this.deliveries.current(message.subscriptionId, message.deliveryId);
  }

  subscriptionNow({ subscription }: Delivery) {
    return this.subscriptions.current(subscription.brand, subscription.id);
  }

  /** Whether `request` carries a valid signature by `secret` alone. */
  verifies(secret: string, request: Pick<ListenerRequest, 'headers' | 'body'>): boolean {
    try {
      verifyWebhook({
        headers: request.headers,
        body: request.body,
        secrets: secret,
        now: this.clock.now(),
        parseJson: false,
      });
      return true;
    } catch (error) {
      if (error instanceof WebhookVerificationError) return false;
      throw error;
    }
  }
}
