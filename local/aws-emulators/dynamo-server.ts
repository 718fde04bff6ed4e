/**
 * The local DynamoDB of the emulator mode: dynalite (an in-process emulator on LevelDB) plus the one
 * operation the adapters need and dynalite lacks, TransactWriteItems (./dynamo-transactions.ts, which
 * states its limits). Every other request reaches dynalite untouched.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32 } from 'node:zlib';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { TransactionExecutor } from './dynamo-transactions.js';
import { JSON_CONTENT_TYPE, toDynamoError } from './dynamo-wire.js';

export interface DynamoServerOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. */
  readonly port: number;
  /** LevelDB folder; the data lives in memory (and dies with the server) when absent. */
  readonly path?: string;
}

export interface DynamoServer {
  /** `http://127.0.0.1:<port>`, for the DynamoDB clients' `endpoint`. */
  readonly endpoint: string;
  readonly port: number;
  /** Closes the server and its LevelDB. */
  stop(): Promise<void>;
}

const TRANSACT_WRITE_TARGET = 'DynamoDB_20120810.TransactWriteItems';
/** TransactWriteItems accepts 4 MB; anything much larger is refused before parsing. */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

type RequestListener = (request: IncomingMessage, response: ServerResponse) => void;

function send(response: ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload);
  response.statusCode = status;
  response.setHeader('Content-Type', JSON_CONTENT_TYPE);
  response.setHeader('Content-Length', Buffer.byteLength(body, 'utf8'));
  response.setHeader('x-amzn-RequestId', randomBytes(39).toString('base64url').toUpperCase().slice(0, 52));
  response.setHeader('x-amz-crc32', crc32(body));
  response.end(body);
}

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_REQUEST_BYTES) return undefined;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function handleTransaction(
  executor: TransactionExecutor,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  try {
    const body = await readBody(request);
    if (body === undefined) {
      response.statusCode = 413;
      response.end();
      request.destroy();
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      send(response, 400, { __type: 'com.amazon.coral.service#SerializationException' });
      return;
    }
    await executor.execute(parsed);
    send(response, 200, {});
  } catch (error) {
    const failure = toDynamoError(error);
    if (!response.headersSent) send(response, failure.status, failure.body());
  }
}

/** Starts dynalite on 127.0.0.1 with TransactWriteItems emulated (see ./dynamo-transactions.ts for its limits). */
export async function startDynamoServer(options: DynamoServerOptions): Promise<DynamoServer> {
  const server: Server = dynalite({
    ...(options.path !== undefined && { path: options.path }),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  const [dynaliteListener] = server.listeners('request') as RequestListener[];
  if (!dynaliteListener) throw new Error('dynalite registered no request listener');
  server.removeAllListeners('request');

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;

  // Transactions are applied through this same server, one single-item request at a time.
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const executor = new TransactionExecutor(client);

  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (request.headers['x-amz-target'] === TRANSACT_WRITE_TARGET) {
      void handleTransaction(executor, request, response);
    } else {
      // Synchronously, before anything reads the body: dynalite attaches its own 'data' listeners.
      dynaliteListener.call(server, request, response);
    }
  });

  return {
    endpoint,
    port,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        client.destroy();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}
