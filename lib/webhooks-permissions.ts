import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { WebhooksFunction } from './webhooks-function.js';

/*
 * What each function may do, and nothing more: the actions its adapters send (the IAM contract test,
 * test/cdk/sdk-calls/*.json, checks every recorded command against these statements), on the one table
 * with the partitions it touches (`dynamodb:LeadingKeys`, prefixes from docs/DATA-MODEL.md), the delivery
 * queue and the bus. No Scan anywhere; deletes only where the API frees a name or a subscription.
 */

/** Partition key prefixes (docs/DATA-MODEL.md). */
const PARTITIONS = {
  brand: 'BRAND#*',
  delivery: 'SUB#*',
  event: 'EVENT#*',
  rejected: 'REJECTED#*',
  apiKey: 'APIKEY#*',
  consoleSession: 'CONSOLE#*',
  rateBucket: 'RATE#*',
} as const;

export interface PermissionTargets {
  readonly table: Table;
  /** The index the API lists deliveries by status from, and deliver its parked deliveries. */
  readonly indexName: string;
  readonly deliveryQueue: IQueue;
  readonly eventBus: IEventBus;
  readonly functions: Readonly<Record<'api' | 'authorizer' | 'route' | 'deliver', WebhooksFunction>>;
}

/** Items of the table whose partition key starts with one of `partitions`. */
function onItems(table: Table, actions: string[], partitions: string[]): PolicyStatement {
  return new PolicyStatement({
    actions: actions.map((action) => `dynamodb:${action}`),
    resources: [table.tableArn],
    conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': partitions } },
  });
}

export function grantLeastPrivilege(targets: PermissionTargets): void {
  const { table, deliveryQueue, eventBus } = targets;
  const { api, authorizer, route, deliver } = targets.functions;
  const { brand, delivery, event, rejected, apiKey, consoleSession, rateBucket } = PARTITIONS;
  const sendDeliveries = new PolicyStatement({
    actions: ['sqs:SendMessage'],
    resources: [deliveryQueue.queueArn],
  });

  // One consistent GetItem per request: the key's hash item, nothing else (not the brands' key lists); for
  // a console session, its item and then its key's hash item (is the key still active?).
  authorizer.addToRolePolicy(onItems(table, ['GetItem'], [apiKey, consoleSession]));

  // Subscriptions of a brand, event claims and rejected events; one message per matching subscription.
  route.addToRolePolicy(onItems(table, ['Query'], [brand]));
  route.addToRolePolicy(onItems(table, ['PutItem'], [event, rejected]));
  route.addToRolePolicy(sendDeliveries);

  // The subscription (read, marked failing or healthy, disabled), the legacy event item, the delivery's
  // record; a retry or deferral is a new, delayed message; operational events on this bus.
  deliver.addToRolePolicy(onItems(table, ['GetItem', 'BatchGetItem'], [brand, event]));
  deliver.addToRolePolicy(onItems(table, ['UpdateItem'], [brand, delivery]));
  deliver.addToRolePolicy(onItems(table, ['PutItem', 'BatchWriteItem'], [delivery]));
  // An open circuit's parked deliveries, oldest first, for its probe and its drain (lambdas/core/parking.ts).
  deliver.addToRolePolicy(
    new PolicyStatement({
      actions: ['dynamodb:Query'],
      resources: [`${table.tableArn}/index/${targets.indexName}`],
    }),
  );
  // The event source mapping grants consumption to the function; a wait is a new message, never a
  // change of a received message's visibility.
  // The rate buckets of subscriptions with maxRequestsPerSecond: a conditional update per delivery, and a
  // consistent read of the bucket when a failed condition returned no item.
  deliver.addToRolePolicy(onItems(table, ['UpdateItem', 'GetItem'], [rateBucket]));
  deliver.addToRolePolicy(sendDeliveries);
  eventBus.grantPutEventsTo(deliver);

  // Subscriptions, name locks and the brand's subscription count (create, replace, delete in transactions),
  // the delivery log, resends.
  api.addToRolePolicy(onItems(table, ['GetItem'], [brand, delivery, event]));
  api.addToRolePolicy(onItems(table, ['Query'], [brand, delivery]));
  api.addToRolePolicy(onItems(table, ['PutItem', 'DeleteItem'], [brand]));
  // Console sessions are only ever put (POST /console/sessions); TTL deletes them.
  api.addToRolePolicy(onItems(table, ['PutItem'], [consoleSession]));
  api.addToRolePolicy(onItems(table, ['UpdateItem'], [brand, delivery]));
  // The index's partition key is `gsi1pk`, not a table key: no LeadingKeys condition on it.
  api.addToRolePolicy(
    new PolicyStatement({
      actions: ['dynamodb:Query'],
      resources: [`${table.tableArn}/index/${targets.indexName}`],
    }),
  );
  api.addToRolePolicy(sendDeliveries);
}

/**
 * Dedicated lanes (lib/webhooks-lanes.ts): whatever sends deliveries may send to each lane's queue (a
 * retry is a new message sent to its brand's lane). The mappings grant consumption.
 */
export function grantLaneQueues(
  functions: Readonly<Record<'api' | 'route' | 'deliver', WebhooksFunction>>,
  queues: readonly IQueue[],
): void {
  if (queues.length === 0) return;
  const resources = queues.map((queue) => queue.queueArn);
  const send = new PolicyStatement({ actions: ['sqs:SendMessage'], resources });
  for (const fn of [functions.api, functions.route, functions.deliver]) fn.addToRolePolicy(send);
}
