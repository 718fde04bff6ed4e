import { DynamoDeliveryStore } from '../adapters/dynamo-deliveries.js';
import { DynamoEventStore } from '../adapters/dynamo-events.js';
import { DynamoSubscriptionStore } from '../adapters/dynamo-subscriptions.js';
import { EventBridgeOperationalEvents } from '../adapters/eventbridge-operational-events.js';
import { SqsDeliveryQueue } from '../adapters/sqs-delivery-queue.js';
import type { Config } from '../config.js';
import { CircuitBreakers, InFlightLimiter } from '../core/circuit-breaker.js';
import type { DeliveryDeps } from '../core/delivery.js';
import { createListenerClient, type ListenerClient } from '../core/listener-client.js';
import type { OperationalEvents } from '../core/ports.js';
import type { RoutingDeps } from '../core/routing.js';
import { defaultResolver } from '../core/ssrf.js';
import type { ServiceDeps } from '../core/subscriptions-service.js';
import { documentClient, eventBridgeClient, sqsClient } from './clients.js';
import { logger } from './logger.js';

/** The stores and queue every handler shares, built on the container's clients. */
function storesFor(config: Config) {
  const client = documentClient();
  return {
    subscriptions: new DynamoSubscriptionStore(client, config.tableName),
    deliveries: new DynamoDeliveryStore(client, config.tableName),
  };
}

function deliveryQueueFor(config: Config): SqsDeliveryQueue {
  if (!config.deliveryQueueUrl) throw new Error('DELIVERY_QUEUE_URL is not set');
  return new SqsDeliveryQueue(sqsClient(), config.deliveryQueueUrl);
}

export function serviceDeps(config: Config): ServiceDeps {
  return {
    ...storesFor(config),
    queue: deliveryQueueFor(config),
    policy: { allowLocalTargets: config.allowLocalTargets },
    resolve: defaultResolver,
    now: () => new Date(),
    retentionDays: config.retentionDays,
  };
}

export function routingDeps(config: Config): RoutingDeps {
  const events = new DynamoEventStore(documentClient(), config.tableName);
  return {
    subscriptions: new DynamoSubscriptionStore(documentClient(), config.tableName),
    events,
    rejected: events,
    queue: deliveryQueueFor(config),
    now: () => new Date(),
    retentionDays: config.retentionDays,
  };
}

let listener: ListenerClient | undefined;

/** Without a bus (unit tests), operational events are only logged. */
const logOnly: OperationalEvents = {
  publish: async (events) => {
    for (const event of events) logger.warn(`operational event ${event.type}`, { ...event });
  },
};

/** The deliver function's dependencies; its keep-alive listener client lives as long as the container. */
export function deliveryDeps(config: Config): DeliveryDeps {
  listener ??= createListenerClient({
    allowLocalTargets: config.allowLocalTargets,
    timeoutMs: config.deliveryTimeoutMs,
  });
  return {
    ...storesFor(config),
    queue: deliveryQueueFor(config),
    listener,
    now: () => new Date(),
    retrySchedule: config.retrySchedule,
    retentionDays: config.retentionDays,
    disableAfterDays: config.disableAfterDays,
    deliveryLog: config.deliveryLog,
    // Listener isolation state lives as long as these deps: the container (lambdas/core/circuit-breaker.ts).
    breakers: new CircuitBreakers(),
    limiter: new InFlightLimiter(),
    operational: config.eventBusName
      ? new EventBridgeOperationalEvents(eventBridgeClient(), config.eventBusName)
      : logOnly,
  };
}
