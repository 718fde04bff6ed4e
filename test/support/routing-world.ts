import type { RoutingDeps, RoutingResult } from '../../lambdas/core/routing.js';
import { routeEvents } from '../../lambdas/core/routing.js';
import { exampleData } from './factories.js';
import {
  InMemoryDeliveryQueue,
  InMemoryEventStore,
  InMemorySubscriptionStore,
  TestClock,
} from './in-memory-ports.js';
import { anEventBridgeEnvelope } from './sqs-events.js';

/*
 * routeEvents's world for the use-case tests (test/unit/core/routing*.test.ts): in-memory ports on the
 * test's clock, the envelopes the tests route, and what routing is expected to keep and queue.
 */

export const NOW = new Date('2026-03-04T05:06:07.000Z');
/** When EventBridge received the events (their envelope's `time`): a little before they are routed. */
export const EB_TIME = '2026-03-04T05:06:05.000Z';
export const RETENTION_DAYS = 30;

export interface EnvelopeOptions {
  readonly ebId?: string;
  readonly producerId?: string;
  readonly brand?: string;
  /** The envelope's `time`; EB_TIME unless given. */
  readonly time?: string;
  readonly detailType?: string;
  readonly data?: Record<string, unknown>;
}

/** An envelope of an acme Object.OnNew with the catalogue's example data, unless told otherwise. */
export function anOnNew(options: EnvelopeOptions = {}) {
  const {
    ebId = 'eb-1',
    producerId,
    brand = 'acme',
    time = EB_TIME,
    detailType = 'Object.OnNew',
    data = exampleData('Object', 'OnNew'),
  } = options;
  return anEventBridgeEnvelope({
    id: ebId,
    detailType,
    time,
    detail: { brand, ...(producerId && { id: producerId }), data },
  });
}

/** The event as a delivery message carries it. */
export const inlineEvent = (receivedAt = EB_TIME) => ({
  entity: 'Object',
  event: 'OnNew',
  receivedAt,
  data: exampleData('Object', 'OnNew'),
});

/** The claim routing keeps for a producer id of acme: the key and who owns it, never the data. */
export const claimOf = (key: string, envelopeId = 'eb-1', receivedAt = EB_TIME) => ({
  claim: { key, brand: 'acme', envelopeId, receivedAt },
  expiresAt: Date.parse(receivedAt) / 1000 + RETENTION_DAYS * 24 * 60 * 60,
});

export class RoutingWorld {
  readonly subscriptions = new InMemorySubscriptionStore();
  readonly events = new InMemoryEventStore();
  readonly queue = new InMemoryDeliveryQueue();
  readonly clock = new TestClock(NOW);
  readonly deps: RoutingDeps = {
    subscriptions: this.subscriptions,
    events: this.events,
    rejected: this.events,
    queue: this.queue,
    now: this.clock.now,
    retentionDays: RETENTION_DAYS,
  };

  /** Routes the envelopes as one batch; each result's value, or its error's message. */
  async route(...envelopes: unknown[]): Promise<(RoutingResult | string)[]> {
    const settled = await routeEvents(this.deps, envelopes);
    return settled.map((outcome) =>
      outcome.status === 'fulfilled' ? outcome.value : String((outcome.reason as Error).message),
    );
  }

  /** One field of every message queued, in order. */
  queuedField(field: 'subscriptionId' | 'eventKey' | 'deliveryId'): string[] {
    return this.queue.messages().map((message) => message[field]);
  }
}
