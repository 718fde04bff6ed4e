import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { type BodyReader, createLocalApiGateway } from '../../local/api-gateway.js';

/*
 * The local API Gateway in front of stub handlers: what it answers itself, before any handler runs, and
 * when it reads the request body.
 */

function aGateway(options: { authorized?: boolean } = {}) {
  const api = vi.fn(async (event: APIGatewayProxyEventV2) => ({
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ routeKey: event.routeKey, body: event.body ?? null }),
  }));
  const authorizer = vi.fn(async () => ({
    isAuthorized: options.authorized ?? true,
    context: { brand: 'acme' },
  }));
  return { gateway: createLocalApiGateway({ api, authorizer }), api, authorizer };
}

const KEY = { authorization: 'Bearer acme-key', 'content-type': 'application/json' };

describe('paths the gateway answers itself', () => {
  it.each(['/subscriptions/%E0%A4%A', '/subscriptions/%', '/subscriptions/%ZZ/deliveries'])(
    'answers %s, whose percent-encoding is broken, 400 naming the parameter, before any authentication',
    async (path) => {
      const { gateway, api, authorizer } = aGateway();

      const response = await gateway.handle('GET', path, {}, Buffer.alloc(0));

      expect(response.status).toBe(400);
      expect(JSON.parse(response.body)).toEqual({
        error: {
          code: 'invalid_path',
          message: "The path's id is not valid percent-encoded UTF-8",
          details: [{ field: 'id', message: 'is not valid percent-encoded UTF-8' }],
        },
      });
      expect(authorizer).not.toHaveBeenCalled();
      expect(api).not.toHaveBeenCalled();
    },
  );

  it('reads a target starting with two slashes as a path, not as a host', async () => {
    const { gateway, api } = aGateway();

    const response = await gateway.handle('GET', '//attacker.example/subscriptions', KEY, Buffer.alloc(0));

    expect(response.status).toBe(404);
    expect(api).not.toHaveBeenCalled();
  });

  it('answers 400 to a target that is not a path', async () => {
    const { gateway } = aGateway();
    const response = await gateway.handle('GET', 'http://127.0.0.1/subscriptions', KEY, Buffer.alloc(0));
    expect(response.status).toBe(400);
  });
});

describe('the request body', () => {
  const reader = (body: string) => vi.fn<BodyReader>(async () => Buffer.from(body));

  it('is not read, and the connection is closed, when the request has no key', async () => {
    const { gateway } = aGateway();
    const body = reader('{"name": "x"}');

    const response = await gateway.handle('POST', '/subscriptions', {}, body);

    expect(response.status).toBe(401);
    expect(response.headers.connection).toBe('close');
    expect(body).not.toHaveBeenCalled();
  });

  it('is not read when the authorizer refuses the key', async () => {
    const { gateway } = aGateway({ authorized: false });
    const body = reader('{"name": "x"}');

    const response = await gateway.handle('POST', '/subscriptions', KEY, body);

    expect(response.status).toBe(403);
    expect(body).not.toHaveBeenCalled();
  });

  it('is read once the key is admitted, and handed to the API as API Gateway does', async () => {
    const { gateway } = aGateway();
    const body = reader('{"name": "x"}');

    const response = await gateway.handle('POST', '/subscriptions', KEY, body);

    expect(response.status).toBe(200);
    expect(body).toHaveBeenCalledTimes(1);
    expect(JSON.parse(response.body)).toEqual({
      routeKey: 'POST /subscriptions',
      body: Buffer.from('{"name": "x"}').toString('base64'),
    });
  });

  it('over the size limit is answered 413, and the connection closed', async () => {
    const { gateway, api } = aGateway();

    const response = await gateway.handle('POST', '/subscriptions', KEY, async () => undefined);

    expect(response.status).toBe(413);
    expect(response.headers.connection).toBe('close');
    expect(api).not.toHaveBeenCalled();
  });
});

describe("the console's routes", () => {
  it.each([
    ['/console', 'GET /console', undefined],
    ['/console/', 'GET /console', undefined],
    ['/console/console.js', 'GET /console/{proxy+}', { proxy: 'console.js' }],
  ])('hands GET %s to the API without a key, the authorizer never asked', async (path, routeKey, params) => {
    const { gateway, api, authorizer } = aGateway({ authorized: false });

    const response = await gateway.handle('GET', path, {}, Buffer.alloc(0));

    expect(response.status).toBe(200);
    expect(authorizer).not.toHaveBeenCalled();
    const event = api.mock.calls[0]?.[0];
    expect(event?.routeKey).toBe(routeKey);
    expect(event?.pathParameters).toEqual(params);
  });

  it('matches no other method on them', async () => {
    const { gateway, api } = aGateway();
    const response = await gateway.handle('POST', '/console/console.js', KEY, Buffer.alloc(0));
    expect(response.status).toBe(404);
    expect(api).not.toHaveBeenCalled();
  });
});
