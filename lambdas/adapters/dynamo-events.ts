import { randomBytes } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { StoredEvent } from '../core/model.js';
import type { EventStore, RejectedEvent, RejectedEventStore } from '../core/ports.js';
import { coalesce } from './coalescer.js';
import { batchGet, batchPut, MAX_BATCH_GET, MAX_BATCH_WRITE } from './dynamo-batch.js';
import { fromItem, type Item } from './dynamo-common.js';

/*
 * Events (docs/DATA-MODEL.md):
 *   event           pk EVENT#<key>                 sk EVENT                           StoredEvent + expiresAt
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

  /** Coalesced: the keys asked in one turn of the event loop are read with one BatchGetItem. */
  private readonly lookup = coalesce(
    (keys: readonly string[]) => batchGet(this.client, this.tableName, keys.map(eventKey)),
    MAX_BATCH_GET,
  );

  /** Coalesced: the events stored in one turn of the event loop are written with one BatchWriteItem. */
  private readonly store = coalesce(
    (items: readonly Item[]) =>
      batchPut(this.client, this.tableName, items).then(() => items.map(() => undefined)),
    MAX_BATCH_WRITE,
  );

  async isRouted(key: string): Promise<boolean> {
    return (await this.lookup(key)) !== undefined;
  }

  async putRouted(event: StoredEvent, expiresAt: number): Promise<void> {
    await this.store({ ...event, ...eventKey(event.key), expiresAt });
  }

  async get(key: string): Promise<StoredEvent | undefined> {
    const { Item: item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: eventKey(key), ConsistentRead: true }),
    );
    return item ? fromItem<StoredEvent>(item) : undefined;
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
