import { randomBytes } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DeliveryEvent, EventClaim } from '../core/model.js';
import type { EventStore, RejectedEvent, RejectedEventStore } from '../core/ports.js';
import { fromJsonAttribute, isConditionalCheckFailed } from './dynamo-common.js';

/*
 * Events (docs/DATA-MODEL.md):
 *   event claim     pk EVENT#<key>                 sk EVENT                           EventClaim + expiresAt
 *   rejected event  pk REJECTED#<YYYY-MM-DD, UTC>  sk <receivedAt>#<8 random hex>     RejectedEvent + expiresAt
 */

const eventKey = (key: string) => ({ pk: `EVENT#${key}`, sk: 'EVENT' });

/** The UTC day of an instant; today for an unparsable one (a rejection must still be kept). */
function utcDay(instant: string): string {
  const ms = Date.parse(instant);
  return new Date(Number.isNaN(ms) ? Date.now() : ms).toISOString().slice(0, 10);
}

export class DynamoEventStore implements EventStore, RejectedEventStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async claim(claim: EventClaim, expiresAt: number): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          // The claim alone, never the event's data: one write unit whatever the event's size.
          Item: {
            key: claim.key,
            brand: claim.brand,
            envelopeId: claim.envelopeId,
            receivedAt: claim.receivedAt,
            ...eventKey(claim.key),
            expiresAt,
          },
          // The same envelope again is SQS redelivering it after a crash: it still owns the key.
          ConditionExpression: 'attribute_not_exists(pk) OR envelopeId = :envelopeId',
          ExpressionAttributeValues: { ':envelopeId': claim.envelopeId },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async getLegacy(key: string): Promise<DeliveryEvent | undefined> {
    const { Item: item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: eventKey(key), ConsistentRead: true }),
    );
    const data = item ? fromJsonAttribute(item.data) : undefined;
    if (!item || typeof data !== 'object' || data === null) return undefined;
    return {
      entity: item.entity,
      event: String(item.event),
      receivedAt: String(item.receivedAt),
      data: data as Record<string, unknown>,
    };
  }

  async putRejected(rejected: RejectedEvent, expiresAt: number): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        // Only the fields a RejectedEvent names: never the event's data, whatever the caller passes.
        Item: {
          reason: rejected.reason,
          receivedAt: rejected.receivedAt,
          detailType: rejected.detailType,
          brand: rejected.brand,
          eventId: rejected.eventId,
          pk: `REJECTED#${utcDay(rejected.receivedAt)}`,
          sk: `${rejected.receivedAt}#${randomBytes(4).toString('hex')}`,
          expiresAt,
        },
      }),
    );
  }
}
