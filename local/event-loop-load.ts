import { performance } from 'node:perf_hooks';

/*
 * Whether this process's event loop is saturated. In AWS each batch runs in a Lambda container of its own;
 * on `npm start` every batch, every PutEvents and every API request shares one event loop, so a brand that
 * floods can fill it, and every step of another brand's event then waits behind its callbacks. The local
 * deliver poller reads this to give a busy brand a smaller share while the loop is full (queue-poller.ts).
 */

/** How often the utilization is sampled, and the window it is measured over. */
export const LOAD_SAMPLE_MS = 100;
/**
 * The event loop counts as saturated above this utilization (the share of the window it spent running
 * callbacks rather than waiting for I/O), measured with `performance.eventLoopUtilization`.
 */
export const SATURATED_UTILIZATION = 0.9;

export interface EventLoopLoad {
  /** True while the last window's utilization was above SATURATED_UTILIZATION. */
  saturated(): boolean;
  /** Told when the loop stops being saturated (waiting pollers may take more again). */
  onRelief(listener: () => void): void;
  stop(): void;
}

export function watchEventLoopLoad(): EventLoopLoad {
  let saturated = false;
  let last = performance.eventLoopUtilization();
  const listeners: (() => void)[] = [];
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const window = performance.eventLoopUtilization(now, last);
    last = now;
    const was = saturated;
    saturated = window.utilization > SATURATED_UTILIZATION;
    if (was && !saturated) for (const listener of listeners) listener();
  }, LOAD_SAMPLE_MS);
  timer.unref();
  return {
    saturated: () => saturated,
    onRelief: (listener) => void listeners.push(listener),
    stop: () => clearInterval(timer),
  };
}
