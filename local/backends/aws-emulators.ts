import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import '../aws-emulators/sqlite-durability.js';
import { startFauxqs } from 'fauxqs';
import { DynamoApiKeyStore } from '../../lambdas/adapters/dynamo-api-keys.js';
import { createDocumentClient } from '../../lambdas/adapters/dynamo-common.js';
import { TABLE } from '../../lambdas/adapters/dynamo-table.js';
import { ENV } from '../../lambdas/environment.js';
import { FUNCTIONS, QUEUES, type QueueDefinition } from '../../lib/definitions.js';
import { startDynamoServer } from '../aws-emulators/dynamo-server.js';
import { escapeBodiesFauxqsRefuses } from '../aws-emulators/fauxqs-bodies.js';
import { listeningOnLoopback } from '../aws-emulators/loopback-only.js';
import { type Poller, startPoller } from '../pollers.js';
import { sqsRuleTarget } from '../put-events.js';
import { createTableInput } from '../table.js';
import {
  type Backend,
  DELIVER_CONCURRENCY,
  LOCAL_CREDENTIALS,
  REGION,
  ROUTE_CONCURRENCY,
} from './backend.js';

/*
 * The emulator mode (`npm start -- --aws-emulators`): DynamoDB (dynalite) and SQS (fauxqs) with their data
 * under `dataDir/dynamodb` and `dataDir/sqs`, the table and queues created from lib/definitions.ts, the
 * handlers talking to them through the AWS SDK exactly as in Lambda. For anyone who wants the AWS wire
 * protocols locally; slower than the embedded default, and without SQS's limits (docs/DECISIONS.md).
 */

export interface EmulatorOptions {
  readonly dataDir: string;
  readonly dynamoPort?: number;
  readonly sqsPort?: number;
  readonly queueVisibilityTimeoutSeconds?: number;
  readonly onSqsClient?: (client: SQSClient) => void;
}

const TABLE_NAME = 'commbox-webhooks';

export async function startEmulatorBackend(options: EmulatorOptions): Promise<Backend> {
  mkdirSync(join(options.dataDir, 'dynamodb'), { recursive: true, mode: 0o700 });
  mkdirSync(join(options.dataDir, 'sqs'), { recursive: true, mode: 0o700 });
  const dynamo = await startDynamoServer({
    port: options.dynamoPort ?? 0,
    path: join(options.dataDir, 'dynamodb'),
  });
  const stops: (() => Promise<unknown>)[] = [() => dynamo.stop()];
  try {
    const fauxqs = await listeningOnLoopback(() =>
      startFauxqs({ port: options.sqsPort ?? 0, logger: false, dataDir: join(options.dataDir, 'sqs') }),
    );
    stops.push(() => fauxqs.stop());
    const sqs = new SQSClient({ endpoint: fauxqs.address, region: REGION, credentials: LOCAL_CREDENTIALS });
    options.onSqsClient?.(sqs);
    await ensureTable(dynamo.endpoint);
    const visibility = (definition: QueueDefinition): QueueDefinition =>
      options.queueVisibilityTimeoutSeconds === undefined
        ? definition
        : { ...definition, visibilityTimeoutSeconds: options.queueVisibilityTimeoutSeconds };
    const ingest = await ensureQueue(sqs, 'commbox-webhooks-ingest', visibility(QUEUES.ingest));
    const delivery = await ensureQueue(sqs, 'commbox-webhooks-delivery', visibility(QUEUES.delivery));
    const operational = await ensureQueue(sqs, 'commbox-webhooks-operational', visibility(QUEUES.ingest));
    const documents = createDocumentClient({
      endpoint: dynamo.endpoint,
      region: REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    stops.push(async () => documents.destroy());

    return {
      services: {
        backend: 'aws-emulators',
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
      },
      env: {
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        AWS_ENDPOINT_URL_SQS: fauxqs.address,
        [ENV.tableName]: TABLE_NAME,
        [ENV.deliveryQueueUrl]: delivery.url,
      },
      apiKeys: new DynamoApiKeyStore(documents, TABLE_NAME),
      wire(modules) {
        // Real SQS takes characters above U+FFFF in a body; fauxqs refuses them (docs/DECISIONS.md).
        escapeBodiesFauxqsRefuses(modules.clients.sqsClient());
      },
      ingestTarget: sqsRuleTarget(sqs, ingest.url),
      operationalTarget: sqsRuleTarget(sqs, operational.url),
      startPollers(modules, hooks) {
        const common = { client: sqs, region: REGION, ...hooks };
        const pollers: Poller[] = [
          startPoller({
            ...common,
            name: 'route',
            queueUrl: ingest.url,
            queueArn: ingest.arn,
            queue: QUEUES.ingest,
            handler: modules.route.handler,
            timeoutSeconds: FUNCTIONS.route.timeoutSeconds,
            concurrency: ROUTE_CONCURRENCY,
          }),
          startPoller({
            ...common,
            name: 'deliver',
            queueUrl: delivery.url,
            queueArn: delivery.arn,
            queue: QUEUES.delivery,
            handler: modules.deliver.handler,
            timeoutSeconds: FUNCTIONS.deliver.timeoutSeconds,
            concurrency: DELIVER_CONCURRENCY,
          }),
        ];
        return { stop: async () => void (await Promise.all(pollers.map((poller) => poller.stop()))) };
      },
      banner: () => [
        `  DynamoDB (dynalite)            ${dynamo.endpoint}  table ${TABLE_NAME}`,
        `  SQS (fauxqs)                   ${fauxqs.address}  delivery queue ${delivery.url}`,
      ],
      async stop() {
        for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
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
