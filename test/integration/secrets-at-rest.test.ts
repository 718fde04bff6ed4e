import { statSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { apiClient, type CreatedSubscription } from './support/api-client.js';
import { commboxEvent, eventBridgeClient, putEvents } from './support/events.js';
import {
  assertStatus,
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
 * Secrets at rest in the embedded default, with the key file in the data folder: what a Scan of the table
 * shows, an upgrade from a folder written without encryption, and a restart on the same key file.
 */

let dataDir: string | undefined;
let stack: LocalProcess | undefined;
const listeners: Listener[] = [];

afterEach(async () => {
  await stack?.stop();
  stack = undefined;
  await Promise.all(listeners.splice(0).map((listener) => listener.close()));
  await removeDataDir(dataDir);
  dataDir = undefined;
}, 30_000);

afterAll(() => expectNoSecretsLeaked(capturedLogs));

async function start(options: { keyFile: boolean }) {
  dataDir ??= await freshDataDir();
  await stack?.stop();
  stack = await startLocalProcess({
    dataDir,
    env: { ...TEST_ENV, ...(options.keyFile ? { SECRETS_KEY_FILE: join(dataDir, 'secret.key') } : {}) },
  });
  return { acme: apiClient(stack.url, BRANDS.acme.key), producer: eventBridgeClient(stack.url) };
}

/** Every item of the table, as an export or a Scan permission would reveal it. */
async function scanTable(): Promise<string> {
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
  it('keeps a folder written in clear working, encrypts each record when next written, and survives a restart', async () => {
    const before = await start({ keyFile: false });
    const [old, oldListener] = await aSubscription(before.acme);
    // The control: without a key, the Scan does show the secret.
    expect(await scanTable()).toContain(old.secret);

    const upgraded = await start({ keyFile: true });
    expect(verifiesWith(await deliverOne(upgraded.producer, oldListener), old.secret)).toBe(true);
    const [fresh, freshListener] = await aSubscription(upgraded.acme);
    const afterCreate = await scanTable();
    expect(afterCreate).not.toContain(fresh.secret);
    expect(afterCreate).toContain(old.secret);

    assertStatus(await upgraded.acme.patch(`/subscriptions/${old.id}`, { description: 'touched' }), 200);
    const afterUpdate = await scanTable();
    expect(afterUpdate).not.toContain('whsec_');
    expect(afterUpdate).toContain('enc:v1:file.');
    expect(statSync(join(dataDir ?? '', 'secret.key')).mode & 0o777).toBe(0o600);

    const restarted = await start({ keyFile: true });
    const [toOld, toFresh] = [
      deliverOne(restarted.producer, oldListener),
      deliverOne(restarted.producer, freshListener),
    ];
    expect(verifiesWith(await toOld, old.secret)).toBe(true);
    expect(verifiesWith(await toFresh, fresh.secret)).toBe(true);
  });
});
