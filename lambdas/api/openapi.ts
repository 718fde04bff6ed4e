import * as z from 'zod';
import { consoleSessionCreateSchema } from '../core/console-sessions.js';
import { replaySchema, testEventSchema } from '../core/deliveries-service.js';
import { subscriptionCreateSchema, subscriptionUpdateSchema } from '../core/subscription.js';
import { API_ROUTES, type OperationId } from './routes.js';

/** Request bodies by operation: the same zod schemas the handlers validate with. */
const REQUEST_BODIES: Partial<Record<OperationId, z.ZodType>> = {
  createSubscription: subscriptionCreateSchema,
  updateSubscription: subscriptionUpdateSchema,
  replayDeliveries: replaySchema,
  sendTestEvent: testEventSchema.unwrap(),
  createConsoleSession: consoleSessionCreateSchema,
};

/** Operations whose body may be left out. */
const OPTIONAL_BODIES: ReadonlySet<OperationId> = new Set(['sendTestEvent', 'createConsoleSession']);

const SUCCESS: Record<OperationId, { status: string; description: string }> = {
  createSubscription: {
    status: '201',
    description:
      'Created; `secret` (hmac-sha256) is shown only in this response, an ed25519 subscription shows its ' +
      '`publicKey` instead (never its private key). `tls` is shown as summaries (`clientCertificate`: subject, ' +
      'issuer, notAfter, fingerprint256; `serverCa`: subject, notAfter, certificates), never the key or its ' +
      'passphrase; `warnings` names a client certificate that expires within 30 days',
  },
  listSubscriptions: { status: '200', description: 'A page of subscriptions and the next `cursor`, if any' },
  getSubscription: {
    status: '200',
    description: 'The subscription (never its secret, key or passphrase; `publicKey` for ed25519)',
  },
  updateSubscription: { status: '200', description: 'The updated subscription' },
  deleteSubscription: { status: '204', description: 'Deleted' },
  rotateSecret: {
    status: '200',
    description: 'The new `secret`, shown only in this response (ed25519: the new `publicKey`)',
  },
  sendTestEvent: { status: '202', description: 'Queued; follow it under deliveries' },
  listDeliveries: { status: '200', description: 'A page of deliveries with attempts and payload' },
  getDelivery: { status: '200', description: 'The delivery with its attempts and payload' },
  resendDelivery: { status: '202', description: 'Queued again' },
  replayDeliveries: { status: '202', description: 'How many deliveries were queued again' },
  createConsoleSession: {
    status: '201',
    description:
      '`{ "url": "/console#session=<token>", "token": "cbs_…", "expiresAt": "<ISO instant>" }`: `url` is ' +
      "relative to this API's base URL and opens the console signed in as the brand; `token` is the same " +
      'session token, for a console that takes it otherwise. It works as a bearer credential on every data ' +
      'route until `expiresAt` (at most an hour) and stops at once when the API key that made it is ' +
      'revoked. Shown only in this response (`cache-control: no-store`). A console session calling this ' +
      'route gets 403 `api_key_required`',
  },
  listEventTypes: { status: '200', description: 'Entities, events, components and data schemas' },
  getOpenApi: { status: '200', description: 'This document' },
};

const QUERY: Partial<Record<OperationId, string[]>> = {
  listSubscriptions: ['limit', 'cursor'],
  listDeliveries: ['limit', 'cursor', 'status'],
};

const QUERY_PARAMETERS: Record<string, object> = {
  limit: { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 25 } },
  cursor: { name: 'cursor', in: 'query', schema: { type: 'string' } },
  status: {
    name: 'status',
    in: 'query',
    description:
      "`parked`: held while the subscription's circuit is open (its listener kept failing); it uses no attempts " +
      'while parked and is queued again, as `pending`, once a probe finds the listener back.',
    schema: { type: 'string', enum: ['pending', 'succeeded', 'failed', 'parked'] },
  },
};

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'details'],
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        details: {
          type: 'array',
          items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } },
        },
      },
    },
  },
};

let cached: object | undefined;

/** The API as an OpenAPI 3.1 document, built from the route table and the zod schemas. */
export function openApiDocument(): object {
  cached ??= build();
  return cached;
}

function build(): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const route of API_ROUTES) {
    const body = REQUEST_BODIES[route.operationId];
    const success = SUCCESS[route.operationId];
    const pathParameters = [...route.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
      name,
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const operation = {
      operationId: route.operationId,
      summary: route.summary,
      security: !route.authorized
        ? []
        : 'apiKeyOnly' in route && route.apiKeyOnly
          ? [{ apiKey: [] }]
          : [{ apiKey: [] }, { consoleSession: [] }],
      parameters: [
        ...pathParameters,
        ...(QUERY[route.operationId] ?? []).map((name) => QUERY_PARAMETERS[name]),
      ],
      ...(body
        ? {
            requestBody: {
              required: !OPTIONAL_BODIES.has(route.operationId),
              content: {
                'application/json': {
                  schema: z.toJSONSchema(body, { io: 'input', target: 'draft-2020-12' }),
                },
              },
            },
          }
        : {}),
      responses: {
        [success.status]: { description: success.description },
        '4XX': {
          description: 'A client error',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
        '500': { description: 'An internal error (the body carries only a request id)' },
      },
    };
    const methods = paths[route.path] ?? {};
    methods[route.method.toLowerCase()] = operation;
    paths[route.path] = methods;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'CommBox webhooks',
      version: '1.0.0',
      description: 'Subscriptions to CommBox entity events, signed delivery to listeners, the delivery log.',
    },
    paths,
    components: {
      schemas: { Error: errorSchema },
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: "A brand's API key" },
        consoleSession: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A console session token (`cbs_…`, from POST /console/sessions): the brand of the key that made it, for at most an hour, until that key is revoked; never on key-only routes',
        },
      },
    },
  };
}
