/*
 * The console's only way out: this origin's API, with the brand's key (or a console link's token) as the
 * bearer. The credential lives in sessionStorage: gone when the tab closes, never in localStorage, a
 * cookie or the URL.
 */

const CREDENTIAL = 'commbox-webhooks.credential';

export interface FieldIssue {
  readonly field: string;
  readonly message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: readonly FieldIssue[] = [],
  ) {
    super(message);
  }
}

export function credential(): string | null {
  return sessionStorage.getItem(CREDENTIAL);
}

export function signIn(key: string): void {
  sessionStorage.setItem(CREDENTIAL, key);
}

export function signOut(): void {
  sessionStorage.removeItem(CREDENTIAL);
}

/**
 * A console link (`/console#session=<token>`): the token moves to sessionStorage and leaves the address
 * bar and the history at once, so it is neither bookmarked nor shown.
 */
export function takeSessionFromLink(): boolean {
  const match = /(?:^#|&)session=([^&]+)/.exec(location.hash);
  if (!match?.[1]) return false;
  signIn(decodeURIComponent(match[1]));
  history.replaceState(null, '', `${location.pathname}${location.search}`);
  return true;
}

/** Told when the API refuses the credential (401/403): the console signs out. */
let onRefused: () => void = () => undefined;
export function whenRefused(callback: () => void): void {
  onRefused = callback;
}

/** `signingIn`: a refusal is the sign-in form's to show, not a reason to sign out. */
export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  options: { signingIn?: boolean } = {},
): Promise<T> {
  const headers: Record<string, string> = {};
  const key = credential();
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'The service could not be reached. Check the connection and try again.');
  }
  const text = await response.text();
  const parsed = text ? safeJson(text) : undefined;
  if (response.ok) return parsed as T;
  if (response.status === 401 || response.status === 403) {
    if (!options.signingIn) onRefused();
    throw new ApiError(response.status, 'The API key was refused.');
  }
  const error = (parsed as { error?: { message?: string; details?: FieldIssue[] } } | undefined)?.error;
  throw new ApiError(
    response.status,
    error?.message ?? `The service answered ${response.status}.`,
    Array.isArray(error?.details) ? error.details : [],
  );
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export interface Page<T> {
  readonly items: T[];
  readonly cursor?: string;
}

export interface EventSelection {
  readonly name: string;
  readonly activityTypes?: number[];
  readonly channels?: (number | string)[];
}

export interface Subscription {
  readonly id: string;
  readonly name: string;
  readonly entity: string;
  readonly events: EventSelection[];
  readonly url: string;
  readonly format: 'json' | 'soap';
  readonly includeCompleteData: boolean;
  readonly headers?: Record<string, string>;
  readonly publicHeaders?: string[];
  readonly status: 'active' | 'paused' | 'disabled';
  readonly disabledReason?: string;
  readonly description?: string;
  readonly signatureScheme: 'hmac-sha256' | 'ed25519';
  readonly publicKey?: string;
  readonly soap?: { action?: string; parameters?: Record<string, string> };
  readonly tls?: { clientCertificate?: Record<string, unknown>; serverCa?: Record<string, unknown> };
  readonly warnings?: unknown[];
  readonly failingSince?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Only in the answer to a create (HMAC): shown once. */
  readonly secret?: string;
}

export interface Attempt {
  readonly attempt: number;
  readonly at: string;
  readonly durationMs: number;
  readonly statusCode?: number;
  readonly error?: string;
}

export interface Delivery {
  readonly id: string;
  readonly entity: string;
  readonly event: string;
  readonly status: 'pending' | 'succeeded' | 'failed';
  readonly attempts: Attempt[];
  readonly receivedAt: string;
  readonly updatedAt: string;
  readonly nextAttemptAt?: string;
  readonly failureReason?: string;
  readonly payload: { contentType: string; body: string } | null;
}

export interface CatalogueEntity {
  readonly entity: string;
  readonly events: {
    name: string;
    description: string;
    components: {
      name: 'activityTypes' | 'channels';
      description: string;
      values?: { id: number; name: string }[];
    }[];
  }[];
}
