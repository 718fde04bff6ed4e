import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../lambdas/adapters/dynamo-common.js';

/*
 * A document client made by createDocumentClient, whose requests are marshalled exactly as in Lambda and
 * then kept instead of sent: a unit test sees the AttributeValues DynamoDB would receive, and a value
 * the marshaller refuses fails the call as it would in AWS. aws-sdk-client-mock stubs `send` before
 * marshalling, so it cannot show this. Every call answers `{}`.
 */
export function marshallingDocumentClient(): {
  readonly client: DynamoDBDocumentClient;
  readonly requests: Record<string, unknown>[];
} {
  const client = createDocumentClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'unit', secretAccessKey: 'unit' },
  });
  const requests: Record<string, unknown>[] = [];
  client.middlewareStack.add(
    () => async (args) => {
      requests.push(args.input as Record<string, unknown>);
      return { output: { $metadata: {} } as never, response: {} };
    },
    { step: 'build', name: 'keepMarshalledRequest' },
  );
  return { client, requests };
}
