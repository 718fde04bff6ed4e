import { z } from 'zod';
import { issuedSecretOf, recordResponse, recordSecret } from './secrets.js';

/*
 * The API as a client sees it: fetch with `Authorization: Bearer <key>` and JSON, and the response
 * shapes the tests read (loose: they name what the tests rely on, and tolerate more).
 */

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  /** The body parsed as JSON; `undefined` when it is empty. */
  readonly body: unknown;
}

export interface ApiClient {
  request(method: string, path: string, body?: unknown): Promise<ApiResponse>;
  get(path: string): Promise<ApiResponse>;
  post(path: string, body?: unknown): Promise<ApiResponse>;
  patch(path: string, body: unknown): Promise<ApiResponse>;
  delete(path: string): Promise<ApiResponse>;
}

/**
 * A client of the API at `url` with one brand's key (none: an anonymous caller). The key, every response
 * and every signing secret a response issues are recorded (./secrets.ts), to search logs and responses
 * for them afterwards.
 */
export function apiClient(url: string, key?: string): ApiClient {
  recordSecret(key);
  const request = async (method: string, path: string, body?: unknown): Promise<ApiResponse> => {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (key !== undefined) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${url}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    const parsed: unknown = text === '' ? undefined : JSON.parse(text);
    const issued = issuedSecretOf(parsed);
    recordResponse({
      method,
      path,
      status: response.status,
      text,
      request: [decodedPath(path), body === undefined ? '' : JSON.stringify(body), key ?? ''].join('\n'),
      ...(issued ? { issued } : {}),
    });
    return { status: response.status, headers: response.headers, body: parsed };
  };
  return {
    request,
    get: (path) => request('GET', path),
    post: (path, body) => request('POST', path, body),
    patch: (path, body) => request('PATCH', path, body),
    delete: (path) => request('DELETE', path),
  };
}

function decodedPath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** The body, checked against `schema`; a mismatch fails with the status and the body, to see why. */
export function bodyOf<S extends z.ZodType>(schema: S, response: ApiResponse): z.infer<S> {
  const result = schema.safeParse(response.body);
  if (!result.success) {
    throw new Error(
      `Unexpected response (HTTP ${response.status}): ${JSON.stringify(response.body)}\n${result.error.message}`,
    );
  }
  return result.data;
}

export const errorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.array(z.object({ field: z.string(), message: z.string() })),
  }),
});

/** POST /console/sessions: exactly these three fields. */
export const consoleSessionSchema = z.strictObject({
  url: z.string().regex(/^\/console#session=cbs_[A-Za-z0-9_-]{43}$/),
  token: z.string().regex(/^cbs_[A-Za-z0-9_-]{43}$/),
  expiresAt: z.iso.datetime(),
});

export const subscriptionSchema = z.looseObject({
  id: z.string().regex(/^sub_/),
  brand: z.string(),
  name: z.string(),
  entity: z.string(),
  events: z.array(
    z.looseObject({
      name: z.string(),
      activityTypes: z.array(z.number()).optional(),
      channels: z.array(z.union([z.number(), z.string()])).optional(),
    }),
  ),
  url: z.string(),
  format: z.enum(['json', 'soap']),
  includeCompleteData: z.boolean(),
  status: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type SubscriptionBody = z.infer<typeof subscriptionSchema>;

export const createdSubscriptionSchema = subscriptionSchema.extend({
  secret: z.string().startsWith('whsec_'),
});
export type CreatedSubscription = z.infer<typeof createdSubscriptionSchema>;

export const rotationSchema = z.object({
  id: z.string(),
  secret: z.string().startsWith('whsec_'),
  previousSecretsExpireAt: z.iso.datetime(),
});

export const deliverySchema = z.looseObject({
  id: z.string().regex(/^dlv_/),
  subscriptionId: z.string(),
  brand: z.string(),
  webhookId: z.string().regex(/^msg_/),
  entity: z.string(),
  event: z.string(),
  status: z.enum(['pending', 'succeeded', 'failed', 'parked']),
  attempts: z.array(
    z.looseObject({
      attempt: z.number(),
      at: z.string(),
      statusCode: z.number().optional(),
      error: z.string().optional(),
    }),
  ),
  failureReason: z.string().optional(),
  payload: z.object({ contentType: z.string(), body: z.string() }).nullable(),
});
export type DeliveryBody = z.infer<typeof deliverySchema>;

export const pageSchema = <S extends z.ZodType>(item: S) =>
  z.object({ items: z.array(item), cursor: z.string().optional() });

export const subscriptionPageSchema = pageSchema(subscriptionSchema);
export const deliveryPageSchema = pageSchema(deliverySchema);
