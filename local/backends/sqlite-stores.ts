import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { DynamoApiKeyStore } from '../../lambdas/adapters/dynamo-api-keys.js';
import { createDocumentClient } from '../../lambdas/adapters/dynamo-common.js';
import { DynamoDeliveryStore } from '../../lambdas/adapters/dynamo-deliveries.js';
import { DynamoEventStore } from '../../lambdas/adapters/dynamo-events.js';
import { DynamoSubscriptionStore } from '../../lambdas/adapters/dynamo-subscriptions.js';
import type {
  ApiKeyStore,
  DeliveryStore,
  EventStore,
  RejectedEventStore,
  SubscriptionStore,
} from '../../lambdas/core/ports.js';
import { startDynamoServer } from '../aws-emulators/dynamo-server.js';
import { ensureTable, TABLE_NAME } from './aws-emulators.js';
import { LOCAL_CREDENTIALS, REGION } from './backend.js';

/** The stores of the embedded default. */
export interface LocalStores {
  readonly subscriptions: SubscriptionStore;
  readonly events: EventStore & RejectedEventStore;
  readonly deliveries: DeliveryStore;
  readonly apiKeys: ApiKeyStore;
  close(): Promise<void>;
}

/** TEMPORARY until local/sqlite/stores.ts lands: the stores on dynalite beside the SQLite queues. */
export async function openStores(_db: DatabaseSync, dataDir: string): Promise<LocalStores> {
  mkdirSync(join(dataDir, 'dynamodb'), { recursive: true });
  const dynamo = await startDynamoServer({ port: 0, path: join(dataDir, 'dynamodb') });
  await ensureTable(dynamo.endpoint);
  const client = createDocumentClient({
    endpoint: dynamo.endpoint,
    region: REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const events = new DynamoEventStore(client, TABLE_NAME);
  return {
    subscriptions: new DynamoSubscriptionStore(client, TABLE_NAME),
    events,
    deliveries: new DynamoDeliveryStore(client, TABLE_NAME),
    apiKeys: new DynamoApiKeyStore(client, TABLE_NAME),
    async close() {
      client.destroy();
      await dynamo.stop();
    },
  };
}
