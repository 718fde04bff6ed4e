import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { logger } from '../commons/logger.js';
import { ClientError } from '../core/errors.js';

/** Request bodies above this are refused with 413 before they are parsed. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** The event the API handler receives: API Gateway HTTP API, payload v2, with the simple authorizer's context. */
export type ApiEvent = APIGatewayProxyEventV2 & {
  requestContext: APIGatewayProxyEventV2['requestContext'] & {
    authorizer?: { lambda?: Record<string, unknown> };
  };
};

export type ApiResult = APIGatewayProxyStructuredResultV2;

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): ApiResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

export function noContent(): ApiResult {
  return { statusCode: 204, headers: {} };
}

/**
 * The request body as JSON: 413 above 1 MB, 415 unless the content type is JSON, 400 for bad JSON.
 * An absent body is `undefined`, for operations whose body is optional.
 */
export function jsonBody(event: ApiEvent): unknown {
  if (event.body === undefined || event.body === '') return undefined;
  const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
  if (raw.length > MAX_BODY_BYTES) {
    throw new ClientError(413, 'payload_too_large', `The body is larger than ${MAX_BODY_BYTES} bytes`);
  }
  const contentType = headerOf(event, 'content-type') ?? '';
  if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(contentType)) {
    throw new ClientError(415, 'unsupported_media_type', 'Send the body as application/json', [
      { field: 'content-type', message: 'must be application/json' },
    ]);
  }
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ClientError(400, 'invalid_json', 'The body is not valid JSON', [
      { field: '(body)', message: 'not valid JSON' },
    ]);
  }
}

export function headerOf(event: ApiEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/** `?limit=` (1–100, default 25) and `?cursor=`. */
export function pageOf(event: ApiEvent): { limit: number; cursor?: string } {
  const query = event.queryStringParameters ?? {};
  const limit = query.limit === undefined ? 25 : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    throw new ClientError(400, 'invalid_query', 'limit must be an integer from 1 to 100', [
      { field: 'limit', message: 'must be an integer from 1 to 100' },
    ]);
  }
  return { limit, ...(query.cursor ? { cursor: query.cursor } : {}) };
}

/**
 * Maps errors to responses in one place (registered last, as middy's error handler is): a ClientError
 * becomes its 4xx with `{"error": {code, message, details}}`; anything else is logged and answered with
 * a plain 500 that carries only the request id.
 */
export function httpErrors(): MiddlewareObj<ApiEvent, ApiResult, Error, Context> {
  return {
    onError: async (request) => {
      const { error } = request;
      if (error instanceof ClientError) {
        request.response = json(error.status, {
          error: { code: error.code, message: error.message, details: error.details },
        });
        return;
      }
      const requestId = request.event.requestContext?.requestId ?? request.context.awsRequestId;
      logger.error('request failed', {
        requestId,
        routeKey: request.event.routeKey,
        error: error ?? undefined,
      });
      request.response = json(500, {
        error: { code: 'internal_error', message: 'Internal error', details: [], requestId },
      });
    },
  };
}
