import type { DatabaseSync } from 'node:sqlite';
import type {
  ApiKeyStore,
  ConsoleSessionStore,
  DeliveryStore,
  EventStore,
  ParkingStore,
  RateLimiter,
  RejectedEventStore,
  SubscriptionStore,
} from '../../../lambdas/core/ports.js';
import { SqliteApiKeyStore } from './api-keys.js';
import { SqliteConsoleSessionStore } from './console-sessions.js';
import { SqliteDeliveryStore } from './deliveries.js';
import { SqliteEventStore } from './events.js';
import { SqliteParkingStore } from './parking.js';
import { SqliteRateLimiter } from './rate-limiter.js';
import { createStoreSchema } from './schema.js';
import { SqliteSubscriptionStore } from './subscriptions.js';
import { turnBatchFor } from './turn-batch.js';

/*
 * The embedded default's store: the ports of lambdas/core/ports.ts on the service's SQLite file
 * (../database.ts), beside the queues. Each store prepares its statements once. The delivery path's writes
 * (claims, attempts, health marks) commit together per event-loop turn (./turn-batch.ts); called inside
 * the caller's inTransaction, every method runs at once as part of it. Expiry of old records: ./expiry.ts.
 */

export interface SqliteStores {
  readonly subscriptions: SubscriptionStore;
  readonly events: EventStore & RejectedEventStore;
  readonly deliveries: DeliveryStore;
  readonly apiKeys: ApiKeyStore;
  readonly consoleSessions: ConsoleSessionStore;
  readonly rateLimiter: RateLimiter;
  readonly parking: ParkingStore;
}

/** The stores on `db`, creating their tables the first time. */
export function createSqliteStores(db: DatabaseSync): SqliteStores {
  createStoreSchema(db);
  const batch = turnBatchFor(db);
  return {
    subscriptions: new SqliteSubscriptionStore(db, batch),
    events: new SqliteEventStore(db, batch),
    deliveries: new SqliteDeliveryStore(db, batch),
    apiKeys: new SqliteApiKeyStore(db),
    consoleSessions: new SqliteConsoleSessionStore(db),
    rateLimiter: new SqliteRateLimiter(db, batch),
    parking: new SqliteParkingStore(db, batch),
  };
}
