import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pickWeighted } from './plan.js';

/*
 * Webhook listeners that fail at random, one per subscription, on 127.0.0.1 in the soak's own process
 * (never in the stack's, which is killed). Each request is answered with one behaviour drawn from the
 * listener's own seeded sequence, in arrival order:
 *
 *   ok        2xx at once (200, 202 or 204)
 *   slow      2xx after 100-600 ms: late, but well inside the delivery timeout
 *   error     500, 502 or 503
 *   throttle  429 with `Retry-After: 1`
 *   reset     the connection is reset (TCP RST) without an answer
 *   hang      no answer at all: the sender's timeout fires (the socket is closed here after the timeout
 *             plus 3 s, should the sender not do it)
 *
 * A 2xx answer is a delivery. Every request's signature is checked first (a request that fails it is
 * answered 400 and counted); the listener reports each answer to `onAnswer`.
 */

export type Behaviour = 'ok' | 'slow' | 'error' | 'throttle' | 'reset' | 'hang';
export const BEHAVIOURS: readonly Behaviour[] = ['ok', 'slow', 'error', 'throttle', 'reset', 'hang'];

/** How likely each behaviour is, for a given probability that an attempt fails. */
export function behaviourMix(failureRate: number): [Behaviour, number][] {
  const success = 1 - failureRate;
  return [
    ['ok', success * 0.94],
    ['slow', success * 0.06],
    ['error', failureRate * 0.35],
    ['throttle', failureRate * 0.2],
    ['reset', failureRate * 0.2],
    ['hang', failureRate * 0.25],
  ];
}

export interface AnsweredRequest {
  readonly listener: number;
  readonly webhookId: string;
  readonly body: string;
  readonly behaviour: Behaviour | 'rejected';
  /** A 2xx reached the socket: the listener took the delivery. */
  readonly accepted: boolean;
  /** Date.now() when answered (or given up). */
  readonly at: number;
}

export interface ChaosListenerOptions {
  readonly index: number;
  readonly random: () => number;
  readonly failureRate: number;
  /** The sender's timeout: slow answers stay well inside it, hangs go past it. */
  readonly timeoutMs: number;
  /** Whether the request is signed with this listener's subscription secret. */
  readonly verify: (headers: IncomingHttpHeaders, body: string) => boolean;
  readonly onAnswer: (answer: AnsweredRequest) => void;
}

const MAX_BODY_BYTES = 1024 * 1024;

export class ChaosListener {
  readonly counts: Record<Behaviour | 'rejected', number> = {
    ok: 0,
    slow: 0,
    error: 0,
    throttle: 0,
    reset: 0,
    hang: 0,
    rejected: 0,
  };
  /** Answers that found the connection already gone (the stack was killed meanwhile). */
  lateAnswers = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly mix: [Behaviour, number][];

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly options: ChaosListenerOptions,
  ) {
    this.mix = behaviourMix(options.failureRate);
  }

  static async start(options: ChaosListenerOptions): Promise<ChaosListener> {
    let self: ChaosListener | undefined;
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      request.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) request.socket.destroy();
        else chunks.push(chunk);
      });
      request.on('end', () => {
        self?.answer(request.headers, Buffer.concat(chunks).toString('utf8'), request.socket, response);
      });
    });
    // The sender keeps connections alive for 4 s; outlive that, as real servers do.
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    self = new ChaosListener(server, `http://127.0.0.1:${port}/hooks/${options.index + 1}`, options);
    return self;
  }

  private answer(headers: IncomingHttpHeaders, body: string, socket: Socket, response: ServerResponse): void {
    const { index, onAnswer } = this.options;
    const webhookId = String(headers['webhook-id'] ?? '');
    const report = (behaviour: AnsweredRequest['behaviour'], accepted: boolean) =>
      onAnswer({ listener: index, webhookId, body, behaviour, accepted, at: Date.now() });
    if (!this.options.verify(headers, body)) {
      this.counts.rejected += 1;
      response.writeHead(400, { 'content-type': 'text/plain' }).end('bad signature');
      report('rejected', false);
      return;
    }
    const behaviour = pickWeighted(this.options.random, this.mix);
    this.counts[behaviour] += 1;
    const accept = (status: number) => {
      if (socket.destroyed || response.destroyed) {
        this.lateAnswers += 1;
        report(behaviour, false);
        return;
      }
      response.writeHead(status, { 'content-type': 'text/plain' }).end(status === 204 ? undefined : 'ok');
      report(behaviour, true);
    };
    switch (behaviour) {
      case 'ok':
        accept(
          pickWeighted(this.options.random, [
            [200, 6],
            [202, 1],
            [204, 1],
          ] as const),
        );
        return;
      case 'slow': {
        const delay = 100 + Math.floor(this.options.random() * Math.min(500, this.options.timeoutMs * 0.3));
        this.later(delay, () => accept(200));
        return;
      }
      case 'error': {
        const status = pickWeighted(this.options.random, [
          [500, 2],
          [502, 1],
          [503, 1],
        ] as const);
        response.writeHead(status, { 'content-type': 'text/plain' }).end('not now');
        report(behaviour, false);
        return;
      }
      case 'throttle':
        response.writeHead(429, { 'content-type': 'text/plain', 'retry-after': '1' }).end('slow down');
        report(behaviour, false);
        return;
      case 'reset':
        socket.resetAndDestroy();
        report(behaviour, false);
        return;
      case 'hang': {
        report(behaviour, false);
        const timer = this.later(this.options.timeoutMs + 3000, () => socket.destroy());
        socket.once('close', () => {
          clearTimeout(timer);
          this.timers.delete(timer);
        });
        return;
      }
    }
  }

  private later(ms: number, action: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
