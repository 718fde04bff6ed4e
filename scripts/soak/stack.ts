import {
  capturedLogs,
  type LocalProcess,
  startLocalProcess,
} from '../../test/integration/support/local-process.js';
import { type QueueReader, queueReader } from '../../test/integration/support/queues.js';

/*
 * The local stack (`npm start`'s bin/local.ts) as a child process that the soak kills hard and starts
 * again on the same data folder. Each start is a "lifetime"; the soak reads every lifetime's logs at its
 * end, and the queues' depths (the SQLite file read-only, or SQS's own API in the emulator mode).
 */

export interface Lifetime {
  readonly generation: number;
  readonly startedAt: number;
  readonly readyAt: number;
  endedAt?: number;
  end?: 'killed' | 'stopped';
  logs: readonly string[];
}

export interface QueueDepths {
  readonly ingest: number;
  readonly delivery: number;
  readonly ingestDlq: number;
  readonly deliveryDlq: number;
}

const QUEUE_NAMES = {
  ingest: 'commbox-webhooks-ingest',
  delivery: 'commbox-webhooks-delivery',
  ingestDlq: 'commbox-webhooks-ingest-dlq',
  deliveryDlq: 'commbox-webhooks-delivery-dlq',
} as const;

export class CrashableStack {
  readonly lifetimes: Lifetime[] = [];
  private current: { process: LocalProcess; queues: QueueReader } | undefined;
  private restarting: Promise<void> | undefined;

  constructor(
    private readonly dataDir: string,
    private readonly env: Record<string, string>,
  ) {}

  get generation(): number {
    return this.lifetimes.length;
  }

  async start(): Promise<void> {
    const startedAt = Date.now();
    const child = await startLocalProcess({ dataDir: this.dataDir, env: this.env });
    this.current = { process: child, queues: queueReader(child, { maxAttempts: 1 }) };
    this.lifetimes.push({
      generation: this.lifetimes.length + 1,
      startedAt,
      readyAt: Date.now(),
      logs: child.logs,
    });
  }

  /** Whether the current process still runs (false while restarting, or when it died by itself). */
  alive(): boolean {
    if (!this.current) return this.restarting !== undefined;
    try {
      process.kill(this.current.process.pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  /** The current stack's URL, waiting (at most `timeoutMs`) while it restarts. */
  async url(timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!this.current) {
      if (Date.now() > deadline) throw new Error('the local stack is not running');
      await (this.restarting ?? sleep(100));
    }
    return this.current.process.url;
  }

  /** SIGKILL, then a new process on the same data folder; resolves once it is ready. */
  async crashAndRestart(): Promise<{ killedAt: number; readyAt: number }> {
    const current = this.current;
    if (!current) throw new Error('the local stack is not running');
    this.current = undefined;
    const killedAt = Date.now();
    let done: () => void = () => undefined;
    this.restarting = new Promise<void>((resolve) => {
      done = resolve;
    });
    try {
      const exit = await current.process.kill();
      if (exit.signal !== 'SIGKILL')
        throw new Error(`the stack exited ${JSON.stringify(exit)}, not by SIGKILL`);
      this.closeLifetime(current, 'killed', killedAt);
      await this.start();
    } finally {
      this.restarting = undefined;
      done();
    }
    return { killedAt, readyAt: Date.now() };
  }

  /** SIGTERM: the stack finishes what it has in hand and exits. */
  async stop(): Promise<void> {
    const current = this.current;
    if (!current) return;
    this.current = undefined;
    const at = Date.now();
    await current.process.stop();
    this.closeLifetime(current, 'stopped', at);
  }

  /** Messages on each queue: visible, in flight and delayed together; undefined while restarting. */
  async depths(): Promise<QueueDepths | undefined> {
    const current = this.current;
    if (!current) return undefined;
    const depth = async (name: string) => {
      const { visible, inFlight, delayed } = await current.queues.depth(name);
      return visible + inFlight + delayed;
    };
    try {
      return {
        ingest: await depth(QUEUE_NAMES.ingest),
        delivery: await depth(QUEUE_NAMES.delivery),
        ingestDlq: await depth(QUEUE_NAMES.ingestDlq),
        deliveryDlq: await depth(QUEUE_NAMES.deliveryDlq),
      };
    } catch {
      return undefined;
    }
  }

  private closeLifetime(
    current: NonNullable<CrashableStack['current']>,
    end: 'killed' | 'stopped',
    at: number,
  ): void {
    current.queues.close();
    const lifetime = this.lifetimes.at(-1);
    if (lifetime) {
      lifetime.endedAt = at;
      lifetime.end = end;
    }
    // Each lifetime keeps its own lines; the harness's copy of every line is not needed here.
    capturedLogs.length = 0;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
