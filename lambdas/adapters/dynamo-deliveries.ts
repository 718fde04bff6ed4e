import { type DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { deliveryIdTimePrefix } from '../core/ids.js';
import type { DeliveryStatus, StoredDelivery } from '../core/model.js';
import type { DeliveryAttemptRecord, DeliveryStore, Page, PageRequest } from '../core/ports.js';
import { coalesce } from './coalescer.js';
import { batchPut, MAX_BATCH_WRITE } from './dynamo-batch.js';
import {
  decodeCursor,
  encodeCursor,
  fromItem,
  type Item,
  isConditionalCheckFailed,
  type JsonFields,
  lastEvaluatedId,
  toItem,
} from './dynamo-common.js';

/*
 * Deliveries (docs/DATA-MODEL.md):
 *   delivery  pk SUB#<subscriptionId>  sk DLV#<deliveryId>  StoredDelivery (with the event's data) + expiresAt
 *             while pending, failed or parked: gsi1pk DLV#<subscriptionId>#<status>  gsi1sk <deliveryId>
 * Delivery ids start with the event's arrival time, so both sort keys order deliveries by time. The index
 * is sparse: a succeeded delivery leaves it (no index write for the common case), and is listed by a
 * filtered query of its subscription's partition instead.
 */

const DLV_PREFIX = 'DLV#';
const DELIVERY_ID = /^dlv_[0-9a-z]{9}[0-9a-f]{16}$/;
const INDEX = 'gsi1';

const deliveryKey = (subscriptionId: string, deliveryId: string) => ({
  pk: `SUB#${subscriptionId}`,
  sk: `${DLV_PREFIX}${deliveryId}`,
});
const statusKey = (subscriptionId: string, status: DeliveryStatus) => `DLV#${subscriptionId}#${status}`;

/** The event's data has the producer's keys: stored as JSON text (toItem). */
const JSON_FIELDS: JsonFields = ['data'];
const fromDeliveryItem = (item: Item) => fromItem<StoredDelivery>(item, JSON_FIELDS);

/** Delivery fields a recorded attempt sets, besides those with special handling. */
export const DELIVERY_SET_FIELDS = [
  'id',
  'subscriptionId',
  'brand',
  'eventKey',
  'webhookId',
  'entity',
  'event',
  'receivedAt',
  'data',
] as const;
/** Statuses listed through gsi1; a succeeded delivery is not in the index. */
const INDEXED: ReadonlySet<DeliveryStatus> = new Set(['pending', 'failed', 'parked']);
/** A filtered listing of succeeded deliveries reads at most this many pages of the partition per call. */
const MAX_FILTERED_PAGES = 10;

/** The index attributes of a delivery in `status`, or none. */
function indexEntry(subscriptionId: string, deliveryId: string, status: DeliveryStatus) {
  return INDEXED.has(status) ? { gsi1pk: statusKey(subscriptionId, status), gsi1sk: deliveryId } : {};
}
/** Optional fields: SET when present, REMOVEd when absent. */
const OPTIONAL_FIELDS = ['nextAttemptAt', 'failureReason', 'parkedAt', 'runAttemptsBefore'] as const;

export class DynamoDeliveryStore implements DeliveryStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Coalesced: the first-attempt successes of one batch are written with one BatchWriteItem. */
  private readonly putWhole = coalesce(
    (items: readonly Item[]) =>
      batchPut(this.client, this.tableName, items).then(() => items.map(() => undefined)),
    MAX_BATCH_WRITE,
  );

  async recordAttempt(record: DeliveryAttemptRecord): Promise<void> {
    const { delivery, attempt, expiresAt } = record;
    // The common case, a success at the first attempt, has no item to update yet: write it whole.
    if (attempt.attempt === 1 && delivery.status === 'succeeded') {
      await this.putWhole({
        ...toItem(delivery, JSON_FIELDS),
        attempts: [attempt],
        updatedAt: attempt.at,
        ...deliveryKey(delivery.subscriptionId, delivery.id),
        ...indexEntry(delivery.subscriptionId, delivery.id, delivery.status),
        expiresAt,
      });
      return;
    }
    await this.appendAttempt(record);
  }

  private async appendAttempt({ delivery, attempt, expiresAt }: DeliveryAttemptRecord): Promise<void> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const set: string[] = [];
    const remove: string[] = [];
    const assign = (field: string, value: unknown, expression = `:${field}`) => {
      names[`#${field}`] = field;
      values[`:${field}`] = value;
      set.push(`#${field} = ${expression}`);
    };

    const fields = toItem(delivery, JSON_FIELDS);
    for (const field of DELIVERY_SET_FIELDS) assign(field, fields[field]);
    assign('status', delivery.status);
    assign('createdAt', delivery.createdAt, `if_not_exists(#createdAt, :createdAt)`);
    names['#attempts'] = 'attempts';
    values[':empty'] = [];
    values[':attempt'] = [attempt];
    set.push('#attempts = list_append(if_not_exists(#attempts, :empty), :attempt)');
    assign('updatedAt', attempt.at);
    if (INDEXED.has(delivery.status)) {
      assign('gsi1pk', statusKey(delivery.subscriptionId, delivery.status));
      assign('gsi1sk', delivery.id);
    } else {
      for (const field of ['gsi1pk', 'gsi1sk']) {
        names[`#${field}`] = field;
        remove.push(`#${field}`);
      }
    }
    assign('expiresAt', expiresAt);
    for (const field of OPTIONAL_FIELDS) {
      const value = delivery[field];
      if (value === undefined) {
        names[`#${field}`] = field;
        remove.push(`#${field}`);
      } else {
        assign(field, value);
      }
    }

    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: deliveryKey(delivery.subscriptionId, delivery.id),
        UpdateExpression: `SET ${set.join(', ')}${remove.length > 0 ? ` REMOVE ${remove.join(', ')}` : ''}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  async markPending(subscriptionId: string, deliveryId: string, at: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: deliveryKey(subscriptionId, deliveryId),
          UpdateExpression:
            'SET #status = :pending, #gsi1pk = :gsi1pk, #gsi1sk = :gsi1sk, #updatedAt = :at REMOVE #failureReason',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: {
            '#status': 'status',
            '#gsi1pk': 'gsi1pk',
            '#gsi1sk': 'gsi1sk',
            '#updatedAt': 'updatedAt',
            '#failureReason': 'failureReason',
          },
          ExpressionAttributeValues: {
            ':pending': 'pending',
            ':gsi1pk': statusKey(subscriptionId, 'pending'),
            ':gsi1sk': deliveryId,
            ':at': at,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async get(subscriptionId: string, deliveryId: string): Promise<StoredDelivery | undefined> {
    const { Item: item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: deliveryKey(subscriptionId, deliveryId),
        ConsistentRead: true,
      }),
    );
    return item ? fromDeliveryItem(item) : undefined;
  }

  async list(
    subscriptionId: string,
    filter: { status?: DeliveryStatus } & PageRequest,
  ): Promise<Page<StoredDelivery>> {
    const { status, limit, cursor } = filter;
    // The cursor carries the last delivery id only; the start key is rebuilt for this subscription.
    const after = cursor === undefined ? undefined : decodeCursor(cursor, DELIVERY_ID);
    if (status !== undefined && INDEXED.has(status))
      return this.listIndexed(subscriptionId, status, limit, after);
    const query = {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: {
        ':pk': `SUB#${subscriptionId}`,
        ':prefix': DLV_PREFIX,
        ...(status && { ':status': status }),
      },
      ScanIndexForward: false,
      ...(status !== undefined && {
        FilterExpression: '#status = :status',
        ExpressionAttributeNames: { '#status': 'status' },
      }),
    };
    // Unfiltered: one page. Filtered (succeeded): pages until the page is full, the partition ends or
    // MAX_FILTERED_PAGES were read; the cursor then points after the last item read, returned or not.
    const pages = status === undefined ? 1 : MAX_FILTERED_PAGES;
    const items: StoredDelivery[] = [];
    let startKey = after === undefined ? undefined : deliveryKey(subscriptionId, after);
    for (let page = 1; ; page += 1) {
      const output = await this.client.send(
        new QueryCommand({
          ...query,
          Limit: limit - items.length,
          ...(startKey && { ExclusiveStartKey: startKey }),
        }),
      );
      for (const item of output.Items ?? []) items.push(fromDeliveryItem(item));
      const last = lastEvaluatedId(output.LastEvaluatedKey, DLV_PREFIX);
      if (last === undefined) return { items };
      // A full page read only matching items (the query reads at most what the page still takes).
      if (items.length >= limit || page === pages) return { items, cursor: encodeCursor(last) };
      startKey = deliveryKey(subscriptionId, last);
    }
  }

  private async listIndexed(
    subscriptionId: string,
    status: DeliveryStatus,
    limit: number,
    after: string | undefined,
  ): Promise<Page<StoredDelivery>> {
    const output = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: INDEX,
        KeyConditionExpression: 'gsi1pk = :gsi1pk',
        ExpressionAttributeValues: { ':gsi1pk': statusKey(subscriptionId, status) },
        ScanIndexForward: false,
        Limit: limit,
        ...(after !== undefined && {
          ExclusiveStartKey: {
            ...deliveryKey(subscriptionId, after),
            gsi1pk: statusKey(subscriptionId, status),
            gsi1sk: after,
          },
        }),
      }),
    );
    const items = (output.Items ?? []).map((item) => fromDeliveryItem(item));
    const last = lastEvaluatedId(output.LastEvaluatedKey, DLV_PREFIX);
    return last === undefined ? { items } : { items, cursor: encodeCursor(last) };
  }

  async listBetween(
    subscriptionId: string,
    since: string,
    until: string,
    limit: number,
  ): Promise<StoredDelivery[]> {
    const deliveries: StoredDelivery[] = [];
    let startKey: Item | undefined;
    // '~' sorts after every id character: the upper bound includes every delivery of `until`'s millisecond.
    const from = `${DLV_PREFIX}dlv_${deliveryIdTimePrefix(since)}`;
    const to = `${DLV_PREFIX}dlv_${deliveryIdTimePrefix(until)}~`;
    while (deliveries.length < limit) {
      const output = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':pk': `SUB#${subscriptionId}`, ':from': from, ':to': to },
          ScanIndexForward: true,
          Limit: limit - deliveries.length,
          ...(startKey && { ExclusiveStartKey: startKey }),
        }),
      );
      for (const item of output.Items ?? []) deliveries.push(fromDeliveryItem(item));
      startKey = output.LastEvaluatedKey;
      if (!startKey) break;
    }
    return deliveries.slice(0, limit);
  }
}
