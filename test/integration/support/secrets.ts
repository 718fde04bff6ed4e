/*
 * Every secret this test file was shown: the API keys its stacks were started with (WEBHOOKS_API_KEYS),
 * the keys its API clients sent, every signing secret a create or rotate response carried, and every key
 * the keys command printed. The harness records them as it sees them (startLocalProcess, apiClient,
 * runKeysCommand), and checks every API response as it arrives, so each file can check in afterAll that
 * none of them reached a log line or a response that had no business carrying it.
 *
 * Module state is per test file (vitest isolates files), as `capturedLogs` is. Responses are checked on
 * arrival and not kept (scripts outside vitest use this harness for long runs): a secret cannot be in a
 * response before the response that issued it, and `whsec_` anywhere else is caught whoever issued it.
 */

import type { LogLine } from './local-process.js';

const SIGNING_SECRET_PREFIX = 'whsec_';
/** Markers of secrets no response shows: `whsk_` signing keys and PEM private keys. */
const NEVER_SHOWN = ['whsk_', 'PRIVATE KEY-----'];

/** One API response as the client received it, to search for secrets afterwards. */
export interface RecordedResponse {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** The raw body text. */
  readonly text: string;
  /** The signing secret this response issued (create, rotate): the only one it may carry. */
  readonly issued?: string;
  /**
   * What the request carried (its decoded path, body and key): an error may quote the caller's own input
   * back (the id in the path, an unknown event name), which is not a leak.
   */
  readonly request?: string;
}

const secrets = new Set<string>();
/** What the responses checked so far showed that they should not have. */
const responseLeaks: string[] = [];
let responsesChecked = 0;

/** Remembers a secret or key (ignored when empty or undefined). */
export function recordSecret(value: string | undefined): void {
  if (value) secrets.add(value);
}

/** Every secret and key recorded so far in this test file. */
export function issuedSecrets(): string[] {
  return [...secrets];
}

/**
 * Checks a response against every secret recorded so far (the signing secret it issued, if any, is
 * recorded first) and remembers what it should not have shown; see expectNoSecretsInResponses.
 */
export function recordResponse(response: RecordedResponse): void {
  recordSecret(response.issued);
  responsesChecked += 1;
  // Bounded, in case something leaks into every response of a long run.
  if (responseLeaks.length < 100) responseLeaks.push(...leaksInResponse(response, secrets));
}

/** How many responses were checked so far in this test file. */
export function checkedResponses(): number {
  return responsesChecked;
}

/** The signing secret a response body issued (`secret` at its top level), if any. */
export function issuedSecretOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || !('secret' in body)) return undefined;
  const { secret } = body as { secret: unknown };
  return typeof secret === 'string' ? secret : undefined;
}

/**
 * The spellings a secret could leak under: itself and, for a signing secret, the base64 key without its
 * prefix (what a careless log of the HMAC key would print).
 */
function spellingsOf(secret: string): string[] {
  const spellings = [secret];
  if (secret.startsWith(SIGNING_SECRET_PREFIX) && secret.length > SIGNING_SECRET_PREFIX.length + 16) {
    spellings.push(secret.slice(SIGNING_SECRET_PREFIX.length));
  }
  return spellings;
}

/** A secret as a failure message may show it: enough to recognise, not the whole thing. */
function shown(secret: string): string {
  return `${secret.slice(0, Math.min(10, Math.floor(secret.length / 2)))}…`;
}

/** Which of `candidates` occur in `text`, under any spelling. */
export function secretsIn(text: string, candidates: Iterable<string>): string[] {
  const found: string[] = [];
  for (const secret of candidates) {
    if (spellingsOf(secret).some((spelling) => text.includes(spelling))) found.push(secret);
  }
  return found;
}

/**
 * Fails when any of `secrets` appears in any log line. Refuses to pass vacuously: there must be log
 * lines (the ready banner at least) and at least one secret to look for.
 */
export function expectNoSecretsIn(
  logs: readonly (string | LogLine)[],
  candidates: Iterable<string> = issuedSecrets(),
): void {
  const lines = logs.map((entry) => (typeof entry === 'string' ? entry : entry.line));
  const wanted = [...candidates];
  if (lines.length === 0) throw new Error('No log lines were captured: the secrets check would be vacuous');
  if (wanted.length === 0) throw new Error('No secrets were recorded: the secrets check would be vacuous');
  const leaks: string[] = [];
  lines.forEach((line, index) => {
    for (const secret of secretsIn(line, wanted))
      leaks.push(`log line ${index + 1} contains ${shown(secret)}`);
  });
  if (leaks.length > 0) throw new Error(`Secrets leaked into the logs:\n${leaks.slice(0, 20).join('\n')}`);
}

/**
 * What a response shows that it should not: no response but a create or rotate answer may contain
 * `whsec_` at all, those may contain only the one secret they issued, and none may contain an API key
 * or another secret, unless it quotes the request's own input back.
 */
export function leaksInResponse(response: RecordedResponse, candidates: Iterable<string>): string[] {
  const leaks: string[] = [];
  const count = (text: string, part: string) => text.split(part).length - 1;
  const where = `${response.method} ${response.path.slice(0, 120)} (HTTP ${response.status})`;
  const echoed = response.request ?? '';
  const others = secretsIn(response.text, candidates).filter(
    (secret) => secret !== response.issued && !echoed.includes(secret),
  );
  for (const secret of others) leaks.push(`${where} contains ${shown(secret)}`);
  const prefixes = count(response.text, SIGNING_SECRET_PREFIX);
  const allowed = (response.issued ? 1 : 0) + count(echoed, SIGNING_SECRET_PREFIX);
  if (prefixes > allowed) leaks.push(`${where} contains "${SIGNING_SECRET_PREFIX}" ${prefixes} time(s)`);
  // Never in any response, unless quoting the request: an ed25519 signing key, a client certificate's key.
  for (const marker of NEVER_SHOWN) {
    if (count(response.text, marker) > count(echoed, marker)) leaks.push(`${where} contains "${marker}"`);
  }
  return leaks;
}

/** Fails when any response checked so far in this file showed a secret it should not have. */
export function expectNoSecretsInResponses(): void {
  if (responseLeaks.length > 0) {
    throw new Error(`Secrets leaked into responses:\n${responseLeaks.slice(0, 20).join('\n')}`);
  }
}

/** The afterAll check of every integration file: nothing recorded leaked into the logs or a response. */
export function expectNoSecretsLeaked(logs: readonly (string | LogLine)[]): void {
  expectNoSecretsIn(logs);
  expectNoSecretsInResponses();
}
