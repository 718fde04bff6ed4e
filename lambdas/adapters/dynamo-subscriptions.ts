import {
  type DynamoDBDocumentClient,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { EntityName } from '../core/catalogue.js';
import { ClientError, subscriptionNameTaken, subscriptionQuotaReached } from '../core/errors.js';
import type { Subscription } from '../core/model.js';
import type { Page, PageRequest, SubscriptionStore } from '../core/ports.js';
import { coalesce } from './coalescer.js';
import { batchGet, MAX_BATCH_GET } from './dynamo-batch.js';
import {
  cancellationCodes,
  conditionFailedAt,
  decodeCursor,
  encodeCursor,
  fromItem,
  type Item,
  type JsonFields,
  lastEvaluatedId,
  toItem,
  updateIfPossible,
} from './dynamo-common.js';
import { countDownAction, countUpAction, readCount, seedCount } from './dynamo-subscription-count.js';

/*
 * Subscriptions (docs/DATA-MODEL.md):
 *   subscription  pk BRAND#<brand>  sk SUB#<id>             every Subscription field
 *   name lock     pk BRAND#<brand>  sk NAME#<lowercased>    subscriptionId
 *   count         pk BRAND#<brand>  sk COUNT                subscriptions (./dynamo-subscription-count.ts)
 * The name lock makes names unique per brand (ignoring case) inside the same transaction as the write.
 */

/** Custom headers have the client's names as keys: stored as JSON text (toItem). */
const JSON_FIELDS: JsonFields = ['headers'];
const fromSubscriptionItem = (item: Item) => fromItem<Subscription>(item, JSON_FIELDS);

const SUB_PREFIX = 'SUB#';
const NAME_PREFIX = 'NAME#';
const SUBSCRIPTION_ID = /^sub_[A-Za-z0-9_-]{16}$/;
/** Attempts to create when the brand's count is missing or moves between the write and the read. */
const CREATE_ATTEMPTS = 5;
/** Attempts to delete when the subscription keeps changing between the read and the write. */
const DELETE_ATTEMPTS = 3;

const brandKey = (brand: string) => `BRAND#${brand}`;
const subKey = (brand: string, id: string) => ({ pk: brandKey(brand), sk: `${SUB_PREFIX}${id}` });
const nameKey = (brand: string, name: string) => ({
  pk: brandKey(brand),
  sk: `${NAME_PREFIX}${name.toLowerCase()}`,
});

export class DynamoSubscriptionStore implements SubscriptionStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(subscription: Subscription, maxPerBrand: number): Promise<void> {
    const { brand, id, name } = subscription;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: this.tableName,
                  Item: { ...toItem(subscription, JSON_FIELDS), ...subKey(brand, id) },
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
              {
                Put: {
                  TableName: this.tableName,
                  Item: { ...nameKey(brand, name), subscriptionId: id },
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
              countUpAction(this.tableName, brand, maxPerBrand),
            ],
          }),
        );
        return;
      } catch (error) {
        if (conditionFailedAt(error, 1)) throw subscriptionNameTaken(name);
        if (!conditionFailedAt(error, 2)) throw error;
        // The count was at the quota, or missing (seed it), or moved by a racing request (try again).
        const count = await readCount(this.client, this.tableName, brand);
        if (count === undefined) await seedCount(this.client, this.tableName, brand);
        else if (count >= maxPerBrand || attempt >= CREATE_ATTEMPTS)
          throw subscriptionQuotaReached(maxPerBrand);
      }
    }
  }

  /** Coalesced: the subscriptions a batch of deliveries asks for in one turn are read in one request. */
  private readonly read = coalesce(
    (keys: readonly { pk: string; sk: string }[]) => batchGet(this.client, this.tableName, keys),
    MAX_BATCH_GET,
  );

  /** Coalesced: the same brand and entity asked in one turn share one query (asked after every event arrived). */
  private readonly activeQueries = new Map<string, Promise<Subscription[]>>();

  async get(brand: string, id: string): Promise<Subscription | undefined> {
    const item = await this.read(subKey(brand, id));
    return item ? fromSubscriptionItem(item) : undefined;
  }

  async list(brand: string, page: PageRequest): Promise<Page<Subscription>> {
    // The cursor carries the last id only; the start key is rebuilt inside the caller's own partition.
    const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor, SUBSCRIPTION_ID);
    const output = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': brandKey(brand), ':prefix': SUB_PREFIX },
        Limit: page.limit,
        ...(after !== undefined && { ExclusiveStartKey: subKey(brand, after) }),
      }),
    );
    const items = (output.Items ?? []).map((item) => fromSubscriptionItem(item));
    const last = lastEvaluatedId(output.LastEvaluatedKey, SUB_PREFIX);
    return last === undefined ? { items } : { items, cursor: encodeCursor(last) };
  }

  async listActive(brand: string, entity: EntityName): Promise<Subscription[]> {
    const key = `${brand}\n${entity}`;
    let query = this.activeQueries.get(key);
    if (!query) {
      // Shared only by the calls of this turn: a later call queries again, and so sees later changes.
      query = new Promise((resolve) => setImmediate(resolve)).then(() => {
        this.activeQueries.delete(key);
        return this.queryActive(brand, entity);
      });
      this.activeQueries.set(key, query);
    }
    return query;
  }

  private async queryActive(brand: string, entity: EntityName): Promise<Subscription[]> {
    const subscriptions: Subscription[] = [];
    let startKey: Item | undefined;
    do {
      const output = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          FilterExpression: '#entity = :entity AND #status = :active',
          ExpressionAttributeNames: { '#entity': 'entity', '#status': 'status' },
          ExpressionAttributeValues: {
            ':pk': brandKey(brand),
            ':prefix': SUB_PREFIX,
            ':entity': entity,
            ':active': 'active',
          },
          ConsistentRead: true,
          ...(startKey && { ExclusiveStartKey: startKey }),
        }),
      );
      for (const item of output.Items ?? []) subscriptions.push(fromSubscriptionItem(item));
      startKey = output.LastEvaluatedKey;
    } while (startKey);
    return subscriptions;
  }

  async replace(next: Subscription, previousName: string): Promise<void> {
    const { brand, id, name } = next;
    const renamed = name.toLowerCase() !== previousName.toLowerCase();
    const transactItems: NonNullable<TransactWriteCommandInput['TransactItems']> = [
      {
        Put: {
          TableName: this.tableName,
          Item: { ...toItem(next, JSON_FIELDS), ...subKey(brand, id) },
          ConditionExpression: 'attribute_exists(pk) AND #version = :previousVersion',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: { ':previousVersion': next.version - 1 },
        },
      },
    ];
    if (renamed) {
      transactItems.push(
        { Delete: { TableName: this.tableName, Key: nameKey(brand, previousName) } },
        {
          Put: {
            TableName: this.tableName,
            Item: { ...nameKey(brand, name), subscriptionId: id },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
      );
    }
    try {
      await this.client.send(new TransactWriteCommand({ TransactItems: transactItems }));
    } catch (error) {
      // A concurrent transaction on the same items is the same story as a version mismatch: try again.
      if (conditionFailedAt(error, 0) || cancellationCodes(error)?.includes('TransactionConflict')) {
        throw new ClientError(409, 'conflict', 'The subscription was changed meanwhile; read it again');
      }
      if (renamed && conditionFailedAt(error, 2)) throw subscriptionNameTaken(name);
      throw error;
    }
  }

  async delete(brand: string, id: string): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.get(brand, id);
      if (!current) return false;
      try {
        // The version condition guarantees the name read above is still the one its lock holds.
        await this.client.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Delete: {
                  TableName: this.tableName,
                  Key: subKey(brand, id),
                  ConditionExpression: 'attribute_exists(pk) AND #version = :version',
                  ExpressionAttributeNames: { '#version': 'version' },
                  ExpressionAttributeValues: { ':version': current.version },
                },
              },
              { Delete: { TableName: this.tableName, Key: nameKey(brand, current.name) } },
              countDownAction(this.tableName, brand),
            ],
          }),
        );
        return true;
      } catch (error) {
        if (attempt >= DELETE_ATTEMPTS) throw error;
        // A brand without a count yet (subscriptions older than it): seed it, then try again.
        if (conditionFailedAt(error, 2)) await seedCount(this.client, this.tableName, brand);
        // Deleted or changed meanwhile: read again (a deleted one then returns false).
        else if (!conditionFailedAt(error, 0)) throw error;
      }
    }
  }

  async markFailing(brand: string, id: string, since: string): Promise<void> {
    await updateIfPossible(this.client, this.tableName, {
      Key: subKey(brand, id),
      UpdateExpression: 'SET #failingSince = :since',
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#failingSince)',
      ExpressionAttributeNames: { '#failingSince': 'failingSince' },
      ExpressionAttributeValues: { ':since': since },
    });
  }

  async markHealthy(brand: string, id: string): Promise<void> {
    await updateIfPossible(this.client, this.tableName, {
      Key: subKey(brand, id),
      UpdateExpression: 'REMOVE #failingSince',
      ConditionExpression: 'attribute_exists(#failingSince)',
      ExpressionAttributeNames: { '#failingSince': 'failingSince' },
    });
  }

  async disable(brand: string, id: string, reason: string, at: string): Promise<void> {
    await updateIfPossible(this.client, this.tableName, {
      Key: subKey(brand, id),
      UpdateExpression:
        'SET #status = :disabled, #disabledReason = :reason, #updatedAt = :at, #version = #version + :one',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: {
        '#status': 'status',
        '#disabledReason': 'disabledReason',
        '#updatedAt': 'updatedAt',
        '#version': 'version',
      },
      ExpressionAttributeValues: { ':disabled': 'disabled', ':reason': reason, ':at': at, ':one': 1 },
    });
  }

  async noteCertificateExpiring(brand: string, id: string, fingerprint256: string): Promise<boolean> {
    return updateIfPossible(this.client, this.tableName, {
      Key: subKey(brand, id),
      UpdateExpression: 'SET #noticed = :fingerprint',
      ConditionExpression:
        'attribute_exists(pk) AND (attribute_not_exists(#noticed) OR #noticed <> :fingerprint)',
      ExpressionAttributeNames: { '#noticed': 'certificateExpiryNoticed' },
      ExpressionAttributeValues: { ':fingerprint': fingerprint256 },
    });
  }
}
