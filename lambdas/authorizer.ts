import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import { DynamoApiKeyStore } from './adapters/dynamo-api-keys.js';
import { documentClient } from './commons/clients.js';
import { logger } from './commons/logger.js';
import { authenticate } from './core/api-keys.js';
import type { ApiKeyStore } from './core/ports.js';
import { ENV } from './environment.js';

export type AuthorizerResult = APIGatewaySimpleAuthorizerWithContextResult<{ brand: string; keyId: string }>;

let store: ApiKeyStore | undefined;

/**
 * HTTP API Lambda authorizer (simple responses): `Authorization: Bearer <key>` → the key's brand, which
 * the API reads from the authorizer context and nowhere else. Results are not cached by API Gateway, so a
 * revoked key stops working at once.
 */
export async function handler(event: APIGatewayRequestAuthorizerEventV2): Promise<AuthorizerResult> {
  // Only the table name: the authorizer stays small (no config schema), because it runs on every request.
  store ??= new DynamoApiKeyStore(documentClient(), requiredEnv(ENV.tableName));
  const authorization = event.headers?.authorization ?? event.headers?.Authorization;
  const record = await authenticate(store, authorization);
  if (!record) {
    logger.info('api key refused', { routeKey: event.routeKey, presented: authorization !== undefined });
    return { isAuthorized: false, context: { brand: '', keyId: '' } };
  }
  return { isAuthorized: true, context: { brand: record.brand, keyId: record.keyId } };
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** For tests and the local runtime: replace the key store built from the environment. */
export function useApiKeyStore(replacement: ApiKeyStore | undefined): void {
  store = replacement;
}
