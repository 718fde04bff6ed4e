/**
 * The resolving and pinning half of the SSRF guard: the production DNS resolver, a `lookup` that answers
 * only with the addresses the guard checked (no second DNS query, so no rebinding), and http/https agents
 * that check the connected address again at socket level (request-filtering-agent).
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { AgentOptions as HttpAgentOptions } from 'node:http';
import type { AgentOptions as HttpsAgentOptions } from 'node:https';
import type { LookupFunction } from 'node:net';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';
import { bareName, type ResolvedAddress, type Resolver } from '../core/ssrf.js';
import type { AddressPolicy } from '../core/ssrf-address.js';

/**
 * Production resolver: getaddrinfo through `dns.promises.lookup` with every answer, in resolver order.
 * (`order: 'verbatim'` replaces the deprecated `verbatim: true`.) Never used by the unit tests.
 */
export const defaultResolver: Resolver = async (hostname) => {
  const answers = await dnsLookup(hostname, { all: true, order: 'verbatim' });
  return answers.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
};

function wantedFamily(family: number | string | undefined): 0 | 4 | 6 {
  if (family === 4 || family === 'IPv4') return 4;
  if (family === 6 || family === 'IPv6') return 6;
  return 0;
}

function lookupError(message: string, hostname: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code: 'ENOTFOUND', hostname, syscall: 'getaddrinfo' });
}

/**
 * A `lookup` for `http.request` / `https.request` / `net.connect` / `tls.connect` that answers only
 * with `addresses` (normally `resolveListener(...).addresses`) and never calls DNS. It handles both
 * call shapes: `{all: true}` (Node's default with autoSelectFamily) gets the whole list, and otherwise
 * the first address is returned. A `family` option filters the list. With `hostname` given, a lookup
 * for any other name (e.g. a redirect target reusing the options) fails with ENOTFOUND.
 */
export function pinnedLookup(addresses: readonly ResolvedAddress[], hostname?: string): LookupFunction {
  if (addresses.length === 0) throw new TypeError('pinnedLookup needs at least one address');
  const pinned = addresses.map(({ address, family }) => ({ address, family }));
  const expected = hostname === undefined ? undefined : bareName(hostname);
  return (host, options, callback) => {
    const wanted = wantedFamily(options?.family);
    const matching = wanted === 0 ? pinned : pinned.filter((a) => a.family === wanted);
    const all = options?.all === true;
    let error: NodeJS.ErrnoException | undefined;
    if (expected !== undefined && bareName(host) !== expected) {
      error = lookupError(`pinned lookup for ${expected} refuses to resolve ${host}`, host);
    } else if (matching.length === 0) {
      error = lookupError(`pinned lookup for ${host} has no IPv${wanted} address`, host);
    }
    // Answer asynchronously, as dns.lookup does.
    process.nextTick(() => {
      const first = matching[0];
      if (error !== undefined || first === undefined) {
        callback(error ?? null, all ? [] : '');
      } else if (all) {
        callback(
          null,
          matching.map((a) => ({ ...a })),
        );
      } else {
        callback(null, first.address, first.family);
      }
    });
  };
}

export interface ListenerAgentOptions
  extends AddressPolicy,
    Omit<HttpsAgentOptions & HttpAgentOptions, 'lookup' | 'allowPrivateIPAddress'> {}

export interface ListenerAgents {
  readonly http: RequestFilteringHttpAgent;
  readonly https: RequestFilteringHttpsAgent;
}

/**
 * http/https agents that check again, at socket level, the address actually connected to
 * (request-filtering-agent wraps the connection's `lookup`, our `pinnedLookup` when given, and checks
 * IP-literal hosts directly, before any TCP connect). With `allowLocalTargets` only 127.0.0.0/8 and ::1
 * are added back. Where it differs from the guard, and its "Invalid CIDR" warning: docs/DECISIONS.md.
 */
export function createListenerAgent(options: ListenerAgentOptions): ListenerAgents {
  const { allowLocalTargets, ...agentOptions } = options;
  const filter = {
    allowPrivateIPAddress: false,
    allowMetaIPAddress: false,
    allowIPAddressList: allowLocalTargets ? ['::1', '127.0.0.0/8'] : [],
    denyIPAddressList: [],
  };
  return {
    http: new RequestFilteringHttpAgent({ ...agentOptions, ...filter }),
    https: new RequestFilteringHttpsAgent({ ...agentOptions, ...filter }),
  };
}
