import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll } from 'vitest';
import { DynamoApiKeyStore } from '../../lambdas/adapters/dynamo-api-keys.js';
import { createDocumentClient } from '../../lambdas/adapters/dynamo-common.js';
import { DynamoConsoleSessionStore } from '../../lambdas/adapters/dynamo-console-sessions.js';
import { DynamoDeliveryStore } from '../../lambdas/adapters/dynamo-deliveries.js';
import { DynamoEventStore } from '../../lambdas/adapters/dynamo-events.js';
import { DynamoParkingStore } from '../../lambdas/adapters/dynamo-parking.js';
import { DynamoRateLimiter } from '../../lambdas/adapters/dynamo-rate-limiter.js';
import { DynamoSubscriptionStore } from '../../lambdas/adapters/dynamo-subscriptions.js';
import { type DynamoServer, startDynamoServer } from '../../local/aws-emulators/dynamo-server.js';
import { createTableInput } from '../../local/table.js';
import { describeStoreContract, type Stores } from './stores.contract.js';

/* The store contract against the DynamoDB adapters the AWS stack deploys, on the emulator (dynalite). */

const TABLE_NAME = 'webhooks-contract';

let server: DynamoServer;
let client: DynamoDBDocumentClient;
let stores: Stores;

beforeAll(async () => {
  server = await startDynamoServer({ port: 0 });
  const config = {
    endpoint: server.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  };
  const raw = new DynamoDBClient(config);
  await raw.send(new CreateTableCommand(createTableInput(TABLE_NAME)));
  raw.destroy();
  client = createDocumentClient(config);
  stores = {
    subscriptions: new DynamoSubscriptionStore(client, TABLE_NAME),
    events: new DynamoEventStore(client, TABLE_NAME),
    deliveries: new DynamoDeliveryStore(client, TABLE_NAME),
    apiKeys: new DynamoApiKeyStore(client, TABLE_NAME),
    consoleSessions: new DynamoConsoleSessionStore(client, TABLE_NAME),
    rateLimiter: new DynamoRateLimiter(client, TABLE_NAME),
    parking: new DynamoParkingStore(client, TABLE_NAME),
  };
});

afterAll(async () => {
  client?.destroy();
  await server?.stop();
});

describeStoreContract(() => stores);
