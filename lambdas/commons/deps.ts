import { DynamoDeliveryStore } from '../adapters/dynamo-deliveries.js';
import { DynamoEventStore } from '../adapters/dynamo-events.js';
import { DynamoSubscriptionStore } from '../adapters/dynamo-subscriptions.js';
import { LaneDeliveryQueue } from '../adapters/lane-delivery-queue.js';
import { SqsDeliveryQueue } from '../adapters/sqs-delivery-queue.js';
import type { Config } from '../config.js';
import type { DeliveryQueue } from '../core/ports.js';
import type { RoutingDeps } from '../core/routing.js';
import { documentClient, sqsClient } from './clients.js';

/*
 * Dependencies of the handlers, built on the container's clients. One module per handler
 * (service-deps.ts, delivery-deps.ts, routingDeps here), so a bundle carries only what its handler
 * uses: the route function has no listener client, SSRF guard or EventBridge client.
 */

/**
 * The stores every handler shares, built on the container's clients, with secret fields as stored: the
 * handlers that read or write secrets take them through storesWithSecretsFor (secrets.ts).
 */
export function storesFor(config: Config) {
  const client = documentClient();
  return {
    subscriptions: new DynamoSubscriptionStore(client, config.tableName),
    deliveries: new DynamoDeliveryStore(client, config.tableName),
    events: new DynamoEventStore(client, config.tableName),
  };
}

/** The delivery queue, with each dedicated lane's brand sent to its own queue (DEDICATED_LANES). */
export function deliveryQueueFor(config: Config): DeliveryQueue {
  if (!config.deliveryQueueUrl) throw new Error('DELIVERY_QUEUE_URL is not set');
  const shared = new SqsDeliveryQueue(sqsClient(), config.deliveryQueueUrl);
  const lanes = Object.entries(config.dedicatedLanes);
  if (lanes.length === 0) return shared;
  return new LaneDeliveryQueue(
    shared,
    new Map(lanes.map(([brand, url]) => [brand, new SqsDeliveryQueue(sqsClient(), url)])),
  );
}

export function routingDeps(config: Config): RoutingDeps {
  const events = new DynamoEventStore(documentClient(), config.tableName);
  return {
    // Matching reads no secret: route gets the stored form and no key to decrypt it (secrets.ts).
    subscriptions: new DynamoSubscriptionStore(documentClient(), config.tableName),
    events,
    rejected: events,
    queue: deliveryQueueFor(config),
    now: () => new Date(),
    retentionDays: config.retentionDays,
  };
}
