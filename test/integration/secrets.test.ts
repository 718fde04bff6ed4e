import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type ApiResponse,
  apiClient,
  bodyOf,
  rotationSchema,
  subscriptionPageSchema,
} from './support/api-client.js';
import {
  assertStatus,
  createSubscription,
  subscriptionSpec,
  uniqueMarker,
  waitForDelivery,
} from './support/fixtures.js';
import { runKeysCommand } from './support/keys-command.js';
import { BRANDS } from './support/local-process.js';
import { useLocalStack } from './support/local-stack.js';
import { issuedSecrets } from './support/secrets.js';
import { signaturesOf, verifiesWith, withSignature } from './support/webhooks.js';

/*
 * Secrets: API keys made with the keys command work at once and stop at once when revoked; a rotated
 * signing secret keeps signing beside the new one; and no secret or key shows in a list, a delivery or an
 * error response (afterAll checks the logs and every response of this file too).
 */

const local = useLocalStack();

describe('an API key made with the keys command', { timeout: 60_000 }, () => {
  it('works at once, belongs to its brand only, and is refused from the request right after its revocation', async () => {
    const created = await runKeysCommand(local.stack, ['create', '--brand', 'acme', '--description', 'CRM']);
    expect(created.code, created.stderr).toBe(0);
    const key = /key \(shown once, keep it secret\): (\S+)/.exec(created.stdout)?.[1] ?? '';
    const keyId = /created (key_\S+) for brand acme/.exec(created.stdout)?.[1] ?? '';
    expect(key).toMatch(/^cbk_/);
    expect(keyId).toMatch(/^key_/);
    const withKey = apiClient(local.stack.url, key);

    const own = await createSubscription(
      withKey,
      subscriptionSpec(uniqueMarker('by-new-key'), 'http://127.0.0.1:9/h'),
    );
    expect(own.brand).toBe('acme');
    assertStatus(await local.acme.get(`/subscriptions/${own.id}`), 200);
    expect((await local.globex.get(`/subscriptions/${own.id}`)).status).toBe(404);

    const listed = await runKeysCommand(local.stack, ['list', '--brand', 'acme']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(keyId);
    expect(listed.stdout).toContain('CRM');
    expect(listed.stdout).not.toContain(key);
    expect(listed.stdout).not.toContain(createHash('sha256').update(key).digest('hex'));

    // Another brand's operator cannot revoke it, and the attempt changes nothing.
    const wrongBrand = await runKeysCommand(local.stack, ['revoke', '--brand', 'globex', '--id', keyId]);
    expect(wrongBrand.code).toBe(1);
    assertStatus(await withKey.get('/subscriptions'), 200);

    const revoked = await runKeysCommand(local.stack, ['revoke', '--brand', 'acme', '--id', keyId]);
    const right = await withKey.get('/subscriptions');
    const create = await withKey.post(
      '/subscriptions',
      subscriptionSpec(uniqueMarker('late'), 'http://127.0.0.1:9/h'),
    );
    const remove = await withKey.delete(`/subscriptions/${own.id}`);

    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(`revoked ${keyId}`);
    expect(right.status).toBe(403);
    expect(create.status).toBe(403);
    expect(remove.status).toBe(403);
    expect(JSON.stringify([right.body, create.body, remove.body])).not.toContain(key);
    assertStatus(await local.acme.get(`/subscriptions/${own.id}`), 200);
    const acmeNames = bodyOf(
      subscriptionPageSchema,
      await local.acme.get('/subscriptions?limit=100'),
    ).items.map((item) => item.name);
    expect(acmeNames.some((name) => name.startsWith('late-'))).toBe(false);
    const again = await runKeysCommand(local.stack, ['list', '--brand', 'acme']);
    expect(again.stdout).not.toContain(keyId);
    expect(issuedSecrets()).toContain(key);
  });
});

describe('signing secret rotation', { timeout: 30_000 }, () => {
  it('keeps every earlier secret signing beside the new one during the overlap', async () => {
    const target = await local.listener();
    const subscription = await createSubscription(
      local.acme,
      subscriptionSpec(uniqueMarker('rotate'), target.url),
    );
    const first = bodyOf(
      rotationSchema,
      await local.acme.post(`/subscriptions/${subscription.id}/secret/rotate`),
    );
    const second = bodyOf(
      rotationSchema,
      await local.acme.post(`/subscriptions/${subscription.id}/secret/rotate`),
    );

    assertStatus(await local.acme.post(`/subscriptions/${subscription.id}/test`, {}), 202);
    const [request] = await target.waitFor(1);

    const secrets = [subscription.secret, first.secret, second.secret];
    expect(new Set(secrets).size).toBe(3);
    expect(Date.parse(first.previousSecretsExpireAt) - Date.now()).toBeGreaterThan(23 * 60 * 60 * 1000);
    const signatures = request ? signaturesOf(request) : [];
    expect(signatures).toHaveLength(3);
    for (const secret of secrets) {
      const matching = signatures.filter(
        (signature) => request && verifiesWith(withSignature(request, signature), secret),
      );
      expect(matching).toHaveLength(1);
    }
  });
});

describe('lists, deliveries and errors', { timeout: 30_000 }, () => {
  it('never show a signing secret or an API key, even when the request carried one', async () => {
    const target = await local.listener();
    const subscription = await createSubscription(
      local.acme,
      subscriptionSpec(uniqueMarker('shown'), target.url, { headers: { 'X-Api-Key': 'listener-key-0042' } }),
    );
    const rotated = bodyOf(
      rotationSchema,
      await local.acme.post(`/subscriptions/${subscription.id}/secret/rotate`),
    );
    assertStatus(await local.acme.post(`/subscriptions/${subscription.id}/test`, {}), 202);
    const delivery = await waitForDelivery(
      local.acme,
      subscription.id,
      (d) => d.status === 'succeeded',
      'the test delivery',
    );
    const path = `/subscriptions/${subscription.id}`;
    const secret = rotated.secret;

    const views: ApiResponse[] = [
      await local.acme.get('/subscriptions?limit=100'),
      await local.acme.get(path),
      await local.acme.get(`${path}/deliveries?limit=100`),
      await local.acme.get(`${path}/deliveries?status=succeeded`),
      await local.acme.get(`${path}/deliveries/${delivery.id}`),
      await local.acme.patch(path, { description: 'still secret-free' }),
    ];
    // Errors, several of them to requests that carry a secret or a key (`carried`): an error may quote
    // the caller's own input back (an unknown event name, the id in the path), never anything else.
    const errors: { response: ApiResponse; carried: string[] }[] = [];
    const refused = async (carried: string[], response: Promise<ApiResponse>) => {
      errors.push({ response: await response, carried });
    };
    const spec = subscriptionSpec(subscription.name, target.url);
    await refused([secret], local.acme.post('/subscriptions', { ...spec, secret }));
    await refused([], local.acme.post('/subscriptions', spec));
    await refused([secret], local.acme.patch(path, { url: `https://user:${secret}@10.0.0.1/hook` }));
    await refused(
      [BRANDS.acme.key],
      local.acme.patch(path, { url: `https://${BRANDS.acme.key}@example.com/hook` }),
    );
    await refused([secret], local.acme.patch(path, { headers: { 'X-Api-Key': `${secret}\n` } }));
    await refused([secret], local.acme.patch(path, { description: { secret } }));
    await refused([secret], local.acme.post(`${path}/test`, { event: secret }));
    await refused(
      [secret, BRANDS.acme.key],
      local.acme.post(`${path}/replay`, { since: secret, until: BRANDS.acme.key }),
    );
    await refused([secret], local.acme.get(`/subscriptions/${encodeURIComponent(secret)}`));
    await refused(
      [BRANDS.acme.key],
      local.acme.get(`${path}/deliveries/${encodeURIComponent(BRANDS.acme.key)}`),
    );
    await refused([], local.globex.get(path));
    await refused([secret], apiClient(local.stack.url, secret).get('/subscriptions'));
    await refused([BRANDS.acme.key], apiClient(local.stack.url, `${BRANDS.acme.key}x`).get('/subscriptions'));
    await refused([], local.acme.get('/subscriptions?limit=1000'));

    for (const view of views) expect(view.status, JSON.stringify(view.body)).toBe(200);
    for (const { response } of errors) {
      expect(response.status, JSON.stringify(response.body)).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
    }
    const everySecret = [
      subscription.secret,
      secret,
      BRANDS.acme.key,
      BRANDS.globex.key,
      'listener-key-0042',
    ];
    const checked = [...views.map((response) => ({ response, carried: [] as string[] })), ...errors];
    for (const { response, carried } of checked) {
      const text = JSON.stringify(response.body ?? '');
      const what = `${response.status} ${text.slice(0, 200)}`;
      if (!carried.some((value) => value.startsWith('whsec_'))) expect(text, what).not.toContain('whsec_');
      for (const value of everySecret.filter((candidate) => !carried.includes(candidate))) {
        expect(text, what).not.toContain(value.replace(/^whsec_/, ''));
      }
    }
    // A refused key is never quoted, and the answer does not say whether it was ever valid.
    expect(errors[11]?.response.body).toEqual({ message: 'Forbidden' });
    expect(errors[12]?.response.body).toEqual({ message: 'Forbidden' });
    expect(JSON.stringify(views[1]?.body)).toContain('"X-Api-Key":"[redacted]"');
  });
});
