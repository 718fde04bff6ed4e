/**
 * SSRF guard for listener URLs.
 *
 * Three layers, used together by the delivery path:
 * 1. `checkListenerUrl`: synchronous syntax, scheme, credentials and IP-literal checks. Use it at
 *    subscription create/update time.
 * 2. `resolveListener`: the same checks, then resolves the host with an *injected* resolver and
 *    refuses unless every answer is public unicast (see ./ssrf-address.ts for the address policy).
 * 3. `pinnedLookup` + `createListenerAgent`: the request connects to the checked addresses only (no
 *    second DNS lookup, so DNS rebinding between check and connect cannot work). request-filtering-agent
 *    checks again, on the address the socket actually connects to.
 *
 * Usage at delivery time:
 *   const { url, addresses } = await resolveListener(raw, { allowLocalTargets, resolve: defaultResolver });
 *   const agents = createListenerAgent({ allowLocalTargets, keepAlive: true }); // once per container
 *   https.request(url, { agent: agents.https, lookup: pinnedLookup(addresses, url.hostname), ... });
 *
 * Decisions:
 * - Any port is allowed. Listeners do run on 8443, 9000 and so on. Once every address is known to
 *   be public, a port allow-list adds no SSRF protection, because the attacker cannot reach our
 *   network through it. Port 0 is refused because nothing can be connected to on it.
 * - Plain http is allowed only when `allowLocalTargets` is set (local dev/test runtimes). It is then
 *   allowed for any target that passes the address policy. Production is https-only.
 * - `localhost`, `localhost.` and `*.localhost` (RFC 6761) are refused without DNS unless
 *   `allowLocalTargets` is set. `localhost` is then answered with 127.0.0.1 and ::1 without calling the
 *   resolver. Other names, `*.localhost` included, go through the resolver and must resolve to loopback.
 * - Single-label host names (`https://intranet/`) are refused. No public listener can have one
 *   (ICANN forbids dotless domains), and search-domain expansion makes them resolve to internal hosts.
 * - Messages name the host (and the offending address). They never contain the path, query or
 *   credentials, which may hold secrets.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { AgentOptions as HttpAgentOptions } from 'node:http';
import type { AgentOptions as HttpsAgentOptions } from 'node:https';
import { isIP, isIPv4, type LookupFunction } from 'node:net';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';
import { ClientError } from './errors.js';
import { type AddressPolicy, classifyAddress } from './ssrf-address.js';

export { type AddressPolicy, type AddressVerdict, classifyAddress } from './ssrf-address.js';

export const MAX_URL_LENGTH = 2048;

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Resolves a host name to all its addresses. Injected so tests never touch real DNS. */
export type Resolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export interface ListenerUrlOptions extends AddressPolicy {
  /** Field path named in the error details; default `url`. */
  readonly field?: string;
}

export interface ResolveListenerOptions extends ListenerUrlOptions {
  readonly resolve: Resolver;
}

export interface ResolvedListener {
  readonly url: URL;
  /** Every address the host resolved to, all allowed, in resolver order. Feed them to `pinnedLookup`. */
  readonly addresses: readonly ResolvedAddress[];
}

/**
 * Production resolver: getaddrinfo through `dns.promises.lookup` with every answer, in resolver order.
 * (`order: 'verbatim'` replaces the deprecated `verbatim: true`.) Never used by the unit tests.
 */
export const defaultResolver: Resolver = async (hostname) => {
  const answers = await dnsLookup(hostname, { all: true, order: 'verbatim' });
  return answers.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
};

const LOCALHOST_ADDRESSES: readonly ResolvedAddress[] = [
  { address: '127.0.0.1', family: 4 },
  { address: '::1', family: 6 },
];

function refuse(message: string, field: string, code = 'url_not_allowed'): ClientError {
  return new ClientError(422, code, message, [{ field, message }]);
}

/** Lower-case host name without the trailing root dot, for name comparisons. */
function bareName(hostname: string): string {
  return hostname.toLowerCase().replace(/\.$/, '');
}

function isLocalhostName(name: string): boolean {
  return name === 'localhost' || name.endsWith('.localhost');
}

/** The IP literal a parsed URL's hostname denotes, or undefined for a domain name. */
function ipLiteral(hostname: string): ResolvedAddress | undefined {
  if (hostname.startsWith('[') && hostname.endsWith(']')) {
    return { address: hostname.slice(1, -1), family: 6 };
  }
  // WHATWG URL has already turned decimal, octal, hex and short IPv4 forms into a dotted quad.
  if (isIPv4(hostname)) return { address: hostname, family: 4 };
  return undefined;
}

/**
 * Synchronous checks: length, syntax, scheme, credentials, port, localhost names, and the address
 * policy for IP-literal hosts. Returns the parsed (normalised) URL. Throws
 * `ClientError(422, 'url_not_allowed')` with one detail for the `url` field.
 */
export function checkListenerUrl(raw: string, opts: ListenerUrlOptions): URL {
  const field = opts.field ?? 'url';
  if (typeof raw !== 'string' || raw.length === 0) throw refuse('URL is required', field);
  if (raw.length > MAX_URL_LENGTH) throw refuse(`URL is longer than ${MAX_URL_LENGTH} characters`, field);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse('URL is not a valid absolute URL', field);
  }
  if (url.protocol === 'http:') {
    if (!opts.allowLocalTargets) throw refuse('URL must use https (plain http is not allowed)', field);
  } else if (url.protocol !== 'https:') {
    throw refuse(`URL scheme ${JSON.stringify(url.protocol.slice(0, 20))} is not allowed; use https`, field);
  }
  if (url.username !== '' || url.password !== '') {
    throw refuse('URL must not contain credentials (user:password@)', field);
  }
  if (url.href.length > MAX_URL_LENGTH) {
    throw refuse(`URL is longer than ${MAX_URL_LENGTH} characters once normalised`, field);
  }
  const host = url.hostname;
  if (host === '') throw refuse('URL has no host', field);
  if (url.port === '0') throw refuse(`URL port 0 of host ${host} is not a usable port`, field);

  const literal = ipLiteral(host);
  if (literal !== undefined) {
    const verdict = classifyAddress(literal.address, opts);
    if (!verdict.allowed) throw refuse(`URL host ${host} is ${verdict.reason}`, field);
    return url;
  }
  const name = bareName(host);
  if (isLocalhostName(name)) {
    if (!opts.allowLocalTargets)
      throw refuse(`URL host ${host} is a loopback name (local targets are disabled)`, field);
    return url;
  }
  if (!name.includes('.')) {
    throw refuse(`URL host ${host} is a single-label name; use a fully-qualified domain name`, field);
  }
  return url;
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === 'string' && /^[A-Z_]{1,40}$/.test(code) ? code : undefined;
}

/**
 * `checkListenerUrl`, then resolve the host (IP literals and `localhost` skip the resolver) and refuse
 * unless every answer is allowed. One private answer among public ones refuses the whole URL.
 * Resolver failures and empty answers throw `ClientError(422, 'dns_failed')`.
 */
export async function resolveListener(raw: string, opts: ResolveListenerOptions): Promise<ResolvedListener> {
  const field = opts.field ?? 'url';
  const url = checkListenerUrl(raw, opts);
  const host = url.hostname;
  const literal = ipLiteral(host);
  if (literal !== undefined) return { url, addresses: [literal] };
  if (bareName(host) === 'localhost') return { url, addresses: LOCALHOST_ADDRESSES };

  let answers: readonly ResolvedAddress[];
  try {
    answers = await opts.resolve(host);
  } catch (error) {
    const code = errorCode(error);
    throw refuse(
      `URL host ${host} could not be resolved${code === undefined ? '' : ` (${code})`}`,
      field,
      'dns_failed',
    );
  }
  if (!Array.isArray(answers) || answers.length === 0) {
    throw refuse(`URL host ${host} did not resolve to any address`, field, 'dns_failed');
  }
  const addresses: ResolvedAddress[] = [];
  for (const answer of answers) {
    const family = isIP(answer?.address ?? '');
    if (family === 0 || family !== answer.family) {
      throw refuse(`URL host ${host} resolved to something that is not an IP address`, field, 'dns_failed');
    }
    const verdict = classifyAddress(answer.address, opts);
    if (!verdict.allowed) throw refuse(`URL host ${host} resolves to ${verdict.reason}`, field);
    addresses.push({ address: answer.address, family: answer.family });
  }
  return { url, addresses };
}

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
 * http/https agents that check again, at socket level, the address actually connected to. They use
 * request-filtering-agent, which wraps the connection's `lookup` (our `pinnedLookup` when given) and
 * checks IP-literal hosts directly, so both run before any TCP connect. It refuses every
 * non-`unicast` ipaddr.js range. With `allowLocalTargets` only 127.0.0.0/8 and ::1 are added back.
 *
 * Differences from our guard, acceptable because the guard runs first: the agent accepts IPv6
 * "unicast" outside 2000::/3 (the guard refuses it). It also refuses all NAT64 64:ff9b::/96 addresses,
 * so on an IPv6-only subnet with DNS64 the guard would pass those but the agent would still block
 * them. Known quirk: an IPv6 address checked against the IPv4 CIDR in the allow list logs a
 * misleading "Invalid CIDR" warning. That happens only with allowLocalTargets, and only for an
 * address that is then refused. Listing '::1' first keeps ::1 itself from hitting it.
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
