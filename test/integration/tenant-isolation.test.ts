import { beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES, type ApiRoute, type OperationId } from '../../lambdas/api/routes.js';
import {
  type ApiClient,
  type ApiResponse,
  apiClient,
  bodyOf,
  type CreatedSubscription,
  consoleSessionSchema,
  type DeliveryBody,
  errorSchema,
  subscriptionPageSchema,
  subscriptionSchema,
} from './support/api-client.js';
import { commboxEvent, putEvents, putFlood, putSteadily } from './support/events.js';
import {
  assertStatus,
  createSubscription,
  listDeliveries,
  subscriptionSpec,
  uniqueMarker,
  waitForDelivery,
} from './support/fixtures.js';
import type { Listener } from './support/listener.js';
import { BRANDS } from './support/local-process.js';
import { useLocalStack } from './support/local-stack.js';
import { queueReader } from './support/queues.js';
import { recordSecret } from './support/secrets.js';
import { sleep, waitUntil } from './support/wait.js';
import { signaturesOf, verifiesWith } from './support/webhooks.js';

/*
 * Tenant isolation, route by route: the routes come from the router's own table (API_ROUTES), so a route
 * added there is covered here, or this file fails until someone says how to call it (CASES below).
 * Brand A (acme) calls every route with brand B's (globex) ids and a valid body, so validation passes and
 * only the ownership check can refuse: every answer must be 404, and B's data must be untouched.
 */

/** How long a wrongly accepted test event, resend or replay would need to reach B's listener (retry 0 s). */
const SETTLE_MS = 1500;

/**
 * Brand A is acme, brand B is globex. Each queue may hold at most IN_FLIGHT_LIMIT messages in flight (SQS
 * allows about 120,000): more than route's and deliver's batches together (16 × 10 each), fewer than A's
 * failing deliveries below.
 */
const IN_FLIGHT_LIMIT = 200;
const local = useLocalStack({ WEBHOOKS_QUEUE_INFLIGHT_LIMIT: String(IN_FLIGHT_LIMIT) });

/** B's data, which A tries to reach, and A's own subscription (to mix A's ids with B's). */
interface Seed {
  readonly listenerB: Listener;
  readonly subscriptionB: CreatedSubscription;
  readonly deliveryB: DeliveryBody;
  readonly subscriptionA: CreatedSubscription;
  /** B's view of its data before A's calls: GET bodies, compared afterwards. */
  readonly before: { subscription: unknown; deliveries: unknown; delivery: unknown; requests: number };
}
let seed: Seed;

beforeAll(async () => {
  const listenerB = await local.listener();
  const listenerA = await local.listener();
  const subscriptionB = await createSubscription(
    local.globex,
    subscriptionSpec(uniqueMarker('b'), listenerB.url),
  );
  const subscriptionA = await createSubscription(
    local.acme,
    subscriptionSpec(uniqueMarker('a'), listenerA.url),
  );
  await putEvents(local.producer, [commboxEvent(BRANDS.globex.brand, 'Object.OnNew', { Id: 8001 })]);
  await listenerB.waitFor(1);
  const deliveryB = await waitForDelivery(
    local.globex,
    subscriptionB.id,
    (delivery) => delivery.status === 'succeeded',
    "B's delivery to succeed",
  );
  seed = {
    listenerB,
    subscriptionB,
    deliveryB,
    subscriptionA,
    before: await snapshotOfB(subscriptionB.id, deliveryB.id, listenerB),
  };
}, 60_000);

async function snapshotOfB(subscriptionId: string, deliveryId: string, listener: Listener) {
  const subscription = await local.globex.get(`/subscriptions/${subscriptionId}`);
  const deliveries = await local.globex.get(`/subscriptions/${subscriptionId}/deliveries?limit=100`);
  const delivery = await local.globex.get(`/subscriptions/${subscriptionId}/deliveries/${deliveryId}`);
  for (const response of [subscription, deliveries, delivery]) assertStatus(response, 200);
  return {
    subscription: subscription.body,
    deliveries: deliveries.body,
    delivery: delivery.body,
    requests: listener.requests.length,
  };
}

/**
 * How to call each operation. `owned`: a route on one brand's data (path parameters), called with B's
 * ids; `body` is valid for the route, so only the ownership check can refuse. `collection`: a route on
 * the caller's own collection, checked by `check`. `public`: no brand data.
 */
type RouteCase =
  | { readonly kind: 'owned'; readonly body?: (seed: Seed) => unknown; readonly query?: string }
  | { readonly kind: 'collection'; readonly check: () => Promise<void> }
  | { readonly kind: 'public' };

const CASES: Record<OperationId, RouteCase> = {
  createSubscription: { kind: 'collection', check: createLandsInCallersBrand },
  listSubscriptions: { kind: 'collection', check: listShowsOnlyCallersBrand },
  getSubscription: { kind: 'owned' },
  updateSubscription: {
    kind: 'owned',
    body: () => ({ description: 'changed by brand A', status: 'paused', events: ['OnNew', 'OnNewChild'] }),
  },
  deleteSubscription: { kind: 'owned' },
  rotateSecret: { kind: 'owned' },
  sendTestEvent: { kind: 'owned', body: () => ({ event: 'OnNew' }) },
  listDeliveries: { kind: 'owned', query: '?status=succeeded&limit=100' },
  getDelivery: { kind: 'owned' },
  resendDelivery: { kind: 'owned' },
  replayDeliveries: {
    kind: 'owned',
    // A range around B's delivery: were ownership not checked, it would be sent again.
    body: () => ({
      since: new Date(Date.now() - 60 * 60 * 1000).toISOString(),
      until: new Date(Date.now() + 60 * 60 * 1000).toISOString(),
    }),
  },
  createConsoleSession: { kind: 'collection', check: sessionActsOnlyForCallersBrand },
  listEventTypes: { kind: 'public' },
  getOpenApi: { kind: 'public' },
};

/** Every path parameter a route may have, and the value of B's that A puts there. */
const B_VALUES: Readonly<Record<string, (seed: Seed) => string>> = {
  id: ({ subscriptionB }) => subscriptionB.id,
  deliveryId: ({ deliveryB }) => deliveryB.id,
};
/** Well-formed ids that exist nowhere: A's answer for B's ids must not differ from its answer for these. */
const UNKNOWN_VALUES: Readonly<Record<string, string>> = {
  id: 'sub_AAAAAAAAAAAAAAAA',
  deliveryId: `dlv_${'0'.repeat(9)}${'a'.repeat(16)}`,
};

const paramsOf = (route: ApiRoute) => [...route.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => name ?? '');
const ownedRoutes = API_ROUTES.filter((route) => CASES[route.operationId].kind === 'owned');

function pathWith(route: ApiRoute, values: (name: string) => string): string {
  return route.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(values(name)));
}

async function call(api: ApiClient, route: ApiRoute, path: string): Promise<ApiResponse> {
  const routeCase = CASES[route.operationId as OperationId];
  const query = routeCase.kind === 'owned' ? (routeCase.query ?? '') : '';
  const body = routeCase.kind === 'owned' ? routeCase.body?.(seed) : undefined;
  return api.request(route.method, `${path}${query}`, body);
}

/** The body with every id of `ids` replaced by its parameter's name, to compare two refusals. */
function withoutIds(body: unknown, ids: Record<string, string>): string {
  let text = JSON.stringify(body);
  for (const [name, value] of Object.entries(ids)) text = text.split(value).join(`{${name}}`);
  return text;
}

describe('the enumeration of API_ROUTES', () => {
  it('has a case for every route, of the kind its path and authorization call for', () => {
    for (const route of API_ROUTES) {
      const routeCase = CASES[route.operationId as OperationId] as RouteCase | undefined;
      expect(routeCase, `${route.method} ${route.path} (${route.operationId}) has no case`).toBeDefined();
      const expected = !route.authorized ? 'public' : paramsOf(route).length > 0 ? 'owned' : 'collection';
      expect(routeCase?.kind, `${route.operationId}`).toBe(expected);
      for (const name of paramsOf(route)) {
        expect(B_VALUES, `${route.path}: no value of B's for {${name}}`).toHaveProperty(name);
        expect(UNKNOWN_VALUES, `${route.path}: no unknown value for {${name}}`).toHaveProperty(name);
      }
    }
    expect(Object.keys(CASES).sort()).toEqual(API_ROUTES.map((route) => route.operationId).sort());
    expect(ownedRoutes.length).toBeGreaterThanOrEqual(9);
  });
});

describe("brand A's key on brand B's data", { timeout: 30_000 }, () => {
  it.each(ownedRoutes.map((route) => [`${route.method} ${route.path}`, route] as const))(
    '%s answers 404, exactly as for ids that exist nowhere',
    async (_, route) => {
      const bIds = Object.fromEntries(paramsOf(route).map((name) => [name, B_VALUES[name]?.(seed) ?? '']));
      const unknownIds = Object.fromEntries(
        paramsOf(route).map((name) => [name, UNKNOWN_VALUES[name] ?? '']),
      );

      const onB = await call(
        local.acme,
        route,
        pathWith(route, (name) => bIds[name] ?? ''),
      );
      const onNothing = await call(
        local.acme,
        route,
        pathWith(route, (name) => unknownIds[name] ?? ''),
      );

      expect(onB.status, JSON.stringify(onB.body)).toBe(404);
      expect(bodyOf(errorSchema, onB).error.code).toBe('not_found');
      expect(onNothing.status).toBe(404);
      expect(withoutIds(onB.body, bIds)).toBe(withoutIds(onNothing.body, unknownIds));
    },
  );

  it.each(
    ownedRoutes
      .filter((route) => paramsOf(route).length > 1)
      .map((route) => [`${route.method} ${route.path}`, route] as const),
  )("%s answers 404 with A's own subscription and B's other ids", async (_, route) => {
    const path = pathWith(route, (name) =>
      name === 'id' ? seed.subscriptionA.id : (B_VALUES[name]?.(seed) ?? ''),
    );

    const response = await call(local.acme, route, path);

    expect(response.status, JSON.stringify(response.body)).toBe(404);
    expect(bodyOf(errorSchema, response).error.code).toBe('not_found');
  });

  it.each(
    API_ROUTES.filter((route) => CASES[route.operationId].kind === 'collection').map(
      (route) => [`${route.method} ${route.path}`, route] as const,
    ),
  )('%s works on brand A only', async (_, route) => {
    const routeCase = CASES[route.operationId];
    if (routeCase.kind !== 'collection') throw new Error('not a collection route');
    await routeCase.check();
  });

  it.each(
    API_ROUTES.filter((route) => CASES[route.operationId].kind === 'public').map(
      (route) => [`${route.method} ${route.path}`, route] as const,
    ),
  )('%s (public) shows nothing of brand B', async (_, route) => {
    const response = await local.acme.request(route.method, route.path);

    assertStatus(response, 200);
    const text = JSON.stringify(response.body);
    expect(text).not.toContain(seed.subscriptionB.id);
    expect(text).not.toContain(seed.deliveryB.id);
  });

  it("leaves B's subscription, deliveries, secret and listener exactly as they were", async () => {
    await sleep(SETTLE_MS);

    const after = await snapshotOfB(seed.subscriptionB.id, seed.deliveryB.id, seed.listenerB);

    expect(after).toEqual(seed.before);
    expect(seed.listenerB.requests).toHaveLength(1);
    // Not rotated: the next delivery is signed with B's one original secret, and only with it.
    await putEvents(local.producer, [commboxEvent(BRANDS.globex.brand, 'Object.OnNew', { Id: 8002 })]);
    const [, next] = await seed.listenerB.waitFor(2);
    expect(next && signaturesOf(next)).toHaveLength(1);
    expect(next && verifiesWith(next, seed.subscriptionB.secret)).toBe(true);
    expect(await listDeliveries(local.globex, seed.subscriptionB.id)).toHaveLength(2);
  });
});

/*
 * One brand's load never delays another's deliveries, at a reduced scale of `npm run isolation`'s
 * scenarios: B puts one Tag.OnAdd every 200 ms while A floods, or while A's listener fails everything.
 */
describe("brand A's flood and failing listener against brand B's latency", { timeout: 180_000 }, () => {
  /** B's target, as in the issue: p99 event→listener within a second. */
  const B_P99_MS = 1_000;
  /**
   * Whether the stack's delivery queue orders receives as an SQS fair queue does: the SQLite queues of the
   * embedded default do; fauxqs (WEBHOOKS_LOCAL_BACKEND=aws-emulators) keeps no message group on a standard
   * queue and hands messages out in arrival order, so there B waits behind A by design of the emulator,
   * and only what does not depend on the order is checked (nothing lost, nothing of A's in flight).
   */
  const fairQueue = () => local.stack.databaseFile() !== undefined;

  async function tagSubscription(api: ApiClient, listener: Listener, extra: Record<string, unknown> = {}) {
    return createSubscription(api, {
      name: uniqueMarker('tags'),
      entity: 'Tag',
      events: ['OnAdd'],
      url: listener.url,
      includeCompleteData: true,
      ...extra,
    });
  }

  /** Puts `count` of A's events as fast as four producers can, ten to a request. */
  async function floodOfA(marker: string, count: number): Promise<void> {
    await putFlood(local.producer, count, (index) =>
      commboxEvent(BRANDS.acme.brand, 'Tag.OnAdd', { tagId: `${marker}-${index}`, name: 'a' }),
    );
  }

  /** B's producer: one event every 200 ms, stamped with the time it is put, until `stop`. */
  function stepsOfB(marker: string) {
    return putSteadily(local.producer, 200, (n) =>
      commboxEvent(BRANDS.globex.brand, 'Tag.OnAdd', {
        tagId: `${marker}-${n}`,
        name: 'b',
        SentAt: Date.now(),
      }),
    );
  }

  /** Event→listener latency of each of B's events, from the SentAt it carries. */
  const latenciesOf = (listener: Listener) =>
    listener.requests.map((request) => request.receivedAt - Number(/"SentAt":(\d+)/.exec(request.body)?.[1]));
  const p99 = (values: readonly number[]) =>
    [...values].sort((x, y) => x - y)[Math.min(values.length - 1, Math.floor(0.99 * values.length))] ??
    Infinity;

  it("delivers B's events within a second while A's 2,000 events are delivered, and loses none of A's", async () => {
    const listenerA = await local.listener();
    const listenerB = await local.listener();
    await tagSubscription(local.acme, listenerA);
    await tagSubscription(local.globex, listenerB);
    const count = 2_000;

    const b = stepsOfB(uniqueMarker('b-flood'));
    await floodOfA(uniqueMarker('a-flood'), count);
    await waitUntil(() => listenerA.requests.length >= count, {
      timeoutMs: 120_000,
      what: () => "A's flood",
    });
    const sent = await b.stop();
    await listenerB.waitFor(sent, 10_000);

    expect(new Set(listenerA.requests.map((request) => request.headers['webhook-id'])).size).toBe(count);
    const latencies = latenciesOf(listenerB);
    expect(latencies.length).toBeGreaterThanOrEqual(5);
    if (fairQueue())
      expect(p99(latencies), `B's latencies: ${latencies.join(', ')} ms`).toBeLessThanOrEqual(B_P99_MS);
  });

  it("delivers B's events within a second while A's listener fails 400 deliveries whose retries wait 10 minutes, nothing of A's in flight", async () => {
    // 400: a quick client error, which does not open the circuit: every delivery is attempted and retried.
    const listenerA = await local.listener({ defaultStatus: 400 });
    const listenerB = await local.listener();
    await tagSubscription(local.acme, listenerA, { retrySchedule: [0, 600] });
    await tagSubscription(local.globex, listenerB);
    const queues = queueReader(local.stack);
    const count = 400;

    try {
      const b = stepsOfB(uniqueMarker('b-failing'));
      await floodOfA(uniqueMarker('a-failing'), count);
      // Every one of A's deliveries was attempted once: all of them wait for their retry, delayed, not in flight.
      await listenerA.waitFor(count, 60_000);
      await waitUntil(async () => (await queues.depth('commbox-webhooks-delivery')).delayed >= count, {
        timeoutMs: 60_000,
        what: () => "A's deliveries waiting for their retries",
      });
      await sleep(3_000);
      const sent = await b.stop();
      await listenerB.waitFor(sent, 10_000);
      const depth = await queues.depth('commbox-webhooks-delivery');

      expect(depth.inFlight).toBeLessThan(IN_FLIGHT_LIMIT);
      expect(depth.delayed).toBeGreaterThanOrEqual(count);
      expect(listenerA.requests).toHaveLength(count);
      const latencies = latenciesOf(listenerB);
      expect(latencies.length).toBeGreaterThanOrEqual(10);
      if (fairQueue())
        expect(p99(latencies), `B's latencies: ${latencies.join(', ')} ms`).toBeLessThanOrEqual(B_P99_MS);
    } finally {
      queues.close();
    }
  });
});

/** POST /subscriptions: A's create lands in A, whatever the request says about brands. */
async function createLandsInCallersBrand(): Promise<void> {
  const spec = subscriptionSpec(uniqueMarker('a-created'), 'http://127.0.0.1:9/hook');

  const created = await local.acme.post('/subscriptions?brand=globex', spec);
  const smuggled = await local.acme.post('/subscriptions', {
    ...spec,
    name: uniqueMarker('x'),
    brand: 'globex',
  });

  assertStatus(created, 201);
  const subscription = bodyOf(subscriptionSchema, created);
  expect(subscription.brand).toBe(BRANDS.acme.brand);
  expect(smuggled.status).toBe(422);
  expect((await local.acme.get(`/subscriptions/${subscription.id}`)).status).toBe(200);
  expect((await local.globex.get(`/subscriptions/${subscription.id}`)).status).toBe(404);
  expect(await allSubscriptionIds(local.globex)).not.toContain(subscription.id);
  expect((await local.acme.delete(`/subscriptions/${subscription.id}`)).status).toBe(204);
}

/**
 * POST /console/sessions: a session A makes, whatever brand it names, acts for A only (its list, B's id
 * 404), and a body naming a brand is refused.
 */
async function sessionActsOnlyForCallersBrand(): Promise<void> {
  const made = await local.acme.post('/console/sessions?brand=globex', {});
  const smuggled = await local.acme.post('/console/sessions', { brand: 'globex' });

  assertStatus(made, 201);
  const { token } = bodyOf(consoleSessionSchema, made);
  recordSecret(token);
  const asSession = apiClient(local.stack.url, token);
  const ids = await allSubscriptionIds(asSession, '&brand=globex', BRANDS.acme.brand);
  expect(ids).toContain(seed.subscriptionA.id);
  expect(ids).not.toContain(seed.subscriptionB.id);
  expect((await asSession.get(`/subscriptions/${seed.subscriptionB.id}`)).status).toBe(404);
  expect(smuggled.status).toBe(422);
  expect(bodyOf(errorSchema, smuggled).error.details[0]?.field).toBe('brand');
}

/** GET /subscriptions: A's list, every page of it, never shows B's subscription. */
async function listShowsOnlyCallersBrand(): Promise<void> {
  const ids = await allSubscriptionIds(local.acme, '&brand=globex');

  expect(ids).toContain(seed.subscriptionA.id);
  expect(ids).not.toContain(seed.subscriptionB.id);
  expect(await allSubscriptionIds(local.globex)).toContain(seed.subscriptionB.id);
}

async function allSubscriptionIds(
  api: ApiClient,
  extraQuery = '',
  brand: string = api === local.acme ? BRANDS.acme.brand : BRANDS.globex.brand,
): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 50; page++) {
    const query = `?limit=1${extraQuery}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const response = await api.get(`/subscriptions${query}`);
    assertStatus(response, 200);
    const body = bodyOf(subscriptionPageSchema, response);
    for (const item of body.items) {
      expect(item.brand).toBe(brand);
      ids.push(item.id);
    }
    cursor = body.cursor;
    if (!cursor) return ids;
  }
  throw new Error('more than 50 pages of subscriptions');
}
