import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandInput,
  BatchWriteCommand,
  type BatchWriteCommandInput,
  type DynamoDBDocumentClient,
  GetCommand,
  type GetCommandInput,
  PutCommand,
  type PutCommandInput,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { AwsClientStub } from 'aws-sdk-client-mock';

/*
 * An in-memory single table behind an aws-sdk-client-mock stub of the document client, so handler tests
 * can seed items, run the real adapters, and assert the items as they were written.
 *
 * It understands exactly the expressions the adapters use and throws on anything else, so a test never
 * passes because the fake silently ignored a write:
 * - conditions: `attribute_exists(p)`, `attribute_not_exists(p)`, `p = v`, `p <> v`, `begins_with(p, v)`, joined
 *   with AND and OR (AND binding tighter) and grouped with parentheses;
 * - updates: `SET p = v, ...` and `REMOVE p, ...`, where v is `:value`, a path, `a + b`,
 *   `if_not_exists(p, v)` or `list_append(a, b)`;
 * - Query on the table's pk (optionally `begins_with(sk, ...)`), FilterExpression, Limit,
 *   ExclusiveStartKey, ScanIndexForward, applied in DynamoDB's order (key, page limit, then filter);
 * - BatchGetItem (Keys, ConsistentRead, ProjectionExpression; Responses keyed by table name) and
 *   BatchWriteItem (PutRequest, DeleteRequest), with DynamoDB's limits (100 keys, 25 requests, no key
 *   twice in one request: a ValidationException, nothing read or written). `leaveUnprocessed` makes
 *   them answer some keys or items as UnprocessedKeys / UnprocessedItems, as a throttled table does.
 * Every read is strongly consistent: ConsistentRead is accepted and must be a boolean when given.
 * Paths are top-level attribute names (`#name` placeholders or plain names). Like DynamoDB, a failed
 * condition of a Put with `ReturnValuesOnConditionCheckFailure: ALL_OLD` carries the old item in
 * AttributeValue form (the document client does not unmarshall errors).
 */

export type Item = Record<string, unknown>;
type Names = Readonly<Record<string, string>> | undefined;
type Values = Readonly<Record<string, unknown>> | undefined;

/** One request to the table, as a failure predicate sees it. */
export type TableRequest =
  | { readonly operation: 'Get'; readonly input: GetCommandInput }
  | { readonly operation: 'Put'; readonly input: PutCommandInput }
  | { readonly operation: 'Update'; readonly input: UpdateCommandInput }
  | { readonly operation: 'Query'; readonly input: QueryCommandInput }
  | { readonly operation: 'BatchGet'; readonly input: BatchGetCommandInput }
  | { readonly operation: 'BatchWrite'; readonly input: BatchWriteCommandInput };

/**
 * One key a BatchGetItem asks for, or one request of a BatchWriteItem (its key, and the item of a put),
 * as `leaveUnprocessed` picks them.
 */
export interface BatchEntry {
  readonly operation: 'BatchGet' | 'BatchWrite';
  readonly key: { readonly pk: unknown; readonly sk: unknown };
  readonly item?: Item;
}

interface Unprocessed {
  readonly operation: 'BatchGet' | 'BatchWrite';
  readonly pick: (entry: BatchEntry) => boolean;
  /** How many more requests it applies to. */
  times: number;
}

export interface FakeTableOptions {
  /** Most items one Query page scans (DynamoDB's 1 MB page, made small); default unlimited. */
  readonly pageSize?: number;
}

export class FakeTable {
  private readonly items = new Map<string, Item>();
  private readonly pageSize: number;
  private readonly failures: { when: (request: TableRequest) => boolean; error: Error }[] = [];
  private readonly unprocessed: Unprocessed[] = [];

  constructor(options: FakeTableOptions = {}) {
    this.pageSize = options.pageSize ?? Number.POSITIVE_INFINITY;
  }

  /** Answers the stub's Get, Put, Update, Query, BatchGet and BatchWrite commands from this table. */
  install(stub: AwsClientStub<DynamoDBDocumentClient>): this {
    stub.on(GetCommand).callsFake(async (input: GetCommandInput) => {
      this.failIfAsked({ operation: 'Get', input });
      return this.get(input);
    });
    stub.on(PutCommand).callsFake(async (input: PutCommandInput) => {
      this.failIfAsked({ operation: 'Put', input });
      return this.put(input);
    });
    stub.on(UpdateCommand).callsFake(async (input: UpdateCommandInput) => {
      this.failIfAsked({ operation: 'Update', input });
      return this.update(input);
    });
    stub.on(QueryCommand).callsFake(async (input: QueryCommandInput) => {
      this.failIfAsked({ operation: 'Query', input });
      return this.query(input);
    });
    stub.on(BatchGetCommand).callsFake(async (input: BatchGetCommandInput) => {
      this.failIfAsked({ operation: 'BatchGet', input });
      return this.batchGet(input);
    });
    stub.on(BatchWriteCommand).callsFake(async (input: BatchWriteCommandInput) => {
      this.failIfAsked({ operation: 'BatchWrite', input });
      return this.batchWrite(input);
    });
    return this;
  }

  /**
   * Makes the next `times` (default 1) BatchGetItem or BatchWriteItem requests leave the keys or items
   * `pick` chooses (default all) unprocessed: not read or written, and answered back to be retried.
   */
  leaveUnprocessed(
    operation: 'BatchGet' | 'BatchWrite',
    options: { readonly pick?: (entry: BatchEntry) => boolean; readonly times?: number } = {},
  ): this {
    this.unprocessed.push({ operation, pick: options.pick ?? (() => true), times: options.times ?? 1 });
    return this;
  }

  /** Makes every request `when` picks fail with `error` (a throttle, an outage), leaving the table as it was. */
  failWhen(when: (request: TableRequest) => boolean, error: Error): this {
    this.failures.push({ when, error });
    return this;
  }

  /** Stores items as they are (seeding: no conditions). */
  seed(...items: Item[]): this {
    for (const item of items) this.items.set(keyOf(item), structuredClone(item));
    return this;
  }

  /** Removes the item at `pk`/`sk`, as TTL would: no request, no condition. */
  expire(pk: string, sk: string): this {
    this.items.delete(keyOf({ pk, sk }));
    return this;
  }

  /** A copy of the item at `pk`/`sk`, if any. */
  item(pk: string, sk: string): Item | undefined {
    const item = this.items.get(keyOf({ pk, sk }));
    return item && structuredClone(item);
  }

  /** Copies of every item whose pk starts with `prefix`, in key order. */
  itemsUnder(prefix: string): Item[] {
    return [...this.items.values()]
      .filter((item) => String(item.pk).startsWith(prefix))
      .sort(byKey)
      .map((item) => structuredClone(item));
  }

  private failIfAsked(request: TableRequest): void {
    const failure = this.failures.find(({ when }) => when(request));
    if (failure) throw failure.error;
  }

  private get(input: GetCommandInput) {
    checkConsistentRead(input.ConsistentRead);
    const item = this.items.get(keyOf(input.Key ?? {}));
    return item ? { Item: project(structuredClone(item), input.ProjectionExpression, input) } : {};
  }

  /** The picker of the next request of `operation` that leaves entries unprocessed, used up once. */
  private takeUnprocessed(operation: Unprocessed['operation']): ((entry: BatchEntry) => boolean) | undefined {
    const next = this.unprocessed.find((entry) => entry.operation === operation && entry.times > 0);
    if (!next) return undefined;
    next.times -= 1;
    return next.pick;
  }

  private batchGet(input: BatchGetCommandInput) {
    const tables = Object.entries(input.RequestItems ?? {});
    if (tables.length !== 1) throw new Error('fake table: BatchGetItem of exactly one table');
    const [[tableName, request] = ['', {}]] = tables;
    checkConsistentRead(request.ConsistentRead);
    const keys = (request.Keys ?? []) as Item[];
    if (keys.length === 0) throw validationError('Keys must have length greater than or equal to 1');
    if (keys.length > 100) throw validationError('Too many items requested for the BatchGetItem call');
    if (new Set(keys.map(keyOf)).size !== keys.length)
      throw validationError('Provided list of item keys contains duplicates');
    const pick = this.takeUnprocessed('BatchGet');
    const left = pick
      ? keys.filter((key) => pick({ operation: 'BatchGet', key: { pk: key.pk, sk: key.sk } }))
      : [];
    const responses = keys
      .filter((key) => !left.includes(key))
      .flatMap((key) => {
        const item = this.items.get(keyOf(key));
        return item ? [project(structuredClone(item), request.ProjectionExpression, request)] : [];
      });
    return {
      Responses: { [tableName]: responses },
      UnprocessedKeys:
        left.length > 0
          ? {
              [tableName]: {
                ...request,
                Keys: left.map((key) => structuredClone(key)),
              },
            }
          : {},
    };
  }

  private batchWrite(input: BatchWriteCommandInput) {
    const tables = Object.entries(input.RequestItems ?? {});
    if (tables.length !== 1) throw new Error('fake table: BatchWriteItem of exactly one table');
    const [[tableName, requests] = ['', []]] = tables;
    if (requests.length === 0)
      throw validationError('RequestItems must have length greater than or equal to 1');
    if (requests.length > 25) throw validationError('Too many items requested for the BatchWriteItem call');
    const entries = requests.map((request): BatchEntry => {
      const { PutRequest: put, DeleteRequest: remove } = request;
      if ((put === undefined) === (remove === undefined))
        throw new Error('fake table: a write request needs exactly one of PutRequest and DeleteRequest');
      if (put) {
        const item = put.Item ?? {};
        return { operation: 'BatchWrite', key: { pk: item.pk, sk: item.sk }, item };
      }
      return { operation: 'BatchWrite', key: { pk: remove?.Key?.pk, sk: remove?.Key?.sk } };
    });
    if (new Set(entries.map((entry) => keyOf(entry.key))).size !== entries.length)
      throw validationError('Provided list of item keys contains duplicates');
    const pick = this.takeUnprocessed('BatchWrite');
    const left: typeof requests = [];
    entries.forEach((entry, index) => {
      if (pick?.(entry)) {
        left.push(structuredClone(requests[index] ?? {}));
        return;
      }
      if (entry.item) this.items.set(keyOf(entry.key), structuredClone(entry.item));
      else this.items.delete(keyOf(entry.key));
    });
    return { UnprocessedItems: left.length > 0 ? { [tableName]: left } : {} };
  }

  private put(input: PutCommandInput) {
    const next = structuredClone(input.Item ?? {});
    const old = this.items.get(keyOf(next));
    if (input.ConditionExpression && !holds(input.ConditionExpression, old, input)) {
      throw conditionFailed(input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' ? old : undefined);
    }
    this.items.set(keyOf(next), next);
    return {};
  }

  private update(input: UpdateCommandInput) {
    const key = input.Key ?? {};
    const old = this.items.get(keyOf(key));
    if (input.ConditionExpression && !holds(input.ConditionExpression, old, input)) {
      throw conditionFailed(input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' ? old : undefined);
    }
    const next: Item = structuredClone(old ?? { ...key });
    const set = applyUpdate(input.UpdateExpression ?? '', next, input);
    this.items.set(keyOf(next), next);
    if (input.ReturnValues === 'ALL_NEW') return { Attributes: structuredClone(next) };
    if (input.ReturnValues === 'UPDATED_NEW') {
      return { Attributes: Object.fromEntries(set.map((name) => [name, structuredClone(next[name])])) };
    }
    return {};
  }

  private query(input: QueryCommandInput) {
    if (input.IndexName) return this.queryIndex(input);
    const key = parseKeyCondition(input);
    let candidates = [...this.items.values()]
      .filter(
        (item) => item.pk === key.pk && (key.skPrefix === undefined || startsWith(item.sk, key.skPrefix)),
      )
      .sort(byKey);
    if (input.ScanIndexForward === false) candidates.reverse();
    const start = input.ExclusiveStartKey;
    if (start) {
      // As DynamoDB: resume after the start key's position in key order, whether or not an item has it.
      const forward = input.ScanIndexForward !== false;
      const from = keyOf(start);
      candidates = candidates.filter((item) => (forward ? keyOf(item) > from : keyOf(item) < from));
    }
    const limit = Math.min(input.Limit ?? Number.POSITIVE_INFINITY, this.pageSize);
    const scanned = candidates.slice(0, limit);
    const filter = input.FilterExpression;
    const items = filter ? scanned.filter((item) => holds(filter, item, input)) : scanned;
    const last = scanned.at(-1);
    return {
      Items: items.map((item) => structuredClone(item)),
      Count: items.length,
      ScannedCount: scanned.length,
      ...(candidates.length > scanned.length && last
        ? { LastEvaluatedKey: { pk: last.pk, sk: last.sk } }
        : {}),
    };
  }

  /** gsi1 by `gsi1pk = :v` only, in gsi1sk order, with Limit (no start key, no filter). */
  private queryIndex(input: QueryCommandInput) {
    const match = /^gsi1pk = (:\w+)$/.exec(input.KeyConditionExpression ?? '');
    if (input.IndexName !== 'gsi1' || !match || input.ExclusiveStartKey || input.FilterExpression)
      throw new Error(`fake table: unsupported index query ${input.KeyConditionExpression}`);
    const value = input.ExpressionAttributeValues?.[match[1] ?? ''];
    const candidates = [...this.items.values()]
      .filter((item) => item.gsi1pk === value)
      .sort((a, b) => String(a.gsi1sk).localeCompare(String(b.gsi1sk)));
    if (input.ScanIndexForward === false) candidates.reverse();
    const items = candidates.slice(0, input.Limit ?? candidates.length);
    const last = items.at(-1);
    return {
      Items: items.map((item) => structuredClone(item)),
      Count: items.length,
      ...(candidates.length > items.length && last
        ? { LastEvaluatedKey: { pk: last.pk, sk: last.sk, gsi1pk: last.gsi1pk, gsi1sk: last.gsi1sk } }
        : {}),
    };
  }
}

/** DynamoDB's answer to a request it refuses as a whole. */
function validationError(message: string): Error {
  const error = new Error(message);
  error.name = 'ValidationException';
  return error;
}

function checkConsistentRead(value: unknown): void {
  if (value !== undefined && typeof value !== 'boolean')
    throw validationError('ConsistentRead must be a boolean');
}

/** The item with only the top-level attributes a ProjectionExpression names (all without one). */
function project(item: Item, projection: string | undefined, expressions: Expressions): Item {
  if (projection === undefined) return item;
  const names = projection
    .split(',')
    .map((path) => attributeName(path.trim(), expressions.ExpressionAttributeNames));
  return Object.fromEntries(Object.entries(item).filter(([name]) => names.includes(name)));
}

/** The ConditionalCheckFailedException DynamoDB answers a failed condition with. */
export function conditionFailed(old?: Item): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: { httpStatusCode: 400 },
    ...(old && { Item: toAttributeValues(old) as ConditionalCheckFailedException['Item'] }),
  });
}

/** An item in DynamoDB's wire form (`{S: ...}`, `{N: ...}`, ...), as an error carries it. */
export function toAttributeValues(item: Item): Record<string, unknown> {
  return Object.fromEntries(Object.entries(item).map(([name, value]) => [name, toAttributeValue(value)]));
}

function toAttributeValue(value: unknown): unknown {
  if (value === null) return { NULL: true };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number') return { N: String(value) };
  if (typeof value === 'boolean') return { BOOL: value };
  if (Array.isArray(value)) return { L: value.map(toAttributeValue) };
  if (typeof value === 'object') return { M: toAttributeValues(value as Item) };
  throw new TypeError(`fake table: cannot store ${typeof value}`);
}

function keyOf(item: Readonly<Record<string, unknown>>): string {
  if (typeof item.pk !== 'string' || typeof item.sk !== 'string')
    throw new Error('fake table: items need string pk and sk');
  return `${item.pk}\u0000${item.sk}`;
}

function byKey(a: Item, b: Item): number {
  return keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0;
}

function startsWith(value: unknown, prefix: unknown): boolean {
  return typeof value === 'string' && typeof prefix === 'string' && value.startsWith(prefix);
}

interface Expressions {
  readonly ExpressionAttributeNames?: Names;
  readonly ExpressionAttributeValues?: Values;
}

/** Splits on `separator` outside parentheses. */
function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '(') depth++;
    else if (char === ')') depth--;
    else if (depth === 0 && text.startsWith(separator, i)) {
      parts.push(text.slice(start, i).trim());
      start = i + separator.length;
      i = start - 1;
    }
  }
  parts.push(text.slice(start).trim());
  return parts;
}

function attributeName(path: string, names: Names): string {
  const name = path.startsWith('#') ? names?.[path] : path;
  if (name === undefined || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw new Error(`fake table: unsupported path ${path}`);
  return name;
}

function operand(term: string, item: Item | undefined, expressions: Expressions): unknown {
  const text = term.trim();
  if (text.startsWith(':')) {
    const values = expressions.ExpressionAttributeValues;
    if (!values || !(text in values)) throw new Error(`fake table: no value for ${text}`);
    return structuredClone(values[text]);
  }
  const call = /^(\w+)\((.*)\)$/s.exec(text);
  if (call) {
    const [, name, args = ''] = call;
    const [first = '', second = ''] = splitTopLevel(args, ',');
    if (name === 'if_not_exists') {
      const current = item?.[attributeName(first, expressions.ExpressionAttributeNames)];
      return current === undefined ? operand(second, item, expressions) : structuredClone(current);
    }
    if (name === 'list_append') {
      const head = operand(first, item, expressions);
      const tail = operand(second, item, expressions);
      if (!Array.isArray(head) || !Array.isArray(tail))
        throw new Error('fake table: list_append of non-lists');
      return [...head, ...tail];
    }
    throw new Error(`fake table: unsupported function ${name}`);
  }
  const plus = splitTopLevel(text, ' + ');
  if (plus.length === 2) {
    const [left, right] = plus.map((part) => operand(part, item, expressions));
    if (typeof left !== 'number' || typeof right !== 'number')
      throw new Error('fake table: + of non-numbers');
    return left + right;
  }
  const name = attributeName(text, expressions.ExpressionAttributeNames);
  return structuredClone(item?.[name]);
}

/**
 * Whether `condition` holds for `item`: clauses joined with OR and AND (AND binding tighter, as in
 * DynamoDB), a parenthesized group evaluated as a condition of its own.
 */
function holds(condition: string, item: Item | undefined, expressions: Expressions): boolean {
  // Every clause is evaluated (no short circuit), so an unsupported one or a missing value always throws.
  const disjuncts = splitTopLevel(condition.trim(), ' OR ').map((conjunction) =>
    splitTopLevel(conjunction, ' AND ').map((clause) => clauseHolds(clause, item, expressions)),
  );
  return disjuncts.some((clauses) => clauses.every(Boolean));
}

function clauseHolds(clause: string, item: Item | undefined, expressions: Expressions): boolean {
  if (isGroup(clause)) return holds(clause.slice(1, -1), item, expressions);
  const names = expressions.ExpressionAttributeNames;
  const exists = /^attribute_(not_)?exists\((.+)\)$/.exec(clause);
  if (exists) {
    const present = item !== undefined && item[attributeName(exists[2] ?? '', names)] !== undefined;
    return exists[1] ? !present : present;
  }
  const prefix = /^begins_with\((.+)\)$/.exec(clause);
  if (prefix) {
    const [path = '', value = ''] = splitTopLevel(prefix[1] ?? '', ',');
    return startsWith(operand(path, item, expressions), operand(value, item, expressions));
  }
  const differs = splitTopLevel(clause, ' <> ');
  if (differs.length === 2) {
    const [left = '', right = ''] = differs;
    const [a, b] = [operand(left, item, expressions), operand(right, item, expressions)];
    // As in DynamoDB, a comparison with a missing attribute is false either way.
    return item !== undefined && a !== undefined && a !== b;
  }
  const equals = splitTopLevel(clause, ' = ');
  if (equals.length === 2) {
    const [left = '', right = ''] = equals;
    const [a, b] = [operand(left, item, expressions), operand(right, item, expressions)];
    return item !== undefined && a === b;
  }
  for (const [symbol, compare] of COMPARISONS) {
    const sides = splitTopLevel(clause, ` ${symbol} `);
    if (sides.length !== 2) continue;
    const [left = '', right = ''] = sides;
    const [a, b] = [operand(left, item, expressions), operand(right, item, expressions)];
    // As in DynamoDB, a comparison with a missing attribute (or of different types) is false.
    return typeof a === 'number' && typeof b === 'number' && compare(a, b);
  }
  throw new Error(`fake table: unsupported condition ${clause}`);
}

/** Number comparisons, the two-character ones first (` < ` is no part of ` <= `, but keep it obvious). */
const COMPARISONS: readonly [string, (a: number, b: number) => boolean][] = [
  ['<=', (a, b) => a <= b],
  ['>=', (a, b) => a >= b],
  ['<', (a, b) => a < b],
  ['>', (a, b) => a > b],
];

/** Whether `text` is one parenthesized group: its first parenthesis closes at its end. */
function isGroup(text: string): boolean {
  if (!text.startsWith('(') || !text.endsWith(')')) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')') depth--;
    if (depth === 0) return i === text.length - 1;
  }
  return false;
}

/** Applies SET and REMOVE clauses; returns the names of the attributes SET. */
function applyUpdate(expression: string, item: Item, expressions: Expressions): string[] {
  const set: string[] = [];
  const clauses = expression.split(/\b(SET|REMOVE)\b/).map((part) => part.trim());
  if (clauses[0] !== '') throw new Error(`fake table: unsupported update ${expression}`);
  // Every right-hand side reads the item as it was before the update, as in DynamoDB.
  const before = structuredClone(item);
  for (let i = 1; i < clauses.length; i += 2) {
    const action = clauses[i];
    const body = clauses[i + 1] ?? '';
    for (const part of splitTopLevel(body, ',')) {
      if (action === 'REMOVE') {
        delete item[attributeName(part, expressions.ExpressionAttributeNames)];
        continue;
      }
      const [path = '', value = ''] = splitTopLevel(part, ' = ');
      const name = attributeName(path, expressions.ExpressionAttributeNames);
      item[name] = operand(value, before, expressions);
      set.push(name);
    }
  }
  return set;
}

function parseKeyCondition(input: QueryCommandInput): { pk: unknown; skPrefix?: unknown } {
  if (input.IndexName) throw new Error('fake table: index queries are not supported');
  const clauses = splitTopLevel(input.KeyConditionExpression ?? '', ' AND ');
  const [pkClause = '', skClause] = clauses;
  const pk = /^pk = (:\w+)$/.exec(pkClause);
  if (!pk) throw new Error(`fake table: unsupported key condition ${input.KeyConditionExpression}`);
  const values = input.ExpressionAttributeValues ?? {};
  if (skClause === undefined) return { pk: values[pk[1] ?? ''] };
  const sk = /^begins_with\(sk, (:\w+)\)$/.exec(skClause);
  if (!sk) throw new Error(`fake table: unsupported key condition ${input.KeyConditionExpression}`);
  return { pk: values[pk[1] ?? ''], skPrefix: values[sk[1] ?? ''] };
}
