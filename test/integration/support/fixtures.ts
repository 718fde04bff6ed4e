import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ApiClient,
  type ApiResponse,
  bodyOf,
  type CreatedSubscription,
  createdSubscriptionSchema,
  type DeliveryBody,
  deliveryPageSchema,
} from './api-client.js';
import { waitUntil } from './wait.js';

/** A fresh, empty data folder for one stack (DynamoDB and SQS files). */
export function freshDataDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'commbox-it-'));
}

export async function removeDataDir(dataDir: string | undefined): Promise<void> {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}

/** A valid subscription body: JSON, Object.OnNew, to `url`; `overrides` change any field. */
export function subscriptionSpec(name: string, url: string, overrides: Record<string, unknown> = {}) {
  return { name, entity: 'Object', events: ['OnNew'], url, ...overrides };
}

/** Creates a subscription through the API and returns it with its secret; fails unless the API says 201. */
export async function createSubscription(
  api: ApiClient,
  spec: Record<string, unknown>,
): Promise<CreatedSubscription> {
  const response = await api.post('/subscriptions', spec);
  assertStatus(response, 201);
  return bodyOf(createdSubscriptionSchema, response);
}

export function assertStatus(response: ApiResponse, status: number): void {
  if (response.status !== status) {
    throw new Error(`Expected HTTP ${status}, got ${response.status}: ${JSON.stringify(response.body)}`);
  }
}

/** A marker unique to one test run, to tell its events apart in payloads. */
export function uniqueMarker(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A subscription's deliveries (first page, newest first), optionally only those of one status. */
export async function listDeliveries(
  api: ApiClient,
  subscriptionId: string,
  status?: 'pending' | 'succeeded' | 'failed' | 'parked',
): Promise<DeliveryBody[]> {
  const query = status ? `?status=${status}&limit=100` : '?limit=100';
  const response = await api.get(`/subscriptions/${subscriptionId}/deliveries${query}`);
  assertStatus(response, 200);
  return bodyOf(deliveryPageSchema, response).items;
}

/** Polls the subscription's deliveries until one satisfies `predicate`; fails after `timeoutMs`. */
export async function waitForDelivery(
  api: ApiClient,
  subscriptionId: string,
  predicate: (delivery: DeliveryBody) => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<DeliveryBody> {
  let last: DeliveryBody[] = [];
  return waitUntil(
    async () => {
      last = await listDeliveries(api, subscriptionId);
      return last.find(predicate);
    },
    {
      timeoutMs,
      intervalMs: 150,
      what: () =>
        `${what} (deliveries: ${JSON.stringify(last.map(({ id, status, attempts }) => ({ id, status, attempts: attempts.length })))})`,
    },
  );
}
