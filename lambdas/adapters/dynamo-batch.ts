import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Item } from './dynamo-common.js';

/** DynamoDB's own limits: 100 keys per BatchGetItem, 25 items per BatchWriteItem. */
export const MAX_BATCH_GET = 100;
export const MAX_BATCH_WRITE = 25;
/** Unprocessed keys or items are retried this many times, with a short backoff, before failing the batch. */
const MAX_ROUNDS = 6;

/**
 * Reads `keys` strongly consistently, answering in key order: one GetItem for one key, else BatchGetItem
 * (retrying unprocessed keys). Both cost the same read units; the batch saves round trips.
 */
export async function batchGet(
  client: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly { pk: string; sk: string }[],
): Promise<(Item | undefined)[]> {
  // BatchGetItem refuses a request that names a key twice: each key is asked once, and answered to all.
  const unique = dedupe(keys);
  const [only] = unique;
  if (unique.length === 1 && only) {
    const { Item: item } = await client.send(
      new GetCommand({ TableName: tableName, Key: only, ConsistentRead: true }),
    );
    return keys.map(() => item);
  }
  const found = new Map<string, Item>();
  let remaining: Record<string, unknown>[] = unique;
  for (let round = 0; remaining.length > 0; round += 1) {
    if (round === MAX_ROUNDS) throw new Error(`BatchGetItem left ${remaining.length} keys unprocessed`);
    if (round > 0) await backoff(round);
    const output: BatchGetCommandOutput = await client.send(
      new BatchGetCommand({ RequestItems: { [tableName]: { Keys: remaining, ConsistentRead: true } } }),
    );
    for (const item of output.Responses?.[tableName] ?? []) found.set(keyString(item), item);
    remaining = (output.UnprocessedKeys?.[tableName]?.Keys ?? []) as Record<string, unknown>[];
  }
  return keys.map((key) => found.get(keyString(key)));
}

/**
 * Puts whole items: one PutItem for one item, else BatchWriteItem (retrying unprocessed items). Items on
 * the same key are written once, the last one: BatchWriteItem refuses a request that names a key twice
 * (a ValidationException that would fail every caller of the batch, and again on every retry).
 */
export async function batchPut(
  client: DynamoDBDocumentClient,
  tableName: string,
  items: readonly Item[],
): Promise<void> {
  const unique = [...new Map(items.map((item) => [keyString(item), item])).values()];
  const [only] = unique;
  if (unique.length === 1 && only) {
    await client.send(new PutCommand({ TableName: tableName, Item: only }));
    return;
  }
  let remaining = unique.map((item) => ({ PutRequest: { Item: item } }));
  for (let round = 0; remaining.length > 0; round += 1) {
    if (round === MAX_ROUNDS) throw new Error(`BatchWriteItem left ${remaining.length} items unprocessed`);
    if (round > 0) await backoff(round);
    const output = await client.send(new BatchWriteCommand({ RequestItems: { [tableName]: remaining } }));
    remaining = (output.UnprocessedItems?.[tableName] ?? []) as typeof remaining;
  }
}

function dedupe(keys: readonly { pk: string; sk: string }[]): { pk: string; sk: string }[] {
  const seen = new Map(keys.map((key) => [keyString(key), { pk: key.pk, sk: key.sk }]));
  return [...seen.values()];
}

/** A key as a map key: unambiguous whatever characters pk and sk hold. */
function keyString(item: { readonly pk?: unknown; readonly sk?: unknown }): string {
  return JSON.stringify([item.pk, item.sk]);
}

function backoff(round: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 20 * 2 ** round));
}
