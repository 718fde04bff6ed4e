import { afterEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreakers, InFlightLimiter } from '../../lambdas/core/circuit-breaker.js';
import type { AttemptOutcome } from '../../lambdas/core/retry.js';

const settings = { failureThreshold: 3, cooldownMs: 1_000, maxCooldownMs: 4_000 };
const fail: AttemptOutcome = { kind: 'response', status: 503 };
const ok: AttemptOutcome = { kind: 'response', status: 200 };

function breakersAt(start = 0) {
  let now = start;
  const breakers = new CircuitBreakers(settings, () => now);
  const attempt = (outcome: AttemptOutcome) => {
    const admission = breakers.admit('sub');
    if (admission.verdict === 'go') admission.release(outcome);
    return admission.verdict;
  };
  return { breakers, attempt, advance: (ms: number) => (now += ms) };
}

describe('CircuitBreakers', () => {
  it('stays closed below the failure threshold, and a success resets the count', () => {
    const { attempt } = breakersAt();
    expect([attempt(fail), attempt(fail), attempt(ok), attempt(fail), attempt(fail)]).toEqual([
      'go',
      'go',
      'go',
      'go',
      'go',
    ]);
  });

  it('tells when it opened, keeps that through a failed probe, and forgets it once closed or told to close', () => {
    const { breakers, attempt, advance } = breakersAt(10_000);
    expect(breakers.openedAt('sub')).toBeUndefined();
    for (let i = 0; i < 3; i += 1) attempt(fail);
    expect(breakers.openedAt('sub')).toBe(10_000);
    advance(1_000);
    expect(attempt(fail)).toBe('go'); // the half-open probe, failing: open again, since the same opening
    expect(breakers.openedAt('sub')).toBe(10_000);
    advance(2_000);
    expect(attempt(ok)).toBe('go');
    expect(breakers.openedAt('sub')).toBeUndefined();

    for (let i = 0; i < 3; i += 1) attempt(fail);
    expect(breakers.isOpen('sub')).toBe(true);
    breakers.close('sub');
    expect(breakers.openedAt('sub')).toBeUndefined();
    expect(breakers.admit('sub')).toMatchObject({ verdict: 'go' });
  });

  it('opens after the threshold of consecutive failures and defers for the cool-down', () => {
    const { breakers, attempt, advance } = breakersAt();
    for (let i = 0; i < 3; i += 1) attempt(fail);
    expect(breakers.isOpen('sub')).toBe(true);
    expect(breakers.admit('sub')).toMatchObject({ verdict: 'defer', delayMs: 1_000 });
    advance(400);
    expect(breakers.admit('sub')).toMatchObject({ verdict: 'defer', delayMs: 600 });
  });

  it('lets exactly one probe through when half-open and closes on its success', () => {
    const { breakers, attempt, advance } = breakersAt();
    for (let i = 0; i < 3; i += 1) attempt(fail);
    advance(1_000);
    const probe = breakers.admit('sub');
    expect(probe.verdict).toBe('go');
    expect(breakers.admit('sub').verdict).toBe('defer');
    if (probe.verdict === 'go') probe.release(ok);
    expect(attempt(ok)).toBe('go');
    expect(breakers.isOpen('sub')).toBe(false);
  });

  it('hands the probe to the next delivery when the probing one abandons it, counting nothing', () => {
    const { breakers, attempt, advance } = breakersAt();
    for (let i = 0; i < 3; i += 1) attempt(fail);
    advance(1_000);
    const probe = breakers.admit('sub');
    if (probe.verdict !== 'go') throw new Error('no probe');

    probe.abandon();

    const next = breakers.admit('sub');
    expect(next.verdict).toBe('go');
    // Still half-open: the abandoned probe did not close the circuit, so only this one goes.
    expect(breakers.admit('sub').verdict).toBe('defer');
  });

  it('reopens with twice the cool-down, up to the maximum, when the probe fails', () => {
    const { breakers, attempt, advance } = breakersAt();
    for (let i = 0; i < 3; i += 1) attempt(fail);
    const cooldowns: number[] = [];
    for (let round = 0; round < 4; round += 1) {
      advance(10_000);
      attempt(fail);
      const deferred = breakers.admit('sub');
      cooldowns.push(deferred.verdict === 'defer' ? deferred.delayMs : 0);
    }
    expect(cooldowns).toEqual([2_000, 4_000, 4_000, 4_000]);
  });

  it('does not count a quick client error as a failure that hurts', () => {
    const { breakers, attempt } = breakersAt();
    for (let i = 0; i < 5; i += 1) attempt({ kind: 'response', status: 404 });
    expect(breakers.isOpen('sub')).toBe(false);
    for (const outcome of [
      { kind: 'timeout' },
      { kind: 'network' },
      { kind: 'response', status: 429 },
    ] as const) {
      attempt(outcome);
    }
    expect(breakers.isOpen('sub')).toBe(true);
  });

  it('keeps one circuit per subscription', () => {
    const { breakers, attempt } = breakersAt();
    for (let i = 0; i < 3; i += 1) attempt(fail);
    expect(breakers.admit('other').verdict).toBe('go');
  });
});

describe('InFlightLimiter', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('admits up to the bound per listener at once, and frees a slot on release, once', async () => {
    const limiter = new InFlightLimiter(2, 0);
    const first = await limiter.acquire('https://a.example');
    const second = await limiter.acquire('https://a.example');
    expect(await limiter.acquire('https://a.example')).toBeUndefined();
    expect(await limiter.acquire('https://b.example')).toBeDefined();
    first?.();
    first?.();
    expect(await limiter.acquire('https://a.example')).toBeDefined();
    expect(await limiter.acquire('https://a.example')).toBeUndefined();
    second?.();
  });

  it('hands a freed slot to the requests waiting for it, first come first served', async () => {
    vi.useFakeTimers();
    const limiter = new InFlightLimiter(1, 500);
    const held = await limiter.acquire('https://a.example');
    const order: string[] = [];
    const waiters = ['second', 'third'].map((name) =>
      limiter.acquire('https://a.example').then((release) => {
        order.push(name);
        return release;
      }),
    );

    await vi.advanceTimersByTimeAsync(100);
    expect(order).toEqual([]);
    held?.();
    const second = await waiters[0];
    expect(order).toEqual(['second']);
    second?.();
    const third = await waiters[1];

    expect(order).toEqual(['second', 'third']);
    expect(third).toBeDefined();
    // The slot went from hand to hand: still one in flight, so a newcomer waits.
    expect(await Promise.race([limiter.acquire('https://a.example'), Promise.resolve('waiting')])).toBe(
      'waiting',
    );
  });

  it('gives up on a wait that outlasts maxWaitMs, and never hands that request a slot later', async () => {
    vi.useFakeTimers();
    const limiter = new InFlightLimiter(1, 500);
    const held = await limiter.acquire('https://a.example');
    const waiter = limiter.acquire('https://a.example');

    await vi.advanceTimersByTimeAsync(500);
    expect(await waiter).toBeUndefined();
    held?.();

    // The slot went back to the pool, not to the request that gave up.
    expect(await limiter.acquire('https://a.example')).toBeDefined();
  });
});
