/**
 * `npm run soak`: the fault soak (docs/RELIABILITY.md). N events × K subscriptions through the local
 * stack while the listeners fail at random (5xx, 429 with Retry-After, connection resets, timeouts, slow
 * answers) and the stack is SIGKILLed twice mid-run and restarted on the same data. Reports deliveries
 * expected, delivered, failed (recorded), lost (must be 0), duplicates and the time to drain, as a
 * table and a JSON line; exits 1 when anything was lost or wrong.
 *
 * Everything listens on 127.0.0.1 only; every loop is bounded in count and time. Sizes from SOAK_*
 * variables or flags (`npm run soak -- --help`).
 */
import { parseOptions, USAGE } from './soak/options.js';
import { atEnd, formatReport, jsonLine, machine } from './soak/report.js';
import { runSoak } from './soak/run.js';

let options: ReturnType<typeof parseOptions>;
try {
  options = parseOptions(process.argv.slice(2), process.env);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(2);
}
if (options === 'help') {
  console.log(USAGE);
  process.exit(0);
}

const host = machine();
try {
  const result = await runSoak(options, (line) => console.error(line));
  const ended = atEnd(host);
  console.log(formatReport(result, ended));
  console.log(jsonLine(result, ended));
  process.exit(result.ok ? 0 : 1);
} catch (error) {
  console.error(`soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
}
