/**
 * `npm run isolation`: does one brand's flood, outage or slow listener delay another brand? Runs each
 * scenario of scripts/isolation/ in turn, each on a local stack of its own (`npm start`'s entry as a child
 * process, a fresh data folder, loopback listeners), and prints its figures: B's event→listener p50/p99
 * and A's totals. Loopback only; every wait is bounded.
 *
 * Settings: ISOLATION_SCALE (default 1) scales the event counts (e.g. 0.1 for a quick run); the slow
 * neighbour reads ISOLATION_RATE, ISOLATION_SECONDS and ISOLATION_TIMEOUT_MS, the rate limit
 * RATE_LIMIT_PER_SECOND and RATE_LIMIT_EVENTS. Each scenario also runs alone:
 * `npx tsx scripts/isolation/<name>.ts` for rate-limit and lanes.
 */
import os from 'node:os';
import * as failingFlood from './isolation/failing-flood.js';
import * as flood from './isolation/flood.js';
import * as lanes from './isolation/lanes.js';
import * as rateLimit from './isolation/rate-limit.js';
import * as slowNeighbour from './isolation/slow-neighbour.js';
import type { ScenarioResult } from './isolation/support.js';

/** The scenarios, in the order they run and print. */
const SCENARIOS: readonly { readonly run: () => Promise<ScenarioResult> }[] = [
  flood,
  failingFlood,
  slowNeighbour,
  rateLimit,
  lanes,
];

async function main(): Promise<void> {
  const started = Date.now();
  console.log(
    `machine: ${os.cpus()[0]?.model ?? 'unknown cpu'}, ${os.cpus().length} cores, node ${process.version}; ` +
      `ISOLATION_SCALE=${process.env.ISOLATION_SCALE ?? 1}`,
  );
  for (const scenario of SCENARIOS) {
    const result = await scenario.run();
    console.log(`\n${result.title}`);
    for (const line of result.lines) console.log(`  ${line}`);
  }
  console.log(`\n(${((Date.now() - started) / 1000).toFixed(0)} s in all)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
