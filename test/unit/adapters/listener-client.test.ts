import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import {
  createListenerClient,
  DEFAULT_USER_AGENT,
  type ListenerClient,
  type ListenerClientOptions,
} from '../../../lambdas/adapters/listener-client.js';
import type { ResolvedAddress, Resolver } from '../../../lambdas/core/ssrf.js';

// Network rule for this file: every socket goes to a server of ours on 127.0.0.1. Names such as
// listener.test are answered by injected resolvers (vi.fn()s with canned answers); dns.lookup is
// replaced by a mock that refuses every name but the loopback literals the servers listen on. The
// refusal tests show that neither http.request nor https.request was even called, so nothing was
// dialled. The one socket-level refusal (a NAT64 address the guard lets through) is stopped inside
// the agent's lookup, before net gets an address to connect to.

const LOOPBACK_V4: ResolvedAddress = { address: '127.0.0.1', family: 4 };

function resolverReturning(...answers: ResolvedAddress[]) {
  return vi.fn<Resolver>(async () => answers);
}

interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

interface TestServer {
  readonly server: http.Server;
  readonly port: number;
  readonly origin: string;
  readonly requests: ReceivedRequest[];
  /** TCP connections accepted. */
  connections: number;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

const servers: http.Server[] = [];
let client: ListenerClient | undefined;

async function startServer(handler: Handler): Promise<TestServer> {
  const requests: ReceivedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const state: TestServer = { server, port, origin: `http://127.0.0.1:${port}`, requests, connections: 0 };
  server.on('connection', () => {
    state.connections += 1;
  });
  return state;
}

function newClient(options: Partial<ListenerClientOptions> = {}): ListenerClient {
  client = createListenerClient({ allowLocalTargets: true, timeoutMs: 2000, ...options });
  return client;
}

let dnsLookupSpy: MockInstance;
let httpRequestSpy: MockInstance;
let httpsRequestSpy: MockInstance;

beforeEach(() => {
  const realLookup = dns.lookup;
  dnsLookupSpy = vi.spyOn(dns, 'lookup').mockImplementation(((hostname: string, ...rest: unknown[]) => {
    if (hostname === '127.0.0.1' || hostname === '::1') {
      return (realLookup as (...args: unknown[]) => unknown)(hostname, ...rest);
    }
    throw new Error(`a test attempted a real DNS lookup of ${hostname}`);
  }) as unknown as typeof dns.lookup);
  httpRequestSpy = vi.spyOn(http, 'request');
  httpsRequestSpy = vi.spyOn(https, 'request');
});

afterEach(async () => {
  client?.close();
  client = undefined;
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

function expectNothingDialled(): void {
  expect(httpRequestSpy).not.toHaveBeenCalled();
  expect(httpsRequestSpy).not.toHaveBeenCalled();
}

describe('posting to a listener', () => {
  it('delivers the exact body and headers and reports the 2xx with its body as the snippet', async () => {
    const listener = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('accepted');
    });
    const body = JSON.stringify({ type: 'conversation.created', greeting: 'שלום' });
    const result = await newClient().post({
      url: `${listener.origin}/hooks/commbox?x=1`,
      body,
      headers: { 'content-type': 'application/json', 'webhook-id': 'msg_123' },
    });

    expect(result.outcome).toEqual({ kind: 'response', status: 200, retryAfter: undefined });
    expect(result.responseSnippet).toBe('accepted');
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect(listener.requests).toHaveLength(1);
    const [received] = listener.requests;
    expect(received?.method).toBe('POST');
    expect(received?.path).toBe('/hooks/commbox?x=1');
    expect(received?.body).toBe(body);
    expect(received?.headers['content-length']).toBe(String(Buffer.byteLength(body, 'utf8')));
    expect(Number(received?.headers['content-length'])).toBeGreaterThan(body.length);
    expect(received?.headers['content-type']).toBe('application/json');
    expect(received?.headers['webhook-id']).toBe('msg_123');
    expect(received?.headers['user-agent']).toBe(DEFAULT_USER_AGENT);
    expect(received?.headers['transfer-encoding']).toBeUndefined();
  });

  it('sends the configured User-Agent', async () => {
    const listener = await startServer((_req, res) => res.end());
    await newClient({ userAgent: 'Test-Agent/2.0' }).post({ url: listener.origin, body: '', headers: {} });
    expect(listener.requests[0]?.headers['user-agent']).toBe('Test-Agent/2.0');
    expect(listener.requests[0]?.headers['content-length']).toBe('0');
  });

  it('reports a 302 without following its Location to a second loopback path', async () => {
    const listener = await startServer((req, res) => {
      if (req.url === '/hook') res.writeHead(302, { location: `${listener.origin}/elsewhere` }).end();
      else res.end('should never be reached');
    });
    const result = await newClient().post({ url: `${listener.origin}/hook`, body: '{}', headers: {} });

    expect(result.outcome).toEqual({ kind: 'response', status: 302, retryAfter: undefined });
    expect(listener.requests.map((r) => r.path)).toEqual(['/hook']);
  });

  it('reports a 500 with the start of its body', async () => {
    const listener = await startServer((_req, res) => res.writeHead(500).end('boom'));
    const result = await newClient().post({ url: listener.origin, body: '{}', headers: {} });
    expect(result.outcome).toEqual({ kind: 'response', status: 500, retryAfter: undefined });
    expect(result.responseSnippet).toBe('boom');
  });

  it('reports a 503 with its Retry-After', async () => {
    const listener = await startServer((_req, res) => res.writeHead(503, { 'retry-after': '120' }).end());
    const result = await newClient().post({ url: listener.origin, body: '{}', headers: {} });
    expect(result.outcome).toEqual({ kind: 'response', status: 503, retryAfter: '120' });
    expect(result.responseSnippet).toBe('');
  });

  it('rejects a header the client sets itself as a programmer error, before dialling', async () => {
    const listener = await startServer((_req, res) => res.end());
    const c = newClient();
    for (const name of ['Host', 'content-length', 'Connection', 'Transfer-Encoding', 'User-Agent']) {
      await expect(c.post({ url: listener.origin, body: '', headers: { [name]: 'x' } })).rejects.toThrow(
        TypeError,
      );
    }
    expectNothingDialled();
    expect(listener.connections).toBe(0);
  });
});

describe('time and size limits', () => {
  it('times out against a server that never answers, and returns within about timeoutMs', async () => {
    const listener = await startServer(() => {
      // Never respond.
    });
    const started = performance.now();
    const result = await newClient({ timeoutMs: 300 }).post({
      url: listener.origin,
      body: '{}',
      headers: {},
    });
    const elapsed = performance.now() - started;

    expect(result.outcome).toEqual({ kind: 'timeout' });
    expect(result.responseSnippet).toBeUndefined();
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(300 + 250);
    expect(result.durationMs).toBeGreaterThanOrEqual(290);
    expect(listener.requests).toHaveLength(1);
  });

  it('reports the status when only the body is still trickling at the deadline', async () => {
    const listener = await startServer((_req, res) => {
      res.writeHead(200);
      res.write('partial');
      // Never end.
    });
    const started = performance.now();
    const result = await newClient({ timeoutMs: 300 }).post({
      url: listener.origin,
      body: '{}',
      headers: {},
    });
    const elapsed = performance.now() - started;

    expect(result.outcome).toEqual({ kind: 'response', status: 200, retryAfter: undefined });
    expect(result.responseSnippet).toBe('partial');
    expect(elapsed).toBeLessThan(300 + 250);
  });

  it('times out when the resolver never answers, without dialling', async () => {
    const resolve = vi.fn<Resolver>(() => new Promise<never>(() => {}));
    const started = performance.now();
    const result = await newClient({ timeoutMs: 300, resolve }).post({
      url: 'http://listener.test/',
      body: '{}',
      headers: {},
    });

    expect(result.outcome).toEqual({ kind: 'timeout' });
    expect(performance.now() - started).toBeLessThan(300 + 250);
    expect(resolve).toHaveBeenCalledExactlyOnceWith('listener.test');
    expectNothingDialled();
  });

  it('stops reading an endless body at maxResponseBytes and returns well before the timeout', async () => {
    const listener = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = 'x'.repeat(1024);
      let open = true;
      res.on('close', () => {
        open = false;
      });
      res.on('error', () => {});
      const pump = (): void => {
        while (open && res.write(chunk)) {
          // Fill the buffer, then wait for drain.
        }
        if (open) res.once('drain', pump);
      };
      pump();
    });
    const result = await newClient({ timeoutMs: 3000, maxResponseBytes: 1000 }).post({
      url: listener.origin,
      body: '{}',
      headers: {},
    });

    expect(result.outcome).toEqual({ kind: 'response', status: 200, retryAfter: undefined });
    expect(result.responseSnippet).toBe('x'.repeat(1000));
    expect(result.durationMs).toBeLessThan(1000);
  });

  it('cuts the snippet at maxResponseBytes without tearing a multi-byte character', async () => {
    const listener = await startServer((_req, res) => res.writeHead(400).end('é'.repeat(10)));
    const result = await newClient({ maxResponseBytes: 5 }).post({
      url: listener.origin,
      body: '',
      headers: {},
    });
    expect(result.outcome).toMatchObject({ kind: 'response', status: 400 });
    expect(result.responseSnippet).toBe('éé');
  });
});

describe('connection failures', () => {
  it('reports a network error with its code when the server destroys the socket', async () => {
    const listener = await startServer((req) => req.socket.destroy());
    const result = await newClient().post({ url: listener.origin, body: '{}', headers: {} });
    expect(result.outcome).toEqual({ kind: 'network', code: 'ECONNRESET' });
    expect(result.responseSnippet).toBeUndefined();
    // A fresh connection that fails is not resent.
    expect(listener.requests).toHaveLength(1);
  });

  it('reports ECONNREFUSED for a closed port', async () => {
    const listener = await startServer(() => {});
    await new Promise<void>((resolve) => listener.server.close(() => resolve()));
    const result = await newClient().post({ url: listener.origin, body: '{}', headers: {} });
    expect(result.outcome).toEqual({ kind: 'network', code: 'ECONNREFUSED' });
  });
});

describe('keep-alive', () => {
  it('uses one TCP connection for two sequential posts to the same listener', async () => {
    const listener = await startServer((_req, res) => res.end('ok'));
    const c = newClient();
    const first = await c.post({ url: `${listener.origin}/a`, body: '1', headers: {} });
    const second = await c.post({ url: `${listener.origin}/b`, body: '2', headers: {} });

    expect(first.outcome).toMatchObject({ kind: 'response', status: 200 });
    expect(second.outcome).toMatchObject({ kind: 'response', status: 200 });
    expect(listener.requests.map((r) => r.body)).toEqual(['1', '2']);
    expect(listener.connections).toBe(1);
  });

  it('resends once on a fresh connection when a reused socket turns out to be dead', async () => {
    const perSocket = new WeakMap<Socket, number>();
    const listener = await startServer((req, res) => {
      const count = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, count);
      // The second request on a connection plays a server that had already closed it.
      if (count > 1) req.socket.destroy();
      else res.end('ok');
    });
    const c = newClient();
    await c.post({ url: listener.origin, body: '1', headers: {} });
    const result = await c.post({ url: listener.origin, body: '2', headers: {} });

    expect(result.outcome).toEqual({ kind: 'response', status: 200, retryAfter: undefined });
    expect(listener.connections).toBe(2);
    expect(listener.requests.map((r) => r.body)).toEqual(['1', '2', '2']);
  });
});

describe('the SSRF guard at delivery time', () => {
  it('reaches listener.test through the pinned answer of the resolver when local targets are allowed', async () => {
    const listener = await startServer((_req, res) => res.end('ok'));
    const resolve = resolverReturning(LOOPBACK_V4);
    const result = await newClient({ resolve }).post({
      url: `http://listener.test:${listener.port}/hook`,
      body: '{}',
      headers: {},
    });

    expect(result.outcome).toMatchObject({ kind: 'response', status: 200 });
    expect(resolve).toHaveBeenCalledExactlyOnceWith('listener.test');
    expect(listener.requests[0]?.headers.host).toBe(`listener.test:${listener.port}`);
    expect(listener.connections).toBe(1);
    expect(dnsLookupSpy).not.toHaveBeenCalledWith('listener.test', expect.anything(), expect.anything());
  });

  it.each([
    ['http', 'URL must use https'],
    ['https', 'URL host listener.test resolves to a loopback address 127.0.0.1'],
  ])(
    'refuses %s://listener.test resolving to loopback when local targets are disabled, without connecting',
    async (scheme, reason) => {
      const listener = await startServer((_req, res) => res.end('ok'));
      const resolve = resolverReturning(LOOPBACK_V4);
      const result = await newClient({ allowLocalTargets: false, resolve }).post({
        url: `${scheme}://listener.test:${listener.port}/hook`,
        body: '{}',
        headers: {},
      });

      expect(result.outcome.kind).toBe('refused');
      expect(result.outcome).toMatchObject({ reason: expect.stringContaining(reason) });
      expect(listener.connections).toBe(0);
      expectNothingDialled();
    },
  );

  it('refuses a host that resolves to 10.0.0.1 after asking the resolver, and dials nothing', async () => {
    const listener = await startServer((_req, res) => res.end('ok'));
    const resolve = resolverReturning({ address: '10.0.0.1', family: 4 });
    const result = await newClient({ resolve }).post({
      url: `http://internal.test:${listener.port}/hook?token=secret`,
      body: '{}',
      headers: {},
    });

    expect(result.outcome).toEqual({
      kind: 'refused',
      reason: 'URL host internal.test resolves to a private address 10.0.0.1 (private)',
    });
    expect(resolve).toHaveBeenCalledExactlyOnceWith('internal.test');
    expect(listener.connections).toBe(0);
    expectNothingDialled();
  });

  it('reports a resolver failure as refused, naming the error code', async () => {
    const resolve = vi.fn<Resolver>(async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    });
    const result = await newClient({ resolve }).post({ url: 'http://gone.test/', body: '{}', headers: {} });
    expect(result.outcome).toEqual({
      kind: 'refused',
      reason: 'URL host gone.test could not be resolved (ENOTFOUND)',
    });
    expectNothingDialled();
  });

  it('reports the socket-level refusal of a NAT64 address that the guard lets through as refused', async () => {
    // The guard accepts 64:ff9b::93.184.216.34 (a public IPv4 behind NAT64); request-filtering-agent
    // refuses every non-"unicast" range, this one included, inside its lookup, before any connect.
    const resolve = resolverReturning({ address: '64:ff9b::5db8:d822', family: 6 });
    const result = await newClient({ allowLocalTargets: false, resolve }).post({
      url: 'https://listener.test/hook',
      body: '{}',
      headers: {},
    });

    expect(result.outcome).toEqual({
      kind: 'refused',
      reason: expect.stringMatching(
        /^DNS lookup 64:ff9b::5db8:d822\(.*host:listener\.test\) is not allowed\./,
      ),
    });
    expect(httpsRequestSpy).toHaveBeenCalledTimes(1);
    expect(dnsLookupSpy).not.toHaveBeenCalled();
  });
});

describe('client lifecycle', () => {
  it('refuses to post after close', async () => {
    const c = newClient();
    c.close();
    await expect(c.post({ url: 'http://127.0.0.1:9/', body: '', headers: {} })).rejects.toThrow('closed');
    expectNothingDialled();
  });

  it('rejects a non-positive timeout at creation', () => {
    expect(() => createListenerClient({ allowLocalTargets: true, timeoutMs: 0 })).toThrow(RangeError);
  });
});
