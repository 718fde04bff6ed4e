import { Server } from 'node:http';

/*
 * fauxqs always listens on 0.0.0.0 (its `host` option only names the host in queue URLs), which would let
 * anyone on the network read and inject queued deliveries. While `start` runs, a server asked to listen on
 * every interface listens on 127.0.0.1 instead; the emulator mode's stores never leave loopback.
 */
export async function listeningOnLoopback<T>(start: () => Promise<T>): Promise<T> {
  const listen = Server.prototype.listen;
  Server.prototype.listen = function listenOnLoopback(this: Server, ...args: unknown[]) {
    const [options] = args;
    if (
      typeof options === 'object' &&
      options !== null &&
      isEveryInterface((options as { host?: unknown }).host)
    )
      args[0] = { ...options, host: '127.0.0.1' };
    return (listen as (...rest: unknown[]) => Server).apply(this, args);
  } as typeof listen;
  try {
    return await start();
  } finally {
    Server.prototype.listen = listen;
  }
}

function isEveryInterface(host: unknown): boolean {
  return host === '0.0.0.0' || host === '::' || host === undefined;
}
