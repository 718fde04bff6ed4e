import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoParkingStore } from '../../../lambdas/adapters/dynamo-parking.js';
import { deliveryIdFor } from '../../../lambdas/core/ids.js';

/* The DynamoDB parking adapter's requests (the store contract runs it against the emulator). */

const TABLE = 'webhooks';
const ddb = mockClient(DynamoDBDocumentClient);
const store = new DynamoParkingStore(
  DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
  TABLE,
);
const SUB = 'sub_AAAAAAAAAAAAAAAA';
const RECEIVED = '2026-03-04T05:06:07.089Z';
const ID = deliveryIdFor(RECEIVED, 'acme/evt-1', SUB);
const conditionFailed = () => new ConditionalCheckFailedException({ message: 'no', $metadata: {} });

afterEach(() => {
  ddb.reset();
});

describe('the DynamoDB parking store', () => {
  it('parks a subscription with one conditional UpdateItem on its item, false when already parked', async () => {
    ddb.on(UpdateCommand).resolvesOnce({}).rejectsOnce(conditionFailed());

    expect(await store.parkSubscription('acme', SUB, '2026-03-04T06:00:00.000Z')).toBe(true);
    expect(await store.parkSubscription('acme', SUB, '2026-03-04T06:00:01.000Z')).toBe(false);
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toMatchObject({
      TableName: TABLE,
      Key: { pk: 'BRAND#acme', sk: `SUB#${SUB}` },
      UpdateExpression: 'SET #parkedSince = :since',
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#parkedSince)',
    });
  });

  it('throws what is not a failed condition (a throttled table), so the record is handed over again', async () => {
    ddb.on(UpdateCommand).rejects(new Error('ProvisionedThroughputExceededException'));

    await expect(store.unparkSubscription('acme', SUB, 'a', 'b')).rejects.toThrow('ProvisionedThroughput');
    await expect(store.unparkDelivery(SUB, ID, 'a', 'b')).rejects.toThrow('ProvisionedThroughput');
  });

  it('ends only the park it names, recording when', async () => {
    ddb.on(UpdateCommand).resolves({});

    await store.unparkSubscription('acme', SUB, '2026-03-04T06:00:00.000Z', '2026-03-04T07:00:00.000Z');
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toMatchObject({
      UpdateExpression: 'SET #closedAt = :at REMOVE #parkedSince',
      ConditionExpression: '#parkedSince = :since',
      ExpressionAttributeValues: { ':since': '2026-03-04T06:00:00.000Z', ':at': '2026-03-04T07:00:00.000Z' },
    });
  });

  it('lists parked deliveries from the status index, oldest first, at most the limit, with their event', async () => {
    ddb.on(QueryCommand).resolves({
      Items: [
        {
          pk: `SUB#${SUB}`,
          sk: `DLV#${ID}`,
          gsi1pk: `DLV#${SUB}#parked`,
          gsi1sk: ID,
          id: ID,
          data: '{"Id":1}',
        },
      ],
    });

    const parked = await store.listParked(SUB, 100);

    expect(parked).toEqual([{ id: ID, data: { Id: 1 } }]);
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :gsi1pk',
      ExpressionAttributeValues: { ':gsi1pk': `DLV#${SUB}#parked` },
      ScanIndexForward: true,
      Limit: 100,
    });
  });

  it('parks a delivery into the parked index keeping its attempts, and unparks it only from the same park', async () => {
    ddb.on(UpdateCommand).resolvesOnce({}).resolvesOnce({}).rejectsOnce(conditionFailed());
    await store.parkDelivery({
      delivery: {
        id: ID,
        subscriptionId: SUB,
        brand: 'acme',
        eventKey: 'acme/evt-1',
        webhookId: 'msg_x',
        entity: 'Object',
        event: 'OnNew',
        receivedAt: RECEIVED,
        data: { Id: 1 },
        createdAt: '2026-03-04T06:00:00.000Z',
        parkedAt: '2026-03-04T06:00:00.000Z',
        runAttemptsBefore: 3,
      },
      expiresAt: 1_800_000_000,
    });
    const park = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(park?.UpdateExpression).toContain('#attempts = if_not_exists(#attempts, :attempts)');
    expect(park?.UpdateExpression).toMatch(/ REMOVE #nextAttemptAt, #failureReason$/);
    expect(park?.ExpressionAttributeValues).toMatchObject({
      ':status': 'parked',
      ':gsi1pk': `DLV#${SUB}#parked`,
      ':gsi1sk': ID,
      ':data': '{"Id":1}',
      ':runAttemptsBefore': 3,
    });

    expect(await store.unparkDelivery(SUB, ID, '2026-03-04T06:00:00.000Z', '2026-03-04T07:00:00.000Z')).toBe(
      true,
    );
    expect(await store.unparkDelivery(SUB, ID, '2026-03-04T06:00:00.000Z', '2026-03-04T07:00:00.000Z')).toBe(
      false,
    );
    expect(ddb.commandCalls(UpdateCommand)[1]?.args[0].input).toMatchObject({
      ConditionExpression: '#status = :parked AND #parkedAt = :parkedAt',
      ExpressionAttributeValues: { ':gsi1pk': `DLV#${SUB}#pending` },
    });
  });
});
