import { defaultResolver } from '../adapters/ssrf-network.js';
import type { Config } from '../config.js';
import type { ServiceDeps } from '../core/subscriptions-service.js';
import { deliveryQueueFor, storesFor } from './deps.js';

/** The API's dependencies. */
export function serviceDeps(config: Config): ServiceDeps {
  return {
    ...storesFor(config),
    queue: deliveryQueueFor(config),
    policy: {
      allowLocalTargets: config.allowLocalTargets,
      refusedLoopbackPorts: config.refusedListenerPorts,
    },
    resolve: defaultResolver,
    maxSubscriptionsPerBrand: config.maxSubscriptionsPerBrand,
    now: () => new Date(),
  };
}
