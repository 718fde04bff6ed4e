import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import { createListenerAgent, pinnedLookup } from '../../lambdas/adapters/ssrf-network.js';
import { ClientError } from '../../lambdas/core/errors.js';
import {
  checkListenerUrl,
  classifyAddress,
  MAX_URL_LENGTH,
  type ResolvedAddress,
  type Resolver,
  resolveListener,
} from '../../lambdas/core/ssrf.js';

// Network rule for this file: nothing may connect anywhere but 127.0.0.1, and no real DNS lookups.
// Resolvers are vi.fn()s with canned answers. dns.lookup (what net.connect falls back to) is replaced
// by a mock that throws, and socket connects and http(s).request calls are spied on, so the refusal
// tests can show that nothing was opened.

const PUBLIC_V4: ResolvedAddress = { address: '93.184.216.34', family: 4 };
const PUBLIC_V6: ResolvedAddress = { address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 };

function resolverReturning(...answers: ResolvedAddress[]) {
  return vi.fn<Resolver>(async () => answers);
}

let connectSpy: MockInstance;
let dnsLookupSpy: MockInstance;
let httpRequestSpy: MockInstance;
let httpsRequestSpy: MockInstance;

beforeEach(() => {
  connectSpy = vi.spyOn(net.Socket.prototype, 'connect');
  dnsLookupSpy = vi.spyOn(dns, 'lookup').mockImplementation((() => {
    throw new Error('a test attempted a real DNS lookup');
  }) as unknown as typeof dns.lookup);
  httpRequestSpy = vi.spyOn(http, 'request');
  httpsRequestSpy = vi.spyOn(https, 'request');
});

function expectNoNetworkActivity(): void {
  expect(connectSpy).not.toHaveBeenCalled();
  expect(dnsLookupSpy).not.toHaveBeenCalled();
  expect(httpRequestSpy).not.toHaveBeenCalled();
  expect(httpsRequestSpy).not.toHaveBeenCalled();
}

async function refusalOf(promise: Promise<unknown>): Promise<ClientError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ClientError);
  return error as ClientError;
}

interface Refusal {
  /** The URL to check. */
  readonly url: string;
  /** A fragment the error message must contain. */
  readonly reason: string;
  /** Canned resolver answers; when present the refusal happens after resolution. */
  readonly answers?: readonly ResolvedAddress[];
  readonly allowLocalTargets?: boolean;
}

const SYNTAX_REFUSALS: readonly Refusal[] = [
  // IPv4 special-purpose ranges
  { url: 'https://127.0.0.1/', reason: 'a loopback address 127.0.0.1 (loopback' },
  { url: 'https://127.255.255.254/', reason: '(loopback' },
  { url: 'https://10.0.0.1/hook', reason: 'a private address 10.0.0.1 (private)' },
  { url: 'https://172.16.5.4/', reason: '(private)' },
  { url: 'https://172.31.255.255/', reason: '(private)' },
  { url: 'https://192.168.1.1/', reason: '(private)' },
  { url: 'https://100.64.0.1/', reason: 'a carrier-grade NAT address 100.64.0.1' },
  { url: 'https://100.100.100.200/', reason: '(carrierGradeNat)' },
  { url: 'https://169.254.169.254/latest/meta-data/', reason: '(linkLocal, cloud metadata endpoint)' },
  { url: 'https://169.254.170.2/v2/credentials', reason: '(linkLocal, cloud metadata endpoint)' },
  { url: 'https://169.254.1.1/', reason: 'a link-local address' },
  { url: 'https://0.0.0.0/', reason: 'an unspecified address 0.0.0.0' },
  { url: 'https://0.1.2.3/', reason: '(unspecified)' },
  { url: 'https://224.0.0.1/', reason: 'a multicast address' },
  { url: 'https://239.255.255.250/', reason: '(multicast)' },
  { url: 'https://255.255.255.255/', reason: 'the broadcast address' },
  { url: 'https://192.0.2.1/', reason: 'reserved or documentation' },
  { url: 'https://198.51.100.7/', reason: '(reserved)' },
  { url: 'https://203.0.113.9/', reason: '(reserved)' },
  { url: 'https://198.18.0.1/', reason: '(reserved)' },
  { url: 'https://198.19.255.254/', reason: '(reserved)' },
  { url: 'https://240.0.0.1/', reason: '(reserved)' },
  { url: 'https://192.0.0.8/', reason: '(reserved)' },
  { url: 'https://192.88.99.1/', reason: '(reserved)' },
  { url: 'https://192.31.196.1/', reason: '(as112)' },
  // IPv4 literals in other notations; WHATWG URL turns them into dotted quads
  { url: 'https://2130706433/', reason: 'loopback address 127.0.0.1' },
  { url: 'https://017700000001/', reason: 'loopback address 127.0.0.1' },
  { url: 'https://0177.0.0.1/', reason: 'loopback address 127.0.0.1' },
  { url: 'https://0x7f.0.0.1/', reason: 'loopback address 127.0.0.1' },
  { url: 'https://0x7f000001/', reason: 'loopback address 127.0.0.1' },
  { url: 'https://127.1/', reason: 'loopback address 127.0.0.1' },
  { url: 'https://127.0.1/', reason: 'loopback address 127.0.0.1' },
  { url: 'https://0/', reason: 'unspecified address 0.0.0.0' },
  { url: 'https://%31%32%37.0.0.1/', reason: 'loopback address 127.0.0.1' },
  { url: 'https://１２７.０.０.１/', reason: 'loopback address 127.0.0.1' },
  { url: 'https://0xA9FEA9FE/', reason: '169.254.169.254 (linkLocal, cloud metadata endpoint)' },
  { url: 'https://0251.0376.0251.0376/', reason: '169.254.169.254 (linkLocal, cloud metadata endpoint)' },
  { url: 'https://2852039166/', reason: '169.254.169.254 (linkLocal, cloud metadata endpoint)' },
  { url: 'https://167772161/', reason: 'a private address 10.0.0.1' },
  // IPv6
  { url: 'https://[::1]/', reason: 'a loopback address ::1' },
  { url: 'https://[0:0:0:0:0:0:0:1]/', reason: 'a loopback address ::1' },
  { url: 'https://[::]/', reason: 'an unspecified address ::' },
  { url: 'https://[fc00::1]/', reason: 'a unique-local (private) address' },
  { url: 'https://[fd12:3456:789a::1]/', reason: '(uniqueLocal)' },
  { url: 'https://[fd00:ec2::254]/', reason: '(uniqueLocal, cloud metadata endpoint)' },
  { url: 'https://[fe80::1]/', reason: 'a link-local address fe80::1' },
  { url: 'https://[febf::1]/', reason: '(linkLocal)' },
  { url: 'https://[fec0::1]/', reason: 'site-local' },
  { url: 'https://[ff02::1]/', reason: 'a multicast address ff02::1' },
  { url: 'https://[ff05::1:3]/', reason: '(multicast)' },
  {
    url: 'https://[::ffff:127.0.0.1]/',
    reason: 'IPv4-mapped IPv6 address ::ffff:7f00:1 (ipv4Mapped, embeds 127.0.0.1, loopback',
  },
  { url: 'https://[::ffff:10.0.0.1]/', reason: 'embeds 10.0.0.1, private' },
  { url: 'https://[::ffff:169.254.169.254]/', reason: 'embeds 169.254.169.254, linkLocal' },
  { url: 'https://[::ffff:93.184.216.34]/', reason: 'embeds 93.184.216.34; refused whatever it embeds' },
  { url: 'https://[::ffff:0:10.0.0.1]/', reason: 'IPv4-translated' },
  {
    url: 'https://[::127.0.0.1]/',
    reason: 'IPv4-compatible IPv6 address ::7f00:1 (ipv4Compatible, embeds 127.0.0.1',
  },
  {
    url: 'https://[64:ff9b::10.0.0.1]/',
    reason: 'a NAT64 address 64:ff9b::a00:1 (rfc6052, embeds 10.0.0.1, private)',
  },
  { url: 'https://[64:ff9b::169.254.169.254]/', reason: 'embeds 169.254.169.254, linkLocal' },
  { url: 'https://[64:ff9b:1::a00:1]/', reason: 'local-use NAT64 prefix' },
  {
    url: 'https://[2002:a00:1::]/',
    reason: 'a 6to4 address 2002:a00:1:: (6to4, deprecated, embeds 10.0.0.1, private)',
  },
  { url: 'https://[2002:5db8:d822::1]/', reason: '(6to4, deprecated, embeds 93.184.216.34)' },
  { url: 'https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', reason: 'a Teredo address' },
  { url: 'https://[2001:db8::1]/', reason: 'reserved or documentation' },
  { url: 'https://[100::1]/', reason: 'a discard-only address' },
  { url: 'https://[2001:2::1]/', reason: 'a benchmarking address' },
  { url: 'https://[5f00::1]/', reason: 'segment-routing' },
  { url: 'https://[4000::1]/', reason: 'outside global unicast space 2000::/3' },
  // schemes
  { url: 'http://example.com/', reason: 'must use https' },
  { url: 'http://93.184.216.34/', reason: 'must use https' },
  { url: 'javascript:alert(1)', reason: 'scheme "javascript:" is not allowed' },
  { url: 'file:///etc/passwd', reason: 'scheme "file:"' },
  { url: 'ftp://example.com/', reason: 'scheme "ftp:"' },
  { url: 'gopher://example.com:70/_stats', reason: 'scheme "gopher:"' },
  { url: 'data:text/plain,hello', reason: 'scheme "data:"' },
  { url: 'ws://example.com/', reason: 'scheme "ws:"' },
  { url: 'wss://example.com/', reason: 'scheme "wss:"' },
  { url: 'dict://example.com:11211/', reason: 'scheme "dict:"' },
  // credentials
  { url: 'https://user:pass@example.com/', reason: 'must not contain credentials' },
  { url: 'https://user@example.com/', reason: 'must not contain credentials' },
  { url: 'https://:pass@example.com/', reason: 'must not contain credentials' },
  // names that are loopback or internal by definition
  { url: 'https://localhost/', reason: 'a loopback name' },
  { url: 'https://localhost./', reason: 'a loopback name' },
  { url: 'https://LocalHost:8443/', reason: 'a loopback name' },
  { url: 'https://api.localhost/', reason: 'a loopback name' },
  { url: 'https://intranet/', reason: 'single-label name' },
  { url: 'https://metadata/computeMetadata/v1/', reason: 'single-label name' },
  // syntax
  { url: '', reason: 'URL is required' },
  { url: 'not a url', reason: 'not a valid absolute URL' },
  { url: '/relative/path', reason: 'not a valid absolute URL' },
  { url: 'https://', reason: 'not a valid absolute URL' },
  { url: 'https://256.0.0.1/', reason: 'not a valid absolute URL' },
  { url: 'https://1.2.3.4.5/', reason: 'not a valid absolute URL' },
  { url: 'https://example.com:99999/', reason: 'not a valid absolute URL' },
  { url: 'https://[fe80::1%25eth0]/', reason: 'not a valid absolute URL' },
  { url: 'https://example.com:0/', reason: 'port 0' },
  { url: `https://example.com/${'a'.repeat(MAX_URL_LENGTH)}`, reason: 'longer than 2048 characters' },
  { url: `https://example.com/${'é'.repeat(700)}`, reason: 'longer than 2048 characters once normalised' },
  // allowLocalTargets allows loopback only; everything else is still refused
  { url: 'http://10.0.0.1/', reason: '(private)', allowLocalTargets: true },
  { url: 'http://192.168.0.10:3000/', reason: '(private)', allowLocalTargets: true },
  { url: 'http://169.254.169.254/', reason: 'cloud metadata endpoint', allowLocalTargets: true },
  { url: 'http://0.0.0.0:8080/', reason: '(unspecified)', allowLocalTargets: true },
  { url: 'http://[::]:8080/', reason: '(unspecified)', allowLocalTargets: true },
  { url: 'http://[fd00::1]/', reason: '(uniqueLocal)', allowLocalTargets: true },
  { url: 'http://[fe80::1]/', reason: '(linkLocal)', allowLocalTargets: true },
  { url: 'http://[::ffff:127.0.0.1]/', reason: '(ipv4Mapped, embeds 127.0.0.1', allowLocalTargets: true },
  { url: 'http://[64:ff9b::127.0.0.1]/', reason: 'embeds 127.0.0.1, loopback', allowLocalTargets: true },
  { url: 'http://100.100.100.200/', reason: '(carrierGradeNat)', allowLocalTargets: true },
  { url: 'ftp://127.0.0.1/', reason: 'scheme "ftp:"', allowLocalTargets: true },
  { url: 'http://user:pw@localhost/', reason: 'must not contain credentials', allowLocalTargets: true },
  { url: 'http://intranet:8080/', reason: 'single-label name', allowLocalTargets: true },
];

const RESOLUTION_REFUSALS: readonly Refusal[] = [
  {
    url: 'https://internal.example.com/',
    answers: [{ address: '10.0.0.1', family: 4 }],
    reason: 'URL host internal.example.com resolves to a private address 10.0.0.1 (private)',
  },
  {
    url: 'https://rebind.example.com/',
    answers: [PUBLIC_V4, { address: '10.0.0.1', family: 4 }],
    reason: 'resolves to a private address 10.0.0.1',
  },
  {
    url: 'https://rebind6.example.com/',
    answers: [PUBLIC_V6, { address: 'fd00::1', family: 6 }],
    reason: 'resolves to a unique-local (private) address fd00::1',
  },
  {
    url: 'https://metadata.example.com/',
    answers: [{ address: '169.254.169.254', family: 4 }],
    reason: '(linkLocal, cloud metadata endpoint)',
  },
  {
    url: 'https://127.0.0.1.nip.io/',
    answers: [{ address: '127.0.0.1', family: 4 }],
    reason: 'resolves to a loopback address 127.0.0.1 (loopback, local targets are disabled)',
  },
  { url: 'https://loop6.example.com/', answers: [{ address: '::1', family: 6 }], reason: '(loopback' },
  {
    url: 'https://mapped.example.com/',
    answers: [{ address: '::ffff:127.0.0.1', family: 6 }],
    reason: '(ipv4Mapped, embeds 127.0.0.1',
  },
  {
    url: 'https://nat64.example.com/',
    answers: [{ address: '64:ff9b::a9fe:a9fe', family: 6 }],
    reason: 'embeds 169.254.169.254, linkLocal',
  },
  { url: 'https://zero.example.com/', answers: [{ address: '0.0.0.0', family: 4 }], reason: '(unspecified)' },
  {
    url: 'https://cgnat.example.com/',
    answers: [{ address: '100.64.1.1', family: 4 }],
    reason: '(carrierGradeNat)',
  },
  {
    url: 'http://mixed.example.test:8080/',
    answers: [
      { address: '127.0.0.1', family: 4 },
      { address: '192.168.0.1', family: 4 },
    ],
    reason: 'resolves to a private address 192.168.0.1',
    allowLocalTargets: true,
  },
  {
    url: 'http://api.localhost/',
    answers: [{ address: '10.0.0.5', family: 4 }],
    reason: 'resolves to a private address 10.0.0.5',
    allowLocalTargets: true,
  },
];

describe('the SSRF guard refuses unsafe listener URLs', () => {
  it('has a corpus of well over 30 refused URLs', () => {
    expect(SYNTAX_REFUSALS.length + RESOLUTION_REFUSALS.length).toBeGreaterThan(100);
  });

  it.each(SYNTAX_REFUSALS)('refuses $url before any DNS lookup or connection ($reason)', async (c) => {
    const allowLocalTargets = c.allowLocalTargets ?? false;
    const resolve = resolverReturning(PUBLIC_V4);

    expect(() => checkListenerUrl(c.url, { allowLocalTargets })).toThrow(ClientError);
    const error = await refusalOf(resolveListener(c.url, { allowLocalTargets, resolve }));

    expect(error.status).toBe(422);
    expect(error.code).toBe('url_not_allowed');
    expect(error.message).toContain(c.reason);
    expect(resolve).not.toHaveBeenCalled();
    expectNoNetworkActivity();
  });

  it.each(RESOLUTION_REFUSALS)(
    'refuses $url once the resolver answers with any non-public address',
    async (c) => {
      const allowLocalTargets = c.allowLocalTargets ?? false;
      const resolve = resolverReturning(...(c.answers ?? []));

      // The synchronous check cannot know what the name resolves to, so it lets the URL through.
      expect(checkListenerUrl(c.url, { allowLocalTargets })).toBeInstanceOf(URL);
      const error = await refusalOf(resolveListener(c.url, { allowLocalTargets, resolve }));

      expect(error.code).toBe('url_not_allowed');
      expect(error.message).toContain(c.reason);
      expect(resolve).toHaveBeenCalledTimes(1);
      expect(resolve).toHaveBeenCalledWith(new URL(c.url).hostname);
      expectNoNetworkActivity();
    },
  );

  it('refuses a name that resolves to a public address first and a private one second', async () => {
    const resolve = resolverReturning(PUBLIC_V4, PUBLIC_V6, { address: '192.168.10.20', family: 4 });
    const error = await refusalOf(
      resolveListener('https://hooks.example.com/', { allowLocalTargets: false, resolve }),
    );
    expect(error.message).toBe(
      'URL host hooks.example.com resolves to a private address 192.168.10.20 (private)',
    );
    expectNoNetworkActivity();
  });

  it('refuses with dns_failed when the resolver throws, naming the error code but not the URL path', async () => {
    const resolve = vi.fn<Resolver>(async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.example.com'), { code: 'ENOTFOUND' });
    });
    const error = await refusalOf(
      resolveListener('https://nowhere.example.com/secret-path', { allowLocalTargets: false, resolve }),
    );
    expect(error.code).toBe('dns_failed');
    expect(error.status).toBe(422);
    expect(error.message).toBe('URL host nowhere.example.com could not be resolved (ENOTFOUND)');
    expect(error.details).toEqual([{ field: 'url', message: error.message }]);
    expectNoNetworkActivity();
  });

  it('refuses with dns_failed when the resolver returns no addresses', async () => {
    const error = await refusalOf(
      resolveListener('https://empty.example.com/', {
        allowLocalTargets: false,
        resolve: resolverReturning(),
      }),
    );
    expect(error.code).toBe('dns_failed');
    expect(error.message).toContain('did not resolve to any address');
  });

  it.each([
    { address: '127.1', family: 4 },
    { address: '0x7f.0.0.1', family: 4 },
    { address: 'localhost', family: 4 },
    { address: '10.0.0.1', family: 6 },
  ] as unknown as ResolvedAddress[])(
    'refuses with dns_failed when the resolver answers $address as IPv$family',
    async (answer) => {
      const error = await refusalOf(
        resolveListener('https://odd.example.com/', {
          allowLocalTargets: false,
          resolve: resolverReturning(answer),
        }),
      );
      expect(error.code).toBe('dns_failed');
      expect(error.message).toContain('not an IP address');
    },
  );
});

describe('refusal errors', () => {
  it('names the field url in the error details', () => {
    let caught: unknown;
    try {
      checkListenerUrl('https://10.0.0.1/', { allowLocalTargets: false });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ClientError);
    const error = caught as ClientError;
    expect(error.status).toBe(422);
    expect(error.code).toBe('url_not_allowed');
    expect(error.message).toBe('URL host 10.0.0.1 is a private address 10.0.0.1 (private)');
    expect(error.details).toEqual([{ field: 'url', message: error.message }]);
  });

  it('names a caller-chosen field when one is given', async () => {
    const error = await refusalOf(
      resolveListener('https://internal.example.com/', {
        allowLocalTargets: false,
        field: 'listener.url',
        resolve: resolverReturning({ address: '10.1.2.3', family: 4 }),
      }),
    );
    expect(error.details).toEqual([{ field: 'listener.url', message: error.message }]);
  });

  it.each([
    'https://admin:hunter2@example.com/',
    'https://10.0.0.1/hooks?token=tok_live_abc#frag',
    'ftp://example.com/tok_live_abc',
  ])('never echoes credentials, path or query of %s', (url) => {
    expect(() => checkListenerUrl(url, { allowLocalTargets: false })).toThrow(ClientError);
    try {
      checkListenerUrl(url, { allowLocalTargets: false });
    } catch (e) {
      const error = e as ClientError;
      for (const secret of ['hunter2', 'admin', 'tok_live_abc', 'token', 'hooks']) {
        expect(error.message).not.toContain(secret);
      }
    }
  });
});

describe('WHATWG URL parsing, which the guard relies on', () => {
  it.each([
    ['http://2130706433/', '127.0.0.1'],
    ['http://017700000001/', '127.0.0.1'],
    ['http://0177.0.0.1/', '127.0.0.1'],
    ['http://0x7f.0.0.1/', '127.0.0.1'],
    ['http://0x7f.1/', '127.0.0.1'],
    ['http://127.1/', '127.0.0.1'],
    ['http://%31%32%37.0.0.1/', '127.0.0.1'],
    ['http://１２７.０.０.１/', '127.0.0.1'],
    ['http://0/', '0.0.0.0'],
    ['http://0xA9FEA9FE/', '169.254.169.254'],
    ['http://[::ffff:127.0.0.1]/', '[::ffff:7f00:1]'],
    ['http://[0:0:0:0:0:0:0:1]/', '[::1]'],
    ['https:/\\10.0.0.1/', '10.0.0.1'],
    ['https://example.com\\@10.0.0.1/', 'example.com'],
  ])('normalises the host of %s to %s', (raw, hostname) => {
    expect(new URL(raw).hostname).toBe(hostname);
  });
});

describe('the SSRF guard accepts public listeners', () => {
  it('accepts an https name that resolves to a public address, without connecting', async () => {
    const resolve = resolverReturning(PUBLIC_V4);
    const { url, addresses } = await resolveListener('https://example.com/hooks/commbox', {
      allowLocalTargets: false,
      resolve,
    });
    expect(url.href).toBe('https://example.com/hooks/commbox');
    expect(addresses).toEqual([PUBLIC_V4]);
    expect(resolve).toHaveBeenCalledExactlyOnceWith('example.com');
    expectNoNetworkActivity();
  });

  it('accepts any port and keeps every public address in resolver order', async () => {
    const { url, addresses } = await resolveListener('https://example.com:8443/x', {
      allowLocalTargets: false,
      resolve: resolverReturning(PUBLIC_V6, PUBLIC_V4),
    });
    expect(url.port).toBe('8443');
    expect(addresses).toEqual([PUBLIC_V6, PUBLIC_V4]);
  });

  it.each([
    ['https://93.184.216.34/hook', PUBLIC_V4],
    ['https://[2606:2800:220:1:248:1893:25c8:1946]/hook', PUBLIC_V6],
    ['https://[64:ff9b::93.184.216.34]/hook', { address: '64:ff9b::5db8:d822', family: 6 }],
  ] as const)('accepts the public IP literal %s without calling the resolver', async (raw, expected) => {
    const resolve = resolverReturning();
    const { addresses } = await resolveListener(raw, { allowLocalTargets: false, resolve });
    expect(addresses).toEqual([expected]);
    expect(resolve).not.toHaveBeenCalled();
    expectNoNetworkActivity();
  });

  it('normalises the URL it returns', () => {
    expect(checkListenerUrl('HTTPS://Example.COM:443/a', { allowLocalTargets: false }).href).toBe(
      'https://example.com/a',
    );
  });

  it('passes an internationalised name to the resolver in punycode', async () => {
    const resolve = resolverReturning(PUBLIC_V4);
    await resolveListener('https://bücher.example/', { allowLocalTargets: false, resolve });
    expect(resolve).toHaveBeenCalledWith('xn--bcher-kva.example');
  });

  it('accepts a fully-qualified name with a trailing dot', async () => {
    const resolve = resolverReturning(PUBLIC_V4);
    await resolveListener('https://example.com./', { allowLocalTargets: false, resolve });
    expect(resolve).toHaveBeenCalledWith('example.com.');
  });

  it('accepts a URL of exactly the maximum length', () => {
    const raw = `https://example.com/${'a'.repeat(MAX_URL_LENGTH - 'https://example.com/'.length)}`;
    expect(raw.length).toBe(MAX_URL_LENGTH);
    expect(checkListenerUrl(raw, { allowLocalTargets: false }).href).toBe(raw);
  });
});

describe('local targets', () => {
  it.each([
    ['http://127.0.0.1:8080/', '127.0.0.1'],
    ['http://127.1:8080/', '127.0.0.1'],
    ['https://127.0.0.53/', '127.0.0.53'],
    ['http://[::1]:8080/', '::1'],
    ['http://localhost:3000/', '127.0.0.1'],
    ['http://localhost.:3000/', '127.0.0.1'],
  ])('allows %s only when allowLocalTargets is set', async (raw, firstAddress) => {
    const resolve = resolverReturning();
    await expect(resolveListener(raw, { allowLocalTargets: false, resolve })).rejects.toBeInstanceOf(
      ClientError,
    );

    const { addresses } = await resolveListener(raw, { allowLocalTargets: true, resolve });
    expect(addresses[0]?.address).toBe(firstAddress);
    expect(resolve).not.toHaveBeenCalled();
    expectNoNetworkActivity();
  });

  it('answers localhost with 127.0.0.1 and ::1 without asking the resolver', async () => {
    const resolve = resolverReturning({ address: '10.0.0.1', family: 4 });
    const { addresses } = await resolveListener('http://localhost:3000/', {
      allowLocalTargets: true,
      resolve,
    });
    expect(addresses).toEqual([
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ]);
    expect(resolve).not.toHaveBeenCalled();
  });

  it('allows a name that resolves to loopback only when allowLocalTargets is set', async () => {
    const resolve = resolverReturning({ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 });
    await expect(
      resolveListener('http://listener.test/', { allowLocalTargets: false, resolve }),
    ).rejects.toThrow('must use https');
    await expect(
      resolveListener('https://listener.test/', { allowLocalTargets: false, resolve }),
    ).rejects.toThrow('resolves to a loopback address 127.0.0.1');
    const { addresses } = await resolveListener('http://listener.test/', {
      allowLocalTargets: true,
      resolve,
    });
    expect(addresses).toHaveLength(2);
  });

  it('refuses plain http to a public host without allowLocalTargets and allows it with', async () => {
    const resolve = resolverReturning(PUBLIC_V4);
    await expect(
      resolveListener('http://example.com/', { allowLocalTargets: false, resolve }),
    ).rejects.toThrow('URL must use https (plain http is not allowed)');
    await expect(
      resolveListener('http://example.com/', { allowLocalTargets: true, resolve }),
    ).resolves.toMatchObject({
      addresses: [PUBLIC_V4],
    });
  });
});

describe("the service's own ports", () => {
  const policy = { allowLocalTargets: true, refusedLoopbackPorts: [3000, 4566, 80] };

  it.each([
    'http://127.0.0.1:3000/subscriptions',
    'http://127.0.0.2:3000/',
    'http://127.1:4566/',
    'http://[::1]:3000/',
    'http://localhost:3000/',
    'http://LOCALHOST.:4566/',
    'http://api.localhost:3000/',
    'http://127.0.0.1/',
    'http://127.0.0.1:80/',
  ])('refuses %s as a listener, before any lookup', async (raw) => {
    const resolve = resolverReturning({ address: '127.0.0.1', family: 4 });
    expect(() => checkListenerUrl(raw, policy)).toThrow("is this service's own");
    await expect(resolveListener(raw, { ...policy, resolve })).rejects.toThrow("is this service's own");
    expect(resolve).not.toHaveBeenCalled();
    expectNoNetworkActivity();
  });

  it('refuses a name that resolves to loopback on one of those ports', async () => {
    const resolve = resolverReturning({ address: '::1', family: 6 });
    await expect(resolveListener('http://listener.test:3000/', { ...policy, resolve })).rejects.toThrow(
      "URL port 3000 of listener.test is this service's own",
    );
  });

  it('allows other loopback ports, and those ports on public hosts', async () => {
    await expect(
      resolveListener('http://127.0.0.1:3001/', { ...policy, resolve: resolverReturning() }),
    ).resolves.toMatchObject({ addresses: [{ address: '127.0.0.1' }] });
    await expect(
      resolveListener('https://example.com:3000/', { ...policy, resolve: resolverReturning(PUBLIC_V4) }),
    ).resolves.toMatchObject({ addresses: [PUBLIC_V4] });
  });
});

describe('address classification', () => {
  it.each([
    ['93.184.216.34', false, true, 'unicast'],
    ['8.8.8.8', false, true, 'unicast'],
    ['2606:4700:4700::1111', false, true, 'unicast'],
    ['64:ff9b::808:808', false, true, 'rfc6052'],
    ['127.0.0.1', false, false, 'loopback'],
    ['127.0.0.1', true, true, 'loopback'],
    ['127.200.1.1', true, true, 'loopback'],
    ['::1', true, true, 'loopback'],
    ['::ffff:127.0.0.1', true, false, 'ipv4Mapped'],
    ['10.0.0.1', true, false, 'private'],
    ['169.254.169.254', true, false, 'linkLocal'],
    ['fd00:ec2::254', true, false, 'uniqueLocal'],
    ['::7f00:1', true, false, 'ipv4Compatible'],
    ['3fff::1', false, false, 'reserved'],
  ] as const)(
    'classifies %s with allowLocalTargets %s as allowed=%s (%s)',
    (address, allowLocalTargets, allowed, range) => {
      const verdict = classifyAddress(address, { allowLocalTargets });
      expect(verdict.allowed).toBe(allowed);
      expect(verdict.range).toBe(range);
    },
  );

  it.each(['127.1', '0x7f.0.0.1', '2130706433', 'localhost', '', '[::1]'])(
    'refuses %j, which is not a strict IP literal',
    (address) => {
      expect(classifyAddress(address, { allowLocalTargets: true })).toMatchObject({
        allowed: false,
        range: 'invalid',
      });
    },
  );
});

type LookupResult = { err: NodeJS.ErrnoException | null; address: unknown; family: unknown };

function callLookup(
  lookup: ReturnType<typeof pinnedLookup>,
  hostname: string,
  options: dns.LookupOptions,
): Promise<LookupResult> {
  return new Promise((resolve) => {
    lookup(hostname, options, (err, address, family) => resolve({ err, address, family }));
  });
}

describe('pinnedLookup', () => {
  const addresses: ResolvedAddress[] = [PUBLIC_V6, PUBLIC_V4];

  it('answers the {all: true} call shape with every pinned address', async () => {
    const result = await callLookup(pinnedLookup(addresses), 'example.com', { all: true });
    expect(result).toEqual({ err: null, address: addresses, family: undefined });
  });

  it('answers the single-address call shape with the first pinned address', async () => {
    const result = await callLookup(pinnedLookup(addresses), 'example.com', {});
    expect(result).toEqual({ err: null, address: PUBLIC_V6.address, family: 6 });
  });

  it('filters by the requested family', async () => {
    const lookup = pinnedLookup(addresses);
    expect(await callLookup(lookup, 'example.com', { family: 4 })).toMatchObject({
      address: '93.184.216.34',
      family: 4,
    });
    expect(await callLookup(lookup, 'example.com', { family: 'IPv6', all: true })).toMatchObject({
      address: [PUBLIC_V6],
    });
  });

  it('fails with ENOTFOUND when no pinned address has the requested family', async () => {
    const result = await callLookup(pinnedLookup([PUBLIC_V4]), 'example.com', { family: 6 });
    expect(result.err?.code).toBe('ENOTFOUND');
  });

  it('refuses to answer for a host other than the one it was pinned for', async () => {
    const lookup = pinnedLookup(addresses, 'example.com');
    expect((await callLookup(lookup, 'EXAMPLE.com.', { all: true })).err).toBeNull();
    const other = await callLookup(lookup, 'evil.example.net', { all: true });
    expect(other.err?.code).toBe('ENOTFOUND');
    expect(other.err?.message).toContain('refuses to resolve evil.example.net');
  });

  it('answers asynchronously, like dns.lookup', () => {
    const callback = vi.fn();
    pinnedLookup(addresses)('example.com', { all: true }, callback);
    expect(callback).not.toHaveBeenCalled();
  });

  it('never calls DNS', async () => {
    await callLookup(pinnedLookup(addresses), 'example.com', { all: true });
    await callLookup(pinnedLookup(addresses), 'example.com', {});
    expectNoNetworkActivity();
  });

  it('rejects an empty address list', () => {
    expect(() => pinnedLookup([])).toThrow(TypeError);
  });
});

describe('connecting through the pinned lookup to a loopback server', () => {
  let server: http.Server;
  let port = 0;
  let connections = 0;
  const hostHeaders: string[] = [];

  beforeAll(async () => {
    // listen() looks up '127.0.0.1' through dns.lookup; drop the previous test's throwing mock first.
    vi.restoreAllMocks();
    server = http.createServer((req, res) => {
      hostHeaders.push(req.headers.host ?? '');
      res.end('delivered');
    });
    server.on('connection', () => {
      connections += 1;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => {
    connections = 0;
    hostHeaders.length = 0;
  });

  // autoSelectFamily reaches net.connect through the agent, but http.RequestOptions does not declare it.
  function get(
    url: URL | string,
    options: http.RequestOptions & { autoSelectFamily?: boolean },
  ): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(url, { ...options, method: 'GET' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it.each([true, false])(
    'reaches http://listener.test:PORT/ via the checked 127.0.0.1 with autoSelectFamily %s, without DNS',
    async (autoSelectFamily) => {
      const resolve = resolverReturning({ address: '127.0.0.1', family: 4 });
      const { url, addresses } = await resolveListener(`http://listener.test:${port}/hook`, {
        allowLocalTargets: true,
        resolve,
      });
      const lookup = vi.fn(pinnedLookup(addresses, url.hostname));
      const agents = createListenerAgent({ allowLocalTargets: true, keepAlive: false });
      try {
        const response = await get(url, { agent: agents.http, lookup, autoSelectFamily });
        expect(response).toEqual({ status: 200, body: 'delivered' });
      } finally {
        agents.http.destroy();
        agents.https.destroy();
      }
      expect(hostHeaders).toEqual([`listener.test:${port}`]);
      expect(connections).toBe(1);
      expect(resolve).toHaveBeenCalledTimes(1);
      expect(lookup).toHaveBeenCalledTimes(1);
      expect(lookup.mock.calls[0]?.[0]).toBe('listener.test');
      // autoSelectFamily asks for {all: true}; without it net asks for a single address.
      expect(lookup.mock.calls[0]?.[1]?.all === true).toBe(autoSelectFamily);
      expect(dnsLookupSpy).not.toHaveBeenCalled();
    },
  );

  it('the socket-level agent refuses a loopback address that slipped past the guard, before connecting', async () => {
    const agents = createListenerAgent({ allowLocalTargets: false, keepAlive: false });
    const lookup = pinnedLookup([{ address: '127.0.0.1', family: 4 }], 'listener.test');
    await expect(get(`http://listener.test:${port}/`, { agent: agents.http, lookup })).rejects.toThrow(
      /127\.0\.0\.1.*is not allowed/,
    );
    expect(connections).toBe(0);
    expect(dnsLookupSpy).not.toHaveBeenCalled();
  });

  it('the socket-level agent refuses a loopback IP-literal host without opening a socket', async () => {
    const agents = createListenerAgent({ allowLocalTargets: false, keepAlive: false });
    await expect(get(`http://127.0.0.1:${port}/`, { agent: agents.http })).rejects.toThrow(/is not allowed/);
    expect(connections).toBe(0);
    expect(connectSpy).not.toHaveBeenCalled();
  });

  it('the socket-level agent with allowLocalTargets lets a loopback IP-literal host through', async () => {
    const agents = createListenerAgent({ allowLocalTargets: true, keepAlive: false });
    try {
      expect(await get(`http://127.0.0.1:${port}/`, { agent: agents.http })).toEqual({
        status: 200,
        body: 'delivered',
      });
    } finally {
      agents.http.destroy();
    }
    expect(connections).toBe(1);
  });
});
