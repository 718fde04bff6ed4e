import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.js';

/*
 * The in-flight limit of the SQLite queues, through the whole local stack: with
 * WEBHOOKS_QUEUE_INFLIGHT_LIMIT's option at 3, a listener that holds every request 300 ms never sees more
 * than 3 at once, however many deliveries wait (16 deliver loops would otherwise take them all), and every
 * delivery still arrives. Loopback only.
 */

const LIMIT = 3;
const EVENTS = 9;
const KEY = { brand: 'acme', key: 'acme-key-123456' };

let dir: string;
let stack: LocalStack;
let listener: Server;
let open = 0;
let mostOpen = 0;
let received = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'inflight-test-'));
  listener = createServer((request, response) => {
    open += 1;
    mostOpen = Math.max(mostOpen, open);
    request.resume();
    request.on('end', () =>
      setTimeout(() => {
        open -= 1;
        received += 1;
        response.writeHead(204).end();
      }, 300),
    );
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  stack = await startLocalStack({
    port: 0,
    dataDir: dir,
    apiKeys: [KEY],
    queueInFlightLimit: LIMIT,
    timeoutMs: 5_000,
  });
}, 30_000);

afterAll(async () => {
  await stack?.stop();
  await new Promise((resolve) => listener?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('the in-flight limit of the local queues', { timeout: 30_000 }, () => {
  it('bounds the deliveries in progress at once, and every delivery still arrives', async () => {
    const { port } = listener.address() as AddressInfo;
    const created = await fetch(`${stack.url}/subscriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'held',
        entity: 'Object',
        events: ['OnNew'],
        url: `http://127.0.0.1:${port}/hook`,
      }),
    });
    expect(created.status).toBe(201);
    const producer = new EventBridgeClient({
      endpoint: stack.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const output = await producer.send(
      new PutEventsCommand({
        Entries: Array.from({ length: EVENTS }, (_, index) => ({
          Source: 'commbox',
          DetailType: 'Object.OnNew',
          Detail: JSON.stringify({ brand: KEY.brand, data: { Id: 1000 + index, StreamId: 5 } }),
        })),
      }),
    );
    producer.destroy();
    expect(output.FailedEntryCount).toBe(0);
    const deadline = Date.now() + 20_000;
    while (received < EVENTS && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(received).toBe(EVENTS);
    expect(mostOpen).toBe(LIMIT);
  });
});
