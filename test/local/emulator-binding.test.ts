import { mkdtempSync, rmSync } from 'node:fs';
import { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFauxqs } from 'fauxqs';
import { afterEach, describe, expect, it } from 'vitest';
import { listeningOnLoopback } from '../../local/aws-emulators/loopback-only.js';

// The emulator mode's SQS (fauxqs) listens on every interface unless it is started through this guard.

const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

/** Starts fauxqs and reports the addresses its HTTP servers really bound (its own `address` says 127.0.0.1). */
async function serversStartedBy(start: () => Promise<{ stop(): Promise<void> }>) {
  const servers: Server[] = [];
  const listen = Server.prototype.listen;
  Server.prototype.listen = function recordingListen(this: Server, ...args: unknown[]) {
    servers.push(this);
    return (listen as (...rest: unknown[]) => Server).apply(this, args);
  } as typeof listen;
  try {
    const started = await start();
    stops.push(() => started.stop());
  } finally {
    Server.prototype.listen = listen;
  }
  return { addresses: servers.map((server) => (server.address() as AddressInfo).address) };
}

describe('the emulator mode', () => {
  it('starts fauxqs on 127.0.0.1 only (on its own it takes 0.0.0.0, every interface)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fauxqs-'));
    stops.push(async () => rmSync(dataDir, { recursive: true, force: true }));

    const guarded = await serversStartedBy(() =>
      listeningOnLoopback(() => startFauxqs({ port: 0, logger: false, dataDir })),
    );

    expect(guarded.addresses).toEqual(['127.0.0.1']);
  });

  it('leaves the listen of servers started after the guard as it was', async () => {
    const { createServer } = await import('node:http');
    await listeningOnLoopback(async () => undefined);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen({ port: 0, host: '::1' }, resolve));
    stops.push(() => new Promise((resolve) => server.close(resolve)));
    expect((server.address() as AddressInfo).address).toBe('::1');
  });
});
