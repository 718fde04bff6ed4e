import { Agent, request as httpRequest } from 'node:http';
import { isIP } from 'node:net';
import * as fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../lambdas/api/http.js';
import { checkListenerUrl } from '../../lambdas/core/ssrf.js';
import { issue } from '../support/test-pki.js';
import {
  bodyOf,
  type CreatedSubscription,
  errorSchema,
  subscriptionPageSchema,
} from './support/api-client.js';
import {
  assertStatus,
  createSubscription,
  listDeliveries,
  subscriptionSpec,
  uniqueMarker,
} from './support/fixtures.js';
import type { Listener } from './support/listener.js';
import { BRANDS } from './support/local-process.js';
import { useLocalStack } from './support/local-stack.js';
import { issuedSecrets, recordResponse, recordSecret } from './support/secrets.js';
import { sleep } from './support/wait.js';
import { signaturesOf, verifiesWith } from './support/webhooks.js';

/*
 * Hostile API input, generated: malformed JSON, wrong content types, JSON of every wrong shape and type,
 * missing and unknown fields, bodies over 1 MB (and over the gateway's 10 MB), nesting 10k–100k deep, odd
 * unicode, and listener URLs with credentials, non-http schemes and IP literals of private, loopback and
 * metadata ranges in every encoding. Each request goes to POST /subscriptions or to PATCH, POST .../replay
 * or POST .../test of one existing subscription, and must be answered with the exact 4xx its category
 * calls for and a JSON error body; afterwards nothing was written and the subscription is unchanged.
 *
 * Network: every URL sent either is refused by the SSRF guard's synchronous checks (scheme, credentials,
 * syntax, single-label names, IP literals) or has an IP-literal or `localhost` host, so the API never
 * looks a name up (see safeToSubmit, enforced for every URL below).
 */

/** The local API Gateway's limit (local/stack.ts), above which it answers `{message}` itself. */
const GATEWAY_MAX_BYTES = 10 * 1024 * 1024;
const RUNS = { create: 260, update: 140, replay: 60, test: 60 } as const;
const MIN_REQUESTS = 500;
/** A credential the seeded subscription sends its listener: shown redacted, never logged. */
const LISTENER_TOKEN = 'listener-token-7f3a9c';
recordSecret(LISTENER_TOKEN);

type Target = keyof typeof RUNS;

const local = useLocalStack();
let target: Listener | undefined;
let seeded: CreatedSubscription;
let seededBefore: unknown;
/** One keep-alive agent for every generated request. */
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
let sent = 0;
/** Every error body the generated requests got back, for the secrets check. */
const errorBodies: string[] = [];

beforeAll(async () => {
  target = await local.listener();
  seeded = await createSubscription(
    local.acme,
    subscriptionSpec(uniqueMarker('seeded'), target.url, {
      events: ['OnNew', { name: 'OnNewActivity', activityTypes: [2, 6] }],
      headers: { 'X-Trace': 'seed', Authorization: `Bearer ${LISTENER_TOKEN}` },
      description: 'the one subscription hostile input must not change',
    }),
  );
  const fetched = await local.acme.get(`/subscriptions/${seeded.id}`);
  assertStatus(fetched, 200);
  seededBefore = fetched.body;
}, 40_000);

afterAll(() => {
  agent.destroy();
});

// ---------------------------------------------------------------------------------------------------
// Sending

/** A generated request body, built only when sent (so fast-check never holds megabytes). */
type Body =
  | { readonly json: unknown }
  | { readonly text: string }
  | { readonly bytes: readonly number[] }
  | { readonly deep: { depth: number; shape: 'array' | 'object'; field?: string; base: object } }
  | { readonly size: { bytes: number; fill: 'string' | 'junk' | 'padded-valid' } }
  | { readonly none: true };

interface HostileCase {
  readonly category: string;
  /** Undefined: no content-type header. */
  readonly contentType: string | undefined;
  readonly body: Body;
  /** The status the API must answer. */
  readonly status: 400 | 413 | 415 | 422;
}

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

function build(body: Body): Buffer | undefined {
  if ('none' in body) return undefined;
  if ('json' in body) return Buffer.from(JSON.stringify(body.json), 'utf8');
  if ('text' in body) return Buffer.from(body.text, 'utf8');
  if ('bytes' in body) return Buffer.from(body.bytes);
  if ('deep' in body) {
    const { depth, shape, field, base } = body.deep;
    const deep =
      shape === 'array'
        ? `${'['.repeat(depth)}${']'.repeat(depth)}`
        : `${'{"a":'.repeat(depth)}0${'}'.repeat(depth)}`;
    if (field === undefined) return Buffer.from(deep, 'utf8');
    const rest = JSON.stringify(Object.fromEntries(Object.entries(base).filter(([key]) => key !== field)));
    const member = `${JSON.stringify(field)}:${deep}`;
    return Buffer.from(rest === '{}' ? `{${member}}` : `${rest.slice(0, -1)},${member}}`, 'utf8');
  }
  const { bytes, fill } = body.size;
  if (fill === 'junk') return Buffer.alloc(bytes, '{');
  if (fill === 'string') {
    const text = `{"name":"${'a'.repeat(bytes - 11)}"}`;
    return Buffer.from(text, 'utf8');
  }
  // A valid subscription, padded with whitespace: valid JSON, valid shape, but too large.
  const valid = JSON.stringify(subscriptionSpec(uniqueMarker('huge'), 'http://127.0.0.1:9/hook'));
  return Buffer.from(valid + ' '.repeat(bytes - Buffer.byteLength(valid)), 'utf8');
}

function routeOf(to: Target): { method: string; path: string } {
  switch (to) {
    case 'create':
      return { method: 'POST', path: '/subscriptions' };
    case 'update':
      return { method: 'PATCH', path: `/subscriptions/${seeded.id}` };
    case 'replay':
      return { method: 'POST', path: `/subscriptions/${seeded.id}/replay` };
    case 'test':
      return { method: 'POST', path: `/subscriptions/${seeded.id}/test` };
  }
}

function sendOnce(method: string, path: string, contentType: string | undefined, body: Buffer | undefined) {
  return new Promise<Answer>((resolve, reject) => {
    const headers: Record<string, string> = {
      authorization: `Bearer ${BRANDS.acme.key}`,
      accept: 'application/json',
    };
    if (contentType !== undefined) headers['content-type'] = contentType;
    if (body !== undefined) headers['content-length'] = String(body.length);
    const request = httpRequest(`${local.stack.url}${path}`, { method, agent, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          contentType: String(response.headers['content-type'] ?? ''),
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      response.on('error', reject);
    });
    request.setTimeout(20_000, () => request.destroy(new Error(`${method} ${path}: no answer within 20 s`)));
    request.on('error', reject);
    request.end(body);
  });
}

/**
 * A generated name made unique per request (`hostile-...` names only, which are valid by themselves): were
 * a create wrongly accepted, the next one would otherwise fail on the name (409) and hide it; shrinking
 * makes many cases share a name.
 */
function uniquelyNamed(body: Body): Body {
  if (!('json' in body) || typeof body.json !== 'object' || body.json === null || Array.isArray(body.json))
    return body;
  const json = body.json as Record<string, unknown>;
  if (typeof json.name !== 'string' || !json.name.startsWith('hostile-')) return body;
  return { json: withKey(json, 'name', `${json.name}-${sent}`) };
}

async function send(to: Target, hostile: HostileCase): Promise<Answer & { bytes: number }> {
  const { method, path } = routeOf(to);
  const body = build(to === 'create' ? uniquelyNamed(hostile.body) : hostile.body);
  let answer: Answer;
  try {
    answer = await sendOnce(method, path, hostile.contentType, body);
  } catch (error) {
    // The gateway answers 413 and closes while a 10 MB upload may still be going: a reset before the
    // answer was read is the transport's race, not the API's answer; ask once more.
    const code = (error as NodeJS.ErrnoException).code;
    if (!(body && body.length > GATEWAY_MAX_BYTES && (code === 'EPIPE' || code === 'ECONNRESET')))
      throw error;
    answer = await sendOnce(method, path, hostile.contentType, body);
  }
  sent += 1;
  errorBodies.push(answer.text);
  recordResponse({ method, path, status: answer.status, text: answer.text });
  return { ...answer, bytes: body?.length ?? 0 };
}

const ERROR_CODES: Record<HostileCase['status'], string> = {
  400: 'invalid_json',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'validation_failed',
};

/** Sends the case and checks the answer: its exact 4xx, JSON, in the API's error format. */
async function expectRefused(to: Target, hostile: HostileCase): Promise<void> {
  const answer = await send(to, hostile);
  const what = `${to} ${hostile.category}: HTTP ${answer.status} ${answer.text.slice(0, 300)}`;
  expect(answer.status, what).toBe(hostile.status);
  expect(answer.contentType, what).toMatch(/^application\/json\b/);
  const parsed: unknown = JSON.parse(answer.text);
  if (answer.bytes > GATEWAY_MAX_BYTES) {
    // The local gateway's own answer, before our API: API Gateway's format.
    expect(parsed, what).toEqual({ message: expect.any(String) });
    return;
  }
  const result = errorSchema.safeParse(parsed);
  expect(result.success, what).toBe(true);
  const error = result.data?.error;
  expect(error?.code, what).toBe(ERROR_CODES[hostile.status]);
  if (hostile.status !== 413) expect(error?.details.length, what).toBeGreaterThan(0);
}

// ---------------------------------------------------------------------------------------------------
// URLs

/** Private, special-purpose and metadata IPv4 addresses (never loopback: the local runtime allows it). */
const SPECIAL_V4 = [
  '10.0.0.1',
  '10.255.255.254',
  '172.16.0.1',
  '172.31.255.254',
  '192.168.0.1',
  '192.168.255.254',
  '169.254.169.254',
  '169.254.170.2',
  '169.254.0.1',
  '100.64.0.1',
  '100.127.255.254',
  '0.0.0.0',
  '255.255.255.255',
  '224.0.0.1',
  '239.255.255.250',
  '192.0.2.1',
  '198.51.100.7',
  '203.0.113.9',
  '198.18.0.1',
  '240.0.0.1',
];
/** Loopback: allowed locally as such, refused in every IPv6 form that embeds it. */
const LOOPBACK_V4 = ['127.0.0.1', '127.1.2.3'];

const octets = (v4: string) => v4.split('.').map(Number) as [number, number, number, number];
const hex16 = (high: number, low: number) => ((high << 8) | low).toString(16);
const fullwidth = (text: string, dot: string) =>
  [...text].map((c) => (c === '.' ? dot : String.fromCharCode(0xff10 + Number(c)))).join('');

/** Every spelling of an IPv4 address that a URL parser turns back into it (or an IPv6 form embedding it). */
function v4Encodings(v4: string, embeddedOnly: boolean): string[] {
  const [a, b, c, d] = octets(v4);
  const n = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
  const embedded = [
    `[::ffff:${v4}]`,
    `[::ffff:${hex16(a, b)}:${hex16(c, d)}]`,
    `[0:0:0:0:0:ffff:${v4}]`,
    `[::${v4}]`,
    `[64:ff9b::${v4}]`,
    `[2002:${hex16(a, b)}:${hex16(c, d)}::1]`,
  ];
  if (embeddedOnly) return embedded;
  return [
    v4,
    `${v4}.`,
    String(n),
    `0x${n.toString(16)}`,
    `0${n.toString(8)}`,
    [a, b, c, d].map((part) => `0x${part.toString(16)}`).join('.'),
    [a, b, c, d].map((part) => `0${part.toString(8)}`).join('.'),
    `${a}.${b}.${(c << 8) | d}`,
    `${a}.${((b << 16) | (c << 8) | d) >>> 0}`,
    `0x${a.toString(16)}.${b}.0${c.toString(8)}.${d}`,
    [...v4].map((ch) => (ch === '.' ? '.' : `%3${ch}`)).join(''),
    fullwidth(v4, '\uff0e'),
    fullwidth(v4, '\u3002'),
    ...embedded,
  ];
}

/** Special-purpose IPv6 literals (never ::1 itself). */
const SPECIAL_V6 = [
  '::',
  '0:0:0:0:0:0:0:0',
  '::2',
  'fe80::1',
  'FE80::A:B',
  'fc00::1',
  'fd00::1',
  'fd00:ec2::254',
  'fd12:3456:789a::1',
  'fec0::1',
  'ff02::1',
  'ff05::1:3',
  '2001:db8::1',
  '2001:db8:85a3::8a2e:370:7334',
  '2001::1',
  '2001:0:4136:e378:8000:63bf:3fff:fdd2',
  '2002:c0a8:101::1',
  '100::1',
  '64:ff9b:1::1',
  '::ffff:0:a00:1',
  '1::1',
].map((v6) => `[${v6}]`);

const IP_HOSTS = [
  ...SPECIAL_V4.flatMap((v4) => v4Encodings(v4, false)),
  ...LOOPBACK_V4.flatMap((v4) => v4Encodings(v4, true)),
  ...SPECIAL_V6,
];

/** Schemes, credentials, malformed and single-label URLs: refused before any name is looked up. */
const OTHER_URLS = [
  'javascript:alert(1)',
  'JavaScript:alert(document.cookie)',
  'javascript://127.0.0.1/%0aalert(1)',
  ' javascript:alert(1)',
  'file:///etc/passwd',
  'file://localhost/etc/passwd',
  'FILE:///proc/self/environ',
  'file:///C:/Windows/win.ini',
  'ftp://127.0.0.1/hook',
  'ftp://anonymous:guest@10.0.0.1/',
  'ftps://127.0.0.1/',
  'gopher://127.0.0.1:6379/_INFO%0d%0a',
  'gopher://10.0.0.1:25/_HELO',
  'data:text/plain;base64,SGVsbG8=',
  'data:,hook',
  'data:application/json,{}',
  'ws://127.0.0.1:9/hook',
  'wss://127.0.0.1/hook',
  'dict://127.0.0.1:11211/stats',
  'ldap://127.0.0.1/dc=example',
  'sftp://127.0.0.1/',
  'tftp://127.0.0.1/x',
  'smb://127.0.0.1/share',
  'telnet://127.0.0.1:23',
  'redis://127.0.0.1:6379',
  'mailto:ops@127.0.0.1',
  'blob:http://127.0.0.1/0f0f',
  'jar:http://127.0.0.1!/x',
  'view-source:http://127.0.0.1/',
  'about:blank',
  'urn:isbn:0451450523',
  'php://filter/resource=/etc/passwd',
  'vbscript:msgbox(1)',
  'unix:/var/run/docker.sock',
  'http+unix://%2Fvar%2Frun%2Fdocker.sock/info',
  'http://user:pass@127.0.0.1:9/hook',
  'http://user@127.0.0.1:9/hook',
  'http://:pass@127.0.0.1:9/hook',
  'http://user:pass@localhost:9/hook',
  'http://user:pass@[::1]:9/hook',
  'https://admin:admin@169.254.169.254/latest/meta-data/',
  'https://user:secret@example.com/hook',
  'https://token@example.com/hook',
  'http://a%40b:c%3Ad@127.0.0.1/',
  'http://127.0.0.1:9@10.0.0.1/',
  'http://10.0.0.1#@127.0.0.1/',
  'https://user:pass@例え.テスト/',
  '',
  ' ',
  'hook',
  '/hook',
  '//127.0.0.1/hook',
  '://127.0.0.1',
  'http://',
  'http://:9/',
  'http://[::1',
  'http://[::1]]/',
  'http://127.0.0.1:99999/',
  'http://127.0.0.1:-1/',
  'http://127.0.0.1:0/hook',
  'http://[::1]:0/hook',
  'http://[fe80::1%25eth0]/',
  'http://1.2.3.4.5/',
  'http://256.256.256.256/',
  'http://0x100000000/',
  'http://intranet/',
  'https://metadata/computeMetadata/v1/',
  'http://router:8080/admin',
  'http://kubernetes/',
  'http://instance-data/latest/',
  'http://☃/',
  'http://例え/',
  ' http://10.0.0.1/',
  'http://10.0.0.1\t/',
  'http://10.0.\n0.1/',
  'http://1\u202e0.0.0.1/',
  `http://127.0.0.1:9/${'a'.repeat(2100)}`,
  `https://${'a'.repeat(2100)}.example/`,
];

const HOSTILE_URLS = [
  ...IP_HOSTS.flatMap((host) => [`http://${host}/hook`, `https://${host}:8443/hook?x=1`]),
  ...OTHER_URLS,
];

/**
 * Whether a URL may be sent to our API under the network rule: the guard refuses it synchronously (no
 * lookup follows), or its host is an IP literal or `localhost` (answered without DNS).
 */
function safeToSubmit(url: string): boolean {
  try {
    checkListenerUrl(url, { allowLocalTargets: true });
  } catch {
    return true;
  }
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return isIP(host) !== 0 || host.toLowerCase().replace(/\.$/, '') === 'localhost';
}

// ---------------------------------------------------------------------------------------------------
// Values

const LONE_SURROGATES = ['\ud800', '\udbff', '\udc00', '\udfff', 'a\ud83d', '\ude00b'];
const ODD_PIECES = [
  ...LONE_SURROGATES,
  '\u202e',
  '\u202d',
  '\u200f',
  '\u200b',
  '\u200c',
  '\u200d',
  '\u2060',
  '\ufeff',
  '\u0000',
  '\u0001',
  '\u0007',
  '\u0008',
  '\u001b[31m',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u2028',
  '\u2029',
  '\ufffe',
  '\uffff',
  '\ufffd',
  '😀',
  '👩‍👩‍👧‍👦',
  '🏳️‍🌈',
  'e\u0301\u0301\u0301',
  'مرحبا',
  'שלום',
  '你好',
  'ﷺ',
  '𝕏',
  'İ',
  'ǅ',
  'Ⅻ',
  '\r\n',
];

/** A string with at least one odd piece: lone surrogates, bidi and zero-width marks, controls, emoji. */
const oddString = fc
  .tuple(
    fc.string({ unit: 'binary', maxLength: 4 }),
    fc.constantFrom(...ODD_PIECES),
    fc.string({ unit: 'binary', maxLength: 4 }),
  )
  .map(([before, odd, after]) => `${before}${odd}${after}`);

const KNOWN_FIELDS: Record<Target, ReadonlySet<string>> = {
  create: new Set([
    'name',
    'entity',
    'events',
    'url',
    'format',
    'includeCompleteData',
    'headers',
    'retrySchedule',
    'status',
    'description',
    'signatureScheme',
    'soap',
    'tls',
  ]),
  update: new Set([
    'name',
    'entity',
    'events',
    'url',
    'format',
    'includeCompleteData',
    'headers',
    'retrySchedule',
    'status',
    'description',
    'signatureScheme',
    'soap',
    'tls',
  ]),
  replay: new Set(['since', 'until']),
  test: new Set(['event']),
};

const unknownKey = (to: Target) =>
  fc
    .oneof(
      fc.constantFrom(
        '__proto__',
        'constructor',
        'prototype',
        'toString',
        'hasOwnProperty',
        'id',
        'brand',
        'secret',
        'secrets',
        'version',
        'createdAt',
        'updatedAt',
        'disabledReason',
        'failingSince',
        'Name',
        'URL',
        'name ',
        'na\u200bme',
        'ｎａｍｅ',
        '',
        ' ',
        '$where',
        'events[0]',
        'a.b',
        'webhookUrl',
        'event_',
        'Since',
      ),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }),
      oddString,
    )
    .filter((key) => !KNOWN_FIELDS[to].has(key));

/** Valid events of the seeded subscription's entity (Object). */
const OBJECT_EVENTS = ['OnNew', 'OnNewChild', 'OnNewActivity', 'OnUpdateTag'];
const VALID_SELECTIONS = [
  'OnNew',
  'OnNewChild',
  { name: 'OnNewActivity', activityTypes: [2, 6] },
  { name: 'OnUpdateTag', channels: [71, '72'] },
];
const LOCAL_URLS = ['http://127.0.0.1:9/hook', 'http://localhost:9/hook', 'http://[::1]:9/hook'];

/** Values that make a field invalid on create and update alike; `createOnly`: invalid on create only. */
const WRONG: Record<string, { values: unknown[]; createOnly?: unknown[] }> = {
  name: { values: [null, 42, true, [], {}, '', '   ', '\t\n', 'a'.repeat(101), ['x']] },
  entity: {
    values: [
      null,
      1,
      'object',
      'OBJECT',
      'Object ',
      ' Object',
      'Objects',
      'Ticket',
      '',
      'Obj\u200bect',
      '\u041ebject',
      'Object\u0000',
      ['Object'],
      { name: 'Object' },
      // Known entities without the seeded events (Object's OnNew, ...).
      'Tag',
      'Satisfaction',
      'Chat',
      'Form',
    ],
  },
  events: {
    values: [
      null,
      'OnNew',
      {},
      [],
      Array.from({ length: 51 }, () => 'OnNew'),
      [''],
      [42],
      [null],
      [['OnNew']],
      [{}],
      [{ name: '' }],
      [{ name: 'OnNew', extra: 1 }],
      ['OnExplode'],
      ['onnew'],
      ['OnNew', 'OnNew'],
      ['OnNew\u200b'],
      ['Object.OnNew'],
      [{ name: 'OnNewActivity', activityTypes: [] }],
      [{ name: 'OnNewActivity', activityTypes: [99] }],
      [{ name: 'OnNewActivity', activityTypes: [1.5] }],
      [{ name: 'OnNewActivity', activityTypes: ['2'] }],
      [{ name: 'OnNewActivity', activityTypes: [12] }],
      [{ name: 'OnNew', activityTypes: [2] }],
      [{ name: 'OnNew', channels: [-1] }],
      [{ name: 'OnNew', channels: ['abc'] }],
      [{ name: 'OnNew', channels: [1.5] }],
      [{ name: 'OnNew', channels: [] }],
      [{ name: 'a'.repeat(101) }],
    ],
  },
  url: { values: [null, 42, true, [], {}, { href: 'http://127.0.0.1:9/hook' }, ['http://127.0.0.1:9/hook']] },
  format: { values: [null, 'xml', 'JSON', 'Json', '', 'soap ', 1, true] },
  includeCompleteData: { values: [null, 'true', 'false', 1, 0, 'yes', []] },
  headers: {
    values: [
      [],
      'X-A: b',
      42,
      true,
      { 'X-A': 1 },
      { 'X-A': null },
      { 'X-A': ['a'] },
      { 'bad name': 'x' },
      { '': 'x' },
      { 'X-A': 'a\r\nInjected: 1' },
      { 'X-A': 'a\nb' },
      { 'X-Ünicode': 'x' },
      { 'X-A': 'é' },
      { 'X-A': 'a'.repeat(1025) },
      { 'Content-Type': 'text/plain' },
      { 'webhook-signature': 'v1,forged' },
      { 'Webhook-Id': 'msg_1' },
      { Host: 'evil.example' },
      { 'Transfer-Encoding': 'chunked' },
      { ':authority': 'x' },
      { 'svix-id': 'x' },
      { 'X-A': 'a', 'x-a': 'b' },
      Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`X-H${i}`, 'v'])),
    ],
    createOnly: [null],
  },
  retrySchedule: {
    values: [[], [-1], [1.5], [43_201], Array.from({ length: 21 }, () => 1), 'fast', [null], ['1'], 5, {}],
    createOnly: [null],
  },
  status: { values: [null, 'disabled', 'ACTIVE', 'Active', '', 'deleted', 1, true] },
  description: { values: [42, true, [], {}, 'a'.repeat(501)], createOnly: [null] },
  signatureScheme: { values: [null, 'rsa', 'ED25519', 'hmac', '', 1, ['ed25519']] },
  soap: {
    values: [
      42,
      'urn:a',
      [],
      { action: 'urn:a b' },
      { action: 'urn:"a"' },
      { action: 'urn:a\r\nX-Injected: 1' },
      { action: 1 },
      { parameters: { '1st': 'v' } },
      { parameters: { xmlns: 'v' } },
      { parameters: { 'a:b': 'v' } },
      { parameters: { A: 1 } },
      { parameters: { A: 'bell\u0007' } },
      { parameters: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`P${i}`, 'v'])) },
      { extra: 1 },
    ],
    createOnly: [null],
  },
  // The generated bodies name http listeners: any tls is refused (https only); the certificates
  // themselves are refused by 'hostile client certificates' below, on an https URL.
  tls: {
    values: [42, 'pem', [], { ca: 'x' }, { clientCertificate: 1 }, { clientKey: 'x' }, {}],
    createOnly: [null],
  },
};

const wrongValue = (to: 'create' | 'update') =>
  fc.constantFrom(...Object.keys(WRONG)).chain((field) => {
    const { values, createOnly = [] } = WRONG[field] ?? { values: [] };
    return fc
      .constantFrom(...values, ...(to === 'create' ? createOnly : []))
      .map((value) => [field, value] as const);
  });

/** A URL to refuse: a listed one, or one with an odd-unicode host; only ever one that is safe to send. */
const hostileUrl = fc.oneof(
  { arbitrary: fc.constantFrom(...HOSTILE_URLS), weight: 4 },
  {
    arbitrary: fc
      .tuple(fc.constantFrom('http', 'https'), oddString, fc.constantFrom('', '.0.0.1', ':8080'))
      .map(([scheme, host, suffix]) => `${scheme}://${host}${suffix}/hook`)
      .filter(safeToSubmit),
    weight: 1,
  },
);

const validCreate = fc.record({
  name: fc.stringMatching(/^[A-Za-z0-9_-]{1,30}$/).map((name) => `hostile-${name}`),
  entity: fc.constant('Object'),
  events: fc.subarray(VALID_SELECTIONS, { minLength: 1 }),
  url: fc.constantFrom(...LOCAL_URLS),
  format: fc.option(fc.constantFrom('json', 'soap'), { nil: undefined }),
  includeCompleteData: fc.option(fc.boolean(), { nil: undefined }),
  headers: fc.option(fc.constant({ 'X-Trace': 'abc', Authorization: 'Bearer listener-token' }), {
    nil: undefined,
  }),
  retrySchedule: fc.option(fc.constant([0, 5, 60]), { nil: undefined }),
  status: fc.option(fc.constantFrom('active', 'paused'), { nil: undefined }),
  description: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
});

/** Valid fields of a patch (any subset, possibly none); the mutation then makes the whole patch invalid. */
const validPatch = fc.record(
  {
    name: fc.stringMatching(/^[A-Za-z0-9_-]{1,30}$/).map((name) => `renamed-${name}`),
    events: fc.subarray(VALID_SELECTIONS, { minLength: 1 }),
    url: fc.constantFrom(...LOCAL_URLS),
    format: fc.constantFrom('json', 'soap'),
    includeCompleteData: fc.boolean(),
    headers: fc.constantFrom(null, { 'X-Other': 'x' }),
    retrySchedule: fc.constantFrom(null, [1, 2]),
    status: fc.constantFrom('active', 'paused'),
    description: fc.constantFrom(null, 'patched'),
  },
  { requiredKeys: [] },
);

/** Optional decoration: odd unicode where it is valid by itself (names, descriptions). */
const oddDecoration = fc.option(
  fc.record({ name: oddString.map((odd) => `hostile-${odd}`), description: oddString }, { requiredKeys: [] }),
  { nil: undefined },
);

function withoutKey(value: Record<string, unknown>, key: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([name]) => name !== key));
}

function withKey(value: Record<string, unknown>, key: string, field: unknown): Record<string, unknown> {
  // Defined as own properties, so "__proto__" is a key like any other (as JSON.parse makes it).
  return Object.fromEntries([...Object.entries(withoutKey(value, key)), [key, field]]);
}

// ---------------------------------------------------------------------------------------------------
// Cases

const JSON_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/merge-patch+json',
  'application/vnd.commbox+json;v=1',
];
const NOT_JSON_TYPES = [
  undefined,
  'text/plain',
  'text/json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/xml',
  'application/json-seq',
  'application/jsonp',
  'application/javascript',
  'json',
  '*/*',
  '',
];
const jsonType = fc.constantFrom(...JSON_TYPES);

const isJson = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};
/** What the server reads: the UTF-8 bytes decoded again (lone surrogates become U+FFFD). */
const asServerReads = (text: string) => Buffer.from(text, 'utf8').toString('utf8');

const INVALID_JSON = [
  '{',
  '}',
  '{"name":',
  '{"name":"x",}',
  "{'name':'x'}",
  '{name:"x"}',
  'NaN',
  'undefined',
  '{"a":1}{"b":2}',
  '[1,2',
  '\ufeff{}',
  '{"a":1} // comment',
  '/* c */{}',
  '{"a":"\u0000"}',
  '{"a":"\\x41"}',
  '{"a":"\\ud800',
  '0x10',
  '01',
  '.5',
  '+1',
  'True',
  '{"a":Infinity}',
  '   ',
  '\n',
  '{"url":"http://10.0.0.1/"',
];

function jsonCase(category: string, json: unknown) {
  return jsonType.map((contentType): HostileCase => ({ category, contentType, body: { json }, status: 422 }));
}

/** Categories every target shares: broken JSON, wrong content types, wrong shapes, size and depth. */
function commonCases(to: Target, validBody: fc.Arbitrary<object>, deepFields: readonly string[]) {
  const invalidJson = fc
    .oneof(
      fc.constantFrom(...INVALID_JSON).map((text) => ({ text })),
      validBody
        .map((value) => JSON.stringify(value))
        .chain((text) =>
          fc.integer({ min: 1, max: text.length - 1 }).map((cut) => ({ text: text.slice(0, cut) })),
        ),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }).map((text) => ({ text })),
      fc.uint8Array({ minLength: 1, maxLength: 40 }).map((bytes) => ({ bytes: [...bytes] })),
    )
    .filter((body) => {
      const text = 'text' in body ? asServerReads(body.text) : Buffer.from(body.bytes).toString('utf8');
      return text !== '' && !isJson(text);
    })
    .chain((body) =>
      jsonType.map(
        (contentType): HostileCase => ({ category: 'invalid JSON', contentType, body, status: 400 }),
      ),
    );
  const notJson = fc
    .tuple(fc.constantFrom(...NOT_JSON_TYPES), fc.oneof(validBody, fc.constant({}), fc.constant('hello')))
    .map(
      ([contentType, json]): HostileCase => ({
        category: 'not application/json (a valid body)',
        contentType,
        body: { json },
        status: 415,
      }),
    );
  const notAnObject = fc
    .oneof(
      fc.boolean(),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.string({ unit: 'binary', maxLength: 20 }),
      oddString,
      fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
      validBody.map((valid) => [valid]),
      // JSON null and no body at all are "no body": valid for /test, whose body is optional.
      ...(to === 'test' ? [] : [fc.constant(null)]),
    )
    .chain((json) => jsonCase('JSON that is not an object', json));
  const noBody = fc
    .option(jsonType, { nil: undefined })
    .map(
      (contentType): HostileCase => ({ category: 'no body', contentType, body: { none: true }, status: 422 }),
    );
  const oversize = fc
    .record({
      extra: fc.integer({ min: 1, max: 2 * 1024 * 1024 }),
      fill: fc.constantFrom('string', 'junk', 'padded-valid'),
      contentType: fc.constantFrom(...JSON_TYPES, 'text/plain', undefined),
    })
    .map(
      ({ extra, fill, contentType }): HostileCase => ({
        category: 'a body over 1 MB',
        contentType,
        body: { size: { bytes: MAX_BODY_BYTES + extra, fill } },
        status: 413,
      }),
    );
  const deep = fc
    .record({
      depth: fc.integer({ min: 10_000, max: 100_000 }),
      shape: fc.constantFrom('array', 'object'),
      field: fc.constantFrom(undefined, ...deepFields),
      base: validBody,
      contentType: jsonType,
    })
    .map(
      ({ depth, shape, field, base, contentType }): HostileCase => ({
        category: `nesting ${depth} deep${field ? ` in ${field}` : ''}`,
        contentType,
        body: { deep: { depth, shape, base, ...(field ? { field } : {}) } },
        status: 422,
      }),
    );
  const extraField = fc
    .tuple(validBody, unknownKey(to), fc.jsonValue({ maxDepth: 2 }))
    .chain(([base, key, value]) =>
      jsonCase(`unknown field ${JSON.stringify(key)}`, withKey({ ...base }, key, value)),
    );
  return [
    { arbitrary: invalidJson, weight: 6 },
    { arbitrary: notJson, weight: 3 },
    { arbitrary: notAnObject, weight: 3 },
    ...(to === 'test' ? [] : [{ arbitrary: noBody, weight: 1 }]),
    { arbitrary: oversize, weight: 1 },
    { arbitrary: deep, weight: 2 },
    { arbitrary: extraField, weight: 4 },
  ];
}

function createCases(): fc.Arbitrary<HostileCase> {
  const missing = fc
    .tuple(validCreate, fc.subarray(['name', 'entity', 'events', 'url'], { minLength: 1 }), oddDecoration)
    .chain(([base, fields, odd]) => {
      let body: Record<string, unknown> = { ...base, ...odd };
      for (const field of fields) body = withoutKey(body, field);
      return jsonCase(`missing ${fields.join(', ')}`, body);
    });
  const wrong = fc
    .tuple(validCreate, wrongValue('create'), oddDecoration)
    .chain(([base, [field, value], odd]) =>
      jsonCase(`wrong ${field}`, withKey({ ...base, ...odd }, field, value)),
    );
  const url = fc
    .tuple(validCreate, hostileUrl, oddDecoration)
    .chain(([base, hostile, odd]) =>
      jsonCase(`listener URL ${JSON.stringify(hostile)}`, { ...base, ...odd, url: hostile }),
    );
  return fc.oneof(
    ...commonCases('create', validCreate, ['name', 'events', 'url', 'headers', 'description', 'x']),
    { arbitrary: missing, weight: 3 },
    { arbitrary: wrong, weight: 8 },
    { arbitrary: url, weight: 10 },
  );
}

function updateCases(): fc.Arbitrary<HostileCase> {
  const wrong = fc
    .tuple(validPatch, wrongValue('update'), oddDecoration)
    .chain(([base, [field, value], odd]) =>
      jsonCase(`wrong ${field}`, withKey({ ...base, ...odd }, field, value)),
    );
  const url = fc
    .tuple(validPatch, hostileUrl)
    .chain(([base, hostile]) =>
      jsonCase(`listener URL ${JSON.stringify(hostile)}`, { ...base, url: hostile }),
    );
  const empty = jsonCase('an empty patch', {});
  return fc.oneof(
    ...commonCases('update', validPatch, ['description', 'events', 'headers', 'retrySchedule', 'x']),
    { arbitrary: wrong, weight: 8 },
    { arbitrary: url, weight: 8 },
    { arbitrary: empty, weight: 1 },
  );
}

const BAD_DATES = [
  '',
  'yesterday',
  'now',
  '2026-01-01',
  '2026-01-01T00:00:00',
  '2026-01-01 00:00:00Z',
  '2026-02-30T00:00:00Z',
  '2026-13-01T00:00:00Z',
  '2026-01-01T24:00:00Z',
  '2026-01-01T00:60:00Z',
  '2026-01-01T00:00:00+25:00',
  '+2026-01-01T00:00:00Z',
  '20260101T000000Z',
  '1767225600',
  '２０２６-01-01T00:00:00Z',
  '٢٠٢٦-01-01T00:00:00Z',
  '2026-01-01T00:00:00Z\u200b',
  '\u202e2026-01-01T00:00:00Z',
  ' 2026-01-01T00:00:00Z',
  '2026-01-01T00:00:00Z ',
];

function replayCases(): fc.Arbitrary<HostileCase> {
  const validRange = fc
    .record({
      since: fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }),
      span: fc.integer({ min: 1000, max: 90 * 24 * 60 * 60 * 1000 }),
    })
    .map(({ since, span }) => ({
      since: new Date(since).toISOString(),
      until: new Date(since + span).toISOString(),
    }));
  const missing = fc
    .tuple(validRange, fc.subarray(['since', 'until'], { minLength: 1 }))
    .chain(([range, fields]) => {
      let body: Record<string, unknown> = { ...range };
      for (const field of fields) body = withoutKey(body, field);
      return jsonCase(`missing ${fields.join(', ')}`, body);
    });
  const wrongType = fc
    .tuple(
      validRange,
      fc.constantFrom('since', 'until'),
      fc.constantFrom(null, 1_767_225_600, 1_767_225_600_000, true, [], {}, ['2026-01-01T00:00:00Z'], {
        $date: '2026-01-01T00:00:00Z',
      }),
    )
    .chain(([range, field, value]) => jsonCase(`wrong ${field}`, withKey(range, field, value)));
  const badDate = fc
    .tuple(
      validRange,
      fc.constantFrom('since', 'until'),
      fc.oneof(
        fc.constantFrom(...BAD_DATES),
        oddString.map((odd) => `2026-01-01T00:00:00Z${odd}`),
        oddString,
      ),
    )
    .chain(([range, field, value]) =>
      jsonCase(`bad ${field} ${JSON.stringify(value)}`, withKey(range, field, value)),
    );
  const backwards = fc.tuple(validRange, fc.boolean()).chain(([{ since, until }, equal]) =>
    jsonCase(equal ? 'since equal to until' : 'since after until', {
      since: equal ? since : until,
      until: equal ? new Date(since).toISOString().replace('Z', '+00:00') : since,
    }),
  );
  return fc.oneof(
    ...commonCases('replay', validRange, ['since', 'until', 'x']),
    { arbitrary: missing, weight: 2 },
    { arbitrary: wrongType, weight: 3 },
    { arbitrary: badDate, weight: 4 },
    { arbitrary: backwards, weight: 2 },
  );
}

function testCases(): fc.Arbitrary<HostileCase> {
  const validTest = fc.option(fc.record({ event: fc.constantFrom(...OBJECT_EVENTS) }), { nil: {} });
  const wrongType = fc
    .constantFrom(null, 1, true, [], {}, ['OnNew'], { name: 'OnNew' })
    .chain((event) => jsonCase('wrong event', { event }));
  const unknownEvent = fc
    .oneof(
      fc.constantFrom(
        '',
        'a'.repeat(101),
        'onnew',
        'ONNEW',
        'OnNew ',
        ' OnNew',
        'Object.OnNew',
        'OnSubmit',
        'OnAdd',
        'OnUserExit',
        'OnUpdate',
        'OnExplode',
        'OnNew\u0000',
        'OnNew\u200b',
        'ＯｎＮｅｗ',
      ),
      oddString,
      oddString.map((odd) => `OnNew${odd}`),
    )
    .filter((event) => !OBJECT_EVENTS.includes(event))
    .chain((event) => jsonCase(`event ${JSON.stringify(event)}`, { event }));
  return fc.oneof(
    ...commonCases('test', validTest, ['event', 'x']),
    { arbitrary: wrongType, weight: 3 },
    { arbitrary: unknownEvent, weight: 5 },
  );
}

const CASES: Record<Target, () => fc.Arbitrary<HostileCase>> = {
  create: createCases,
  update: updateCases,
  replay: replayCases,
  test: testCases,
};

/** Cases every run includes, whatever the seed: the extremes of size and depth. */
const EXAMPLES: HostileCase[] = [
  {
    category: 'nesting 100000 deep',
    contentType: 'application/json',
    body: { deep: { depth: 100_000, shape: 'array', base: {} } },
    status: 422,
  },
  {
    category: 'nesting 100000 deep in x',
    contentType: 'application/json',
    body: { deep: { depth: 100_000, shape: 'object', field: 'x', base: {} } },
    status: 422,
  },
  {
    category: 'a body over 1 MB',
    contentType: 'application/json',
    body: { size: { bytes: MAX_BODY_BYTES + 1, fill: 'padded-valid' } },
    status: 413,
  },
];

// ---------------------------------------------------------------------------------------------------
// Tests

describe('the generated URLs', () => {
  it('are all refused without a name lookup, or name an IP literal (safe to send)', () => {
    const unsafe = HOSTILE_URLS.filter((url) => !safeToSubmit(url));
    expect(unsafe).toEqual([]);
    expect(HOSTILE_URLS.length).toBeGreaterThan(400);
  });
});

describe('hostile input', { timeout: 90_000 }, () => {
  it.each(Object.keys(RUNS) as Target[])('to %s is refused with its 4xx, never a 5xx', async (to) => {
    await fc.assert(
      fc.asyncProperty(CASES[to](), (hostile) => expectRefused(to, hostile)),
      { numRuns: RUNS[to], examples: EXAMPLES.map((example) => [example]) },
    );
  });

  it('hits the size limits exactly: 1 MB and 10 MB pass, one byte more is refused', async () => {
    const sized = (bytes: number, status: HostileCase['status']): HostileCase => ({
      category: `${bytes} bytes`,
      contentType: 'application/json',
      body: { size: { bytes, fill: 'string' } },
      status,
    });

    // The size refusal comes before the body is read: a just-small-enough body is judged on its content.
    await expectRefused('create', sized(MAX_BODY_BYTES, 422));
    await expectRefused('create', sized(MAX_BODY_BYTES + 1, 413));
    await expectRefused('create', sized(GATEWAY_MAX_BYTES, 413));
    await expectRefused('create', sized(GATEWAY_MAX_BYTES + 1, 413));
    await expectRefused('update', sized(GATEWAY_MAX_BYTES + 1, 413));
  });

  it(`sent at least ${MIN_REQUESTS} generated requests`, () => {
    expect(sent).toBeGreaterThanOrEqual(MIN_REQUESTS);
  });
});

describe('hostile client certificates', { timeout: 60_000 }, () => {
  const HTTPS_URL = 'https://127.0.0.1:9/hook';
  const certificateCases = () => {
    const ca = issue({ commonName: 'Hostile CA', kind: 'ca' });
    const client = issue({ commonName: 'hostile client', kind: 'client' }, ca);
    const other = issue({ commonName: 'other client', kind: 'client' }, ca);
    const expired = issue(
      {
        commonName: 'expired client',
        kind: 'client',
        startDate: '20200101000000Z',
        endDate: '20200201000000Z',
      },
      ca,
    );
    const weak = issue({ commonName: 'weak client', kind: 'client', key: 'rsa1024' }, ca);
    for (const key of [client.key, other.key, expired.key, weak.key]) recordSecret(key);
    const pair = { clientCertificate: client.cert, clientKey: client.key };
    const garbage = '-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n';
    const body = client.cert.split('\n').slice(1, -2).join('\n');
    return [
      ['garbage PEM', { ...pair, clientCertificate: garbage }, 'tls.clientCertificate'],
      ['a certificate without its PEM armour', { ...pair, clientCertificate: body }, 'tls.clientCertificate'],
      [
        'a private key as the certificate',
        { ...pair, clientCertificate: client.key },
        'tls.clientCertificate',
      ],
      [
        'a garbage key',
        { ...pair, clientKey: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----' },
        'tls.clientKey',
      ],
      ['a huge PEM', { ...pair, clientCertificate: client.cert.repeat(20) }, 'tls.clientCertificate'],
      ['a huge CA bundle', { serverCa: `${ca.cert}${'A'.repeat(100_000)}` }, 'tls.serverCa'],
      ['a certificate with another key', { ...pair, clientKey: other.key }, 'tls.clientKey'],
      [
        'an expired certificate',
        { clientCertificate: expired.cert, clientKey: expired.key },
        'tls.clientCertificate',
      ],
      ['an RSA 1024 key', { clientCertificate: weak.cert, clientKey: weak.key }, 'tls.clientKey'],
      ['a CA that is not a CA', { serverCa: other.cert }, 'tls.serverCa'],
      [
        'a passphrase without a key',
        { serverCa: ca.cert, clientKeyPassphrase: 'x' },
        'tls.clientKeyPassphrase',
      ],
    ] as const;
  };
  let cases: ReturnType<typeof certificateCases>;
  beforeAll(() => {
    cases = certificateCases();
  }, 60_000);

  it('are refused on create and on update with 422 naming the field, quoting no key', async () => {
    for (const [category, tls, field] of cases) {
      const created = await local.acme.post(
        '/subscriptions',
        subscriptionSpec(uniqueMarker('hostile-tls'), HTTPS_URL, { tls }),
      );
      const updated = await local.acme.patch(`/subscriptions/${seeded.id}`, { url: HTTPS_URL, tls });
      for (const response of [created, updated]) {
        const what = `${category}: HTTP ${response.status} ${JSON.stringify(response.body).slice(0, 300)}`;
        expect(response.status, what).toBe(422);
        const { error } = bodyOf(errorSchema, response);
        expect(
          error.details.map((detail) => detail.field),
          what,
        ).toContain(field);
        expect(JSON.stringify(response.body), what).not.toContain('PRIVATE KEY');
        errorBodies.push(JSON.stringify(response.body));
      }
    }
  });
});

describe('after the hostile input', { timeout: 30_000 }, () => {
  it('nothing was written: the brand has its one subscription, unchanged, with no deliveries', async () => {
    const list = await local.acme.get('/subscriptions?limit=100');
    const fetched = await local.acme.get(`/subscriptions/${seeded.id}`);
    const otherBrand = await local.globex.get('/subscriptions?limit=100');
    await sleep(500);

    expect(bodyOf(subscriptionPageSchema, list).items.map((item) => item.id)).toEqual([seeded.id]);
    expect(fetched.body).toEqual(seededBefore);
    expect(bodyOf(subscriptionPageSchema, otherBrand).items).toEqual([]);
    expect(await listDeliveries(local.acme, seeded.id)).toEqual([]);
    expect(target?.requests).toEqual([]);
  });

  it('the subscription still signs with its one original secret', async () => {
    const response = await local.acme.post(`/subscriptions/${seeded.id}/test`, {});
    const [request] = (await target?.waitFor(1)) ?? [];

    expect(response.status).toBe(202);
    expect(request && signaturesOf(request)).toHaveLength(1);
    expect(request && verifiesWith(request, seeded.secret)).toBe(true);
  });

  it('no list, subscription, delivery or error response shows a signing secret or an API key', async () => {
    const responses = [
      await local.acme.get('/subscriptions?limit=100'),
      await local.acme.get(`/subscriptions/${seeded.id}`),
      await local.acme.get(`/subscriptions/${seeded.id}/deliveries?limit=100`),
    ];
    for (const response of responses) assertStatus(response, 200);
    const keys = issuedSecrets().filter((secret) => !secret.startsWith('whsec_'));
    expect(keys).toEqual(expect.arrayContaining([BRANDS.acme.key, BRANDS.globex.key, LISTENER_TOKEN]));

    const texts = [...responses.map((response) => JSON.stringify(response.body)), ...errorBodies];
    expect(errorBodies.length).toBeGreaterThanOrEqual(MIN_REQUESTS);
    for (const text of texts) {
      expect(text).not.toContain('whsec_');
      expect(text).not.toContain(seeded.secret.slice('whsec_'.length));
      for (const key of keys) expect(text).not.toContain(key);
    }
    // The listener's credential header is shown, redacted.
    expect(JSON.stringify(responses[1]?.body)).toContain('"Authorization":"[redacted]"');
  });

  it('accepts, on purpose, the local runtime loopback listeners that the hostile set leaves out', async () => {
    const port = new URL(target?.url ?? '').port;
    const loopback = [
      `http://127.0.0.1:${port}/hook`,
      `http://localhost:${port}/hook`,
      `http://[::1]:${port}/hook`,
      `http://127.1:${port}/hook`,
      `http://2130706433:${port}/hook`,
      `http://0x7f000001:${port}/hook`,
      `http://[0:0:0:0:0:0:0:1]:${port}/hook`,
    ];

    for (const url of loopback) {
      expect(safeToSubmit(url)).toBe(true);
      const response = await local.globex.post(
        '/subscriptions',
        subscriptionSpec(uniqueMarker('loopback'), url),
      );
      expect(response.status, `${url}: ${JSON.stringify(response.body)}`).toBe(201);
      const { id } = response.body as { id: string };
      expect((await local.globex.delete(`/subscriptions/${id}`)).status).toBe(204);
    }
  });
});
