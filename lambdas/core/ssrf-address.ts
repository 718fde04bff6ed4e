/**
 * Address classification for the SSRF guard (see ./ssrf.ts): whether one IP address is a destination a
 * webhook may go to. Only public unicast addresses pass (ipaddr.js's RFC 6890 range names, and IPv6
 * within 2000::/3); NAT64 passes only with a public embedded IPv4; mapped, 6to4 and Teredo forms never
 * do; `allowLocalTargets` adds back loopback alone. Why each rule: docs/DECISIONS.md, "SSRF guard".
 */
import ipaddr from 'ipaddr.js';

export interface AddressPolicy {
  /** Allow loopback (127.0.0.0/8, ::1); for local development and tests only. */
  readonly allowLocalTargets: boolean;
  /**
   * Ports of the service itself on loopback (its API, its internal stores): a loopback listener on one of
   * them would be the service calling itself, its answer shown to the tenant. Refused on any loopback
   * address or name (./ssrf.ts).
   */
  readonly refusedLoopbackPorts?: readonly number[];
}

/** The ipaddr.js range name (`private`, `linkLocal`, ...) plus a reason for refusals. */
export type AddressVerdict =
  | { readonly allowed: true; readonly address: string; readonly range: string }
  | { readonly allowed: false; readonly address: string; readonly range: string; readonly reason: string };

const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');
const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR('64:ff9b::/96');
const IPV4_COMPATIBLE = ipaddr.IPv6.parseCIDR('::/96');

/** Cloud metadata endpoints (AWS IMDS v4/v6, ECS task metadata), named in messages to make refusals obvious. */
const METADATA_ADDRESSES = new Set(['169.254.169.254', '169.254.170.2', 'fd00:ec2::254']);

const DESCRIPTIONS: Readonly<Record<string, string>> = {
  unspecified: 'an unspecified address',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address',
  loopback: 'a loopback address',
  carrierGradeNat: 'a carrier-grade NAT address',
  private: 'a private address',
  reserved: 'a reserved or documentation address',
  benchmarking: 'a benchmarking address',
  as112: 'an AS112 (DNS sink) address',
  as112v6: 'an AS112 (DNS sink) address',
  amt: 'an AMT relay anycast address',
  uniqueLocal: 'a unique-local (private) address',
  deprecatedSiteLocal: 'a site-local (private) address',
  discard: 'a discard-only address',
  ipv4Mapped: 'an IPv4-mapped IPv6 address',
  rfc6145: 'an IPv4-translated IPv6 address',
  rfc6052: 'a NAT64 address',
  '6to4': 'a 6to4 address',
  teredo: 'a Teredo address',
  deprecatedOrchid: 'a non-routable ORCHID address',
  orchid2: 'a non-routable ORCHID address',
  droneRemoteIdProtocolEntityTags: 'a non-routable DRIP address',
  segmentRouting: 'a segment-routing address',
  ipv4Compatible: 'a deprecated IPv4-compatible IPv6 address',
  notGlobalUnicast: 'an IPv6 address outside global unicast space 2000::/3',
};

function refuse(address: string, range: string, detail?: string): AddressVerdict {
  const description = DESCRIPTIONS[range] ?? 'a special-purpose address';
  const notes = [range];
  if (METADATA_ADDRESSES.has(address)) notes.push('cloud metadata endpoint');
  if (detail !== undefined) notes.push(detail);
  return { allowed: false, address, range, reason: `${description} ${address} (${notes.join(', ')})` };
}

/** The IPv4 address carried in bytes [from, from + 4) of an IPv6 address. */
function embeddedV4(ip: ipaddr.IPv6, from: number): string {
  return ipaddr.fromByteArray(ip.toByteArray().slice(from, from + 4)).toString();
}

function embeddedNote(v4: string): string {
  const inner = classifyAddress(v4, { allowLocalTargets: false });
  return inner.allowed ? `embeds ${v4}` : `embeds ${v4}, ${inner.range}`;
}

function classifyV4(ip: ipaddr.IPv4, address: string, policy: AddressPolicy): AddressVerdict {
  const range = ip.range();
  if (range === 'unicast') return { allowed: true, address, range };
  if (range === 'loopback') {
    if (policy.allowLocalTargets) return { allowed: true, address, range };
    return refuse(address, range, 'local targets are disabled');
  }
  return refuse(address, range);
}

function classifyV6(ip: ipaddr.IPv6, address: string, policy: AddressPolicy): AddressVerdict {
  const range: string = ip.range();
  switch (range) {
    case 'loopback':
      if (policy.allowLocalTargets) return { allowed: true, address, range };
      return refuse(address, range, 'local targets are disabled');
    case 'ipv4Mapped':
    case 'rfc6145':
      return refuse(address, range, `${embeddedNote(embeddedV4(ip, 12))}; refused whatever it embeds`);
    case 'rfc6052': {
      if (!ip.match(NAT64_WELL_KNOWN)) return refuse(address, range, 'local-use NAT64 prefix');
      const v4 = embeddedV4(ip, 12);
      const inner = classifyAddress(v4, { allowLocalTargets: false });
      if (inner.allowed) return { allowed: true, address, range };
      return refuse(address, range, `embeds ${v4}, ${inner.range}`);
    }
    case '6to4':
      return refuse(address, range, `deprecated, ${embeddedNote(embeddedV4(ip, 2))}`);
    case 'teredo':
      return refuse(address, range, 'deprecated tunnelling prefix');
    case 'unicast':
      if (ip.match(GLOBAL_UNICAST_V6)) return { allowed: true, address, range };
      if (ip.match(IPV4_COMPATIBLE))
        return refuse(address, 'ipv4Compatible', embeddedNote(embeddedV4(ip, 12)));
      return refuse(address, 'notGlobalUnicast');
    default:
      return refuse(address, range);
  }
}

/**
 * 4 or 6 for a strict IP literal (as `net.isIP` decides), 0 otherwise. ipaddr.js alone is lenient with
 * IPv4 forms (`127.1`, `0x7f.0.0.1`), also inside IPv6 (`::ffff:0x7f.0.0.1`), so dotted parts must be
 * four plain decimals.
 */
export function ipFamily(text: string): 0 | 4 | 6 {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return 4;
  if (!ipaddr.IPv6.isValid(text)) return 0;
  const dotted = /:([^:%]*\.[^:%]*)(%.*)?$/.exec(text)?.[1];
  return dotted === undefined || ipaddr.IPv4.isValidFourPartDecimal(dotted) ? 6 : 0;
}

/**
 * Classify one IP address (dotted quad or IPv6 text without brackets). Anything that is not a strict
 * IP literal (`ipFamily`) is refused with range `invalid`. Forms like `127.1` or `0x7f.0.0.1` are
 * not strict literals, so a resolver cannot smuggle them past ipaddr.js's lenient parser.
 */
export function classifyAddress(address: string, policy: AddressPolicy): AddressVerdict {
  if (ipFamily(address) === 0) {
    return {
      allowed: false,
      address,
      range: 'invalid',
      reason: `an invalid IP address ${JSON.stringify(address)}`,
    };
  }
  const ip = ipaddr.parse(address);
  const canonical = ip.toString();
  return ip instanceof ipaddr.IPv4 ? classifyV4(ip, canonical, policy) : classifyV6(ip, canonical, policy);
}
