import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { DynamoConsoleSessionStore } from './adapters/dynamo-console-sessions.js';
import { consoleResponse } from './api/console.js';
import { type ApiEvent, type ApiResult, httpErrors } from './api/http.js';
import { OPERATIONS } from './api/operations.js';
import { API_ROUTES, type ApiRoute, isConsoleRouteKey, type OperationId, routeKey } from './api/routes.js';
import { documentClient } from './commons/clients.js';
import { logger } from './commons/logger.js';
import { serviceDeps } from './commons/service-deps.js';
import { readConfig } from './config.js';
import { ClientError } from './core/errors.js';
import type { ConsoleSessionStore } from './core/ports.js';
import type { ServiceDeps } from './core/subscriptions-service.js';

const routes = new Map<string, ApiRoute>(API_ROUTES.map((route) => [routeKey(route), route]));

let deps: ServiceDeps | undefined;
let consoleSessions: ConsoleSessionStore | undefined;

/** API Gateway HTTP API (payload v2): one function for every route, dispatched on the route key. */
async function dispatch(event: ApiEvent, _context: Context): Promise<ApiResult> {
  // The console's static files: no key, no brand, no store.
  if (isConsoleRouteKey(event.routeKey)) return consoleResponse(event.pathParameters?.proxy);
  const route = routes.get(event.routeKey);
  if (!route) throw new ClientError(404, 'not_found', 'No such route');
  const brand = route.authorized ? brandOf(event) : '';
  if (route.apiKeyOnly) requireApiKey(event);
  deps ??= serviceDeps(readConfig());
  const response = await OPERATIONS[route.operationId as OperationId]({
    event,
    deps,
    brand,
    keyId: route.authorized ? stringOf(event.requestContext.authorizer?.lambda?.keyId) : '',
    consoleSessions: () => {
      consoleSessions ??= new DynamoConsoleSessionStore(documentClient(), readConfig().tableName);
      return consoleSessions;
    },
    param: (name) => {
      const value = event.pathParameters?.[name];
      if (!value) throw new ClientError(404, 'not_found', `No ${name} in the path`);
      return value;
    },
  });
  logger.info('request', {
    routeKey: event.routeKey,
    status: response.statusCode,
    brand: brand || undefined,
  });
  return response;
}

/** The brand comes only from the authorizer's context, never from the request. */
function brandOf(event: ApiEvent): string {
  const brand = event.requestContext.authorizer?.lambda?.brand;
  if (typeof brand !== 'string' || brand === '')
    throw new ClientError(401, 'unauthorized', 'A valid API key is required');
  return brand;
}

/**
 * Key-only routes (routes.ts `apiKeyOnly`): the authorizer's context must say the caller presented an
 * API key, not a console session made with one.
 */
function requireApiKey(event: ApiEvent): void {
  if (event.requestContext.authorizer?.lambda?.credential === 'key') return;
  const message = 'must be an API key: a console session cannot do this';
  throw new ClientError(403, 'api_key_required', 'Only an API key can do this, not a console session', [
    { field: 'authorization', message },
  ]);
}

const stringOf = (value: unknown) => (typeof value === 'string' ? value : '');

export const handler = middy<ApiEvent, ApiResult>().use(httpErrors()).handler(dispatch);

export { useConsoleAssets } from './api/console.js';

/** For tests and the local runtime: replace the dependencies the handler builds from the environment. */
export function useServiceDeps(replacement: ServiceDeps | undefined): void {
  deps = replacement;
}

/** For tests and the local runtime: replace the console session store built from the environment. */
export function useConsoleSessionStore(replacement: ConsoleSessionStore | undefined): void {
  consoleSessions = replacement;
}
