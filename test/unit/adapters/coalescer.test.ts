import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { coalesce } from '../../../lambdas/adapters/coalescer.js';

/** A run that answers each key doubled, recording the keys of every request it was asked. */
function doubling() {
  const requests: number[][] = [];
  const run = vi.fn(async (keys: readonly number[]) => {
    requests.push([...keys]);
    return keys.map((key) => key * 2);
  });
  return { run, requests };
}

describe('coalescing calls into requests', () => {
  it('gathers the calls of one turn into one request, answering each caller its own value', async () => {
    const { run, requests } = doubling();
    const double = coalesce(run, 10);

    const answers = await Promise.all([double(1), double(2), double(3)]);

    expect(answers).toEqual([2, 4, 6]);
    expect(requests).toEqual([[1, 2, 3]]);
  });

  it('runs nothing until the turn ends, and takes calls made in its microtasks too', async () => {
    const { run, requests } = doubling();
    const double = coalesce(run, 10);

    const first = double(1);
    expect(run).not.toHaveBeenCalled();
    await Promise.resolve();
    const second = double(2);

    expect(await Promise.all([first, second])).toEqual([2, 4]);
    expect(requests).toEqual([[1, 2]]);
  });

  it('sends the calls of a later turn in a new request', async () => {
    const { run, requests } = doubling();
    const double = coalesce(run, 10);

    const first = double(1);
    await nextTurn();
    const second = double(2);

    expect(await Promise.all([first, second])).toEqual([2, 4]);
    expect(requests).toEqual([[1], [2]]);
  });

  it('never answers a call with the result of a request that went before it was made', async () => {
    let release: (() => void) | undefined;
    const requests: number[][] = [];
    let generation = 0;
    const run = async (keys: readonly number[]) => {
      requests.push([...keys]);
      generation += 1;
      const answer = keys.map((key) => `${key}@${generation}`);
      if (generation === 1) await new Promise<void>((resolve) => (release = resolve));
      return answer;
    };
    const read = coalesce(run, 10);

    const early = read(1);
    await nextTurn();
    expect(requests).toEqual([[1]]);
    // The first request is in flight: a call for the same key waits for a request of its own.
    const late = read(1);
    await nextTurn();
    release?.();

    expect(await early).toBe('1@1');
    expect(await late).toBe('1@2');
    expect(requests).toEqual([[1], [1]]);
  });

  it('splits the calls of one turn into requests of at most maxBatch keys, sent side by side', async () => {
    const { run, requests } = doubling();
    const double = coalesce(run, 2);

    const answers = await Promise.all([1, 2, 3, 4, 5].map((key) => double(key)));

    expect(answers).toEqual([2, 4, 6, 8, 10]);
    expect(requests).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('rejects only the callers of the request that failed', async () => {
    const run = async (keys: readonly number[]) => {
      if (keys.includes(3)) throw new Error('throttled');
      return keys.map((key) => key * 2);
    };
    const double = coalesce(run, 2);

    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((key) => double(key)));

    expect(results).toEqual([
      { status: 'fulfilled', value: 2 },
      { status: 'fulfilled', value: 4 },
      { status: 'rejected', reason: new Error('throttled') },
      { status: 'rejected', reason: new Error('throttled') },
      { status: 'fulfilled', value: 10 },
    ]);
  });

  it('rejects the callers of a run that throws instead of rejecting, and keeps working', async () => {
    let broken = true;
    const double = coalesce((keys: readonly number[]) => {
      if (broken) throw new Error('bad request');
      return Promise.resolve(keys.map((key) => key * 2));
    }, 10);

    const results = await Promise.allSettled([double(1), double(2)]);
    broken = false;

    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(await double(3)).toBe(6);
  });

  it('rejects the callers of a run that answers a different number of values than keys', async () => {
    const double = coalesce(async (keys: readonly number[]) => keys.slice(1), 10);

    await expect(Promise.all([double(1), double(2)])).rejects.toThrow(
      'coalesced run answered 1 values for 2 keys',
    );
  });

  it('passes the same key asked twice in one turn to the run twice, and answers both', async () => {
    const { run, requests } = doubling();
    const double = coalesce(run, 10);

    expect(await Promise.all([double(7), double(7)])).toEqual([14, 14]);
    expect(requests).toEqual([[7, 7]]);
  });
});
