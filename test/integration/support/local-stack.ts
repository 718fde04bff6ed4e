import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll } from 'vitest';
import { type ApiClient, apiClient } from './api-client.js';
import { eventBridgeClient } from './events.js';
import { freshDataDir, removeDataDir } from './fixtures.js';
import { Listener } from './listener.js';
import { BRANDS, capturedLogs, type LocalProcess, startLocalProcess, TEST_ENV } from './local-process.js';
import { expectNoSecretsLeaked } from './secrets.js';

/** One file's local stack, started before its tests and stopped after them. */
export interface LocalStackFixture {
  readonly stack: LocalProcess;
  /** API clients with each test brand's key. */
  readonly acme: ApiClient;
  readonly globex: ApiClient;
  /** The real EventBridge client, pointed at the stack's PutEvents endpoint. */
  readonly producer: EventBridgeClient;
  /** Starts a loopback listener, closed after the file's tests. */
  listener(options?: Parameters<typeof Listener.start>[0]): Promise<Listener>;
}

/**
 * Registers the hooks every integration file needs: a local process on a fresh data folder (test
 * settings, and `env` over them) before the file's tests; after them, the stack stopped, its listeners closed, the folder
 * removed, and no secret or key in any log line or response the file saw. Call it at the top of the file,
 * before the file's own hooks: its `beforeAll` runs first and its `afterAll` last.
 */
export function useLocalStack(env: Readonly<Record<string, string>> = {}): LocalStackFixture {
  let dataDir: string | undefined;
  let started: Omit<LocalStackFixture, 'listener'> | undefined;
  const listeners: Listener[] = [];

  beforeAll(async () => {
    dataDir = await freshDataDir();
    const stack = await startLocalProcess({ dataDir, env: { ...TEST_ENV, ...env } });
    started = {
      stack,
      acme: apiClient(stack.url, BRANDS.acme.key),
      globex: apiClient(stack.url, BRANDS.globex.key),
      producer: eventBridgeClient(stack.url),
    };
  }, 40_000);

  afterAll(async () => {
    started?.producer.destroy();
    await started?.stack.stop();
    await Promise.all(listeners.map((listener) => listener.close()));
    await removeDataDir(dataDir);
    expectNoSecretsLeaked(capturedLogs);
  }, 30_000);

  const get = () => {
    if (!started) throw new Error('the local stack is not started: use it in tests and hooks only');
    return started;
  };
  return {
    get stack() {
      return get().stack;
    },
    get acme() {
      return get().acme;
    },
    get globex() {
      return get().globex;
    },
    get producer() {
      return get().producer;
    },
    async listener(options) {
      const listener = await Listener.start(options);
      listeners.push(listener);
      return listener;
    },
  };
}
