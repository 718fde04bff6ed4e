import { afterEach, describe, expect, it } from 'vitest';
import { type EventLoopLoad, LOAD_SAMPLE_MS, watchEventLoopLoad } from '../../local/event-loop-load.js';

let load: EventLoopLoad | undefined;
afterEach(() => load?.stop());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Keeps the event loop running callbacks for `ms`, a millisecond at a time, as a flood would. */
async function keepBusy(ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const slice = Date.now() + 1;
    while (Date.now() < slice) {
      // busy
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('the event loop load', () => {
  it('is saturated while callbacks fill the loop, and tells of the relief once it idles', async () => {
    load = watchEventLoopLoad();
    let reliefs = 0;
    load.onRelief(() => reliefs++);
    await sleep(LOAD_SAMPLE_MS * 3);
    expect(load.saturated()).toBe(false);

    await keepBusy(LOAD_SAMPLE_MS * 3);
    expect(load.saturated()).toBe(true);
    expect(reliefs).toBe(0);

    await sleep(LOAD_SAMPLE_MS * 3);
    expect(load.saturated()).toBe(false);
    expect(reliefs).toBe(1);
  });
});
