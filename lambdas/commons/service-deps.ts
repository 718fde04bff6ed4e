import { defaultResolver } from '../adapters/ssrf-network.js';
import type { Config } from '../config.js';
import type { ServiceDeps } from '../core/subscriptions-service.js';
import { deliveryQueueFor } from './deps.js';
import { storesWithSecretsFor } from './secrets.js';

/** The API's dependencies. */
export function serviceDeps(config: Config): ServiceDeps {
  return {
    ...storesWithSecretsFor(config),
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
