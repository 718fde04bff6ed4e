import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  APIGatewayRequestAuthorizerEventV2,
  Context,
} from 'aws-lambda';
import { matchRoute } from '../lambdas/api/routes.js';
import { ClientError } from '../lambdas/core/errors.js';
import { localLambdaContext } from './lambda-context.js';

export interface LocalResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

type ApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;
type AuthorizerHandler = (
  event: APIGatewayRequestAuthorizerEventV2,
) => Promise<{ isAuthorized: boolean; context?: Record<string, unknown> }>;

/** Reads the request body when asked; resolves undefined when it is over the size limit. */
export type BodyReader = () => Promise<Buffer | undefined>;

export interface LocalApiGateway {
  /**
   * Answers one request. Given a BodyReader, the body is read only once the route matched and the
   * authorizer admitted the key: a caller without one cannot make the service read megabytes.
   */
  handle(
    method: string,
    rawUrl: string,
    headers: IncomingHttpHeaders,
    body: Buffer | BodyReader,
  ): Promise<LocalResponse>;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

/**
 * Plays API Gateway's HTTP API (payload v2) in front of the very same `api` and `authorizer` modules:
 * matches the route table, runs the Lambda authorizer on authorized routes (no Authorization header →
 * 401, refused → 403, as API Gateway answers), and builds the v2 event with the route key, path
 * parameters and the authorizer's context.
 */
export function createLocalApiGateway(handlers: {
  api: ApiHandler;
  authorizer: AuthorizerHandler;
}): LocalApiGateway {
  return {
    async handle(method, rawUrl, rawHeaders, body) {
      const unread = typeof body === 'function';
      // An answer given before the body was read closes the connection: the body is never read at all.
      const early = (response: LocalResponse): LocalResponse =>
        unread ? { ...response, headers: { ...response.headers, connection: 'close' } } : response;
      // Before any authentication, as API Gateway: a target that is not a path, or a path whose
      // percent-encoding is broken, is the client's mistake (400), never a 500.
      if (!rawUrl.startsWith('/')) return early(clientError(badRequest('The request target must be a path')));
      const url = new URL(`http://127.0.0.1${rawUrl}`);
      let matched: ReturnType<typeof matchRoute>;
      try {
        matched = matchRoute(method, url.pathname);
      } catch (error) {
        if (error instanceof ClientError) return early(clientError(error));
        throw error;
      }
      if (!matched) return early(jsonResponse(404, { message: 'Not Found' }));
      const headers = flattenHeaders(rawHeaders);
      const requestId = randomUUID();
      const routeKey = `${matched.route.method} ${matched.route.path}`;
      let authorizer: Record<string, unknown> | undefined;
      if (matched.route.authorized) {
        if (!headers.authorization) return early(jsonResponse(401, { message: 'Unauthorized' }));
        const verdict = await handlers.authorizer(authorizerEvent(routeKey, url, headers));
        if (!verdict.isAuthorized) return early(jsonResponse(403, { message: 'Forbidden' }));
        authorizer = verdict.context ?? {};
      }
      const bytes = typeof body === 'function' ? await body() : body;
      if (bytes === undefined) return early(jsonResponse(413, { message: 'Request Entity Too Large' }));
      const query = queryParameters(url);
      const event: APIGatewayProxyEventV2 = {
        version: '2.0',
        routeKey,
        rawPath: url.pathname,
        rawQueryString: url.search.slice(1),
        headers,
        ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
        ...(Object.keys(matched.pathParameters).length > 0 ? { pathParameters: matched.pathParameters } : {}),
        ...(bytes.length > 0
          ? { body: bytes.toString('base64'), isBase64Encoded: true }
          : { isBase64Encoded: false }),
        requestContext: {
          accountId: '000000000000',
          apiId: 'local',
          domainName: headers.host ?? '127.0.0.1',
          domainPrefix: 'local',
          http: {
            method,
            path: url.pathname,
            protocol: 'HTTP/1.1',
            sourceIp: '127.0.0.1',
            userAgent: headers['user-agent'] ?? '',
          },
          requestId,
          routeKey,
          stage: '$default',
          time: new Date().toUTCString(),
          timeEpoch: Date.now(),
          ...(authorizer ? { authorizer: { lambda: authorizer } } : {}),
        } as APIGatewayProxyEventV2['requestContext'],
      };
      const result = await handlers.api(event, localLambdaContext('api', 29_000, requestId));
      return {
        status: result.statusCode ?? 200,
        headers: Object.fromEntries(
          Object.entries(result.headers ?? {}).map(([name, value]) => [name, String(value)]),
        ),
        body: result.isBase64Encoded
          ? Buffer.from(result.body ?? '', 'base64').toString('utf8')
          : (result.body ?? ''),
      };
    },
  };
}

/**
 * The body of `request`, or undefined as soon as it passes `maxBytes` (reading then stops: answer 413
 * with `connection: close`).
 */
export function readRequestBody(request: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      request.off('data', onData);
      request.pause();
      resolve(undefined);
    };
    request.on('data', onData);
    request.once('end', () => resolve(Buffer.concat(chunks)));
    request.once('error', reject);
  });
}

function badRequest(message: string): ClientError {
  return new ClientError(400, 'invalid_path', message, [{ field: '(path)', message }]);
}

function clientError(error: ClientError): LocalResponse {
  return jsonResponse(error.status, {
    error: { code: error.code, message: error.message, details: error.details },
  });
}

function jsonResponse(status: number, body: unknown): LocalResponse {
  return { status, headers: JSON_HEADERS, body: JSON.stringify(body) };
}

/** HTTP API lower-cases header names and joins repeated values with commas. */
function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  return flat;
}

function queryParameters(url: URL): Record<string, string> {
  const query: Record<string, string> = {};
  for (const name of new Set(url.searchParams.keys())) query[name] = url.searchParams.getAll(name).join(',');
  return query;
}

function authorizerEvent(
  routeKey: string,
  url: URL,
  headers: Record<string, string>,
): APIGatewayRequestAuthorizerEventV2 {
  return {
    version: '2.0',
    type: 'REQUEST',
    routeArn: `arn:aws:execute-api:us-east-1:000000000000:local/$default/${routeKey.replace(' ', '')}`,
    identitySource: [headers.authorization ?? ''],
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    cookies: [],
    headers,
    requestContext: {} as APIGatewayRequestAuthorizerEventV2['requestContext'],
  };
}
