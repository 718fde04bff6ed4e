import { describe, expect, it } from 'vitest';
import {
  type AttemptOutcome,
  DEFAULT_RETRY_SCHEDULE,
  decideNextStep,
  parseRetryAfter,
} from '../../lambdas/core/retry.js';

const now = new Date('2026-11-27T12:00:00Z');
const response = (status: number, retryAfter?: string): AttemptOutcome => ({
  kind: 'response',
  status,
  retryAfter,
});

describe('the default retry schedule', () => {
  it('waits 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h: eight attempts in about 28 hours', () => {
    expect(DEFAULT_RETRY_SCHEDULE).toEqual([0, 5, 300, 1800, 7200, 18000, 36000, 36000]);
    const hours = DEFAULT_RETRY_SCHEDULE.reduce((sum, delay) => sum + delay, 0) / 3600;
    expect(hours).toBeCloseTo(27.6, 1);
  });
});

describe('decideNextStep', () => {
  it.each([
    [200, 'succeeded'],
    [202, 'succeeded'],
    [204, 'succeeded'],
    [299, 'succeeded'],
    [301, 'retry'],
    [302, 'retry'],
    [307, 'retry'],
    [400, 'retry'],
    [401, 'retry'],
    [404, 'retry'],
    [408, 'retry'],
    [410, 'gone'],
    [425, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [502, 'retry'],
    [503, 'retry'],
    [504, 'retry'],
  ])('after a first attempt answered %i, decides %s', (status, action) => {
    expect(decideNextStep({ attempt: 1, outcome: response(status), now }).action).toBe(action);
  });

  it.each([
    [{ kind: 'timeout' } as const, 'timed out'],
    [{ kind: 'network', code: 'ECONNRESET' } as const, 'ECONNRESET'],
    [{ kind: 'refused', reason: 'resolves to 10.0.0.1' } as const, '10.0.0.1'],
  ])('retries a %o and says why', (outcome, words) => {
    const step = decideNextStep({ attempt: 1, outcome, now });
    expect(step).toEqual({ action: 'retry', delaySeconds: 5, reason: expect.stringContaining(words) });
  });

  it('waits the delay of the next attempt on the schedule', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7].map(
      (attempt) => decideNextStep({ attempt, outcome: response(500), now }) as { delaySeconds: number },
    );
    expect(delays.map((step) => step.delaySeconds)).toEqual(DEFAULT_RETRY_SCHEDULE.slice(1));
  });

  it('gives up after the last attempt of the schedule', () => {
    const step = decideNextStep({ attempt: 8, outcome: response(503), now });
    expect(step).toEqual({ action: 'failed', reason: 'HTTP 503; gave up after 8 attempts' });
  });

  it('follows a subscription schedule instead of the default', () => {
    const schedule = [0, 1, 1];
    expect(decideNextStep({ attempt: 2, outcome: response(500), schedule, now })).toMatchObject({
      delaySeconds: 1,
    });
    expect(decideNextStep({ attempt: 3, outcome: response(500), schedule, now }).action).toBe('failed');
  });

  it('retries a 503 after the Retry-After delay when it is longer than the schedule', () => {
    const step = decideNextStep({ attempt: 1, outcome: response(503, '120'), now });
    expect(step).toMatchObject({ action: 'retry', delaySeconds: 120 });
  });

  it('honours a Retry-After given as an HTTP date', () => {
    const at = new Date(now.getTime() + 600_000).toUTCString();
    expect(decideNextStep({ attempt: 1, outcome: response(429, at), now })).toMatchObject({
      delaySeconds: 600,
    });
  });

  it('never retries sooner than the schedule because of a short Retry-After', () => {
    expect(decideNextStep({ attempt: 2, outcome: response(429, '1'), now })).toMatchObject({
      delaySeconds: 300,
    });
  });

  it('caps a Retry-After at the 12 hours a queue can delay a message', () => {
    expect(decideNextStep({ attempt: 1, outcome: response(429, '999999'), now })).toMatchObject({
      delaySeconds: 43200,
    });
  });

  it('ignores an unparseable Retry-After', () => {
    expect(decideNextStep({ attempt: 1, outcome: response(429, 'soon'), now })).toMatchObject({
      delaySeconds: 5,
    });
  });

  it('stops at a 410 even on the first attempt, so the subscription can be disabled', () => {
    expect(decideNextStep({ attempt: 1, outcome: response(410), now })).toEqual({
      action: 'gone',
      reason: 'HTTP 410 (client error at the listener)',
    });
  });

  it('says that a redirect was not followed', () => {
    expect(decideNextStep({ attempt: 1, outcome: response(302), now })).toMatchObject({
      reason: 'HTTP 302 (redirects are not followed)',
    });
  });
});

describe('parseRetryAfter', () => {
  it.each([
    [undefined, undefined],
    ['30', 30],
    [' 30 ', 30],
    ['-5', undefined],
    ['1.5', undefined],
    ['', undefined],
    ['Fri, 27 Nov 2026 12:01:00 GMT', 60],
    ['Fri, 27 Nov 2026 11:00:00 GMT', 0],
  ])('reads %o as %o seconds', (value, seconds) => {
    expect(parseRetryAfter(value, now)).toBe(seconds);
  });
});
