/**
 * The HTTP client that POSTs one delivery attempt to a listener and reports what came of it (the core's
 * `ListenerPoster` port). Every attempt goes through the SSRF guard: `resolveListener` checks the URL and
 * resolves the host, the request connects only to those addresses (`pinnedLookup`), and the
 * request-filtering agents check the connected address again; a refusal is `{kind: 'refused'}` and no TCP
 * connection is opened. `post` never throws because of what the listener or its DNS does, only for
 * programmer errors (a reserved header, use after `close()`). Keep-alive, retries on stale sockets, the
 * timeout and body limits: docs/DECISIONS.md, "Listener client".
 */
import http from 'node:http';
import https from 'node:https';
import { StringDecoder } from 'node:string_decoder';
import { ClientError } from '../core/errors.js';
import type { ListenerPoster, ListenerRequest, ListenerResult } from '../core/ports.js';
import type { AttemptOutcome } from '../core/retry.js';
import { type ResolvedListener, type Resolver, resolveListener } from '../core/ssrf.js';
import { classifyTlsError, resetAfterHandshake } from './listener-tls-errors.js';
import { createListenerAgent, defaultResolver, type ListenerAgents, pinnedLookup } from './ssrf-network.js';
import { TlsAgentCache } from './tls-agents.js';

export const DEFAULT_MAX_RESPONSE_BYTES = 4096;
export const DEFAULT_USER_AGENT = 'CommBox-Webhooks/1.0';
/** Idle pooled sockets are closed after this long; below common server keep-alive timeouts (Node: 5 s). */
export const FREE_SOCKET_TIMEOUT_MS = 4000;
export const MAX_SOCKETS_PER_HOST = 16;

/** Header names the client sets itself; passing them in `headers` is a programmer error. */
const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'user-agent',
]);

/** How request-filtering-agent words a refusal (see the module comment). */
const AGENT_REFUSAL = /^DNS lookup \S.* is not allowed\./;

/** Codes of a reused keep-alive socket that the server had already closed. */
const STALE_SOCKET_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE']);

export interface ListenerClientOptions {
  /** Allow loopback listeners and plain http (local development and tests only). */
  readonly allowLocalTargets: boolean;
  /** The service's own loopback ports, refused as listeners (AddressPolicy.refusedLoopbackPorts). */
  readonly refusedLoopbackPorts?: readonly number[];
  /** Host name resolver; default `defaultResolver` (getaddrinfo). Tests inject canned answers. */
  readonly resolve?: Resolver;
  /** Upper bound on the whole attempt, DNS to end of the capped body. */
  readonly timeoutMs: number;
  /** Bytes of the response body kept in `responseSnippet`; default 4096. */
  readonly maxResponseBytes?: number;
  readonly userAgent?: string;
}

export type { ListenerRequest, ListenerResult } from '../core/ports.js';

export interface ListenerClient extends ListenerPoster {
  /** Destroys the pooled connections. The client must not be used afterwards. */
  close(): void;
}

interface SendResult {
  readonly outcome: AttemptOutcome;
  readonly snippet?: string;
  /** The request failed on a reused keep-alive socket before any response: worth one fresh try. */
  readonly staleSocket?: boolean;
}

const TIMED_OUT: unique symbol = Symbol('timed out');

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === 'string' && code.length > 0 && code.length <= 64 ? code : undefined;
}

/** The outcome for an error emitted by the request before any response arrived. */
function outcomeOfError(error: unknown): AttemptOutcome {
  const code = errorCode(error);
  if (code === undefined && error instanceof Error && AGENT_REFUSAL.test(error.message)) {
    return { kind: 'refused', reason: error.message };
  }
  return classifyTlsError(code) ?? { kind: 'network', code };
}

function checkHeaders(headers: Readonly<Record<string, string>>): void {
  for (const name of Object.keys(headers)) {
    if (RESERVED_HEADERS.has(name.toLowerCase())) {
      throw new TypeError(`listener request header ${JSON.stringify(name)} is set by the client itself`);
    }
  }
}

/** `promise`, or TIMED_OUT if it has not settled within `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export function createListenerClient(options: ListenerClientOptions): ListenerClient {
  const {
    allowLocalTargets,
    refusedLoopbackPorts = [],
    resolve = defaultResolver,
    timeoutMs,
    maxResponseBytes = DEFAULT_MAX_RESPONSE_BYTES,
    userAgent = DEFAULT_USER_AGENT,
  } = options;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(`timeoutMs must be a positive number, got ${timeoutMs}`);
  }
  if (!Number.isInteger(maxResponseBytes) || maxResponseBytes < 0) {
    throw new RangeError(`maxResponseBytes must be a non-negative integer, got ${maxResponseBytes}`);
  }

  const agentOptions = {
    allowLocalTargets,
    keepAlive: true,
    timeout: FREE_SOCKET_TIMEOUT_MS,
    maxSockets: MAX_SOCKETS_PER_HOST,
    maxFreeSockets: MAX_SOCKETS_PER_HOST,
    scheduling: 'lifo',
  } as const;
  const agents: ListenerAgents = createListenerAgent(agentOptions);
  // A subscription with a client certificate or its own CA gets https agents of its own (by fingerprint).
  const tlsAgents = new TlsAgentCache(agentOptions);
  let closed = false;

  function send(
    target: ResolvedListener,
    request: ListenerRequest,
    remainingMs: number,
    headers: http.OutgoingHttpHeaders,
  ): Promise<SendResult> {
    return new Promise<SendResult>((settlePromise) => {
      const { url, addresses } = target;
      const requestOptions: https.RequestOptions = {
        method: 'POST',
        agent:
          url.protocol !== 'https:'
            ? agents.http
            : request.tls
              ? tlsAgents.agentFor(request.tls)
              : agents.https,
        lookup: pinnedLookup(addresses, url.hostname),
        headers,
      };
      let settled = false;
      let response: { status: number; retryAfter: string | undefined } | undefined;
      const kept: Buffer[] = [];
      let keptBytes = 0;

      const responseResult = (): SendResult => {
        const decoder = new StringDecoder('utf8');
        // write() holds back a multi-byte character torn by the cap; end() is never called.
        const snippet = decoder.write(Buffer.concat(kept, keptBytes));
        return {
          outcome: { kind: 'response', status: response?.status ?? 0, retryAfter: response?.retryAfter },
          snippet,
        };
      };
      const settle = (result: SendResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        settlePromise(result);
      };

      const timer = setTimeout(() => {
        settle(response === undefined ? { outcome: { kind: 'timeout' } } : responseResult());
        req.destroy();
      }, remainingMs);

      const onResponse = (res: http.IncomingMessage): void => {
        const retryAfter = res.headers['retry-after'];
        response = { status: res.statusCode ?? 0, retryAfter };
        res.on('data', (chunk: Buffer) => {
          if (settled) return;
          const room = maxResponseBytes - keptBytes;
          if (chunk.length <= room) {
            kept.push(chunk);
            keptBytes += chunk.length;
            return;
          }
          if (room > 0) {
            kept.push(chunk.subarray(0, room));
            keptBytes += room;
          }
          // More than fits: stop reading and give up this connection rather than wait for the rest.
          settle(responseResult());
          req.destroy();
        });
        res.on('end', () => settle(responseResult()));
        // The connection died mid-body: the status still stands.
        res.on('error', () => settle(responseResult()));
        res.on('close', () => settle(responseResult()));
      };

      let req: http.ClientRequest;
      try {
        req = (url.protocol === 'https:' ? https.request : http.request)(url, requestOptions, onResponse);
      } catch (error) {
        // Invalid header names or values: a programmer error.
        settled = true;
        clearTimeout(timer);
        throw error;
      }
      req.on('error', (error) => {
        if (response !== undefined) {
          settle(responseResult());
          return;
        }
        const code = errorCode(error);
        const mutualTls = request.tls !== undefined && !req.reusedSocket;
        settle({
          outcome: (mutualTls ? resetAfterHandshake(code) : undefined) ?? outcomeOfError(error),
          staleSocket: req.reusedSocket && code !== undefined && STALE_SOCKET_CODES.has(code),
        });
      });
      req.end(request.body);
    });
  }

  return {
    async post(request) {
      if (closed) throw new Error('listener client is closed');
      checkHeaders(request.headers);
      const started = performance.now();
      const elapsed = (): number => performance.now() - started;
      const result = (outcome: AttemptOutcome, snippet?: string): ListenerResult => ({
        outcome,
        durationMs: Math.round(elapsed()),
        ...(snippet === undefined ? {} : { responseSnippet: snippet }),
      });

      let target: ResolvedListener | typeof TIMED_OUT;
      try {
        target = await within(
          resolveListener(request.url, { allowLocalTargets, refusedLoopbackPorts, resolve }),
          timeoutMs,
        );
      } catch (error) {
        if (error instanceof ClientError) return result({ kind: 'refused', reason: error.message });
        throw error;
      }
      if (target === TIMED_OUT) return result({ kind: 'timeout' });

      const headers: http.OutgoingHttpHeaders = {
        ...request.headers,
        'Content-Length': Buffer.byteLength(request.body, 'utf8'),
        'User-Agent': userAgent,
      };
      let sent: SendResult | undefined;
      for (let tries = 0; tries < 2; tries += 1) {
        const remaining = timeoutMs - elapsed();
        if (remaining <= 0) return result({ kind: 'timeout' });
        sent = await send(target, request, remaining, headers);
        if (sent.staleSocket !== true) break;
      }
      // The loop runs at least once: timeoutMs > 0 and the first check happens right after resolution.
      if (sent === undefined) return result({ kind: 'timeout' });
      return result(sent.outcome, sent.snippet);
    },
    close() {
      closed = true;
      agents.http.destroy();
      agents.https.destroy();
      tlsAgents.destroy();
    },
  };
}
