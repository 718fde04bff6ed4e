/**
 * One brand's client on a thread of its own: its listener and its producers. A real brand's producer and
 * listener run on machines of its own; on the runner's thread, beside brand A's flood producers and
 * listener (over 1,000 requests a second), brand B's timestamps would wait for the runner's own event
 * loop, and B's measured latency would include that lag. Started by `startBrandClient` (support.ts);
 * talks to the parent through messages only.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { eventBridgeClient } from '../../test/integration/support/events.js';
import { type Behaviour, RecordingListener, steady } from './support.js';

export interface BrandClientData {
  readonly stackUrl: string;
  readonly brand: string;
  readonly behaviour: Behaviour;
}

export interface BrandClientStats {
  readonly requests: number;
  readonly delivered: number;
  readonly lastAt: number;
}

/** Each command names a reply id; the reply carries it back. */
export type BrandClientCommand =
  | { readonly id: number; readonly kind: 'steady'; readonly prefix: string; readonly everyMs: number }
  | { readonly id: number; readonly kind: 'steady-stop' }
  | { readonly id: number; readonly kind: 'latencies' }
  | { readonly id: number; readonly kind: 'stop' };

export type BrandClientMessage =
  | { readonly kind: 'ready'; readonly url: string }
  | ({ readonly kind: 'stats' } & BrandClientStats)
  | { readonly kind: 'reply'; readonly id: number; readonly value: unknown };

const port = parentPort;
if (port) {
  const { stackUrl, brand, behaviour } = workerData as BrandClientData;
  const producer = eventBridgeClient(stackUrl);
  const listener = await RecordingListener.start(() => behaviour);
  let producing: ReturnType<typeof steady> | undefined;
  const stats = (): BrandClientMessage => ({
    kind: 'stats',
    requests: listener.requests,
    delivered: listener.tags.size,
    lastAt: listener.lastAt,
  });
  const ticker = setInterval(() => port.postMessage(stats()), 100);
  const reply = (id: number, value: unknown) => port.postMessage({ kind: 'reply', id, value });
  port.on('message', async (command: BrandClientCommand) => {
    switch (command.kind) {
      case 'steady':
        producing = steady(producer, brand, command.everyMs, command.prefix);
        reply(command.id, null);
        break;
      case 'steady-stop': {
        const sent = (await producing?.stop()) ?? 0;
        reply(command.id, { sent, accepted: [...(producing?.accepted ?? [])] });
        producing = undefined;
        break;
      }
      case 'latencies':
        reply(command.id, listener.latencies);
        break;
      case 'stop':
        clearInterval(ticker);
        await producing?.stop();
        port.postMessage(stats());
        listener.close();
        producer.destroy();
        reply(command.id, null);
        port.close();
        break;
    }
  });
  port.postMessage({ kind: 'ready', url: listener.url } satisfies BrandClientMessage);
}
