import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import type { ApiKeyRecord, ApiKeyStore } from '../core/ports.js';
import { conditionFailedAt, type Item } from './dynamo-common.js';

/*
 * API keys (docs/DATA-MODEL.md):
 *   key        pk APIKEY#<sha256 hex>  sk APIKEY      keyId, brand, createdAt, description?
 *   brand key  pk BRAND#<brand>        sk KEY#<keyId> hash, keyId, brand, createdAt, description?
 * The first answers the authorizer by hash; the second lists and revokes a brand's keys by id.
 * The hash never appears in an error or a returned record.
 */

const KEY_PREFIX = 'KEY#';

const hashKey = (hash: string) => ({ pk: `APIKEY#${hash}`, sk: 'APIKEY' });
const brandKey = (brand: string, keyId: string) => ({ pk: `BRAND#${brand}`, sk: `${KEY_PREFIX}${keyId}` });

/** The record in an item, without the hash or the table's attributes. */
function toRecord(item: Item): ApiKeyRecord {
  const { keyId, brand, createdAt, description } = item;
  return {
    keyId: String(keyId),
    brand: String(brand),
    createdAt: String(createdAt),
    ...(typeof description === 'string' && { description }),
  };
}

export class DynamoApiKeyStore implements ApiKeyStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async put(hash: string, record: ApiKeyRecord): Promise<void> {
    const fields = {
      keyId: record.keyId,
      brand: record.brand,
      createdAt: record.createdAt,
      description: record.description,
    };
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: { ...fields, ...hashKey(hash) },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: { ...fields, hash, ...brandKey(record.brand, record.keyId) },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
    } catch (error) {
      // Our own messages, naming the key id only (DynamoDB's errors carry no keys or items either).
      if (conditionFailedAt(error, 0)) throw new Error('An API key with this hash already exists');
      if (conditionFailedAt(error, 1)) throw new Error(`The API key id ${record.keyId} already exists`);
      throw error;
    }
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    // Consistent: a revoked key must stop working at once.
    const { Item: item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: hashKey(hash), ConsistentRead: true }),
    );
    return item ? toRecord(item) : undefined;
  }

  async list(brand: string): Promise<ApiKeyRecord[]> {
    const records: ApiKeyRecord[] = [];
    let startKey: Item | undefined;
    do {
      const output = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': `BRAND#${brand}`, ':prefix': KEY_PREFIX },
          ...(startKey && { ExclusiveStartKey: startKey }),
        }),
      );
      for (const item of output.Items ?? []) records.push(toRecord(item));
      startKey = output.LastEvaluatedKey;
    } while (startKey);
    return records;
  }

  async revoke(brand: string, keyId: string): Promise<boolean> {
    const { Item: item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: brandKey(brand, keyId), ConsistentRead: true }),
    );
    const hash = item?.hash;
    if (typeof hash !== 'string') return false;
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Delete: {
                TableName: this.tableName,
                Key: brandKey(brand, keyId),
                ConditionExpression: 'attribute_exists(pk)',
              },
            },
            { Delete: { TableName: this.tableName, Key: hashKey(hash) } },
          ],
        }),
      );
      return true;
    } catch (error) {
      // Revoked concurrently: nothing left to revoke.
      if (conditionFailedAt(error, 0)) return false;
      throw error;
    }
  }
}
