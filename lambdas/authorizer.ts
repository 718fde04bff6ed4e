import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import { apiKeyStore } from './commons/deps.js';
import { logger } from './commons/logger.js';
import { readConfig } from './config.js';
import { authenticate } from './core/api-keys.js';
import type { ApiKeyStore } from './core/ports.js';

export type AuthorizerResult = APIGatewaySimpleAuthorizerWithContextResult<{ brand: string; keyId: string }>;

let store: ApiKeyStore | undefined;

/**
 * HTTP API Lambda authorizer (simple responses): `Authorization: Bearer <key>` → the key's brand, which
 * the API reads from the authorizer context and nowhere else. Results are not cached by API Gateway, so a
 * revoked key stops working at once.
 */
export async function handler(event: APIGatewayRequestAuthorizerEventV2): Promise<AuthorizerResult> {
  store ??= apiKeyStore(readConfig());
  const authorization = event.headers?.authorization ?? event.headers?.Authorization;
  const record = await authenticate(store, authorization);
  if (!record) {
    logger.info('api key refused', { routeKey: event.routeKey, presented: authorization !== undefined });
    return { isAuthorized: false, context: { brand: '', keyId: '' } };
  }
  return { isAuthorized: true, context: { brand: record.brand, keyId: record.keyId } };
}
