import { randomBytes } from 'node:crypto';
import type {
  ApiKeyStore,
  ConsoleSessionStore,
  DeliveryStore,
  EventStore,
  ParkingStore,
  RateLimiter,
  RejectedEventStore,
  SubscriptionStore,
} from '../../lambdas/core/ports.js';
import { apiKeyContract } from './api-keys.contract.js';
import { consoleSessionContract } from './console-sessions.contract.js';
import { deliveryContract } from './deliveries.contract.js';
import { eventContract } from './events.contract.js';
import { parkingContract } from './parking.contract.js';
import { rateLimiterContract } from './rate-limiter.contract.js';
import { subscriptionContract } from './subscriptions.contract.js';

/*
 * The store contract: port-level tests (lambdas/core/ports.ts) that every store backend must pass, the
 * SQLite stores of the embedded default and the DynamoDB adapters alike (one test file per backend calls
 * describeStoreContract). Tests share one store per file, so each uses brands and ids of its own.
 */

export interface Stores {
  readonly subscriptions: SubscriptionStore;
  readonly events: EventStore & RejectedEventStore;
  readonly deliveries: DeliveryStore;
  readonly apiKeys: ApiKeyStore;
  readonly consoleSessions: ConsoleSessionStore;
  readonly rateLimiter: RateLimiter;
  readonly parking: ParkingStore;
}

/** The stores under test, ready by the time the tests run (built in the backend file's beforeAll). */
export type StoresUnderTest = () => Stores;

/** A brand no other test uses. */
export const aBrand = () => `brand-${randomBytes(5).toString('hex')}`;

export function describeStoreContract(stores: StoresUnderTest): void {
  subscriptionContract(stores);
  eventContract(stores);
  deliveryContract(stores);
  apiKeyContract(stores);
  consoleSessionContract(stores);
  rateLimiterContract(stores);
  parkingContract(stores);
}
