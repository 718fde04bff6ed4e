/**
 * SSRF guard for listener URLs: the decisions, with no I/O. `checkListenerUrl` checks syntax, scheme,
 * credentials and IP-literal hosts (at subscription create/update); `resolveListener` does the same, then
 * resolves the host with an *injected* resolver and refuses unless every answer is public unicast
 * (./ssrf-address.ts). The resolver, the pinned lookup and the socket-level agents are adapters
 * (lambdas/adapters/ssrf-network.ts). Why each rule: docs/DECISIONS.md, "SSRF guard".
 */
import { ClientError } from './errors.js';
import { type AddressPolicy, classifyAddress, ipFamily } from './ssrf-address.js';

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

const LOCALHOST_ADDRESSES: readonly ResolvedAddress[] = [
  { address: '127.0.0.1', family: 4 },
  { address: '::1', family: 6 },
];

function refuse(message: string, field: string, code = 'url_not_allowed'): ClientError {
  return new ClientError(422, code, message, [{ field, message }]);
}

/** Lower-case host name without the trailing root dot, for name comparisons. */
export function bareName(hostname: string): string {
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
  if (ipFamily(hostname) === 4) return { address: hostname, family: 4 };
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
    if (verdict.range === 'loopback') refuseServicePort(url, opts, field);
    return url;
  }
  const name = bareName(host);
  if (isLocalhostName(name)) {
    if (!opts.allowLocalTargets)
      throw refuse(`URL host ${host} is a loopback name (local targets are disabled)`, field);
    refuseServicePort(url, opts, field);
    return url;
  }
  if (!name.includes('.')) {
    throw refuse(`URL host ${host} is a single-label name; use a fully-qualified domain name`, field);
  }
  return url;
}

/** The port a URL connects to: its own, or its scheme's. */
function portOf(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

/** Refuses a loopback listener on one of the service's own ports (AddressPolicy.refusedLoopbackPorts). */
function refuseServicePort(url: URL, opts: ListenerUrlOptions, field: string): void {
  const port = portOf(url);
  if (opts.refusedLoopbackPorts?.includes(port))
    throw refuse(
      `URL port ${port} of ${url.hostname} is this service's own; a listener cannot be the service`,
      field,
    );
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
    const family = ipFamily(answer?.address ?? '');
    if (family === 0 || family !== answer.family) {
      throw refuse(`URL host ${host} resolved to something that is not an IP address`, field, 'dns_failed');
    }
    const verdict = classifyAddress(answer.address, opts);
    if (!verdict.allowed) throw refuse(`URL host ${host} resolves to ${verdict.reason}`, field);
    if (verdict.range === 'loopback') refuseServicePort(url, opts, field);
    addresses.push({ address: answer.address, family: answer.family });
  }
  return { url, addresses };
}
