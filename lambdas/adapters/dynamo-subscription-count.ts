import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { isConditionalCheckFailed } from './dynamo-common.js';

/*
 * How many subscriptions a brand has, for its quota (docs/DATA-MODEL.md):
 *   count  pk BRAND#<brand>  sk COUNT  subscriptions
 * Creates and deletes change it inside their own transaction, so the quota holds however many requests
 * race. A brand whose subscriptions predate the count has none yet: the first create or delete that
 * finds it missing seeds it from a count of the brand's subscription items, then tries again.
 */

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

const countKey = (brand: string) => ({ pk: `BRAND#${brand}`, sk: 'COUNT' });

/** The transaction item of a create: +1, only while the brand has fewer than `max` and the count exists. */
export function countUpAction(tableName: string, brand: string, max: number): TransactItem {
  return {
    Update: {
      TableName: tableName,
      Key: countKey(brand),
      UpdateExpression: 'SET #subscriptions = #subscriptions + :one',
      ConditionExpression: 'attribute_exists(#subscriptions) AND #subscriptions < :max',
      ExpressionAttributeNames: { '#subscriptions': 'subscriptions' },
      ExpressionAttributeValues: { ':one': 1, ':max': max },
    },
  };
}

/** The transaction item of a delete: -1, only when the count exists. */
export function countDownAction(tableName: string, brand: string): TransactItem {
  return {
    Update: {
      TableName: tableName,
      Key: countKey(brand),
      UpdateExpression: 'SET #subscriptions = #subscriptions - :one',
      ConditionExpression: 'attribute_exists(#subscriptions)',
      ExpressionAttributeNames: { '#subscriptions': 'subscriptions' },
      ExpressionAttributeValues: { ':one': 1 },
    },
  };
}

/** The brand's count, undefined when it has none yet (after a count action's condition failed). */
export async function readCount(
  client: DynamoDBDocumentClient,
  tableName: string,
  brand: string,
): Promise<number | undefined> {
  const { Item: item } = await client.send(
    new GetCommand({ TableName: tableName, Key: countKey(brand), ConsistentRead: true }),
  );
  return typeof item?.subscriptions === 'number' ? item.subscriptions : undefined;
}

/** Creates the brand's missing count from its subscription items (a concurrent seed wins: no-op). */
export async function seedCount(client: DynamoDBDocumentClient, tableName: string, brand: string) {
  let subscriptions = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const output = await client.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': `BRAND#${brand}`, ':prefix': 'SUB#' },
        Select: 'COUNT',
        ConsistentRead: true,
        ...(startKey && { ExclusiveStartKey: startKey }),
      }),
    );
    subscriptions += output.Count ?? 0;
    startKey = output.LastEvaluatedKey;
  } while (startKey);
  try {
    await client.send(
      new PutCommand({
        TableName: tableName,
        Item: { ...countKey(brand), subscriptions },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
  }
}
