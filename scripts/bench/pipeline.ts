/**
 * The pipeline under test, a child process of the bench: the local stack (local/stack.ts) on a fresh
 * data folder, on the backend WEBHOOKS_LOCAL_BACKEND names (SQLite by default), with the handlers' SDK clients and the stack's own SQS client counted (./tally.ts) and
 * every poller invocation timed. One configuration per process (the handler modules read the environment
 * once): DELIVERY_LOG and the rest come from the parent. Commands: `begin` (a new counting window), `end`
 * (its counts), `profileStart` / `profileStop` (a V8 CPU profile of the window, written to a file).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { announceReady, benchBrand, serveCommands } from './ipc.js';
import { activity, emptyTally, instrument, recordInvocation, type Tally } from './tally.js';

const { startLocalStack } = await import('../../local/stack.js');
const clients = await import('../../lambdas/commons/clients.js');

let tally = emptyTally();
/** CPU time of this process (user + system) from the window's `begin`. */
let cpuAtBegin = process.cpuUsage();
const current = (): Tally => tally;
let logged = 0;
let invoked = 0;
const dataDir = mkdtempSync(join(tmpdir(), 'commbox-bench-'));
const stack = await startLocalStack({
  port: 0,
  backend: process.env.WEBHOOKS_LOCAL_BACKEND === 'aws-emulators' ? 'aws-emulators' : 'sqlite',
  dataDir,
  apiKeys: Array.from({ length: Number(process.env.BENCH_BRANDS ?? '1') }, (_, index) => benchBrand(index)),
  log: (line) => {
    logged += 1;
    if (logged <= 5) process.stderr.write(`pipeline: ${line}\n`);
  },
  onInvoke: (name, ms, records) => {
    invoked += 1;
    recordInvocation(tally, name, ms, records);
  },
  onSqsClient: (client) => instrument(client, 'SQS', 'esm', current),
});
// The handlers create these on first use, from the environment the stack just set: the same instances.
instrument(clients.documentClient(), 'DynamoDB', 'handler', current);
instrument(clients.sqsClient(), 'SQS', 'handler', current);
instrument(clients.eventBridgeClient(), 'EventBridge', 'handler', current);

let session: Session | undefined;

serveCommands(
  {
    begin: () => {
      tally = emptyTally();
      cpuAtBegin = process.cpuUsage();
    },
    // maxRSS: the process's peak resident set so far, in KiB.
    end: () => {
      const cpu = process.cpuUsage(cpuAtBegin);
      return {
        ...tally,
        stackLogLines: logged,
        peakRssMiB: process.resourceUsage().maxRSS / 1024,
        cpuMs: (cpu.user + cpu.system) / 1000,
      };
    },
    activity: () => ({ ...activity, invocations: invoked }),
    profileStart: async () => {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 500 });
      await session.post('Profiler.start');
    },
    profileStop: async (args) => {
      if (!session) throw new Error('no profile running');
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      session = undefined;
      writeFileSync(String(args.path), JSON.stringify(profile));
    },
  },
  () => void shutdown(),
);

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await stack.stop().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());

announceReady({ url: stack.url, deliveryLog: process.env.DELIVERY_LOG ?? 'full' });
