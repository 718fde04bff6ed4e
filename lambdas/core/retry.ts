import * as z from 'zod';

/*
 * The retry schedule's limits and schema live here, not in subscription.ts: config.ts reads a schedule
 * too, and importing subscription.ts from there would make every handler build the subscription schemas
 * at load, and bundle into route the SSRF guard with its HTTP agents, which route never uses.
 */

/**
 * The longest one retry step waits: 12 hours. A wait longer than SQS_MAX_DELAY_SECONDS goes in hops of at
 * most that (the message carries when it is due), one SendMessage per hop: 48 for the longest step.
 */
export const MAX_RETRY_DELAY_SECONDS = 12 * 60 * 60;

/**
 * The longest SQS delays a new message (DelaySeconds, message timers): 900 seconds (15 minutes).
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html
 * ("Message timer"); https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatchRequestEntry.html
 */
export const SQS_MAX_DELAY_SECONDS = 900;
export const MAX_ATTEMPTS = 20;

export const retryScheduleSchema = z
  .array(
    z
      .number()
      .int('a delay is a whole number of seconds')
      .min(0, 'a delay is 0 seconds or more')
      .max(MAX_RETRY_DELAY_SECONDS, `a delay is at most ${MAX_RETRY_DELAY_SECONDS} seconds (12 h)`),
  )
  .min(1, 'at least one delay is needed')
  .max(MAX_ATTEMPTS, `at most ${MAX_ATTEMPTS} attempts are allowed`)
  .describe('Seconds to wait before each attempt; its length is the number of attempts');

/**
 * Seconds to wait before each attempt (Standard Webhooks / Svix practice): immediately, 5 s, 5 min,
 * 30 min, 2 h, 5 h, 10 h, 10 h. Eight attempts over about 27.6 hours.
 */
export const DEFAULT_RETRY_SCHEDULE: readonly number[] = [0, 5, 300, 1800, 7200, 18000, 36000, 36000];

/** What one attempt came to. */
export type AttemptOutcome =
  | { readonly kind: 'response'; readonly status: number; readonly retryAfter?: string | undefined }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'network'; readonly code?: string | undefined }
  /** The guard refused the listener's address at delivery time (its DNS now points somewhere private). */
  | { readonly kind: 'refused'; readonly reason: string }
  /** The TLS handshake failed (untrusted or mismatched listener certificate, client certificate refused). */
  | { readonly kind: 'tls'; readonly reason: string; readonly code?: string | undefined };

/** What happens after an attempt. */
export type NextStep =
  | { readonly action: 'succeeded' }
  | { readonly action: 'retry'; readonly delaySeconds: number; readonly reason: string }
  | { readonly action: 'failed'; readonly reason: string }
  | { readonly action: 'gone'; readonly reason: string };

/** Statuses that are plainly transient; every other failure is retried too, but these are expected to heal. */
const TRANSIENT_STATUSES = new Set([408, 425, 429]);

/**
 * Decides what follows attempt number `attempt` (1-based) of a delivery. 2xx succeeds; 410 Gone stops
 * and disables the subscription; every other failure (3xx, which is never followed, 4xx, 5xx, timeouts,
 * connection and TLS errors) is retried on the schedule until it runs out. A `Retry-After` lengthens the wait,
 * never shortens it, and never past the 12 h one step may wait.
 */
export function decideNextStep(input: {
  readonly attempt: number;
  readonly outcome: AttemptOutcome;
  readonly schedule?: readonly number[];
  readonly now?: Date;
}): NextStep {
  const { attempt, outcome, schedule = DEFAULT_RETRY_SCHEDULE, now = new Date() } = input;
  if (outcome.kind === 'response' && outcome.status >= 200 && outcome.status < 300)
    return { action: 'succeeded' };
  const reason = describeOutcome(outcome);
  if (outcome.kind === 'response' && outcome.status === 410) return { action: 'gone', reason };
  const scheduled = schedule[attempt];
  if (scheduled === undefined) {
    return {
      action: 'failed',
      reason: `${reason}; gave up after ${attempt} attempt${attempt === 1 ? '' : 's'}`,
    };
  }
  const asked = outcome.kind === 'response' ? parseRetryAfter(outcome.retryAfter, now) : undefined;
  const delaySeconds = Math.min(Math.max(scheduled, asked ?? 0), MAX_RETRY_DELAY_SECONDS);
  return { action: 'retry', delaySeconds, reason };
}

/** A one-line reason for the delivery log. */
export function describeOutcome(outcome: AttemptOutcome): string {
  switch (outcome.kind) {
    case 'response':
      if (outcome.status >= 300 && outcome.status < 400)
        return `HTTP ${outcome.status} (redirects are not followed)`;
      return TRANSIENT_STATUSES.has(outcome.status) || outcome.status >= 500
        ? `HTTP ${outcome.status}`
        : `HTTP ${outcome.status} (client error at the listener)`;
    case 'timeout':
      return 'timed out';
    case 'network':
      return `connection failed${outcome.code ? ` (${outcome.code})` : ''}`;
    case 'refused':
      return `listener address refused: ${outcome.reason}`;
    case 'tls':
      return `TLS handshake failed: ${outcome.reason}${outcome.code ? ` (${outcome.code})` : ''}`;
  }
}

/** `Retry-After` as seconds from `now`: delta-seconds or an HTTP date; undefined when absent or invalid. */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at) || !/[a-z]/i.test(trimmed)) return undefined;
  return Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}
