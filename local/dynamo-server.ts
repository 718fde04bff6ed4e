import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32 } from 'node:zlib';
import {
  type AttributeValue,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  DynamoDBServiceException,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';

/*
 * The local DynamoDB: dynalite (an in-process emulator on LevelDB) plus the one operation the adapters
 * need and dynalite lacks, TransactWriteItems. Every other request reaches dynalite untouched.
 *
 * A transaction is emulated with single-item writes against this same server:
 *   1. validate: 1-100 items, each exactly one of ConditionCheck / Put / Delete / Update, no two on the
 *      same key (keys of Puts come from the Item, by the table's KeySchema);
 *   2. apply the items in order (PutItem / DeleteItem / UpdateItem with the item's own condition,
 *      ReturnValues ALL_OLD so that the previous image is captured atomically with each write);
 *      a ConditionCheck is an UpdateItem whose condition is the check and whose update
 *      (`SET #sentinel = #sentinel` on an attribute no item has) always fails after the condition held,
 *      so it never writes;
 *   3. when item i fails its condition, undo the items already applied in reverse order (PutItem of the
 *      previous image, or DeleteItem when there was none), check the conditions of the items after i
 *      the same no-write way, and answer TransactionCanceledException with one CancellationReason per
 *      item (`ConditionalCheckFailed` where the condition failed, `None` elsewhere; with the current item
 *      when that item asked ReturnValuesOnConditionCheckFailure ALL_OLD). Any other error is passed
 *      through, after the same undo.
 *
 * Limits (local runtime only; on AWS a transaction is atomic and isolated):
 *   - transactions run one at a time, so they are isolated from each other, but NOT from concurrent
 *     plain writes (PutItem, UpdateItem, ...): those can observe a transaction half-applied, and an undo
 *     overwrites a plain write made to the same item in between;
 *   - a process killed in the middle of a transaction (or a failing undo, reported as a 500) can leave
 *     it half-applied in a persistent LevelDB folder;
 *   - ClientRequestToken (idempotency) and the ReturnConsumedCapacity / ReturnItemCollectionMetrics
 *     options are ignored; the success answer is always `{}`.
 */

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
const JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';
const DYNAMODB_ERROR = 'com.amazonaws.dynamodb.v20120810#';
const VALIDATION_ERROR = 'com.amazon.coral.validate#ValidationException';
/** TransactWriteItems accepts 4 MB; anything much larger is refused before parsing. */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;
const MAX_TRANSACT_ITEMS = 100;
const ACTION_KINDS = ['ConditionCheck', 'Put', 'Delete', 'Update'] as const;
type ActionKind = (typeof ACTION_KINDS)[number];

/** ConditionCheck emulation: an attribute no item has, so `SET #s = #s` fails once the condition held. */
const SENTINEL_PLACEHOLDER = '#localTransactionConditionCheck';
const SENTINEL_ATTRIBUTE = '__local_transaction_condition_check__';
const MISSING_ATTRIBUTE_MESSAGE =
  'The provided expression refers to an attribute that does not exist in the item';

type RequestListener = (request: IncomingMessage, response: ServerResponse) => void;

/** An attribute value or map as it travels in the JSON protocol (binary as base64 strings). */
type WireValue = Record<string, unknown>;
type WireMap = Record<string, WireValue>;
type ItemMap = Record<string, AttributeValue>;

interface WireAction {
  readonly TableName?: unknown;
  readonly Key?: unknown;
  readonly Item?: unknown;
  readonly UpdateExpression?: unknown;
  readonly ConditionExpression?: unknown;
  readonly ExpressionAttributeNames?: unknown;
  readonly ExpressionAttributeValues?: unknown;
  readonly ReturnValuesOnConditionCheckFailure?: unknown;
}

/** One transaction item, validated and converted for the SDK. */
interface Action {
  readonly kind: ActionKind;
  readonly tableName: string;
  readonly key: ItemMap;
  readonly item: ItemMap | undefined;
  readonly updateExpression: string | undefined;
  readonly conditionExpression: string | undefined;
  readonly names: Record<string, string> | undefined;
  readonly values: ItemMap | undefined;
  readonly returnOldOnFailure: boolean;
}

/** A write already applied, with what to put back. */
interface Applied {
  readonly tableName: string;
  readonly key: ItemMap;
  readonly previous: ItemMap | undefined;
}

/** An error answered in DynamoDB's JSON error shape. */
class DynamoError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DynamoError';
  }

  body(): Record<string, unknown> {
    return { __type: this.type, message: this.message, ...this.extra };
  }
}

const validation = (message: string) => new DynamoError(400, VALIDATION_ERROR, message);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Wire → SDK: the SDK wants binary as bytes and base64-encodes it itself. */
function fromWire(value: WireValue): AttributeValue {
  if (typeof value.B === 'string') return { B: Buffer.from(value.B, 'base64') };
  if (Array.isArray(value.BS)) return { BS: value.BS.map((b) => Buffer.from(String(b), 'base64')) };
  if (isRecord(value.M)) return { M: fromWireMap(value.M as WireMap) };
  if (Array.isArray(value.L)) return { L: value.L.map((v) => fromWire(v as WireValue)) };
  return value as unknown as AttributeValue;
}

function fromWireMap(map: WireMap): ItemMap {
  return Object.fromEntries(Object.entries(map).map(([name, value]) => [name, fromWire(value)]));
}

/** SDK → wire, for an item returned in a cancellation reason. */
function toWire(value: AttributeValue): WireValue {
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BS !== undefined) return { BS: value.BS.map((b) => Buffer.from(b).toString('base64')) };
  if (value.M !== undefined) return { M: toWireMap(value.M) };
  if (value.L !== undefined) return { L: value.L.map(toWire) };
  return value as unknown as WireValue;
}

function toWireMap(map: ItemMap): WireMap {
  return Object.fromEntries(Object.entries(map).map(([name, value]) => [name, toWire(value)]));
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  throw validation(`${field} must be a string`);
}

function optionalMap(value: unknown, field: string): Record<string, unknown> | undefined {
  if (value === undefined || isRecord(value)) return value;
  throw validation(`${field} must be a map`);
}

function isServiceError(error: unknown, name: string): error is DynamoDBServiceException {
  return error instanceof DynamoDBServiceException && error.name === name;
}

function isConditionalCheckFailed(error: unknown): boolean {
  return isServiceError(error, 'ConditionalCheckFailedException');
}

/** Runs tasks one at a time, in call order. */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

class TransactionExecutor {
  private readonly mutex = new Mutex();

  constructor(private readonly client: DynamoDBClient) {}

  execute(request: unknown): Promise<void> {
    return this.mutex.run(() => this.run(request));
  }

  private async run(request: unknown): Promise<void> {
    const actions = await this.parse(request);
    const applied: Applied[] = [];
    for (const [index, action] of actions.entries()) {
      let held: boolean;
      try {
        if (action.kind === 'ConditionCheck') {
          held = await this.conditionHolds(action);
        } else {
          const previous = await this.write(action);
          applied.push({ tableName: action.tableName, key: action.key, previous });
          held = true;
        }
      } catch (error) {
        if (!isConditionalCheckFailed(error)) {
          await this.rollBack(applied);
          throw error;
        }
        held = false;
      }
      if (!held) {
        await this.rollBack(applied);
        throw await this.cancelled(actions, index);
      }
    }
  }

  /** Validates the request and resolves every item's key. */
  private async parse(request: unknown): Promise<Action[]> {
    const items = isRecord(request) ? request.TransactItems : undefined;
    if (!Array.isArray(items)) {
      throw validation(
        "1 validation error detected: Value null at 'transactItems' failed to satisfy constraint: Member must not be null",
      );
    }
    if (items.length < 1 || items.length > MAX_TRANSACT_ITEMS) {
      const bound =
        items.length < 1 ? 'greater than or equal to 1' : `less than or equal to ${MAX_TRANSACT_ITEMS}`;
      throw validation(
        `1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length ${bound}`,
      );
    }
    const keySchemas = new Map<string, Promise<string[]>>();
    const seen = new Set<string>();
    const actions: Action[] = [];
    for (const entry of items) {
      const kinds = isRecord(entry) ? ACTION_KINDS.filter((kind) => entry[kind] !== undefined) : [];
      const [kind] = kinds;
      if (kind === undefined || kinds.length !== 1 || !isRecord(entry)) {
        throw validation('TransactItems can only contain one of Check, Put, Update or Delete');
      }
      const body = entry[kind];
      if (!isRecord(body)) throw validation(`${kind} must be a map`);
      const action = body as WireAction;
      const tableName = action.TableName;
      if (typeof tableName !== 'string' || tableName === '') {
        throw validation(`${kind}.TableName is required`);
      }

      let schema = keySchemas.get(tableName);
      if (!schema) {
        schema = this.keyAttributes(tableName);
        keySchemas.set(tableName, schema);
      }
      const keyNames = await schema;
      const source = kind === 'Put' ? action.Item : action.Key;
      if (!isRecord(source)) throw validation(`${kind}.${kind === 'Put' ? 'Item' : 'Key'} is required`);
      const keyEntries = keyNames.map((name) => {
        const value = source[name];
        if (!isRecord(value)) {
          throw validation(
            kind === 'Put'
              ? `One or more parameter values were invalid: Missing the key ${name} in the item`
              : 'The provided key element does not match the schema',
          );
        }
        return [name, value] as const;
      });
      if (kind !== 'Put' && Object.keys(source).length !== keyNames.length) {
        throw validation('The provided key element does not match the schema');
      }
      const identity = JSON.stringify([tableName, ...keyEntries]);
      if (seen.has(identity)) {
        throw validation('Transaction request cannot include multiple operations on one item');
      }
      seen.add(identity);

      const names = optionalMap(action.ExpressionAttributeNames, `${kind}.ExpressionAttributeNames`);
      const values = optionalMap(action.ExpressionAttributeValues, `${kind}.ExpressionAttributeValues`);
      const updateExpression = optionalString(action.UpdateExpression, `${kind}.UpdateExpression`);
      if (kind === 'Update' && updateExpression === undefined) {
        throw validation('Update.UpdateExpression is required');
      }
      const conditionExpression = optionalString(action.ConditionExpression, `${kind}.ConditionExpression`);
      if (kind === 'ConditionCheck' && conditionExpression === undefined) {
        throw validation('ConditionCheck.ConditionExpression is required');
      }
      actions.push({
        kind,
        tableName,
        key: fromWireMap(Object.fromEntries(keyEntries)),
        item: kind === 'Put' ? fromWireMap(source as WireMap) : undefined,
        updateExpression,
        conditionExpression,
        names: names as Record<string, string> | undefined,
        values: values && fromWireMap(values as WireMap),
        returnOldOnFailure: action.ReturnValuesOnConditionCheckFailure === 'ALL_OLD',
      });
    }
    return actions;
  }

  /** The table's key attribute names (HASH first); DescribeTable's errors pass through. */
  private async keyAttributes(tableName: string): Promise<string[]> {
    const { Table: table } = await this.client.send(new DescribeTableCommand({ TableName: tableName }));
    const schema = table?.KeySchema ?? [];
    const ordered = [...schema].sort((a, b) => (a.KeyType === 'HASH' ? -1 : b.KeyType === 'HASH' ? 1 : 0));
    return ordered.map((element) => String(element.AttributeName));
  }

  /** Applies one Put / Delete / Update; returns the item's previous image (undefined when none). */
  private async write(action: Action): Promise<ItemMap | undefined> {
    const common = {
      TableName: action.tableName,
      ConditionExpression: action.conditionExpression,
      ExpressionAttributeNames: action.names,
      ExpressionAttributeValues: action.values,
      ReturnValues: 'ALL_OLD' as const,
    };
    if (action.kind === 'Put') {
      return (await this.client.send(new PutItemCommand({ ...common, Item: action.item }))).Attributes;
    }
    if (action.kind === 'Delete') {
      return (await this.client.send(new DeleteItemCommand({ ...common, Key: action.key }))).Attributes;
    }
    const update = new UpdateItemCommand({
      ...common,
      Key: action.key,
      UpdateExpression: action.updateExpression,
    });
    return (await this.client.send(update)).Attributes;
  }

  /**
   * Whether the item's ConditionExpression holds now, without writing anything: an UpdateItem with that
   * condition whose update `SET #sentinel = #sentinel` (an attribute no item has) fails right after the
   * condition held. Only the names and values the condition uses are sent (an Update's others would be
   * refused as unused). Errors other than the condition failing are thrown.
   */
  private async conditionHolds(action: Action): Promise<boolean> {
    const condition = action.conditionExpression;
    if (condition === undefined) return true;
    const used = new Set(condition.match(/[#:][A-Za-z0-9_]+/g));
    const pick = <T>(map: Record<string, T> | undefined) => {
      const picked = Object.entries(map ?? {}).filter(([token]) => used.has(token));
      return picked.length > 0 ? Object.fromEntries(picked) : undefined;
    };
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: action.tableName,
          Key: action.key,
          UpdateExpression: `SET ${SENTINEL_PLACEHOLDER} = ${SENTINEL_PLACEHOLDER}`,
          ConditionExpression: condition,
          ExpressionAttributeNames: { ...pick(action.names), [SENTINEL_PLACEHOLDER]: SENTINEL_ATTRIBUTE },
          ExpressionAttributeValues: pick(action.values),
        }),
      );
      // Only reached when the item has the sentinel attribute: it was set to itself, nothing changed.
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      if (isServiceError(error, 'ValidationException') && error.message === MISSING_ATTRIBUTE_MESSAGE)
        return true;
      throw error;
    }
  }

  /** Undoes applied writes, last first. Throws a 500 naming how many could not be undone. */
  private async rollBack(applied: readonly Applied[]): Promise<void> {
    const failures: string[] = [];
    for (const { tableName, key, previous } of [...applied].reverse()) {
      try {
        if (previous) {
          await this.client.send(new PutItemCommand({ TableName: tableName, Item: previous }));
        } else {
          await this.client.send(new DeleteItemCommand({ TableName: tableName, Key: key }));
        }
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      }
    }
    if (failures.length > 0) {
      throw new DynamoError(
        500,
        `${DYNAMODB_ERROR}InternalServerError`,
        `Local transaction left half-applied: ${failures.length} write(s) could not be undone (${failures.join('; ')})`,
      );
    }
  }

  /**
   * The TransactionCanceledException for the condition that failed at `failedIndex`. Like DynamoDB, every
   * item's condition is reported: the items after it are checked (without writing) against the state the
   * undo restored, the items before it held.
   */
  private async cancelled(actions: readonly Action[], failedIndex: number): Promise<DynamoError> {
    const reasons: Record<string, unknown>[] = [];
    for (const [index, action] of actions.entries()) {
      let held = index < failedIndex;
      if (index > failedIndex) {
        try {
          held = await this.conditionHolds(action);
        } catch (error) {
          if (!isServiceError(error, 'ValidationException')) throw error;
          reasons.push({ Code: 'ValidationError', Message: error.message });
          continue;
        }
      }
      if (held) {
        reasons.push({ Code: 'None' });
        continue;
      }
      const reason: Record<string, unknown> = {
        Code: 'ConditionalCheckFailed',
        Message: 'The conditional request failed',
      };
      if (action.returnOldOnFailure) {
        // dynalite ignores ReturnValuesOnConditionCheckFailure: read the item that failed the condition.
        const { Item: item } = await this.client.send(
          new GetItemCommand({ TableName: action.tableName, Key: action.key, ConsistentRead: true }),
        );
        if (item) reason.Item = toWireMap(item);
      }
      reasons.push(reason);
    }
    const codes = reasons.map((reason) => reason.Code).join(', ');
    return new DynamoError(
      400,
      `${DYNAMODB_ERROR}TransactionCanceledException`,
      `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes}]`,
      { CancellationReasons: reasons },
    );
  }
}

/** Any failure as DynamoDB would answer it. */
function toDynamoError(error: unknown): DynamoError {
  if (error instanceof DynamoError) return error;
  if (error instanceof DynamoDBServiceException) {
    const type = error.name === 'ValidationException' ? VALIDATION_ERROR : `${DYNAMODB_ERROR}${error.name}`;
    return new DynamoError(error.$metadata.httpStatusCode ?? 400, type, error.message);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new DynamoError(500, `${DYNAMODB_ERROR}InternalServerError`, message);
}

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

/** Starts dynalite on 127.0.0.1 with TransactWriteItems emulated (see the header comment for limits). */
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
