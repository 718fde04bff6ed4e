import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { apiClient, type CreatedSubscription } from './support/api-client.js';
import { commboxEvent, eventBridgeClient, putEvents } from './support/events.js';
import {
  createSubscription,
  freshDataDir,
  removeDataDir,
  subscriptionSpec,
  uniqueMarker,
} from './support/fixtures.js';
import { Listener } from './support/listener.js';
import {
  BRANDS,
  capturedLogs,
  type LocalProcess,
  startLocalProcess,
  TEST_ENV,
} from './support/local-process.js';
import { expectNoSecretsLeaked } from './support/secrets.js';
import { waitUntil } from './support/wait.js';
import { verifiesWith } from './support/webhooks.js';

/*
 * Secrets at rest in the embedded default (either backend), with the key file in the data folder: what the
 * stored bytes show, and a restart on the same key file. Reading records written in clear is a unit test
 * of the decorator (test/unit/adapters/encrypting-subscription-store.test.ts).
 */

/** A fresh temporary folder; the service's data folder is made inside it by the service itself. */
let root: string | undefined;
let dataDir: string | undefined;
let stack: LocalProcess | undefined;
const listeners: Listener[] = [];

afterEach(async () => {
  await stack?.stop();
  stack = undefined;
  await Promise.all(listeners.splice(0).map((listener) => listener.close()));
  await removeDataDir(root);
  root = undefined;
  dataDir = undefined;
}, 30_000);

afterAll(() => expectNoSecretsLeaked(capturedLogs));

async function start() {
  root ??= await freshDataDir();
  dataDir = join(root, 'data');
  await stack?.stop();
  stack = await startLocalProcess({ dataDir, env: TEST_ENV });
  return { acme: apiClient(stack.url, BRANDS.acme.key), producer: eventBridgeClient(stack.url) };
}

/**
 * Everything stored, as a copy of the data folder, an export or a Scan permission would reveal it: the raw
 * bytes of the SQLite file and its write-ahead log, or every item of the emulator mode's table.
 */
async function storedData(): Promise<string> {
  const file = (stack as LocalProcess).databaseFile();
  if (file !== undefined) {
    return [file, `${file}-wal`]
      .filter((path) => existsSync(path))
      .map((path) => readFileSync(path).toString('latin1'))
      .join('');
  }
  const { dynamoEndpoint, tableName } = (stack as LocalProcess).services();
  const client = new DynamoDBClient({
    endpoint: dynamoEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    return JSON.stringify((await client.send(new ScanCommand({ TableName: tableName }))).Items ?? []);
  } finally {
    client.destroy();
  }
}

/** Puts one acme Object.OnNew and waits until `listener` received it. */
async function deliverOne(producer: ReturnType<typeof eventBridgeClient>, listener: Listener) {
  const before = listener.requests.length;
  await putEvents(producer, [
    commboxEvent('acme', 'Object.OnNew', { Id: 71, StreamId: 71, Message: 'at rest' }),
  ]);
  return waitUntil(async () => listener.requests[before], { timeoutMs: 20_000, what: () => 'the delivery' });
}

async function aSubscription(api: ReturnType<typeof apiClient>): Promise<[CreatedSubscription, Listener]> {
  const listener = await Listener.start();
  listeners.push(listener);
  return [await createSubscription(api, subscriptionSpec(uniqueMarker('at-rest'), listener.url)), listener];
}

describe('secrets at rest with the key file', { timeout: 120_000 }, () => {
  it('stores no signing secret in clear, keeps the key file and the data folder private, and signs with it after a restart', async () => {
    const first = await start();
    const [subscription, listener] = await aSubscription(first.acme);
    expect(verifiesWith(await deliverOne(first.producer, listener), subscription.secret)).toBe(true);

    const stored = await storedData();
    expect(stored).toContain(subscription.id);
    expect(stored).not.toContain(subscription.secret);
    expect(stored).not.toContain('whsec_');
    expect(stored).toContain('enc:v1:file.');
    expect(statSync(join(dataDir ?? '', 'secret.key')).mode & 0o777).toBe(0o600);
    // The folder the service made holds payloads too: only its owner may open it.
    expect(statSync(dataDir ?? '').mode & 0o777).toBe(0o700);

    const restarted = await start();
    expect(verifiesWith(await deliverOne(restarted.producer, listener), subscription.secret)).toBe(true);
  });
});
