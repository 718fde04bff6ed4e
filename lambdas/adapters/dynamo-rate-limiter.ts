import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { RateLimiter, RateReservation } from '../core/ports.js';
import { reservationOf, slotIntervalMs, takeSlot } from '../core/rate-limit.js';
import { isConditionalCheckFailed } from './dynamo-common.js';

/*
 * Rate buckets (docs/DATA-MODEL.md):
 *   rate bucket  pk RATE#<subscriptionId>  sk RATE  dueAt (epoch ms the next token is due) + expiresAt
 * One conditional UpdateItem per delivery of a limited subscription, so every deliver container shares the
 * bucket; subscriptions without a limit never touch it. The container remembers the last `dueAt` it saw:
 * the stored value only grows, so the guess picks the right update (and refuses at no cost when the next
 * slot is beyond the horizon); a wrong guess costs one more update, with the stored value in hand.
 */

const bucketKey = (key: string) => ({ pk: `RATE#${key}`, sk: 'RATE' });
/** Updates per reservation before it gives up and defers (each lost race means others took slots). */
const ATTEMPTS = 3;
/** A bucket unused for a day is removed by TTL (its next use starts it afresh). */
const KEEP_SECONDS = 24 * 60 * 60;
/** Guesses kept per container; past it they are forgotten (a guess only saves a request). */
const MAX_HINTS = 10_000;

export class DynamoRateLimiter implements RateLimiter {
  private readonly dueAt = new Map<string, number>();

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async reserve(key: string, perSecond: number, nowMs: number, horizonMs: number): Promise<RateReservation> {
    const interval = slotIntervalMs(perSecond);
    let due = this.dueAt.get(key);
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const step = takeSlot(due, perSecond, nowMs, horizonMs);
      if (!step.granted) return reservationOf(step);
      const expiresAt = Math.ceil(step.nextDueMs / 1000) + KEEP_SECONDS;
      const idle = step.atMs === nowMs;
      try {
        const output = await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: bucketKey(key),
            // Idle: the slot is now. Busy: the slot is the stored due time, whatever it has become since
            // the guess, as long as it is still within the horizon (the update reads and adds atomically).
            UpdateExpression: idle
              ? 'SET dueAt = :next, expiresAt = :expiresAt'
              : 'SET dueAt = dueAt + :interval, expiresAt = :expiresAt',
            ConditionExpression: idle
              ? 'attribute_not_exists(dueAt) OR dueAt <= :now'
              : 'dueAt > :now AND dueAt <= :horizonEnd',
            ExpressionAttributeValues: idle
              ? { ':next': step.nextDueMs, ':now': nowMs, ':expiresAt': expiresAt }
              : {
                  ':interval': interval,
                  ':now': nowMs,
                  ':horizonEnd': nowMs + horizonMs,
                  ':expiresAt': expiresAt,
                },
            ReturnValues: 'UPDATED_NEW',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        const nextDue = Number(output.Attributes?.dueAt ?? step.nextDueMs);
        this.remember(key, nextDue);
        return { granted: true, atMs: idle ? nowMs : nextDue - interval };
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
        // AWS returns the item that failed the condition; an emulator that does not is asked for it.
        due = dueAtOf(error.Item) ?? (await this.read(key));
        if (due !== undefined) this.remember(key, due);
      }
    }
    // Others keep taking the slots this one aims at: the bucket is busy, so come back a slot later.
    return { granted: false, retryAfterMs: interval };
  }

  private async read(key: string): Promise<number | undefined> {
    const output = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: bucketKey(key), ConsistentRead: true }),
    );
    return dueAtOf(output.Item);
  }

  private remember(key: string, due: number): void {
    if (this.dueAt.size >= MAX_HINTS) this.dueAt.clear();
    this.dueAt.set(key, due);
  }
}

/**
 * The item's `dueAt`: a number from the document client, or `{ N: "..." }` from a condition failure's
 * `Item` (the document client does not unmarshall the items of errors).
 */
function dueAtOf(item: unknown): number | undefined {
  const value = (item as { dueAt?: unknown } | undefined)?.dueAt;
  if (typeof value === 'number') return value;
  const text = (value as { N?: unknown } | undefined)?.N;
  return typeof text === 'string' && Number.isFinite(Number(text)) ? Number(text) : undefined;
}
