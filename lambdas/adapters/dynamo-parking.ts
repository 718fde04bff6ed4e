import { type DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { StoredDelivery } from '../core/model.js';
import type { ParkedDeliveryRecord, ParkingStore } from '../core/ports.js';
import { fromItem, type JsonFields, toItem, updateIfPossible } from './dynamo-common.js';
import { DELIVERY_SET_FIELDS } from './dynamo-deliveries.js';

/*
 * Parking of an open circuit's deliveries (lambdas/core/parking.ts) on the table (docs/DATA-MODEL.md):
 *   subscription  pk BRAND#<brand>  sk SUB#<id>   parkedSince while parked, circuitClosedAt after a recovery
 *   delivery      pk SUB#<sub>  sk DLV#<id>      status parked, parkedAt, runAttemptsBefore;
 *                 gsi1pk DLV#<sub>#parked  gsi1sk <deliveryId> (the status index the listing already uses)
 * Every write is one conditional UpdateItem, so a park, a recovery and a drain racing each other leave
 * each record either parked or pending with its message queued, never neither.
 */

const INDEX = 'gsi1';
const JSON_FIELDS: JsonFields = ['data'];
const subKey = (brand: string, id: string) => ({ pk: `BRAND#${brand}`, sk: `SUB#${id}` });
const deliveryKey = (subscriptionId: string, deliveryId: string) => ({
  pk: `SUB#${subscriptionId}`,
  sk: `DLV#${deliveryId}`,
});
const parkedKey = (subscriptionId: string) => `DLV#${subscriptionId}#parked`;
/** Delivery fields a park sets as they are (the others have their own expressions). */
const SET_FIELDS = [...DELIVERY_SET_FIELDS, 'parkedAt', 'runAttemptsBefore'] as const;

export class DynamoParkingStore implements ParkingStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  parkSubscription(brand: string, id: string, since: string): Promise<boolean> {
    return updateIfPossible(this.client, this.tableName, {
      Key: subKey(brand, id),
      UpdateExpression: 'SET #parkedSince = :since',
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#parkedSince)',
      ExpressionAttributeNames: { '#parkedSince': 'parkedSince' },
      ExpressionAttributeValues: { ':since': since },
    });
  }

  unparkSubscription(brand: string, id: string, since: string, at: string): Promise<boolean> {
    return updateIfPossible(this.client, this.tableName, {
      Key: subKey(brand, id),
      UpdateExpression: 'SET #closedAt = :at REMOVE #parkedSince',
      ConditionExpression: '#parkedSince = :since',
      ExpressionAttributeNames: { '#parkedSince': 'parkedSince', '#closedAt': 'circuitClosedAt' },
      ExpressionAttributeValues: { ':since': since, ':at': at },
    });
  }

  async parkDelivery({ delivery, expiresAt }: ParkedDeliveryRecord): Promise<void> {
    const fields = toItem(delivery, JSON_FIELDS);
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const set: string[] = [];
    const assign = (field: string, value: unknown, expression = `:${field}`) => {
      names[`#${field}`] = field;
      values[`:${field}`] = value;
      set.push(`#${field} = ${expression}`);
    };
    for (const field of SET_FIELDS) if (fields[field] !== undefined) assign(field, fields[field]);
    assign('status', 'parked');
    assign('createdAt', delivery.createdAt, 'if_not_exists(#createdAt, :createdAt)');
    assign('attempts', [], 'if_not_exists(#attempts, :attempts)');
    assign('updatedAt', delivery.parkedAt);
    assign('gsi1pk', parkedKey(delivery.subscriptionId));
    assign('gsi1sk', delivery.id);
    assign('expiresAt', expiresAt);
    names['#nextAttemptAt'] = 'nextAttemptAt';
    names['#failureReason'] = 'failureReason';
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: deliveryKey(delivery.subscriptionId, delivery.id),
        UpdateExpression: `SET ${set.join(', ')} REMOVE #nextAttemptAt, #failureReason`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  async listParked(subscriptionId: string, limit: number): Promise<StoredDelivery[]> {
    const output = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: INDEX,
        KeyConditionExpression: 'gsi1pk = :gsi1pk',
        ExpressionAttributeValues: { ':gsi1pk': parkedKey(subscriptionId) },
        ScanIndexForward: true,
        Limit: limit,
      }),
    );
    return (output.Items ?? []).map((item) => fromItem<StoredDelivery>(item, JSON_FIELDS));
  }

  unparkDelivery(subscriptionId: string, deliveryId: string, parkedAt: string, at: string): Promise<boolean> {
    return updateIfPossible(this.client, this.tableName, {
      Key: deliveryKey(subscriptionId, deliveryId),
      UpdateExpression:
        'SET #status = :pending, #gsi1pk = :gsi1pk, #updatedAt = :at REMOVE #parkedAt, #runAttemptsBefore',
      ConditionExpression: '#status = :parked AND #parkedAt = :parkedAt',
      ExpressionAttributeNames: {
        '#status': 'status',
        '#gsi1pk': 'gsi1pk',
        '#updatedAt': 'updatedAt',
        '#parkedAt': 'parkedAt',
        '#runAttemptsBefore': 'runAttemptsBefore',
      },
      ExpressionAttributeValues: {
        ':pending': 'pending',
        ':parked': 'parked',
        ':gsi1pk': `DLV#${subscriptionId}#pending`,
        ':at': at,
        ':parkedAt': parkedAt,
      },
    });
  }
}
