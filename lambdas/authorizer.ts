import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import { DynamoApiKeyStore } from './adapters/dynamo-api-keys.js';
import { DynamoConsoleSessionStore } from './adapters/dynamo-console-sessions.js';
import { documentClient } from './commons/clients.js';
import { logger } from './commons/logger.js';
import { authenticate, bearerKey } from './core/api-keys.js';
import { authenticateConsoleSession, isConsoleSessionToken } from './core/console-session-tokens.js';
import type { ApiKeyStore, ConsoleSessionStore } from './core/ports.js';
import { ENV } from './environment.js';

/** How the caller proved who it is: a brand's API key, or a console session made with one. */
export type Credential = 'key' | 'session';

export type AuthorizerResult = APIGatewaySimpleAuthorizerWithContextResult<{
  brand: string;
  keyId: string;
  credential: Credential | '';
}>;

let keys: ApiKeyStore | undefined;
let sessions: ConsoleSessionStore | undefined;
let now: () => Date = () => new Date();

/**
 * HTTP API Lambda authorizer (simple responses): `Authorization: Bearer <key>` → the key's brand, which
 * the API reads from the authorizer context and nowhere else. A console session token (`cbs_`) stands
 * for the brand of the key that made it, while it has not expired and that key is not revoked; the
 * context says which of the two it was (`credential`), so the API can keep key-only routes to keys.
 * Results are not cached by API Gateway, so a revoked key, and its sessions, stop working at once.
 */
export async function handler(event: APIGatewayRequestAuthorizerEventV2): Promise<AuthorizerResult> {
  // Only the table name: the authorizer stays small (no config schema), because it runs on every request.
  keys ??= new DynamoApiKeyStore(documentClient(), requiredEnv(ENV.tableName));
  sessions ??= new DynamoConsoleSessionStore(documentClient(), requiredEnv(ENV.tableName));
  const authorization = event.headers?.authorization ?? event.headers?.Authorization;
  const token = bearerKey(authorization);
  if (token && isConsoleSessionToken(token)) {
    const session = await authenticateConsoleSession({ sessions, apiKeys: keys, now }, token);
    if (session) return { isAuthorized: true, context: { ...session, credential: 'session' } };
    // Never the token: only that one was presented, and of which kind.
    logger.info('console session refused', { routeKey: event.routeKey });
    return refused;
  }
  const record = await authenticate(keys, authorization);
  if (!record) {
    logger.info('api key refused', { routeKey: event.routeKey, presented: authorization !== undefined });
    return refused;
  }
  return { isAuthorized: true, context: { brand: record.brand, keyId: record.keyId, credential: 'key' } };
}

const refused: AuthorizerResult = { isAuthorized: false, context: { brand: '', keyId: '', credential: '' } };

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** For tests and the local runtime: replace the key store built from the environment. */
export function useApiKeyStore(replacement: ApiKeyStore | undefined): void {
  keys = replacement;
}

/** For tests and the local runtime: replace the console session store built from the environment. */
export function useConsoleSessionStore(replacement: ConsoleSessionStore | undefined): void {
  sessions = replacement;
}

/** For tests: the clock a session's expiry is checked against (default: the system's). */
export function useClock(replacement: (() => Date) | undefined): void {
  now = replacement ?? (() => new Date());
}
