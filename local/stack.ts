import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import './aws-emulators/sqlite-durability.js';
import { startFauxqs } from 'fauxqs';
import { DynamoApiKeyStore } from '../lambdas/adapters/dynamo-api-keys.js';
import { createDocumentClient } from '../lambdas/adapters/dynamo-common.js';
import { TABLE } from '../lambdas/adapters/dynamo-table.js';
import { hashApiKey } from '../lambdas/core/api-keys.js';
import { ENV } from '../lambdas/environment.js';
import {
  FUNCTIONS,
  INGEST_RULE_PATTERN,
  OPERATIONAL_RULE_PATTERN,
  QUEUES,
  type QueueDefinition,
} from '../lib/definitions.js';
import { type BodyReader, createLocalApiGateway, readRequestBody } from './api-gateway.js';
import { startDynamoServer } from './aws-emulators/dynamo-server.js';
import { type Poller, startPoller } from './pollers.js';
import {
  createPutEventsHandler,
  type EventEnvelope,
  isPutEventsRequest,
  sqsRuleTarget,
} from './put-events.js';
import { createTableInput } from './table.js';

export interface LocalStackOptions {
  /** The API and PutEvents port on 127.0.0.1 (0: any free port). */
  readonly port: number;
  /** Where DynamoDB and SQS keep their data. */
  readonly dataDir: string;
  readonly apiKeys: readonly { brand: string; key: string }[];
  /** Seconds before each attempt; its length is the number of attempts. */
  readonly retrySchedule?: readonly number[];
  readonly timeoutMs?: number;
  readonly dynamoPort?: number;
  readonly sqsPort?: number;
  /**
   * Soak and crash tests: the visibility timeout of the local queues instead of lib/definitions.ts's
   * (180 s ingest, 360 s delivery), so a message taken by a process that was killed comes back sooner.
   * Applied when the queues are created: use a fresh data folder (an existing queue keeps its own, and
   * a different value makes the start fail). Keep it above the longest a batch takes, or a message is
   * handed out again while still being handled (a duplicate, as on AWS).
   */
  readonly queueVisibilityTimeoutSeconds?: number;
  readonly log?: (line: string) => void;
  /** Benchmarks: told how long each handler invocation of the pollers took. */
  readonly onInvoke?: (name: string, durationMs: number, records: number) => void;
  /** Benchmarks: handed the stack's own SQS client (the event source mappings' and the rule targets'). */
  readonly onSqsClient?: (client: SQSClient) => void;
}

export interface LocalStack {
  readonly url: string;
  readonly dynamoEndpoint: string;
  readonly sqsEndpoint: string;
  readonly tableName: string;
  readonly queueUrls: Readonly<
    Record<'ingest' | 'ingestDlq' | 'delivery' | 'deliveryDlq' | 'operational', string>
  >;
  stop(): Promise<void>;
}

const REGION = 'us-east-1';
const TABLE_NAME = 'commbox-webhooks';
/** Largest request body the local API reads, as API Gateway's 10 MB payload limit. */
const MAX_REQUEST_BYTES = 10 * 1024 * 1024;
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
/**
 * The handlers' own credentials, fresh per process: only requests signed with them may put the service's
 * operational events (source commbox.webhooks) on the local bus; producers sign with local/local.
 */
const SERVICE_CREDENTIALS = {
  accessKeyId: 'commbox-webhooks-service',
  secretAccessKey: randomBytes(32).toString('hex'),
};
/**
 * Batches in flight at once per function, as Lambda scales its event source mappings. A batch ends with
 * its slowest record, so deliver gets many: a listener that hangs until the timeout holds one of them.
 */
const ROUTE_CONCURRENCY = 4;
const DELIVER_CONCURRENCY = 16;

/**
 * The whole service on 127.0.0.1, in this process: DynamoDB (dynalite) and SQS (fauxqs) with their data
 * under `dataDir`, the table and queues created from lib/definitions.ts, the same handler modules the
 * stack deploys behind a local API Gateway and a local EventBridge PutEvents endpoint, and pollers that
 * play the event source mappings. Handler modules read their settings from the environment, as in
 * Lambda, so this sets it before loading them: start one stack per process.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.log ?? (() => undefined);
  mkdirSync(join(options.dataDir, 'dynamodb'), { recursive: true });
  mkdirSync(join(options.dataDir, 'sqs'), { recursive: true });

  const dynamo = await startDynamoServer({
    port: options.dynamoPort ?? 0,
    path: join(options.dataDir, 'dynamodb'),
  });
  const fauxqs = await startFauxqs({
    port: options.sqsPort ?? 0,
    logger: false,
    dataDir: join(options.dataDir, 'sqs'),
  });
  const sqs = new SQSClient({ endpoint: fauxqs.address, region: REGION, credentials: LOCAL_CREDENTIALS });
  options.onSqsClient?.(sqs);
  const stops: (() => Promise<unknown>)[] = [() => dynamo.stop(), () => fauxqs.stop()];

  try {
    await ensureTable(dynamo.endpoint);
    const visibility = (definition: QueueDefinition): QueueDefinition =>
      options.queueVisibilityTimeoutSeconds === undefined
        ? definition
        : { ...definition, visibilityTimeoutSeconds: options.queueVisibilityTimeoutSeconds };
    const ingest = await ensureQueue(sqs, 'commbox-webhooks-ingest', visibility(QUEUES.ingest));
    const delivery = await ensureQueue(sqs, 'commbox-webhooks-delivery', visibility(QUEUES.delivery));

    const onError = (message: string, error: unknown) =>
      log(`${message}: ${error instanceof Error ? error.message : String(error)}`);
    const operational = await ensureQueue(sqs, 'commbox-webhooks-operational', visibility(QUEUES.ingest));

    // The port comes first: the handlers are told where the bus is. Until every part is ready the
    // server answers 503, /health included.
    let respond: Responder = async () => ({
      status: 503,
      headers: { 'content-type': 'application/json' },
      body: '{"message":"starting"}',
    });
    const server = createServer((request, response) => {
      handleRequest(request, response, (readBody) => respond(request, readBody)).catch((error: unknown) =>
        onError('local API', error),
      );
    });
    const url = await listen(server, options.port);
    stops.unshift(() => closeServer(server));

    Object.assign(process.env, {
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: SERVICE_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: SERVICE_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SQS: fauxqs.address,
      AWS_ENDPOINT_URL_EVENTBRIDGE: url,
      [ENV.tableName]: TABLE_NAME,
      [ENV.deliveryQueueUrl]: delivery.url,
      [ENV.eventBusName]: 'commbox-webhooks-local',
      [ENV.allowLocalTargets]: 'true',
      // A listener may not be the service itself: its API and its internal stores.
      [ENV.refusedListenerPorts]: [
        new URL(url).port,
        new URL(dynamo.endpoint).port,
        new URL(fauxqs.address).port,
      ].join(','),
      ...(options.retrySchedule ? { [ENV.retrySchedule]: options.retrySchedule.join(',') } : {}),
      ...(options.timeoutMs ? { [ENV.deliveryTimeoutMs]: String(options.timeoutMs) } : {}),
    });
    // Loaded only now: the modules build their clients from the environment above on first use.
    const [api, authorizer, route, deliver] = await Promise.all([
      import('../lambdas/api.js'),
      import('../lambdas/authorizer.js'),
      import('../lambdas/route.js'),
      import('../lambdas/deliver.js'),
    ]);

    await seedApiKeys(dynamo.endpoint, options.apiKeys);

    const pollers: Poller[] = [
      startPoller({
        name: 'route',
        client: sqs,
        queueUrl: ingest.url,
        queueArn: ingest.arn,
        queue: QUEUES.ingest,
        handler: route.handler,
        timeoutSeconds: FUNCTIONS.route.timeoutSeconds,
        concurrency: ROUTE_CONCURRENCY,
        region: REGION,
        onError,
        onInvoke: options.onInvoke,
      }),
      startPoller({
        name: 'deliver',
        client: sqs,
        queueUrl: delivery.url,
        queueArn: delivery.arn,
        queue: QUEUES.delivery,
        handler: deliver.handler,
        timeoutSeconds: FUNCTIONS.deliver.timeoutSeconds,
        concurrency: DELIVER_CONCURRENCY,
        region: REGION,
        onError,
        onInvoke: options.onInvoke,
      }),
    ];
    stops.unshift(() => Promise.all(pollers.map((poller) => poller.stop())));

    const gateway = createLocalApiGateway({ api: api.handler, authorizer: authorizer.handler });
    const putEvents = createPutEventsHandler({
      region: REGION,
      credentials: [LOCAL_CREDENTIALS],
      serviceCredentials: SERVICE_CREDENTIALS,
      onError,
      rules: [
        { name: 'ingest', pattern: INGEST_RULE_PATTERN, send: sqsRuleTarget(sqs, ingest.url) },
        {
          name: 'operational',
          pattern: OPERATIONAL_RULE_PATTERN,
          send: operationalTarget(sqs, operational.url, log),
        },
      ],
    });
    respond = async (request, readBody) => {
      if (isPutEventsRequest(request.method ?? '', request.url ?? '', request.headers)) {
        const body = await readBody();
        if (body === undefined) return TOO_LARGE;
        const answer = await putEvents({
          method: request.method ?? 'POST',
          path: request.url ?? '/',
          headers: request.headers,
          body,
        });
        return { status: answer.status, headers: { 'content-type': answer.contentType }, body: answer.body };
      }
      if (request.method === 'GET' && request.url === '/health') {
        return { status: 200, headers: { 'content-type': 'application/json' }, body: '{"status":"ok"}' };
      }
      // The gateway reads the body only once the key was admitted.
      return gateway.handle(request.method ?? 'GET', request.url ?? '/', request.headers, readBody);
    };

    return {
      url,
      dynamoEndpoint: dynamo.endpoint,
      sqsEndpoint: fauxqs.address,
      tableName: TABLE_NAME,
      queueUrls: {
        ingest: ingest.url,
        ingestDlq: ingest.dlqUrl,
        delivery: delivery.url,
        deliveryDlq: delivery.dlqUrl,
        operational: operational.url,
      },
      async stop() {
        for (const stop of stops.splice(0)) await stop().catch((error: unknown) => onError('stop', error));
      },
    };
  } catch (error) {
    for (const stop of stops) await stop().catch(() => undefined);
    throw error;
  }
}

type Responder = (
  request: IncomingMessage,
  readBody: BodyReader,
) => Promise<{ status: number; headers: Record<string, string>; body: string }>;

const TOO_LARGE = {
  status: 413,
  headers: { 'content-type': 'application/json', connection: 'close' },
  body: '{"message":"Request Entity Too Large"}',
};

/** Operational events are kept on a queue of their own (for tools and tests) and printed. */
function operationalTarget(sqs: SQSClient, queueUrl: string, log: (line: string) => void) {
  const queue = sqsRuleTarget(sqs, queueUrl);
  return async (envelopes: EventEnvelope[]) => {
    await queue(envelopes);
    // Structured: a field can never forge a line of its own (a `\n` in a detail type).
    for (const envelope of envelopes)
      log(
        `operational event ${JSON.stringify({ detailType: envelope['detail-type'], detail: envelope.detail })}`,
      );
  };
}

async function handleRequest(
  request: IncomingMessage,
  response: ServerResponse,
  answer: (
    readBody: BodyReader,
  ) => Promise<{ status: number; headers: Record<string, string>; body: string }>,
): Promise<void> {
  try {
    const result = await answer(() => readRequestBody(request, MAX_REQUEST_BYTES));
    response.writeHead(result.status, result.headers);
    response.end(result.body);
  } catch (error) {
    response.writeHead(500, { 'content-type': 'application/json', connection: 'close' });
    response.end('{"message":"Internal Server Error"}');
    throw error;
  }
}

async function ensureTable(endpoint: string): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: REGION, credentials: LOCAL_CREDENTIALS });
  try {
    await client.send(new CreateTableCommand(createTableInput(TABLE_NAME)));
    // dynalite records the setting but never expires items; in AWS, TTL deletes them.
    await client
      .send(
        new UpdateTimeToLiveCommand({
          TableName: TABLE_NAME,
          TimeToLiveSpecification: { AttributeName: TABLE.timeToLiveAttribute, Enabled: true },
        }),
      )
      .catch(() => undefined);
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  } finally {
    client.destroy();
  }
}

async function ensureQueue(sqs: SQSClient, name: string, definition: QueueDefinition) {
  const dlq = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${name}-dlq`,
      Attributes: { MessageRetentionPeriod: String(14 * 24 * 60 * 60) },
    }),
  );
  const dlqArn = await queueArn(sqs, dlq.QueueUrl ?? '');
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        VisibilityTimeout: String(definition.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(definition.retentionSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlqArn,
          maxReceiveCount: definition.maxReceiveCount,
        }),
      },
    }),
  );
  const url = queue.QueueUrl ?? '';
  return { url, arn: await queueArn(sqs, url), dlqUrl: dlq.QueueUrl ?? '' };
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const output = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  return output.Attributes?.QueueArn ?? '';
}

/** The local keys (`brand:key` pairs) are stored hashed, like keys made with `npm run keys`. */
async function seedApiKeys(endpoint: string, keys: readonly { brand: string; key: string }[]): Promise<void> {
  const client = createDocumentClient({ endpoint, region: REGION, credentials: LOCAL_CREDENTIALS });
  const store = new DynamoApiKeyStore(client, TABLE_NAME);
  try {
    for (const { brand, key } of keys) {
      const hash = hashApiKey(key);
      const existing = await store.findByHash(hash);
      if (existing?.brand === brand) continue;
      if (existing) await store.revoke(existing.brand, existing.keyId);
      await store.put(hash, {
        keyId: `key_local_${hash.slice(0, 8)}`,
        brand,
        createdAt: new Date().toISOString(),
      });
    }
  } finally {
    client.destroy();
  }
}

function listen(server: Server, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address() as AddressInfo;
      resolve(`http://127.0.0.1:${address.port}`);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
