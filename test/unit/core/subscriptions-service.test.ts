import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ClientError } from '../../../lambdas/core/errors.js';
import type { Subscription } from '../../../lambdas/core/model.js';
import { generateSecret } from '../../../lambdas/core/signing.js';
import {
  createSubscription,
  deleteSubscription,
  findSubscription,
  listSubscriptions,
  rotateSecret,
  type ServiceDeps,
  toSubscriptionView,
  updateSubscription,
} from '../../../lambdas/core/subscriptions-service.js';
import {
  InMemoryDeliveryQueue,
  InMemoryDeliveryStore,
  InMemoryEventStore,
  InMemorySubscriptionStore,
  TestClock,
} from '../../support/in-memory-ports.js';

/*
 * The subscription use cases of the API at their ports: what is stored and what the caller is shown.
 * The HTTP side (status codes, bodies, the brand from the authorizer) is test/unit/handlers/api.test.ts.
 */

const NOW = new Date('2026-11-27T12:00:00.000Z');
const SUB_ID = 'sub_AAAAAAAAAAAAAAAA';
const createBody = {
  name: 'CRM sync',
  entity: 'Object',
  events: ['OnNew'],
  url: 'https://crm.example.com/hook',
};

let subscriptions: InMemorySubscriptionStore;
let resolve: ReturnType<typeof vi.fn<ServiceDeps['resolve']>>;
let deps: ServiceDeps;

beforeEach(() => {
  subscriptions = new InMemorySubscriptionStore();
  resolve = vi.fn<ServiceDeps['resolve']>(async () => [{ address: '93.184.216.34', family: 4 }]);
  deps = {
    subscriptions,
    deliveries: new InMemoryDeliveryStore(),
    events: new InMemoryEventStore(),
    queue: new InMemoryDeliveryQueue(),
    policy: { allowLocalTargets: false },
    resolve,
    now: new TestClock(NOW).now,
    maxSubscriptionsPerBrand: 3,
  };
});

function aSubscription(overrides: Partial<Subscription> = {}): Subscription {
  return {
    id: SUB_ID,
    brand: 'acme',
    name: 'CRM sync',
    entity: 'Object',
    events: [{ name: 'OnNew' }],
    url: 'https://crm.example.com/hook',
    format: 'json',
    includeCompleteData: false,
    status: 'active',
    secrets: [{ secret: generateSecret(), createdAt: '2026-11-01T00:00:00.000Z' }],
    createdAt: '2026-11-01T00:00:00.000Z',
    updatedAt: '2026-11-01T00:00:00.000Z',
    version: 3,
    ...overrides,
  };
}

/** What a use case threw, for asserting a ClientError's status, code and fields. */
async function failureOf(action: Promise<unknown>): Promise<ClientError> {
  const error = await action.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof ClientError)) throw new Error(`expected a ClientError, got ${String(error)}`);
  return error;
}

const fields = (error: ClientError) => error.details.map((issue) => issue.field);

describe('creating a subscription', () => {
  it("stores it for the caller's brand and shows its secret once, after checking the listener's address", async () => {
    const created = await createSubscription(deps, 'acme', createBody);

    expect(created).toMatchObject({
      ...createBody,
      events: [{ name: 'OnNew' }],
      brand: 'acme',
      status: 'active',
      createdAt: NOW.toISOString(),
    });
    const secret = 'secret' in created ? created.secret : undefined;
    expect(secret).toMatch(/^whsec_/);
    expect(created.id).toMatch(/^sub_[A-Za-z0-9_-]{16}$/);
    expect(subscriptions.current('acme', created.id)).toMatchObject({
      name: 'CRM sync',
      version: 1,
      secrets: [{ secret, createdAt: NOW.toISOString() }],
    });
    expect(resolve).toHaveBeenCalledWith('crm.example.com');
  });

  it('refuses a brand in the body: the brand is never taken from the request', async () => {
    const error = await failureOf(createSubscription(deps, 'acme', { ...createBody, brand: 'globex' }));

    expect(error.status).toBe(422);
    expect(error.details).toContainEqual({ field: 'brand', message: expect.stringContaining('unknown') });
    expect(await subscriptions.list('acme', { limit: 10 })).toEqual({ items: [] });
    expect(await subscriptions.list('globex', { limit: 10 })).toEqual({ items: [] });
  });

  it('refuses an invalid body with 422 naming each invalid field, and stores nothing', async () => {
    const error = await failureOf(
      createSubscription(deps, 'acme', { ...createBody, entity: 'Invoice', url: 'http://10.0.0.1/' }),
    );

    expect(error).toMatchObject({ status: 422, code: 'validation_failed' });
    expect(fields(error)).toEqual(expect.arrayContaining(['entity']));
    expect(await subscriptions.list('acme', { limit: 10 })).toEqual({ items: [] });
  });

  it('refuses a listener whose name resolves to a private address, before storing anything', async () => {
    resolve.mockResolvedValueOnce([{ address: '10.1.2.3', family: 4 }]);

    const error = await failureOf(createSubscription(deps, 'acme', createBody));

    expect(error.status).toBe(422);
    expect(error.details[0]?.field).toBe('url');
    expect(await subscriptions.list('acme', { limit: 10 })).toEqual({ items: [] });
  });

  it('answers 409 when the brand already has a subscription of that name', async () => {
    subscriptions.seed(aSubscription({ name: 'crm SYNC' }));

    const error = await failureOf(createSubscription(deps, 'acme', createBody));

    expect(error).toMatchObject({ status: 409, code: 'name_taken' });
  });

  it("answers 409 naming the quota once the brand has maxSubscriptionsPerBrand, and another brand's count is its own", async () => {
    for (const name of ['one', 'two', 'three'])
      await createSubscription(deps, 'acme', { ...createBody, name });

    const error = await failureOf(createSubscription(deps, 'acme', { ...createBody, name: 'four' }));

    expect(error).toMatchObject({ status: 409, code: 'subscription_quota_exceeded' });
    expect(error.details[0]?.message).toContain('at most 3 subscriptions per brand');
    expect((await subscriptions.list('acme', { limit: 10 })).items).toHaveLength(3);
    await expect(createSubscription(deps, 'globex', { ...createBody, name: 'four' })).resolves.toBeDefined();
  });
});

describe('reading subscriptions', () => {
  it("lists the brand's subscriptions without their secrets and with header values redacted unless public, a page at a time", async () => {
    const first = aSubscription({
      id: 'sub_AAAAAAAAAAAAAAA1',
      headers: { Authorization: 'Bearer listener-token', 'X-Team': 'crm', 'X-Auth': 'pass-1' },
      publicHeaders: ['X-Team'],
    });
    subscriptions.seed(first, aSubscription({ id: 'sub_AAAAAAAAAAAAAAA2', name: 'Other' }));
    subscriptions.seed(aSubscription({ brand: 'globex', id: 'sub_AAAAAAAAAAAAAAA0' }));

    const page = await listSubscriptions(deps, 'acme', { limit: 1 });
    const next = await listSubscriptions(deps, 'acme', { limit: 1, cursor: page.cursor });

    expect(page.items.map((item) => item.id)).toEqual([first.id]);
    expect(page.cursor).toEqual(expect.any(String));
    expect(next.items.map((item) => item.id)).toEqual(['sub_AAAAAAAAAAAAAAA2']);
    expect(next.cursor).toBeUndefined();
    const shown = JSON.stringify(page);
    expect(shown).not.toContain(first.secrets[0]?.secret);
    expect(shown).not.toContain('listener-token');
    expect(shown).not.toContain('pass-1');
    expect(page.items[0]?.headers).toEqual({
      Authorization: '[redacted]',
      'X-Team': 'crm',
      'X-Auth': '[redacted]',
    });
  });

  it('answers 404 for a subscription of another brand', async () => {
    subscriptions.seed(aSubscription({ brand: 'globex' }));

    const error = await failureOf(findSubscription(deps, 'acme', SUB_ID));

    expect(error).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('shows one subscription without its secrets or version', async () => {
    const subscription = aSubscription({ failingSince: '2026-11-26T00:00:00.000Z' });
    subscriptions.seed(subscription);

    const view = toSubscriptionView(await findSubscription(deps, 'acme', SUB_ID));

    expect(view.id).toBe(SUB_ID);
    expect(view).not.toHaveProperty('secrets');
    expect(view).not.toHaveProperty('version');
    expect(view.failingSince).toBe('2026-11-26T00:00:00.000Z');
    expect(JSON.stringify(view)).not.toContain('whsec_');
  });
});

describe('changing subscriptions', () => {
  it('applies a change and stores the next version', async () => {
    subscriptions.seed(aSubscription());

    const updated = await updateSubscription(deps, 'acme', SUB_ID, { status: 'paused' });

    expect(updated.status).toBe('paused');
    expect(subscriptions.current('acme', SUB_ID)).toMatchObject({
      status: 'paused',
      version: 4,
      updatedAt: NOW.toISOString(),
    });
  });

  it('checks the address of a changed listener before storing it', async () => {
    subscriptions.seed(aSubscription());
    resolve.mockResolvedValueOnce([{ address: '192.168.1.9', family: 4 }]);

    const error = await failureOf(
      updateSubscription(deps, 'acme', SUB_ID, { url: 'https://lan.example.com/' }),
    );

    expect(error.details[0]?.field).toBe('url');
    expect(subscriptions.current('acme', SUB_ID)?.version).toBe(3);
  });

  it('re-enables a disabled subscription only when the client sets its status', async () => {
    subscriptions.seed(
      aSubscription({ status: 'disabled', disabledReason: 'the listener answered 410 Gone' }),
    );

    const described = await updateSubscription(deps, 'acme', SUB_ID, { description: 'x' });
    const resumed = await updateSubscription(deps, 'acme', SUB_ID, { status: 'active' });

    expect(described).toMatchObject({ status: 'disabled', disabledReason: 'the listener answered 410 Gone' });
    expect(resumed.status).toBe('active');
    expect(resumed.disabledReason).toBeUndefined();
  });

  it('keeps each stored value when a client saves back the "[redacted]" a view showed', async () => {
    subscriptions.seed(
      aSubscription({
        format: 'soap',
        headers: { Authorization: 'Bearer listener-token', 'X-Team': 'crm' },
        publicHeaders: ['X-Team'],
        soap: { action: 'urn:notify', parameters: { Username: 'svc', Password: 'pw-1' } },
      }),
    );
    const view = toSubscriptionView(await findSubscription(deps, 'acme', SUB_ID));
    expect(view.headers?.Authorization).toBe('[redacted]');

    const saved = await updateSubscription(deps, 'acme', SUB_ID, {
      headers: { ...view.headers, 'X-Team': 'support' },
      soap: { ...view.soap, parameters: { ...view.soap?.parameters, Username: 'svc-2' } },
    });

    expect(saved.headers).toEqual({ Authorization: '[redacted]', 'X-Team': 'support' });
    expect(subscriptions.current('acme', SUB_ID)).toMatchObject({
      headers: { Authorization: 'Bearer listener-token', 'X-Team': 'support' },
      soap: { action: 'urn:notify', parameters: { Username: 'svc-2', Password: 'pw-1' } },
      version: 4,
    });
  });

  it('refuses "[redacted]" for a value that is not stored, naming the field, and stores nothing', async () => {
    subscriptions.seed(aSubscription({ headers: { Authorization: 'Bearer listener-token' } }));

    const error = await failureOf(
      updateSubscription(deps, 'acme', SUB_ID, { headers: { 'X-Api-Key': '[redacted]' } }),
    );

    expect(error.status).toBe(422);
    expect(fields(error)).toEqual(['headers.X-Api-Key']);
    expect(subscriptions.current('acme', SUB_ID)?.version).toBe(3);
  });

  it('answers 409 when the subscription changed between its read and its write', async () => {
    subscriptions.seed(aSubscription());
    const read = subscriptions.get.bind(subscriptions);
    subscriptions.get = async (brand, id) => {
      const current = await read(brand, id);
      subscriptions.seed(aSubscription({ version: 4, name: 'Renamed meanwhile' }));
      return current;
    };

    const error = await failureOf(updateSubscription(deps, 'acme', SUB_ID, { status: 'paused' }));

    expect(error).toMatchObject({ status: 409, code: 'conflict' });
    expect(subscriptions.current('acme', SUB_ID)?.name).toBe('Renamed meanwhile');
  });

  it('deletes a subscription and answers 404 the second time', async () => {
    subscriptions.seed(aSubscription());

    await deleteSubscription(deps, 'acme', SUB_ID);
    const again = await failureOf(deleteSubscription(deps, 'acme', SUB_ID));

    expect(subscriptions.current('acme', SUB_ID)).toBeUndefined();
    expect(again).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('rotates the secret: the new one is shown once, the old one keeps signing for 24 hours', async () => {
    const subscription = aSubscription();
    subscriptions.seed(subscription);

    const rotated = await rotateSecret(deps, 'acme', SUB_ID);

    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.previousSecretsExpireAt).toBe('2026-11-28T12:00:00.000Z');
    expect(subscriptions.current('acme', SUB_ID)).toMatchObject({
      version: 4,
      secrets: [
        { secret: rotated.secret, createdAt: NOW.toISOString() },
        { ...subscription.secrets[0], expiresAt: '2026-11-28T12:00:00.000Z' },
      ],
    });
  });
});
