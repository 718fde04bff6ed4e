import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, bodyOf, errorSchema } from './support/api-client.js';
import { freshDataDir, removeDataDir, subscriptionSpec, uniqueMarker } from './support/fixtures.js';
import { BRANDS, type LocalProcess, startLocalProcess, TEST_ENV } from './support/local-process.js';

/*
 * A single-machine deployment: once the operator says listeners on this machine's network are not
 * trusted (WEBHOOKS_ALLOW_LOCAL_TARGETS=false, the default whenever HOST binds beyond loopback), the API
 * applies the SSRF guard of the AWS shape: plain http and loopback listeners are refused when the
 * subscription is created. The stack itself still binds to loopback here: tests never listen beyond it.
 * Only IP literals and `localhost` are sent, so the API never looks a name up.
 */

let dataDir: string | undefined;
let stack: LocalProcess | undefined;

beforeAll(async () => {
  dataDir = await freshDataDir();
  stack = await startLocalProcess({ dataDir, env: { ...TEST_ENV, WEBHOOKS_ALLOW_LOCAL_TARGETS: 'false' } });
}, 40_000);

afterAll(async () => {
  await stack?.stop();
  await removeDataDir(dataDir);
}, 30_000);

describe('with local targets not allowed', { timeout: 30_000 }, () => {
  it('says so in the banner', () => {
    expect(stack?.logs.join('\n')).toMatch(/listeners allowed\s+https on public addresses only/);
  });

  it.each([
    ['a loopback listener over http', 'http://127.0.0.1:8080/hook'],
    ['localhost', 'http://localhost:8080/hook'],
    ['a loopback listener over https', 'https://127.0.0.1/hook'],
    ['IPv6 loopback', 'https://[::1]/hook'],
    ['a private address', 'https://10.0.0.8/hook'],
  ])('refuses %s when the subscription is created', async (_what, url) => {
    const api = apiClient(stack?.url ?? '', BRANDS.acme.key);
    const response = await api.post('/subscriptions', subscriptionSpec(uniqueMarker('guard'), url));
    expect(response.status).toBe(422);
    expect(bodyOf(errorSchema, response).error.details).toEqual([expect.objectContaining({ field: 'url' })]);
  });
});
