import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ConsoleSessionRecord, ConsoleSessionStore } from '../core/ports.js';
import { type Item, isConditionalCheckFailed } from './dynamo-common.js';

/*
 * Console sessions (docs/DATA-MODEL.md):
 *   session  pk CONSOLE#<sha256 hex of the token>  sk SESSION  brand, keyId, keyHash, createdAt, expiresAt
 * `expiresAt` is the table's TTL attribute (epoch seconds): DynamoDB deletes the item some time after it
 * passed (typically within days, https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html),
 * so the reader checks the time itself (lambdas/core/console-sessions.ts). Nothing else reads or deletes
 * sessions: revoking a key leaves its sessions to expire, refused meanwhile because their key is gone.
 */

const sessionKey = (hash: string) => ({ pk: `CONSOLE#${hash}`, sk: 'SESSION' });

function toRecord(item: Item): ConsoleSessionRecord {
  return {
    brand: String(item.brand),
    keyId: String(item.keyId),
    keyHash: String(item.keyHash),
    createdAt: String(item.createdAt),
    expiresAt: new Date(Number(item.expiresAt) * 1000).toISOString(),
  };
}

export class DynamoConsoleSessionStore implements ConsoleSessionStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async put(hash: string, record: ConsoleSessionRecord): Promise<void> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...sessionKey(hash),
            brand: record.brand,
            keyId: record.keyId,
            keyHash: record.keyHash,
            createdAt: record.createdAt,
            expiresAt: Math.floor(Date.parse(record.expiresAt) / 1000),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      // Our own message: neither the token's hash nor the key's.
      if (isConditionalCheckFailed(error)) throw new Error('A console session with this hash already exists');
      throw error;
    }
  }

  async findByHash(hash: string): Promise<ConsoleSessionRecord | undefined> {
    // Consistent, as for keys: a session works from the moment its link is handed out.
    const { Item: item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: sessionKey(hash), ConsistentRead: true }),
    );
    return item ? toRecord(item) : undefined;
  }
}
