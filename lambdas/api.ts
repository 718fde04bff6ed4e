import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { consoleResponse } from './api/console.js';
import { type ApiEvent, type ApiResult, httpErrors } from './api/http.js';
import { OPERATIONS } from './api/operations.js';
import { API_ROUTES, isConsoleRouteKey, routeKey } from './api/routes.js';
import { logger } from './commons/logger.js';
import { serviceDeps } from './commons/service-deps.js';
import { readConfig } from './config.js';
import { ClientError } from './core/errors.js';
import type { ServiceDeps } from './core/subscriptions-service.js';

const routes = new Map(API_ROUTES.map((route) => [routeKey(route), route]));

let deps: ServiceDeps | undefined;

/** API Gateway HTTP API (payload v2): one function for every route, dispatched on the route key. */
async function dispatch(event: ApiEvent, _context: Context): Promise<ApiResult> {
  // The console's static files: no key, no brand, no store.
  if (isConsoleRouteKey(event.routeKey)) return consoleResponse(event.pathParameters?.proxy);
  const route = routes.get(event.routeKey);
  if (!route) throw new ClientError(404, 'not_found', 'No such route');
  const brand = route.authorized ? brandOf(event) : '';
  deps ??= serviceDeps(readConfig());
  const response = await OPERATIONS[route.operationId]({
    event,
    deps,
    brand,
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

export const handler = middy<ApiEvent, ApiResult>().use(httpErrors()).handler(dispatch);

export { useConsoleAssets } from './api/console.js';

/** For tests and the local runtime: replace the dependencies the handler builds from the environment. */
export function useServiceDeps(replacement: ServiceDeps | undefined): void {
  deps = replacement;
}
