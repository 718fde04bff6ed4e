import { ClientError } from '../core/errors.js';
/*
 * Every API route, once. The CDK stack creates an HTTP API route for each (with the authorizer where
 * `authorized`), the local server matches requests against them, the OpenAPI document lists them, and
 * the tenant-isolation tests enumerate them.
 */

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface ApiRoute {
  readonly method: HttpMethod;
  /** API Gateway path syntax: `{id}` is a path parameter. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  /** Needs a brand's API key (every data route); the catalogue and the OpenAPI document are public. */
  readonly authorized: boolean;
  /**
   * Only a brand's API key may call it, not a console session made with the key (lambdas/core/console-sessions.ts):
   * a session cannot make another session, so it never outlives its hour.
   */
  readonly apiKeyOnly?: boolean;
}

export const API_ROUTES = [
  {
    method: 'POST',
    path: '/subscriptions',
    operationId: 'createSubscription',
    summary: 'Create a subscription; the response holds its signing secret, once',
    authorized: true,
  },
  {
    method: 'GET',
    path: '/subscriptions',
    operationId: 'listSubscriptions',
    summary: "List the brand's subscriptions (cursor pagination)",
    authorized: true,
  },
  {
    method: 'GET',
    path: '/subscriptions/{id}',
    operationId: 'getSubscription',
    summary: 'Get one subscription',
    authorized: true,
  },
  {
    method: 'PATCH',
    path: '/subscriptions/{id}',
    operationId: 'updateSubscription',
    summary: 'Change fields of a subscription',
    authorized: true,
  },
  {
    method: 'DELETE',
    path: '/subscriptions/{id}',
    operationId: 'deleteSubscription',
    summary: 'Delete a subscription',
    authorized: true,
  },
  {
    method: 'POST',
    path: '/subscriptions/{id}/secret/rotate',
    operationId: 'rotateSecret',
    summary: 'Rotate the signing secret; the old one keeps signing for 24 hours',
    authorized: true,
  },
  {
    method: 'POST',
    path: '/subscriptions/{id}/test',
    operationId: 'sendTestEvent',
    summary: 'Send a test event to the listener',
    authorized: true,
  },
  {
    method: 'GET',
    path: '/subscriptions/{id}/deliveries',
    operationId: 'listDeliveries',
    summary: 'List deliveries, optionally by status, with their attempts',
    authorized: true,
  },
  {
    method: 'GET',
    path: '/subscriptions/{id}/deliveries/{deliveryId}',
    operationId: 'getDelivery',
    summary: 'Get one delivery with its attempts and payload',
    authorized: true,
  },
  {
    method: 'POST',
    path: '/subscriptions/{id}/deliveries/{deliveryId}/resend',
    operationId: 'resendDelivery',
    summary: 'Send a delivery again',
    authorized: true,
  },
  {
    method: 'POST',
    path: '/subscriptions/{id}/replay',
    operationId: 'replayDeliveries',
    summary: "Send again the subscription's deliveries of a time range",
    authorized: true,
  },
  {
    method: 'POST',
    path: '/console/sessions',
    operationId: 'createConsoleSession',
    summary:
      'Make a console link: opens the console signed in as the brand, for up to an hour (API key only)',
    authorized: true,
    apiKeyOnly: true,
  },
  {
    method: 'GET',
    path: '/event-types',
    operationId: 'listEventTypes',
    summary: 'The catalogue of entities, events and components',
    authorized: false,
  },
  {
    method: 'GET',
    path: '/openapi.json',
    operationId: 'getOpenApi',
    summary: 'This API as an OpenAPI 3.1 document',
    authorized: false,
  },
] as const satisfies readonly ApiRoute[];

export type OperationId = (typeof API_ROUTES)[number]['operationId'];

/**
 * The console's page and files (lambdas/api/console.ts): public, the same for every brand, no data. Kept
 * apart from API_ROUTES (they are not API operations: no OpenAPI entry, no tenant-isolation case) but
 * created, matched and dispatched like them. `{proxy+}` is API Gateway's greedy path variable.
 */
export const CONSOLE_ROUTES = [
  {
    method: 'GET',
    path: '/console',
    operationId: 'getConsole',
    summary: 'The console (a web page)',
    authorized: false,
  },
  {
    method: 'GET',
    path: '/console/{proxy+}',
    operationId: 'getConsoleFile',
    summary: "The console's script and style sheet",
    authorized: false,
  },
] as const satisfies readonly ApiRoute[];

/** Whether a route key (`GET /console`) is one of the console's. */
export function isConsoleRouteKey(key: string): boolean {
  return CONSOLE_ROUTES.some((route) => routeKey(route) === key);
}

/** `GET /subscriptions/{id}`: the routeKey API Gateway puts in the event. */
export function routeKey(route: ApiRoute): string {
  return `${route.method} ${route.path}`;
}

const matchers = [...API_ROUTES, ...CONSOLE_ROUTES].map((route: ApiRoute) => ({
  route,
  names: [...route.path.matchAll(/\{(\w+)\+?\}/g)].map(([, name]) => name ?? ''),
  // `{name}` is one segment; the greedy `{name+}` is the rest of the path. `/console/` is `/console`.
  pattern: new RegExp(
    `^${route.path.replace(/\{\w+\+\}/g, '(.+)').replace(/\{\w+\}/g, '([^/]+)')}${route.path === '/console' ? '/?' : ''}$`,
  ),
}));

/**
 * The route a request matches, as API Gateway matches it, with its decoded path parameters. Throws
 * ClientError 400 `invalid_path` when a parameter's percent-encoding is broken (`%E0%A4%A`).
 */
export function matchRoute(
  method: string,
  path: string,
): { route: ApiRoute; pathParameters: Record<string, string> } | undefined {
  for (const { route, names, pattern } of matchers) {
    if (route.method !== method) continue;
    const values = pattern.exec(path)?.slice(1);
    if (!values) continue;
    const pathParameters: Record<string, string> = {};
    names.forEach((name, index) => {
      pathParameters[name] = decodePathSegment(values[index] ?? '', name);
    });
    return { route, pathParameters };
  }
  return undefined;
}

function decodePathSegment(segment: string, name: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    const message = 'is not valid percent-encoded UTF-8';
    throw new ClientError(400, 'invalid_path', `The path's ${name} ${message}`, [{ field: name, message }]);
  }
}
