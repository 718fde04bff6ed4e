import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { ClientError } from '../core/errors.js';

/*
 * Helpers shared by the DynamoDB adapters. Key design: docs/DATA-MODEL.md.
 *
 * The adapters take a DynamoDBDocumentClient created by the caller. It must be created with
 * `marshallOptions: { removeUndefinedValues: true }` (optional domain fields are `undefined`, which
 * DynamoDB cannot store) and `convertClassInstanceToMap: false` (only plain objects are stored):
 * use createDocumentClient().
 */

/** A document client with the marshalling options the adapters rely on. */
export function createDocumentClient(config: DynamoDBClientConfig = {}): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(config), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
}

/** Attributes that exist for the table's keys, index and TTL, never part of a domain object. */
export const TABLE_ATTRIBUTES = ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'expiresAt'] as const;

/** An item as the document client returns it. */
export type Item = Record<string, unknown>;

/**
 * Domain fields whose keys a client or producer chose (event data, custom headers) are stored as JSON
 * text, never as DynamoDB maps: the document client's marshaller reads an own `constructor` key as the
 * object's class (a `{"constructor": "x"}` fails the write, `{"constructor": {"name": "String"}}` is
 * stored as "[object Object]") and loses a `__proto__` key. Text keeps every key and any nesting.
 * docs/DATA-MODEL.md.
 */
export type JsonFields = readonly string[];

/** The item of a domain object: `jsonFields` become JSON text; the caller adds the key attributes. */
export function toItem(domain: object, jsonFields: JsonFields = []): Item {
  const item: Item = { ...domain };
  for (const field of jsonFields) {
    const value = item[field];
    if (value !== undefined) item[field] = JSON.stringify(value);
  }
  return item;
}

/** A stored JSON field's value: text is parsed; a map (written by builds before JSON fields) is kept. */
export function fromJsonAttribute(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : value;
}

/**
 * The domain object stored in `item`: the item without its key, index and TTL attributes, `jsonFields`
 * parsed back. Reads trust what the adapters wrote (no validation); `T` names the stored shape.
 */
export function fromItem<T>(item: Item, jsonFields: JsonFields = []): T {
  const domain: Item = {};
  for (const [name, value] of Object.entries(item)) {
    if ((TABLE_ATTRIBUTES as readonly string[]).includes(name)) continue;
    domain[name] = jsonFields.includes(name) ? fromJsonAttribute(value) : value;
  }
  return domain as T;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** An opaque page cursor for the id of the last item returned. */
export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

/**
 * The id inside a cursor from encodeCursor. Throws ClientError 400 `invalid_cursor` unless the cursor
 * is canonical base64url of an id matching `idPattern`: a cursor carries an id, never a key, so the
 * caller rebuilds the start key inside its own partition.
 */
export function decodeCursor(cursor: string, idPattern: RegExp): string {
  const id = BASE64URL.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  if (encodeCursor(id) !== cursor || !idPattern.test(id)) {
    throw new ClientError(400, 'invalid_cursor', 'The cursor is not valid; start again without one', [
      { field: 'cursor', message: 'must be a cursor returned by this listing' },
    ]);
  }
  return id;
}

/** The id in a LastEvaluatedKey's `sk` (`<prefix><id>`), or undefined when there is no next page. */
export function lastEvaluatedId(lastEvaluatedKey: Item | undefined, skPrefix: string): string | undefined {
  const sk = lastEvaluatedKey?.sk;
  return typeof sk === 'string' && sk.startsWith(skPrefix) ? sk.slice(skPrefix.length) : undefined;
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/** A single-item write whose ConditionExpression did not hold. */
export function isConditionalCheckFailed(error: unknown): error is Error & { readonly Item?: unknown } {
  return errorName(error) === 'ConditionalCheckFailedException';
}

/**
 * The cancellation reason codes of a cancelled TransactWriteItems, one per action in request order
 * (`ConditionalCheckFailed`, `None`, `TransactionConflict`, ...); undefined for any other error.
 */
export function cancellationCodes(error: unknown): (string | undefined)[] | undefined {
  if (errorName(error) !== 'TransactionCanceledException' || typeof error !== 'object' || error === null) {
    return undefined;
  }
  const reasons = 'CancellationReasons' in error ? error.CancellationReasons : undefined;
  if (!Array.isArray(reasons)) return [];
  return reasons.map((reason: unknown) =>
    typeof reason === 'object' && reason !== null && 'Code' in reason && typeof reason.Code === 'string'
      ? reason.Code
      : undefined,
  );
}

/** Whether the transaction was cancelled because the condition of the action at `index` failed. */
export function conditionFailedAt(error: unknown, index: number): boolean {
  return cancellationCodes(error)?.[index] === 'ConditionalCheckFailed';
}

/** An UpdateItem that is a no-op when its condition does not hold; true when it was made. */
export async function updateIfPossible(
  client: DynamoDBDocumentClient,
  tableName: string,
  update: Omit<UpdateCommandInput, 'TableName'>,
): Promise<boolean> {
  try {
    await client.send(new UpdateCommand({ TableName: tableName, ...update }));
    return true;
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
    return false;
  }
}
