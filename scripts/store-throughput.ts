/**
 * `npx tsx scripts/store-throughput.ts [events]`: what the SQLite store (local/sqlite/stores/) costs the
 * embedded pipeline per delivery, alone, on a WAL file in the system's temp folder. Per event the route
 * hop claims its id and reads the active subscriptions of its entity; per delivery (fan-out 5) the
 * deliver hop reads its subscription and records a first-attempt success; one delivery in ten fails and
 * is retried (an append); IN_FLIGHT events at a time, so the writes of a turn share a commit as in the
 * service. Prints store operations/s and deliveries/s (wall), and the CPU each delivery cost the store
 * (the figure to compare on a machine shared with other work).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deliveryIdFor } from '../lambdas/core/ids.js';
import type { Subscription } from '../lambdas/core/model.js';
import { DATABASE_FILE, openDatabase } from '../local/sqlite/database.js';
import { createSqliteStores } from '../local/sqlite/stores/index.js';

const EVENTS = Number(process.argv[2] ?? 20_000);
const FAN_OUT = 5;
const EXPIRES = Math.floor(Date.now() / 1000) + 30 * 86_400;

const folder = mkdtempSync(join(tmpdir(), 'store-throughput-'));
const db = openDatabase(join(folder, DATABASE_FILE));
const stores = createSqliteStores(db);

const subscriptions: Subscription[] = [];
for (let i = 0; i < FAN_OUT; i++) {
  const subscription = {
    id: `sub_${randomBytes(12).toString('base64url')}`,
    brand: 'acme',
    name: `Listener ${i}`,
    entity: 'Object',
    events: [{ name: 'OnNew' }],
    url: `http://127.0.0.1:${9000 + i}/hook`,
    format: 'json',
    includeCompleteData: false,
    status: 'active',
    secrets: [{ secret: `whsec_${randomBytes(32).toString('base64')}`, createdAt: new Date().toISOString() }],
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    version: 1,
  } as Subscription;
  await stores.subscriptions.create(subscription, 1_000_000);
  subscriptions.push(subscription);
}
/** About the size of a catalogue example event (~1 KB of JSON). */
const data = {
  Id: 123456,
  Name: 'Order 🚚',
  Lines: Array.from({ length: 12 }, (_, i) => ({ Sku: `SKU-${i}`, Qty: i, Note: 'x'.repeat(40) })),
};

/** Events handled at once, as the pollers run many batches at a time. */
const IN_FLIGHT = 64;

async function routeAndDeliver(e: number): Promise<number> {
  let operations = 2;
  const receivedAt = new Date(Date.now() + e).toISOString();
  const key = `acme/evt-${e}`;
  await stores.events.claim({ key, brand: 'acme', envelopeId: `eb-${e}`, receivedAt }, EXPIRES);
  const active = await stores.subscriptions.listActive('acme', 'Object');
  await Promise.all(
    active.map(async (subscription, index) => {
      await stores.subscriptions.get('acme', subscription.id);
      const failsFirst = (e * FAN_OUT + index) % 10 === 0;
      const delivery = {
        id: deliveryIdFor(receivedAt, key, subscription.id),
        subscriptionId: subscription.id,
        brand: 'acme',
        eventKey: key,
        webhookId: `msg_${e}`,
        entity: 'Object' as const,
        event: 'OnNew',
        receivedAt,
        data,
        createdAt: receivedAt,
      };
      const at = new Date().toISOString();
      if (failsFirst) {
        await stores.deliveries.recordAttempt({
          delivery: { ...delivery, status: 'pending', nextAttemptAt: at },
          attempt: { attempt: 1, at, durationMs: 3, statusCode: 503 },
          expiresAt: EXPIRES,
        });
        operations += 1;
      }
      await stores.deliveries.recordAttempt({
        delivery: { ...delivery, status: 'succeeded' },
        attempt: { attempt: failsFirst ? 2 : 1, at, durationMs: 3, statusCode: 200 },
        expiresAt: EXPIRES,
      });
      operations += 2;
    }),
  );
  return operations;
}

const started = performance.now();
const cpuBefore = process.cpuUsage();
let operations = 0;
let next = 0;
await Promise.all(
  Array.from({ length: IN_FLIGHT }, async () => {
    while (next < EVENTS) {
      const done = await routeAndDeliver(next++);
      operations += done;
    }
  }),
);
const cpu = process.cpuUsage(cpuBefore);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
const seconds = (performance.now() - started) / 1000;
const deliveries = EVENTS * FAN_OUT;
console.log(
  `${EVENTS} events x ${FAN_OUT} subscriptions: ${deliveries} deliveries, ${operations} store operations in ${seconds.toFixed(2)} s`,
);
console.log(
  `wall: store operations/s ${Math.round(operations / seconds)}, deliveries/s ${Math.round(deliveries / seconds)}`,
);
console.log(
  `CPU: ${cpuSeconds.toFixed(2)} s, ${((cpuSeconds * 1e6) / deliveries).toFixed(1)} µs per delivery, deliveries per CPU-second ${Math.round(deliveries / cpuSeconds)}`,
);
db.close();
rmSync(folder, { recursive: true, force: true });
