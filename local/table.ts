import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { TABLE } from '../lambdas/adapters/dynamo-table.js';

/** The service's table as CreateTable takes it, from lib/definitions.ts (the local runtime and its tests). */
export function createTableInput(tableName: string): CreateTableCommandInput {
  const [index] = TABLE.indexes;
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [TABLE.partitionKey, TABLE.sortKey, index.partitionKey, index.sortKey].map(
      (AttributeName) => ({ AttributeName, AttributeType: 'S' }),
    ),
    KeySchema: [
      { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: index.indexName,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
  };
}
