import { describe, expect, it } from 'vitest';
import {
  apiClient,
  bodyOf,
  errorSchema,
  subscriptionPageSchema,
  subscriptionSchema,
} from './support/api-client.js';
import { assertStatus, createSubscription, subscriptionSpec, uniqueMarker } from './support/fixtures.js';
import { BRANDS } from './support/local-process.js';
import { useLocalStack } from './support/local-stack.js';

/*
 * The subscription API of the real local process, driven over HTTP with two brands' keys.
 */

const local = useLocalStack();
/** A URL nothing needs to answer: these tests never put events. */
const LISTENER_URL = 'http://127.0.0.1:9/hook';

describe('subscription CRUD', { timeout: 20_000 }, () => {
  it('creates a subscription and shows its signing secret only in the creation response', async () => {
    const spec = subscriptionSpec(uniqueMarker('create'), LISTENER_URL, {
      events: ['OnNew', { name: 'OnNewActivity', activityTypes: [2, 6] }],
      description: 'conversations',
    });

    const created = await local.acme.post('/subscriptions', spec);
    const fetched = await local.acme.get(`/subscriptions/${bodyOf(subscriptionSchema, created).id}`);

    expect(created.status).toBe(201);
    const body = bodyOf(subscriptionSchema, created);
    expect(body).toMatchObject({
      brand: 'acme',
      name: spec.name,
      entity: 'Object',
      events: [{ name: 'OnNew' }, { name: 'OnNewActivity', activityTypes: [2, 6] }],
      url: LISTENER_URL,
      format: 'json',
      includeCompleteData: false,
      status: 'active',
      description: 'conversations',
    });
    expect(body.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(fetched.status).toBe(200);
    const { secret: _secret, ...withoutSecret } = body;
    expect(fetched.body).toEqual(withoutSecret);
    expect(JSON.stringify(fetched.body)).not.toContain(String(body.secret));
  });

  it('changes the given fields with PATCH and keeps the others', async () => {
    const subscription = await createSubscription(
      local.acme,
      subscriptionSpec(uniqueMarker('patch'), LISTENER_URL),
    );

    const patched = await local.acme.patch(`/subscriptions/${subscription.id}`, {
      format: 'soap',
      events: ['OnNew', 'OnNewChild'],
      status: 'paused',
    });
    const fetched = await local.acme.get(`/subscriptions/${subscription.id}`);

    expect(patched.status).toBe(200);
    expect(fetched.status).toBe(200);
    expect(fetched.body).toEqual(patched.body);
    expect(bodyOf(subscriptionSchema, fetched)).toMatchObject({
      id: subscription.id,
      name: subscription.name,
      url: LISTENER_URL,
      format: 'soap',
      events: [{ name: 'OnNew' }, { name: 'OnNewChild' }],
      status: 'paused',
      createdAt: subscription.createdAt,
    });
  });

  it('deletes a subscription, after which it is not found and its name is free again', async () => {
    const name = uniqueMarker('delete');
    const subscription = await createSubscription(local.acme, subscriptionSpec(name, LISTENER_URL));

    const deleted = await local.acme.delete(`/subscriptions/${subscription.id}`);
    const fetched = await local.acme.get(`/subscriptions/${subscription.id}`);
    const deletedAgain = await local.acme.delete(`/subscriptions/${subscription.id}`);
    const recreated = await local.acme.post('/subscriptions', subscriptionSpec(name, LISTENER_URL));

    expect(deleted.status).toBe(204);
    expect(deleted.body).toBeUndefined();
    expect(fetched.status).toBe(404);
    expect(bodyOf(errorSchema, fetched).error.code).toBe('not_found');
    expect(deletedAgain.status).toBe(404);
    expect(recreated.status).toBe(201);
  });

  it('refuses a second subscription with the same name in a brand (409), whatever its case', async () => {
    const name = uniqueMarker('Duplicate');
    await createSubscription(local.acme, subscriptionSpec(name, LISTENER_URL));

    const same = await local.acme.post('/subscriptions', subscriptionSpec(name, LISTENER_URL));
    const otherCase = await local.acme.post(
      '/subscriptions',
      subscriptionSpec(name.toUpperCase(), LISTENER_URL),
    );
    const otherBrand = await local.globex.post('/subscriptions', subscriptionSpec(name, LISTENER_URL));

    expect(same.status).toBe(409);
    expect(bodyOf(errorSchema, same).error).toMatchObject({
      code: 'name_taken',
      details: [{ field: 'name' }],
    });
    expect(otherCase.status).toBe(409);
    expect(otherBrand.status).toBe(201);
  });

  it('refuses a malformed subscription with 422, naming every bad field', async () => {
    const malformed = {
      name: '',
      entity: 'Ticket',
      events: [],
      url: LISTENER_URL,
      format: 'xml',
      colour: 'red',
    };

    const response = await local.acme.post('/subscriptions', malformed);

    expect(response.status).toBe(422);
    const { error } = bodyOf(errorSchema, response);
    expect(error.code).toBe('validation_failed');
    expect(error.details.map((detail) => detail.field).sort()).toEqual(
      ['colour', 'entity', 'events', 'format', 'name'].sort(),
    );
  });

  it('refuses events, components and URLs the catalogue and the URL check do not accept, with 422', async () => {
    const spec = subscriptionSpec(uniqueMarker('invalid'), 'ftp://127.0.0.1/hook', {
      events: [
        { name: 'OnNewActivity', activityTypes: [99] },
        'OnExplode',
        { name: 'OnNew', activityTypes: [2] },
      ],
    });

    const response = await local.acme.post('/subscriptions', spec);

    expect(response.status).toBe(422);
    const fields = bodyOf(errorSchema, response).error.details.map((detail) => detail.field);
    expect(fields).toEqual(
      expect.arrayContaining(['url', 'events.0.activityTypes', 'events.1.name', 'events.2.activityTypes']),
    );
  });

  it('pages through the list with limit=1 and the cursor, seeing each subscription once', async () => {
    const brand = apiClient(local.stack.url, BRANDS.globex.key);
    for (const index of [1, 2, 3]) {
      await createSubscription(brand, subscriptionSpec(uniqueMarker(`page-${index}`), LISTENER_URL));
    }
    const all = bodyOf(subscriptionPageSchema, await brand.get('/subscriptions?limit=100'));

    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 50; page++) {
      const query = cursor ? `?limit=1&cursor=${encodeURIComponent(cursor)}` : '?limit=1';
      const response = await brand.get(`/subscriptions${query}`);
      assertStatus(response, 200);
      const body = bodyOf(subscriptionPageSchema, response);
      expect(body.items.length).toBeLessThanOrEqual(1);
      seen.push(...body.items.map((item) => item.id));
      cursor = body.cursor;
      if (!cursor) break;
    }

    expect(all.items.length).toBeGreaterThanOrEqual(3);
    expect(seen).toHaveLength(new Set(seen).size);
    expect(new Set(seen)).toEqual(new Set(all.items.map((item) => item.id)));
    expect(all.items.every((item) => item.brand === 'globex')).toBe(true);
  });

  it('refuses a page size out of range with 400', async () => {
    const response = await local.acme.get('/subscriptions?limit=0');

    expect(response.status).toBe(400);
    expect(bodyOf(errorSchema, response).error.details).toEqual([
      expect.objectContaining({ field: 'limit' }),
    ]);
  });
});

describe('brand isolation and authentication', { timeout: 20_000 }, () => {
  it("answers another brand's key with 404 on every route of a subscription, and never lists it", async () => {
    const subscription = await createSubscription(
      local.acme,
      subscriptionSpec(uniqueMarker('private'), LISTENER_URL),
    );
    const path = `/subscriptions/${subscription.id}`;

    const answers = await Promise.all([
      local.globex.get(path),
      local.globex.patch(path, { description: 'mine now' }),
      local.globex.post(`${path}/secret/rotate`),
      local.globex.post(`${path}/test`),
      local.globex.get(`${path}/deliveries`),
      local.globex.get(`${path}/deliveries/dlv_000000000000000000000000`),
      local.globex.post(`${path}/deliveries/dlv_000000000000000000000000/resend`),
      local.globex.post(`${path}/replay`, { since: '2026-01-01T00:00:00Z', until: '2026-01-02T00:00:00Z' }),
      local.globex.delete(path),
    ]);
    const globexList = bodyOf(subscriptionPageSchema, await local.globex.get('/subscriptions?limit=100'));
    const stillThere = await local.acme.get(path);

    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 404));
    expect(globexList.items.map((item) => item.id)).not.toContain(subscription.id);
    expect(stillThere.status).toBe(200);
    expect(bodyOf(subscriptionSchema, stillThere)).not.toHaveProperty('description');
  });

  it('answers 401 without a key and 403 with an unknown key, and serves the catalogue to anyone', async () => {
    const anonymous = apiClient(local.stack.url);
    const stranger = apiClient(local.stack.url, 'not-a-real-key-000');

    const withoutKey = await anonymous.get('/subscriptions');
    const unknownKey = await stranger.get('/subscriptions');
    const catalogue = await anonymous.get('/event-types');

    expect(withoutKey.status).toBe(401);
    expect(unknownKey.status).toBe(403);
    expect(catalogue.status).toBe(200);
    expect(JSON.stringify(catalogue.body)).toContain('Object.OnNewActivity');
  });
});
