import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { ConsoleAssets } from '../lambdas/api/console.js';
import { hashApiKey } from '../lambdas/core/api-keys.js';
import type { ApiKeyStore } from '../lambdas/core/ports.js';
import { ENV } from '../lambdas/environment.js';
import { INGEST_RULE_PATTERN, OPERATIONAL_RULE_PATTERN } from '../lib/definitions.js';
import { type BodyReader, createLocalApiGateway, readRequestBody } from './api-gateway.js';
import {
  type Backend,
  type BackendServices,
  type HandlerModules,
  LOCAL_CREDENTIALS,
  type LocalBackendName,
  type LocalLane,
  REGION,
} from './backends/backend.js';
import { createPutEventsHandler, type EventEnvelope, isPutEventsRequest } from './put-events.js';
import { localSecretsEnvironment } from './secrets.js';

export interface LocalStackOptions {
  /** The API and PutEvents port (0: any free port). */
  readonly port: number;
  /** The address the API binds to; default 127.0.0.1 (loopback only). */
  readonly host?: string;
  /** Where the store and the queues keep their data. */
  readonly dataDir: string;
  /** `sqlite` (the embedded default) or `aws-emulators` (dynalite and fauxqs). */
  readonly backend?: LocalBackendName;
  readonly apiKeys: readonly { brand: string; key: string }[];
  /** Seconds before each attempt; its length is the number of attempts. */
  readonly retrySchedule?: readonly number[];
  readonly timeoutMs?: number;
  /** Tests: an open circuit's first and longest cool-down in seconds (they pace parking's probe). */
  readonly circuitCooldownSeconds?: readonly [number, number];
  /**
   * Whether listeners on loopback and plain http are allowed. Default: only when the API is bound to
   * loopback; a service reachable from other machines gets the SSRF guard of the AWS shape.
   */
  readonly allowLocalTargets?: boolean;
  /**
   * SQLite mode: brands with a delivery queue of their own (dedicated lanes, as the construct's
   * `dedicatedLanes`), each with its own poller of `maxConcurrency` batches at once.
   */
  readonly dedicatedLanes?: readonly LocalLane[];
  /** SQLite mode: each queue's in-flight limit instead of SQS's 120,000 (tests). */
  readonly queueInFlightLimit?: number;
  readonly dynamoPort?: number;
  readonly sqsPort?: number;
  /**
   * Soak and crash tests: the visibility timeout of the local queues instead of lib/definitions.ts's
   * (180 s ingest, 360 s delivery), so a message taken by a process that was killed comes back sooner.
   * Emulator mode: applied when the queues are created (use a fresh data folder). Keep it above the
   * longest a batch takes, or a message is handed out again while still being handled (a duplicate, as on AWS).
   */
  readonly queueVisibilityTimeoutSeconds?: number;
  readonly log?: (line: string) => void;
  /** Tests: the clock the authorizer checks console sessions' expiry against (default: the system's). */
  readonly sessionClock?: () => Date;
  /** The console's files (console/build.ts), served at /console; without them /console answers 404. */
  readonly consoleAssets?: ConsoleAssets;
  /** Benchmarks: told how long each handler invocation of the pollers took. */
  readonly onInvoke?: (name: string, durationMs: number, records: number) => void;
  /** Benchmarks, emulator mode: handed the stack's own SQS client (the event source mappings' and the rule targets'). */
  readonly onSqsClient?: (client: SQSClient) => void;
}

export interface LocalStack {
  readonly url: string;
  readonly services: BackendServices;
  /** Banner lines naming where the store and the queues run. */
  readonly banner: readonly string[];
  readonly allowLocalTargets: boolean;
  stop(): Promise<void>;
}

/** Largest request body the local API reads, as API Gateway's 10 MB payload limit. */
const MAX_REQUEST_BYTES = 10 * 1024 * 1024;
const LOOPBACK = '127.0.0.1';
/**
 * The handlers' own credentials, fresh per process: only requests signed with them may put the service's
 * operational events (source commbox.webhooks) on the local bus; producers sign with local/local.
 */
const SERVICE_CREDENTIALS = {
  accessKeyId: 'commbox-webhooks-service',
  secretAccessKey: randomBytes(32).toString('hex'),
};

/**
 * The whole service in this process: the store and the queues (SQLite by default, or the AWS emulators),
 * the same handler modules the stack deploys behind a local API Gateway and a local EventBridge PutEvents
 * endpoint, and pollers that play the event source mappings. Handler modules read their settings from the
 * environment, as in Lambda, so this sets it before loading them: start one stack per process.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.log ?? (() => undefined);
  const onError = (message: string, error: unknown) =>
    log(`${message}: ${error instanceof Error ? error.message : String(error)}`);
  const host = options.host ?? LOOPBACK;
  const allowLocalTargets = options.allowLocalTargets ?? isLoopback(host);
  if (options.backend === 'aws-emulators' && (options.dedicatedLanes?.length ?? 0) > 0) {
    throw new Error('dedicated lanes (WEBHOOKS_DEDICATED_LANES) run on the SQLite backend only');
  }
  // Each backend is loaded only when chosen: the SQLite default never loads the emulators.
  const backend: Backend =
    options.backend === 'aws-emulators'
      ? await (await import('./backends/aws-emulators.js')).startEmulatorBackend({
          dataDir: options.dataDir,
          dynamoPort: options.dynamoPort,
          sqsPort: options.sqsPort,
          queueVisibilityTimeoutSeconds: options.queueVisibilityTimeoutSeconds,
          onSqsClient: options.onSqsClient,
        })
      : await (await import('./backends/sqlite.js')).startSqliteBackend({
          dataDir: options.dataDir,
          queueVisibilityTimeoutSeconds: options.queueVisibilityTimeoutSeconds,
          inFlightLimit: options.queueInFlightLimit,
          dedicatedLanes: options.dedicatedLanes ?? [],
          onError,
        });
  const stops: (() => Promise<unknown>)[] = [() => backend.stop()];

  try {
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
    const url = await listen(server, options.port, host);
    stops.unshift(() => closeServer(server));

    Object.assign(process.env, {
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: SERVICE_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: SERVICE_CREDENTIALS.secretAccessKey,
      // The handlers publish operational events to this process's PutEvents endpoint, over loopback.
      AWS_ENDPOINT_URL_EVENTBRIDGE: `http://${LOOPBACK}:${new URL(url).port}`,
      ...backend.env,
      // Secret fields are encrypted at rest with $DATA_DIR/secret.key, as KMS does in AWS.
      ...localSecretsEnvironment(options.dataDir),
      [ENV.eventBusName]: 'commbox-webhooks-local',
      [ENV.allowLocalTargets]: String(allowLocalTargets),
      // A listener may not be the service itself: its API and its internal stores.
      [ENV.refusedListenerPorts]: ownPorts(url, backend.services).join(','),
      ...(options.retrySchedule ? { [ENV.retrySchedule]: options.retrySchedule.join(',') } : {}),
      ...(options.timeoutMs ? { [ENV.deliveryTimeoutMs]: String(options.timeoutMs) } : {}),
      ...(options.circuitCooldownSeconds
        ? { [ENV.circuitCooldownSeconds]: options.circuitCooldownSeconds.join(',') }
        : {}),
    });
    // Loaded only now: the modules build their clients from the environment above on first use.
    const [api, authorizer, route, deliver, clients] = await Promise.all([
      import('../lambdas/api.js'),
      import('../lambdas/authorizer.js'),
      import('../lambdas/route.js'),
      import('../lambdas/deliver.js'),
      import('../lambdas/commons/clients.js'),
    ]);
    const modules: HandlerModules = { api, authorizer, route, deliver, clients };
    backend.wire(modules);
    if (options.sessionClock) authorizer.useClock(options.sessionClock);

    await seedApiKeys(backend.apiKeys, options.apiKeys);

    const pollers = backend.startPollers(modules, { onError, onInvoke: options.onInvoke });
    stops.unshift(() => pollers.stop());

    api.useConsoleAssets(options.consoleAssets ?? new Map());
    const gateway = createLocalApiGateway({ api: api.handler, authorizer: authorizer.handler });
    const putEvents = createPutEventsHandler({
      region: REGION,
      credentials: [LOCAL_CREDENTIALS],
      serviceCredentials: SERVICE_CREDENTIALS,
      onError,
      rules: [
        { name: 'ingest', pattern: INGEST_RULE_PATTERN, send: backend.ingestTarget },
        {
          name: 'operational',
          pattern: OPERATIONAL_RULE_PATTERN,
          send: async (envelopes: EventEnvelope[]) => {
            // Kept on a queue of their own (for tools and tests) and printed.
            await backend.operationalTarget(envelopes);
            // Structured: a field can never forge a line of its own (a `\n` in a detail type).
            for (const envelope of envelopes)
              log(
                `operational event ${JSON.stringify({ detailType: envelope['detail-type'], detail: envelope.detail })}`,
              );
          },
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
      services: backend.services,
      banner: backend.banner(),
      allowLocalTargets,
      async stop() {
        for (const stop of stops.splice(0)) await stop().catch((error: unknown) => onError('stop', error));
      },
    };
  } catch (error) {
    for (const stop of stops) await stop().catch(() => undefined);
    throw error;
  }
}

/** 127.0.0.0/8, ::1 and `localhost`: the addresses only this machine reaches. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
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

/** The ports this process listens on: its API, and in emulator mode the emulators'. */
function ownPorts(url: string, services: BackendServices): string[] {
  const endpoints =
    services.backend === 'aws-emulators' ? [services.dynamoEndpoint, services.sqsEndpoint] : [];
  return [url, ...endpoints].map((endpoint) => new URL(endpoint).port);
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

/** The local keys (`brand:key` pairs) are stored hashed, like keys made with `npm run keys`. */
async function seedApiKeys(
  store: ApiKeyStore,
  keys: readonly { brand: string; key: string }[],
): Promise<void> {
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
}

function listen(server: Server, port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address() as AddressInfo;
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve(`http://${shown}:${address.port}`);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
