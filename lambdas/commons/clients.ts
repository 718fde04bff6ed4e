import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../adapters/dynamo-common.js';

/*
 * SDK clients, created once per container on first use and reused across invocations. Endpoints come
 * from the SDK's own settings (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS,
 * AWS_ENDPOINT_URL_EVENTBRIDGE), which is how the local
 * runtime points the very same modules at its emulators.
 */

let dynamo: DynamoDBDocumentClient | undefined;
let sqs: SQSClient | undefined;
let eventBridge: EventBridgeClient | undefined;
let kms: KMSClient | undefined;

export function documentClient(): DynamoDBDocumentClient {
  dynamo ??= createDocumentClient();
  return dynamo;
}

export function sqsClient(): SQSClient {
  // The endpoint is the region's (or AWS_ENDPOINT_URL_SQS), never the host inside a queue URL: emulators
  // name queues with hosts that do not resolve.
  sqs ??= new SQSClient({ useQueueUrlAsEndpoint: false });
  return sqs;
}

export function eventBridgeClient(): EventBridgeClient {
  eventBridge ??= new EventBridgeClient({});
  return eventBridge;
}

export function kmsClient(): KMSClient {
  kms ??= new KMSClient({});
  return kms;
}
