import { DynamoParkingStore } from '../adapters/dynamo-parking.js';
import { DynamoRateLimiter } from '../adapters/dynamo-rate-limiter.js';
import { EventBridgeOperationalEvents } from '../adapters/eventbridge-operational-events.js';
import { createListenerClient, type ListenerClient } from '../adapters/listener-client.js';
import type { Config } from '../config.js';
import { CircuitBreakers, DEFAULT_BREAKER_SETTINGS, InFlightLimiter } from '../core/circuit-breaker.js';
import type { DeliveryDeps } from '../core/delivery.js';
import type { OperationalEvents } from '../core/ports.js';
import { documentClient, eventBridgeClient } from './clients.js';
import { deliveryQueueFor } from './deps.js';
import { logger } from './logger.js';
import { storesWithSecretsFor } from './secrets.js';

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
    refusedLoopbackPorts: config.refusedListenerPorts,
    timeoutMs: config.deliveryTimeoutMs,
  });
  return {
    ...storesWithSecretsFor(config),
    queue: deliveryQueueFor(config),
    listener,
    now: () => new Date(),
    retrySchedule: config.retrySchedule,
    retentionDays: config.retentionDays,
    disableAfterDays: config.disableAfterDays,
    deliveryLog: config.deliveryLog,
    // Listener isolation state lives as long as these deps: the container (lambdas/core/circuit-breaker.ts).
    breakers: new CircuitBreakers(
      config.circuitCooldownSeconds
        ? {
            ...DEFAULT_BREAKER_SETTINGS,
            cooldownMs: config.circuitCooldownSeconds[0] * 1000,
            maxCooldownMs: config.circuitCooldownSeconds[1] * 1000,
          }
        : DEFAULT_BREAKER_SETTINGS,
    ),
    limiter: new InFlightLimiter(),
    rateLimiter: new DynamoRateLimiter(documentClient(), config.tableName),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    // An open circuit's deliveries wait in the table, not in the queue (lambdas/core/parking.ts).
    parking: new DynamoParkingStore(documentClient(), config.tableName),
    operational: config.eventBusName
      ? new EventBridgeOperationalEvents(eventBridgeClient(), config.eventBusName)
      : logOnly,
  };
}
