import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LaneDeliveryQueue } from '../../lambdas/adapters/lane-delivery-queue.js';
import { deliveryDeps } from '../../lambdas/commons/delivery-deps.js';
import { routingDeps } from '../../lambdas/commons/deps.js';
import { withEncryptedSecrets } from '../../lambdas/commons/secrets.js';
import { serviceDeps } from '../../lambdas/commons/service-deps.js';
import { readConfig } from '../../lambdas/config.js';
import { ENV } from '../../lambdas/environment.js';
import { FUNCTIONS, QUEUES, type QueueDefinition } from '../../lib/definitions.js';
import { watchEventLoopLoad } from '../event-loop-load.js';
import { DATABASE_FILE, openDatabase } from '../sqlite/database.js';
import { SqliteQueue } from '../sqlite/queue.js';
import { SqliteDeliveryQueue } from '../sqlite/queue-delivery.js';
import { startQueuePoller } from '../sqlite/queue-poller.js';
import { sqliteRuleTarget } from '../sqlite/queue-targets.js';
import { checkDataFolder } from '../sqlite/stores/data-folder.js';
import { startExpirySweeper } from '../sqlite/stores/expiry.js';
import { createSqliteStores } from '../sqlite/stores/index.js';
import { turnBatchFor } from '../sqlite/stores/turn-batch.js';
import {
  type Backend,
  BUSY_BRAND_IN_FLIGHT,
  DELIVER_CONCURRENCY,
  type LocalLane,
  REGION,
  ROUTE_CONCURRENCY,
} from './backend.js';

/*
 * The embedded default: the store and the queues in one SQLite file, $DATA_DIR/webhooks.sqlite. The
 * handler modules are the deployed ones; they get the SQLite adapters through their `use...Deps` hooks
 * (the listener client, circuit breakers and operational events stay as lambdas/commons builds them), and
 * the pollers hand them real SQSEvent batches. No AWS SDK call leaves this process: the SDK endpoints are
 * pointed at a closed loopback port, so a call that slipped through fails at once instead of going out.
 */

export interface SqliteBackendOptions {
  readonly dataDir: string;
  readonly queueVisibilityTimeoutSeconds?: number;
  /** The in-flight limit of each queue (tests); default SQS's 120,000. */
  readonly inFlightLimit?: number;
  /** Brands with a delivery queue (+ DLQ) and a poller of their own. */
  readonly dedicatedLanes?: readonly LocalLane[];
  readonly onError: (message: string, error: unknown) => void;
}

const ACCOUNT = '000000000000';
const NAMES = {
  ingest: 'commbox-webhooks-ingest',
  delivery: 'commbox-webhooks-delivery',
  operational: 'commbox-webhooks-operational',
} as const;
/** Nothing listens there (TCP port 9, discard, is not served): an SDK call fails without leaving the host. */
const NOWHERE = 'http://127.0.0.1:9';
/** How often messages past their queue's retention are dropped. */
const PURGE_INTERVAL_MS = 10 * 60 * 1000;

export async function startSqliteBackend(options: SqliteBackendOptions): Promise<Backend> {
  // A folder of the emulator runtime is refused, never silently ignored (opening would create the file).
  checkDataFolder(options.dataDir);
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 }); // private: it holds payloads and keys
  const databaseFile = join(options.dataDir, DATABASE_FILE);
  const db = openDatabase(databaseFile);
  const queueWithDlq = (name: string, definition: QueueDefinition) => {
    const settings = {
      visibilityTimeoutSeconds: options.queueVisibilityTimeoutSeconds ?? definition.visibilityTimeoutSeconds,
      retentionSeconds: definition.retentionSeconds,
      ...(options.inFlightLimit ? { inFlightLimit: options.inFlightLimit } : {}),
    };
    const dlq = new SqliteQueue(db, { ...settings, name: `${name}-dlq` });
    const queue = new SqliteQueue(db, {
      ...settings,
      name,
      redrive: { deadLetterQueue: dlq.name, maxReceiveCount: definition.maxReceiveCount },
    });
    return { queue, dlq };
  };
  const ingest = queueWithDlq(NAMES.ingest, QUEUES.ingest);
  const delivery = queueWithDlq(NAMES.delivery, QUEUES.delivery);
  const operational = queueWithDlq(NAMES.operational, QUEUES.ingest);
  // Dedicated lanes: a brand's deliveries on a queue of their own, consumed by a poller of their own.
  const lanes = (options.dedicatedLanes ?? []).map((lane) => ({
    ...lane,
    name: `${NAMES.delivery}-${lane.brand}`,
    ...queueWithDlq(`${NAMES.delivery}-${lane.brand}`, QUEUES.delivery),
  }));
  const allQueues = [ingest, delivery, operational, ...lanes].flatMap(({ queue, dlq }) => [queue, dlq]);
  const purge = setInterval(() => {
    for (const queue of allQueues) queue.purgeExpired();
  }, PURGE_INTERVAL_MS);
  purge.unref();

  const stores = createSqliteStores(db);
  const sweeper = startExpirySweeper(db, { onError: (error) => options.onError('expiry sweep', error) });
  // The delivery path's queue writes join the store's group commit: one commit per event-loop turn.
  const group = turnBatchFor(db);
  const transact = <T>(work: () => T): Promise<T> => group.write(work);
  const sharedQueue = new SqliteDeliveryQueue(delivery.queue, transact);
  const deliveryQueue =
    lanes.length === 0
      ? sharedQueue
      : new LaneDeliveryQueue(
          sharedQueue,
          new Map(lanes.map((lane) => [lane.brand, new SqliteDeliveryQueue(lane.queue, transact)])),
        );
  const queueUrl = (name: string) => `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`;
  const arn = (name: string) => `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`;

  return {
    services: { backend: 'sqlite', databaseFile },
    env: {
      AWS_ENDPOINT_URL_DYNAMODB: NOWHERE,
      AWS_ENDPOINT_URL_SQS: NOWHERE,
      [ENV.tableName]: 'commbox-webhooks',
      [ENV.deliveryQueueUrl]: queueUrl(NAMES.delivery),
      ...(lanes.length > 0
        ? {
            [ENV.dedicatedLanes]: JSON.stringify(
              Object.fromEntries(lanes.map((lane) => [lane.brand, queueUrl(lane.name)])),
            ),
          }
        : {}),
    },
    apiKeys: stores.apiKeys,
    wire(modules) {
      const config = readConfig();
      const { subscriptions, events, deliveries } = stores;
      modules.route.useRoutingDeps({
        ...routingDeps(config),
        subscriptions,
        events,
        rejected: events,
        queue: deliveryQueue,
      });
      // Route reads no secret; api and deliver see them decrypted, and the file holds them encrypted.
      const encrypted = withEncryptedSecrets(subscriptions, config);
      modules.deliver.useDeliveryDeps({
        ...deliveryDeps(config),
        subscriptions: encrypted,
        events,
        deliveries,
        queue: deliveryQueue,
        rateLimiter: stores.rateLimiter,
        parking: stores.parking,
      });
      modules.api.useServiceDeps({
        ...serviceDeps(config),
        subscriptions: encrypted,
        events,
        deliveries,
        queue: deliveryQueue,
      });
      modules.api.useConsoleSessionStore(stores.consoleSessions);
      modules.authorizer.useApiKeyStore(stores.apiKeys);
      modules.authorizer.useConsoleSessionStore(stores.consoleSessions);
    },
    ingestTarget: sqliteRuleTarget(ingest.queue),
    operationalTarget: sqliteRuleTarget(operational.queue),
    startPollers(modules, hooks) {
      const load = watchEventLoopLoad();
      const busyGroupCap = { inFlight: BUSY_BRAND_IN_FLIGHT, load };
      const pollers = [
        startQueuePoller({
          ...hooks,
          name: 'route',
          queue: ingest.queue,
          queueArn: arn(NAMES.ingest),
          region: REGION,
          batchSize: QUEUES.ingest.batchSize,
          handler: modules.route.handler,
          timeoutSeconds: FUNCTIONS.route.timeoutSeconds,
          concurrency: ROUTE_CONCURRENCY,
          transact,
        }),
        startQueuePoller({
          ...hooks,
          name: 'deliver',
          queue: delivery.queue,
          queueArn: arn(NAMES.delivery),
          region: REGION,
          batchSize: QUEUES.delivery.batchSize,
          handler: modules.deliver.handler,
          timeoutSeconds: FUNCTIONS.deliver.timeoutSeconds,
          concurrency: DELIVER_CONCURRENCY,
          busyGroupCap,
          transact,
        }),
        ...lanes.map((lane) =>
          startQueuePoller({
            ...hooks,
            name: `deliver (${lane.brand})`,
            queue: lane.queue,
            queueArn: arn(lane.name),
            region: REGION,
            batchSize: QUEUES.delivery.batchSize,
            handler: modules.deliver.handler,
            timeoutSeconds: FUNCTIONS.deliver.timeoutSeconds,
            concurrency: lane.maxConcurrency,
            busyGroupCap,
            transact,
          }),
        ),
      ];
      return {
        stop: async () => {
          await Promise.all(pollers.map((poller) => poller.stop()));
          load.stop();
        },
      };
    },
    banner: () => [
      `  store and queues (SQLite)      ${databaseFile}`,
      ...(lanes.length > 0
        ? [
            `  dedicated lanes                ${lanes.map((lane) => `${lane.brand} (${lane.maxConcurrency})`).join(', ')}`,
          ]
        : []),
    ],
    async stop() {
      clearInterval(purge);
      sweeper.stop();
      db.close();
    },
  };
}
