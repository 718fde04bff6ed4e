import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/*
 * The bench's child processes (listener, pipeline, floor) and the parent talk over Node's IPC channel:
 * the parent sends `{id, command, args}`, the child answers `{id, ok, result | error}`. A child also sends
 * `{event: 'ready', ...}` once, when it is listening. Every call has a time limit.
 */

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The brands (and their API keys) the pipeline's stack accepts: BENCH_BRANDS of them. */
export function benchBrand(index: number): { brand: string; key: string } {
  return { brand: `bench${index}`, key: `bench-key-${index}-0123456789` };
}

type Handler = (args: Record<string, unknown>) => unknown;

interface Request {
  readonly id: number;
  readonly command: string;
  readonly args: Record<string, unknown>;
}

/** In a child: answers the parent's commands; `onDisconnect` (default: exit) when the parent goes away. */
export function serveCommands(
  handlers: Record<string, Handler>,
  onDisconnect: () => void = () => process.exit(0),
): void {
  process.on('message', (message: Request) => {
    const handler = handlers[message.command];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown command ${message.command}`);
        return handler(message.args);
      })
      .then(
        (result) => process.send?.({ id: message.id, ok: true, result }),
        (error: unknown) =>
          process.send?.({
            id: message.id,
            ok: false,
            error: error instanceof Error ? error.stack : String(error),
          }),
      );
  });
  process.on('disconnect', onDisconnect);
}

export function announceReady(details: Record<string, unknown>): void {
  process.send?.({ event: 'ready', ...details });
}

export interface Child {
  readonly process: ChildProcess;
  /** What the child sent with its `ready` event. */
  readonly ready: Record<string, unknown>;
  call<T>(command: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** Asks the child to stop, then kills it if it has not exited within the time limit. */
  stop(timeoutMs?: number): Promise<void>;
}

export interface SpawnOptions {
  readonly env?: Record<string, string>;
  readonly nodeArgs?: readonly string[];
  /** Where the child's stdout goes: a file descriptor, or 'inherit'/'ignore'. */
  readonly stdout?: number | 'inherit' | 'ignore';
  readonly readyTimeoutMs?: number;
}

/** Starts `scripts/bench/<script>` with tsx and waits for its `ready` event. */
export async function spawnChild(script: string, options: SpawnOptions = {}): Promise<Child> {
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), '--import', 'tsx', `scripts/bench/${script}`],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', options.stdout ?? 'inherit', 'inherit', 'ipc'],
      // Structured clone: Infinity (a delivery that never came) survives the trip.
      serialization: 'advanced',
    },
  );
  killOnExit(child);
  let next = 1;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${script} was not ready within ${options.readyTimeoutMs ?? 60_000} ms`)),
      options.readyTimeoutMs ?? 60_000,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code}) before it was ready`));
    });
    child.on(
      'message',
      (message: { event?: string; id?: number; ok?: boolean; result?: unknown; error?: string }) => {
        if (message.event === 'ready') {
          clearTimeout(timer);
          resolve(message as Record<string, unknown>);
          return;
        }
        const waiter = message.id === undefined ? undefined : pending.get(message.id);
        if (!waiter || message.id === undefined) return;
        pending.delete(message.id);
        if (message.ok) waiter.resolve(message.result);
        else waiter.reject(new Error(`${script}: ${message.error}`));
      },
    );
  });
  child.once('exit', (code) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`${script} exited (${code})`));
    pending.clear();
  });

  return {
    process: child,
    ready,
    call<T>(command: string, args: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${script} ${command}: no answer within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (value) => {
            clearTimeout(timer);
            resolve(value as T);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        });
        child.send({ id, command, args });
      });
    },
    async stop(timeoutMs = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      if (child.connected) child.disconnect();
      else child.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
    },
  };
}

const children = new Set<ChildProcess>();
let exitHook = false;

/** A bench that dies must not leave its children running. */
function killOnExit(child: ChildProcess): void {
  if (!exitHook)
    process.once('exit', () => {
      for (const running of children) running.kill('SIGKILL');
    });
  exitHook = true;
  children.add(child);
  child.once('exit', () => children.delete(child));
}
