import type { DatabaseSync } from 'node:sqlite';
import type {
  ApiKeyStore,
  DeliveryStore,
  EventStore,
  RejectedEventStore,
  SubscriptionStore,
} from '../../../lambdas/core/ports.js';
import { SqliteApiKeyStore } from './api-keys.js';
import { SqliteDeliveryStore } from './deliveries.js';
import { SqliteEventStore } from './events.js';
import { createStoreSchema } from './schema.js';
import { SqliteSubscriptionStore } from './subscriptions.js';

/*
 * The embedded default's store: the ports of lambdas/core/ports.ts on the service's SQLite file
 * (../database.ts), beside the queues. Each store prepares its statements once; every method runs all its
 * SQL before it returns its promise, so a caller may put several calls (and queue operations) in one
 * inTransaction. Expiry of old records: ./expiry.ts.
 */

export interface SqliteStores {
  readonly subscriptions: SubscriptionStore;
  readonly events: EventStore & RejectedEventStore;
  readonly deliveries: DeliveryStore;
  readonly apiKeys: ApiKeyStore;
}

/** The stores on `db`, creating their tables the first time. */
export function createSqliteStores(db: DatabaseSync): SqliteStores {
  createStoreSchema(db);
  return {
    subscriptions: new SqliteSubscriptionStore(db),
    events: new SqliteEventStore(db),
    deliveries: new SqliteDeliveryStore(db),
    apiKeys: new SqliteApiKeyStore(db),
  };
}
