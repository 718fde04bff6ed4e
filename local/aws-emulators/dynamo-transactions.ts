import {
  DeleteItemCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  DynamoDBServiceException,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DYNAMODB_ERROR,
  DynamoError,
  fromWireMap,
  type ItemMap,
  isRecord,
  optionalMap,
  optionalString,
  toWireMap,
  validation,
  type WireMap,
} from './dynamo-wire.js';

/*
 * TransactWriteItems for dynalite, which lacks it. A transaction is emulated with single-item writes against this same server:
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

const MAX_TRANSACT_ITEMS = 100;
const ACTION_KINDS = ['ConditionCheck', 'Put', 'Delete', 'Update'] as const;
type ActionKind = (typeof ACTION_KINDS)[number];

/** ConditionCheck emulation: an attribute no item has, so `SET #s = #s` fails once the condition held. */
const SENTINEL_PLACEHOLDER = '#localTransactionConditionCheck';
const SENTINEL_ATTRIBUTE = '__local_transaction_condition_check__';
const MISSING_ATTRIBUTE_MESSAGE =
  'The provided expression refers to an attribute that does not exist in the item';

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

export class TransactionExecutor {
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
