import type { ApiEvent } from '../../lambdas/api/http.js';
import { matchRoute } from '../../lambdas/api/routes.js';
import { aLambdaContext } from './sqs-events.js';

export const lambdaContext = aLambdaContext('api');

/**
 * An API Gateway HTTP API (v2) event for `METHOD /path`, matched against the route table as API Gateway
 * does, with the authorizer's context for `brand` (none when brand is undefined).
 */
export function apiEvent(
  method: string,
  path: string,
  options: {
    brand?: string;
    /** More of the authorizer's context beside the brand (`keyId`, `credential`). */
    context?: Record<string, unknown>;
    body?: unknown;
    rawBody?: string;
    headers?: Record<string, string>;
    query?: Record<string, string>;
  } = {},
): ApiEvent {
  const matched = matchRoute(method, path);
  const route = matched?.route;
  const pathParameters = matched?.pathParameters ?? {};
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  return {
    version: '2.0',
    routeKey: route ? `${route.method} ${route.path}` : '$default',
    rawPath: path,
    rawQueryString: '',
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
    ...(options.query ? { queryStringParameters: options.query } : {}),
    ...(Object.keys(pathParameters).length ? { pathParameters } : {}),
    ...(body !== undefined ? { body } : {}),
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'example.com',
      domainPrefix: 'api',
      http: { method, path: path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: 'apigw-req-1',
      routeKey: route ? `${route.method} ${route.path}` : '$default',
      stage: '$default',
      time: '27/Nov/2026:12:00:00 +0000',
      timeEpoch: 0,
      ...(options.brand !== undefined
        ? { authorizer: { lambda: { brand: options.brand, ...options.context } } }
        : {}),
    },
  } as ApiEvent;
}
