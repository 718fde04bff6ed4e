import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_BACKENDS, type LocalBackendName } from '../../local/backends/backend.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import {
  type ApiClient,
  apiClient,
  bodyOf,
  consoleSessionSchema,
  errorSchema,
} from './support/api-client.js';
import {
  assertStatus,
  createSubscription,
  freshDataDir,
  removeDataDir,
  subscriptionSpec,
  uniqueMarker,
} from './support/fixtures.js';
import { type KeysTarget, runKeysCommand } from './support/keys-command.js';
import { BRANDS } from './support/local-process.js';
import { expectNoSecretsLeaked, recordSecret } from './support/secrets.js';

/*
 * Console links through the whole local stack, over HTTP: a key made by `npm run keys` makes a session
 * (POST /console/sessions); the session token is a bearer credential on the data routes, for its brand
 * only, until its hour is over (the authorizer's clock is injected here: the stack runs in this process,
 * on the backend CI names, SQLite or the AWS emulators) and only while its key is not revoked (by the keys
 * command, from another process). A session cannot make another one. Refused credentials are answered as
 * API Gateway answers a Lambda authorizer's refusal: 403 `{"message":"Forbidden"}`.
 */

const HOUR_MS = 60 * 60 * 1000;
const backend = (process.env.WEBHOOKS_LOCAL_BACKEND ?? 'sqlite') as LocalBackendName;
if (!LOCAL_BACKENDS.includes(backend)) throw new Error(`unknown WEBHOOKS_LOCAL_BACKEND ${backend}`);

let dataDir: string | undefined;
let stack: LocalStack;
/** The authorizer's clock: the system's, shifted by `skewMs`. */
let skewMs = 0;
/** Every line the stack printed and every line its handlers logged, to search for keys and tokens. */
const logs: string[] = [];
let acme: ApiClient;
let globex: ApiClient;
let keys: KeysTarget;
let restoreStdout: () => void = () => undefined;
let acmeSubscription: string;
let globexSubscription: string;

beforeAll(async () => {
  // The handlers log through the process's stdout (powertools): keep a copy of every line. Not vi.spyOn:
  // the config restores mocks before each test, and this must last the whole file.
  const write = process.stdout.write.bind(process.stdout);
  restoreStdout = () => {
    process.stdout.write = write;
  };
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    logs.push(...text.split('\n').filter(Boolean));
    return write(chunk, ...rest);
  }) as typeof process.stdout.write;
  dataDir = await freshDataDir();
  stack = await startLocalStack({
    port: 0,
    dataDir,
    backend,
    apiKeys: [BRANDS.acme, BRANDS.globex],
    log: (line) => logs.push(line),
    sessionClock: () => new Date(Date.now() + skewMs),
  });
  const { services } = stack;
  keys = {
    databaseFile: () => (services.backend === 'sqlite' ? services.databaseFile : undefined),
    services: () => {
      if (services.backend !== 'aws-emulators') throw new Error('not the emulator backend');
      return services;
    },
  };
  acme = apiClient(stack.url, BRANDS.acme.key);
  globex = apiClient(stack.url, BRANDS.globex.key);
  acmeSubscription = (
    await createSubscription(acme, subscriptionSpec(uniqueMarker('a'), 'http://127.0.0.1:9/a'))
  ).id;
  globexSubscription = (
    await createSubscription(globex, subscriptionSpec(uniqueMarker('b'), 'http://127.0.0.1:9/b'))
  ).id;
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  restoreStdout();
  await removeDataDir(dataDir);
  // Not vacuous: the handlers' own lines were captured, refusals of sessions among them.
  expect(logs.some((line) => line.includes('"message":"request"'))).toBe(true);
  expect(logs.some((line) => line.includes('"message":"console session refused"'))).toBe(true);
  expectNoSecretsLeaked(logs);
}, 30_000);

/** A new key of acme's, made and printed by `npm run keys -- create` (recorded as a secret). */
async function newAcmeKey(): Promise<{ key: string; keyId: string }> {
  const result = await runKeysCommand(keys, ['create', '--brand', BRANDS.acme.brand]);
  expect(result.code, result.stderr).toBe(0);
  const key = /\b(cbk_[A-Za-z0-9_-]+)/.exec(result.stdout)?.[1];
  const keyId = /\b(key_[A-Za-z0-9_-]+)/.exec(result.stdout)?.[1];
  if (!key || !keyId) throw new Error(`the keys command printed no key:\n${result.stdout}`);
  return { key, keyId };
}

/** A session made with `key`; its token is recorded as a secret, and a client that bears it. */
async function sessionOf(key: string, body?: unknown) {
  const response = await apiClient(stack.url, key).post('/console/sessions', body);
  assertStatus(response, 201);
  const session = bodyOf(consoleSessionSchema, response);
  recordSecret(session.token);
  return { response, session, asSession: apiClient(stack.url, session.token) };
}

async function listedIds(api: ApiClient): Promise<string[]> {
  const response = await api.get('/subscriptions?limit=100');
  assertStatus(response, 200);
  return (response.body as { items: { id: string }[] }).items.map(({ id }) => id);
}

describe('a console session', { timeout: 60_000 }, () => {
  it('is made with a key: 201 { url, token, expiresAt }, an hour from now, never cached', async () => {
    const { key } = await newAcmeKey();
    const before = Date.now();
    const { response, session } = await sessionOf(key);

    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(session.url).toBe(`/console#session=${session.token}`);
    const expiresAt = Date.parse(session.expiresAt);
    expect(expiresAt).toBeGreaterThan(before + HOUR_MS - 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + HOUR_MS);
  });

  it("lists its brand's subscriptions and only those, and reads none of another brand's", async () => {
    const { key } = await newAcmeKey();
    const { asSession } = await sessionOf(key);

    const ids = await listedIds(asSession);
    expect(ids).toContain(acmeSubscription);
    expect(ids).not.toContain(globexSubscription);
    expect((await asSession.get(`/subscriptions/${acmeSubscription}`)).status).toBe(200);
    expect((await asSession.get(`/subscriptions/${globexSubscription}`)).status).toBe(404);
    // A subscription it creates is its brand's.
    const created = await createSubscription(
      asSession,
      subscriptionSpec(uniqueMarker('s'), 'http://127.0.0.1:9/s'),
    );
    expect(created.brand).toBe(BRANDS.acme.brand);
    expect(await listedIds(globex)).not.toContain(created.id);
    assertStatus(await asSession.delete(`/subscriptions/${created.id}`), 204);
  });

  it('works until the second it expires, then is refused, while its key still works', async () => {
    const { key } = await newAcmeKey();
    const { session, asSession } = await sessionOf(key, { expiresInSeconds: 600 });
    const expiresAt = Date.parse(session.expiresAt);
    try {
      skewMs = expiresAt - 1000 - Date.now();
      expect((await asSession.get('/subscriptions')).status).toBe(200);
      skewMs = expiresAt - Date.now();
      const refused = await asSession.get('/subscriptions');
      expect(refused.status).toBe(403);
      expect(refused.body).toEqual({ message: 'Forbidden' });
      skewMs = 2 * HOUR_MS;
      expect((await asSession.get('/subscriptions')).status).toBe(403);
    } finally {
      skewMs = 0;
    }
    expect((await apiClient(stack.url, key).get('/subscriptions')).status).toBe(200);
  });

  it('stops working at once when `npm run keys` revokes the key that made it; other keys go on', async () => {
    const { key, keyId } = await newAcmeKey();
    const { asSession } = await sessionOf(key);
    const other = await newAcmeKey();
    const { asSession: otherSession } = await sessionOf(other.key);
    expect((await asSession.get('/subscriptions')).status).toBe(200);

    const revoked = await runKeysCommand(keys, ['revoke', '--brand', BRANDS.acme.brand, '--id', keyId]);
    expect(revoked.code, revoked.stderr).toBe(0);

    expect((await asSession.get('/subscriptions')).status).toBe(403);
    expect((await apiClient(stack.url, key).get('/subscriptions')).status).toBe(403);
    expect((await otherSession.get('/subscriptions')).status).toBe(200);
    expect((await acme.get('/subscriptions')).status).toBe(200);
  });

  it('cannot make another session: 403 naming the credential, and nothing is made', async () => {
    const { key } = await newAcmeKey();
    const { asSession } = await sessionOf(key);

    const refused = await asSession.post('/console/sessions', {});

    expect(refused.status).toBe(403);
    const { error } = bodyOf(errorSchema, refused);
    expect(error.code).toBe('api_key_required');
    expect(error.details.map(({ field }) => field)).toEqual(['authorization']);
  });

  it.each([
    [{ expiresInSeconds: 7200 }, 422, 'expiresInSeconds'],
    [{ expiresInSeconds: '3600' }, 422, 'expiresInSeconds'],
    [{ brand: BRANDS.globex.brand }, 422, 'brand'],
    [['not', 'an', 'object'], 422, '(body)'],
  ])('refuses the body %j with %i JSON naming %s', async (body, status, field) => {
    const response = await acme.post('/console/sessions', body);

    expect(response.status).toBe(status);
    expect(bodyOf(errorSchema, response).error.details.map((issue) => issue.field)).toContain(field);
  });

  it('refuses a body that is not JSON with 400 naming the body, and no key at all with 401', async () => {
    const broken = await fetch(`${stack.url}/console/sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BRANDS.acme.key}`, 'content-type': 'application/json' },
      body: '{"expiresInSeconds": ',
    });
    const anonymous = await apiClient(stack.url).post('/console/sessions', {});

    expect(broken.status).toBe(400);
    expect(
      ((await broken.json()) as { error: { details: { field: string }[] } }).error.details[0]?.field,
    ).toBe('(body)');
    expect(anonymous.status).toBe(401);
  });

  it('is refused when unknown, or one character off a real one', async () => {
    const { key } = await newAcmeKey();
    const { session } = await sessionOf(key);
    const altered = `${session.token.slice(0, -1)}${session.token.endsWith('A') ? 'B' : 'A'}`;

    expect((await apiClient(stack.url, altered).get('/subscriptions')).status).toBe(403);
    expect((await apiClient(stack.url, 'cbs_not-a-session-token-we-made').get('/subscriptions')).status).toBe(
      403,
    );
    expect((await apiClient(stack.url, session.token).get('/subscriptions')).status).toBe(200);
  });
});
