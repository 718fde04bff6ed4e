import { describeCatalogue } from '../core/catalogue.js';
import { createConsoleSession, sessionMaker } from '../core/console-sessions.js';
import {
  getDelivery,
  listDeliveries,
  parseDeliveryStatus,
  replayDeliveries,
  resendDelivery,
  sendTestEvent,
} from '../core/deliveries-service.js';
import type { ConsoleSessionStore } from '../core/ports.js';
import {
  createSubscription,
  deleteSubscription,
  findSubscription,
  listSubscriptions,
  rotateSecret,
  type ServiceDeps,
  toSubscriptionView,
  updateSubscription,
} from '../core/subscriptions-service.js';
import { type ApiEvent, type ApiResult, headerOf, json, jsonBody, noContent, pageOf } from './http.js';
import { openApiDocument } from './openapi.js';
import type { OperationId } from './routes.js';

export interface OperationContext {
  readonly event: ApiEvent;
  readonly deps: ServiceDeps;
  /** The caller's brand, from the authorizer only; empty on public routes. */
  readonly brand: string;
  /** The id of the API key the request was made with (or whose console session it was); empty on public routes. */
  readonly keyId: string;
  /** Console sessions, built on first use. */
  readonly consoleSessions: () => ConsoleSessionStore;
  readonly param: (name: 'id' | 'deliveryId') => string;
}

type Operation = (context: OperationContext) => Promise<ApiResult>;

/** Each route's operation: parse, call one domain function, map the result. */
export const OPERATIONS: Record<OperationId, Operation> = {
  createSubscription: async ({ deps, brand, event }) =>
    json(201, await createSubscription(deps, brand, jsonBody(event))),
  listSubscriptions: async ({ deps, brand, event }) =>
    json(200, await listSubscriptions(deps, brand, pageOf(event))),
  getSubscription: async ({ deps, brand, param }) =>
    json(200, toSubscriptionView(await findSubscription(deps, brand, param('id')), deps.now())),
  updateSubscription: async ({ deps, brand, param, event }) =>
    json(200, await updateSubscription(deps, brand, param('id'), jsonBody(event) ?? {})),
  deleteSubscription: async ({ deps, brand, param }) => {
    await deleteSubscription(deps, brand, param('id'));
    return noContent();
  },
  rotateSecret: async ({ deps, brand, param }) => json(200, await rotateSecret(deps, brand, param('id'))),
  sendTestEvent: async ({ deps, brand, param, event }) =>
    json(202, await sendTestEvent(deps, brand, param('id'), jsonBody(event))),
  listDeliveries: async ({ deps, brand, param, event }) => {
    const status = parseDeliveryStatus(event.queryStringParameters?.status);
    return json(
      200,
      await listDeliveries(deps, brand, param('id'), { ...pageOf(event), ...(status ? { status } : {}) }),
    );
  },
  getDelivery: async ({ deps, brand, param }) =>
    json(200, await getDelivery(deps, brand, param('id'), param('deliveryId'))),
  resendDelivery: async ({ deps, brand, param }) =>
    json(202, await resendDelivery(deps, brand, param('id'), param('deliveryId'))),
  replayDeliveries: async ({ deps, brand, param, event }) =>
    json(202, await replayDeliveries(deps, brand, param('id'), jsonBody(event) ?? {})),
  createConsoleSession: async ({ deps, brand, keyId, event, consoleSessions }) =>
    json(
      201,
      await createConsoleSession(
        { sessions: consoleSessions(), now: deps.now },
        sessionMaker(brand, keyId, headerOf(event, 'authorization')),
        jsonBody(event),
      ),
      // The answer holds a bearer credential: no cache keeps it.
      { 'cache-control': 'no-store' },
    ),
  listEventTypes: async () => json(200, { entities: describeCatalogue() }),
  getOpenApi: async () => json(200, openApiDocument()),
};
