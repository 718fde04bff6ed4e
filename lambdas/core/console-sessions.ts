import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import { bearerKey, hashApiKey } from './api-keys.js';
import { CONSOLE_SESSION_PREFIX, isConsoleSessionToken } from './console-session-tokens.js';
import { ClientError, ValidationError } from './errors.js';
import type { ConsoleSessionRecord, ConsoleSessionStore } from './ports.js';
import { toFieldIssues } from './subscription.js';

/*
 * Console links: a brand's backend, with its API key, asks for a session and hands the link to a person;
 * the console opens already signed in and calls the API with the session token as its bearer credential.
 * The token is `cbs_` + 32 random bytes (256 bits), stored only as its SHA-256 hash, like an API key. It
 * acts for the brand of the key that made it, until `expiresAt` (at most an hour) and only while that key
 * is still active: the authorizer checks both on every request (./console-session-tokens.ts;
 * docs/DECISIONS.md, "Console sessions").
 * It cannot make another session (routes.ts `apiKeyOnly`), so a session never outlives its hour.
 */

/** The longest a console link works, and its default. */
export const CONSOLE_SESSION_MAX_SECONDS = 60 * 60;
/** The shortest a caller may ask for. */
export const CONSOLE_SESSION_MIN_SECONDS = 60;
/** Where the console reads the token from: the URL fragment, which browsers never send to a server. */
export const CONSOLE_PATH = '/console';

export const consoleSessionCreateSchema = z.strictObject({
  expiresInSeconds: z
    .number()
    .int()
    .min(CONSOLE_SESSION_MIN_SECONDS)
    .max(CONSOLE_SESSION_MAX_SECONDS)
    .optional()
    .describe(
      `Seconds the link works, ${CONSOLE_SESSION_MIN_SECONDS} to ${CONSOLE_SESSION_MAX_SECONDS}; default ${CONSOLE_SESSION_MAX_SECONDS}`,
    ),
});

/** What POST /console/sessions answers. */
export interface ConsoleSessionCreated {
  /** Relative to the API's base URL: `/console#session=<token>`. */
  readonly url: string;
  readonly token: string;
  readonly expiresAt: string;
}

/** The API key a session is made with: the authorizer's brand and key id, and the key's hash. */
export interface SessionMaker {
  readonly brand: string;
  readonly keyId: string;
  readonly keyHash: string;
}

/**
 * The API key of an `Authorization: Bearer <key>` header, as the maker of a session; a 401 naming the
 * header when there is none (the authorizer admitted the request, so this is a bug or a bypass).
 */
export function sessionMaker(brand: string, keyId: string, authorization: string | undefined): SessionMaker {
  const key = bearerKey(authorization);
  if (!key || !keyId || isConsoleSessionToken(key)) {
    throw new ClientError(401, 'unauthorized', 'A valid API key is required', [
      { field: 'authorization', message: 'must be Bearer <API key>' },
    ]);
  }
  return { brand, keyId, keyHash: hashApiKey(key) };
}

/** Makes a session for the maker's brand; the token is in the answer only. */
export async function createConsoleSession(
  deps: { readonly sessions: ConsoleSessionStore; readonly now: () => Date },
  maker: SessionMaker,
  body: unknown,
): Promise<ConsoleSessionCreated> {
  const parsed = consoleSessionCreateSchema.safeParse(body ?? {});
  if (!parsed.success) throw new ValidationError(toFieldIssues(parsed.error));
  const seconds = parsed.data.expiresInSeconds ?? CONSOLE_SESSION_MAX_SECONDS;
  const now = deps.now();
  // Whole seconds: DynamoDB's TTL attribute is epoch seconds, and the record round-trips exactly.
  const expiresAt = new Date(Math.floor(now.getTime() / 1000) * 1000 + seconds * 1000).toISOString();
  const token = `${CONSOLE_SESSION_PREFIX}${randomBytes(32).toString('base64url')}`;
  const record: ConsoleSessionRecord = {
    brand: maker.brand,
    keyId: maker.keyId,
    keyHash: maker.keyHash,
    createdAt: now.toISOString(),
    expiresAt,
  };
  await deps.sessions.put(hashApiKey(token), record);
  return { url: `${CONSOLE_PATH}#session=${token}`, token, expiresAt };
}
