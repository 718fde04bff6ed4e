/** The single DynamoDB table the adapters write: generic keys, one sparse index, TTL (docs/DATA-MODEL.md). */
export const TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  timeToLiveAttribute: 'expiresAt',
  indexes: [{ indexName: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' }],
} as const;
