import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoRateLimiter } from '../../../lambdas/adapters/dynamo-rate-limiter.js';
import { slotIntervalMs } from '../../../lambdas/core/rate-limit.js';
import { FakeTable } from '../../support/dynamo-fake.js';

/*
 * What the DynamoDB rate bucket costs (its behaviour is the store contract's,
 * test/contract/rate-limiter.contract.ts): one conditional UpdateItem per reservation while this container's
 * last view of the bucket is right, one more when another container moved it, none to refuse a slot
 * beyond the horizon it already knows of.
 */

const TABLE = 'webhooks';
const ddb = mockClient(DynamoDBDocumentClient);
const client = () => DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
const T0 = Date.parse('2026-03-04T05:06:07.000Z');
const STEP = slotIntervalMs(10);
let table: FakeTable;

beforeEach(() => {
  table = new FakeTable().install(ddb);
});

afterEach(() => {
  ddb.reset();
});

const updates = () => ddb.commandCalls(UpdateCommand).length;

describe('the DynamoDB rate bucket', () => {
  it('takes one conditional UpdateItem per slot, on RATE#<key>, with a TTL a day past its last use', async () => {
    const limiter = new DynamoRateLimiter(client(), TABLE);

    for (let index = 0; index < 5; index++) await limiter.reserve('sub_1', 10, T0, 1000);

    expect(updates()).toBe(5);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
    expect(table.item('RATE#sub_1', 'RATE')).toMatchObject({
      dueAt: T0 + 5 * STEP,
      expiresAt: Math.ceil((T0 + 5 * STEP) / 1000) + 24 * 60 * 60,
    });
  });

  it('refuses a slot beyond the horizon it already knows of without a request', async () => {
    const limiter = new DynamoRateLimiter(client(), TABLE);
    for (let index = 0; index < 3; index++) await limiter.reserve('sub_1', 10, T0, 2 * STEP);
    const before = updates();

    expect(await limiter.reserve('sub_1', 10, T0, 2 * STEP)).toEqual({ granted: false, retryAfterMs: STEP });
    expect(updates()).toBe(before);
  });

  it('spends one more UpdateItem when another container moved the bucket, and still gets the next slot', async () => {
    const mine = new DynamoRateLimiter(client(), TABLE);
    const theirs = new DynamoRateLimiter(client(), TABLE);
    await mine.reserve('sub_1', 10, T0, 1000);
    // The other container takes a slot at a later moment: the bucket has moved past what mine knows.
    await theirs.reserve('sub_1', 10, T0 + 5 * STEP, 1000);
    const before = updates();

    const reservation = await mine.reserve('sub_1', 10, T0 + 5 * STEP, 1000);

    expect(reservation).toEqual({ granted: true, atMs: T0 + 6 * STEP });
    expect(updates() - before).toBe(2);
  });
});
