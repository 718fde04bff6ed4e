/*
 * Counting what AWS would bill, inside the pipeline process: an SDK middleware on the handlers' singleton
 * clients (lambdas/commons/clients.ts) and on the local stack's own SQS client (it plays Lambda's event
 * source mappings and EventBridge's SQS rule target), plus the pollers' invocation durations.
 */

export type Origin = 'handler' | 'esm';

export interface OperationTally {
  calls: number;
  errors: number;
  /** Entries of batch calls (messages sent, received or deleted; events put). */
  entries: number;
  /** SQS and EventBridge bill each 64 KB chunk of a payload as one request or event. */
  chunks: number;
  /** ReceiveMessage calls that returned nothing. */
  empty: number;
  /** SendMessageBatch entries with a delay: deliveries deferred without an attempt. */
  delayed: number;
  /** DynamoDB units: as dynalite reports them (ReturnConsumedCapacity TOTAL, table only)... */
  readUnits: number;
  writeUnits: number;
  /** ...plus what it does not: index writes, failed conditional writes, transactions (estimated). */
  estimatedWriteUnits: number;
}

export interface InvocationTally {
  count: number;
  records: number;
  ms: number;
  /** Lambda rounds each invocation's duration up to the millisecond. */
  billedMs: number;
  maxMs: number;
}

export interface Tally {
  /** `<origin> <service> <operation>`. */
  operations: Record<string, OperationTally>;
  invocations: Record<string, InvocationTally>;
  errors: string[];
}

/** Across windows: the handlers' SDK calls in flight and made so far (to tell when the pipeline is quiet). */
export const activity = { inFlight: 0, calls: 0 };

export function emptyTally(): Tally {
  return { operations: {}, invocations: {}, errors: [] };
}

export function recordInvocation(tally: Tally, name: string, ms: number, records: number): void {
  const entry = tally.invocations[name] ?? { count: 0, records: 0, ms: 0, billedMs: 0, maxMs: 0 };
  tally.invocations[name] = entry;
  entry.count += 1;
  entry.records += records;
  entry.ms += ms;
  entry.billedMs += Math.max(1, Math.ceil(ms));
  entry.maxMs = Math.max(entry.maxMs, ms);
}

type Json = Record<string, unknown>;
type Next = (args: { input: Json }) => Promise<{ output: Json }>;
interface Stack {
  add(
    middleware: (next: Next, context: { commandName?: string; clientName?: string }) => Next,
    options: { step: 'initialize'; name: string; priority: 'high' },
  ): void;
}

const CHUNK = 64 * 1024;
const DYNAMO_READS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems']);
const DYNAMO_CAPACITY = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactWriteItems',
  'TransactGetItems',
]);

/** Adds the counting middleware to an SDK client (DynamoDB document client, SQS or EventBridge). */
export function instrument(
  client: { middlewareStack: unknown },
  service: 'DynamoDB' | 'SQS' | 'EventBridge',
  origin: Origin,
  current: () => Tally,
): void {
  (client.middlewareStack as Stack).add(
    (next, context) => async (args) => {
      const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
      const input =
        service === 'DynamoDB' && DYNAMO_CAPACITY.has(operation)
          ? { ...args.input, ReturnConsumedCapacity: 'TOTAL' }
          : args.input;
      const tally = current();
      const queue = typeof input.QueueUrl === 'string' ? ` ${input.QueueUrl.split('/').at(-1)}` : '';
      const key = `${origin} ${service} ${operation}${queue}`;
      const entry = tally.operations[key] ?? {
        calls: 0,
        errors: 0,
        entries: 0,
        chunks: 0,
        empty: 0,
        delayed: 0,
        readUnits: 0,
        writeUnits: 0,
        estimatedWriteUnits: 0,
      };
      tally.operations[key] = entry;
      entry.calls += 1;
      countInput(entry, service, operation, input);
      if (origin === 'handler') {
        activity.inFlight += 1;
        activity.calls += 1;
      }
      try {
        const result = await next({ ...args, input });
        countOutput(entry, service, operation, input, result.output);
        return result;
      } catch (error) {
        entry.errors += 1;
        const name = error instanceof Error ? error.name : 'Error';
        // A failed conditional write still consumes (at least) one write unit on AWS.
        if (name === 'ConditionalCheckFailedException') entry.estimatedWriteUnits += 1;
        else if (tally.errors.length < 20) tally.errors.push(`${key}: ${name}`);
        throw error;
      } finally {
        if (origin === 'handler') activity.inFlight -= 1;
      }
    },
    { step: 'initialize', name: 'benchTally', priority: 'high' },
  );
}

function bytes(value: unknown): number {
  return typeof value === 'string' ? Buffer.byteLength(value) : 0;
}

function chunks(total: number): number {
  return Math.max(1, Math.ceil(total / CHUNK));
}

function countInput(entry: OperationTally, service: string, operation: string, input: Json): void {
  const list = (name: string) => (Array.isArray(input[name]) ? (input[name] as Json[]) : []);
  if (service === 'SQS' && operation === 'SendMessageBatch') {
    const entries = list('Entries');
    entry.entries += entries.length;
    entry.delayed += entries.filter((message) => Number(message.DelaySeconds ?? 0) > 0).length;
    entry.chunks += chunks(entries.reduce((sum, message) => sum + bytes(message.MessageBody), 0));
  } else if (service === 'SQS' && operation === 'DeleteMessageBatch') {
    entry.entries += list('Entries').length;
    entry.chunks += 1;
  } else if (service === 'SQS' && operation !== 'ReceiveMessage') {
    entry.chunks += 1;
  } else if (service === 'EventBridge' && operation === 'PutEvents') {
    const entries = list('Entries');
    entry.entries += entries.length;
    // Each event is billed per 64 KB chunk of its own size.
    entry.chunks += entries.reduce((sum, event) => sum + chunks(bytes(event.Detail)), 0);
  } else if (service === 'DynamoDB' && operation === 'TransactWriteItems') {
    // The local server ignores ReturnConsumedCapacity here: 2 units per KB of each item (estimate).
    for (const item of list('TransactItems')) {
      const size = Buffer.byteLength(JSON.stringify(item));
      entry.estimatedWriteUnits += 2 * Math.max(1, Math.ceil(size / 1024));
    }
  }
}

function countOutput(entry: OperationTally, service: string, operation: string, input: Json, output: Json) {
  if (service === 'SQS' && operation === 'ReceiveMessage') {
    const messages = Array.isArray(output.Messages) ? (output.Messages as Json[]) : [];
    entry.entries += messages.length;
    if (messages.length === 0) entry.empty += 1;
    entry.chunks += chunks(messages.reduce((sum, message) => sum + bytes(message.Body), 0));
  }
  if (service !== 'DynamoDB') return;
  const consumed = output.ConsumedCapacity;
  const units = (Array.isArray(consumed) ? (consumed as Json[]) : consumed ? [consumed as Json] : []).reduce(
    (sum, item) => sum + Number(item.CapacityUnits ?? 0),
    0,
  );
  if (DYNAMO_READS.has(operation)) entry.readUnits += units;
  else entry.writeUnits += units;
  // dynalite counts the table only: a write that sets the index key also writes the index (projection
  // ALL, so about the same size): counted again, as an estimate.
  const values = (input.ExpressionAttributeValues ?? {}) as Json;
  const item = (input.Item ?? {}) as Json;
  if ((operation === 'UpdateItem' || operation === 'PutItem') && ('gsi1pk' in item || ':gsi1pk' in values))
    entry.estimatedWriteUnits += units;
  if (operation === 'BatchWriteItem') {
    const requests = Object.values((input.RequestItems ?? {}) as Record<string, Json[]>).flat();
    for (const request of requests) {
      const put = (request.PutRequest as Json | undefined)?.Item as Json | undefined;
      if (put && 'gsi1pk' in put) entry.estimatedWriteUnits += Math.max(1, Math.ceil(itemSize(put) / 1024));
    }
  }
}

/** An item's size as DynamoDB counts it (names and values in bytes), approximately. */
export function itemSize(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value === 'number') return Math.ceil(String(value).replace(/[-.]/g, '').length / 2) + 1;
  if (typeof value === 'boolean' || value === null || value === undefined) return 1;
  if (Array.isArray(value)) return 3 + value.reduce((sum: number, element) => sum + 1 + itemSize(element), 0);
  if (typeof value === 'object')
    return (
      3 +
      Object.entries(value as Json).reduce(
        (sum, [name, element]) => sum + 1 + Buffer.byteLength(name) + itemSize(element),
        0,
      )
    );
  return 0;
}
