import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitUntil } from './wait.js';

/*
 * A webhook listener on 127.0.0.1 (an ephemeral port): it records every request as received and answers
 * each with the next status of its queue, or its default status once the queue is empty.
 */

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** Names and values alternating, as sent (`headers` loses a header named `__proto__`). */
  readonly rawHeaders: readonly string[];
  /** The raw body exactly as received: verify signatures against this. */
  readonly body: string;
  /** `Date.now()` when the request had arrived whole. */
  readonly receivedAt: number;
  /** The status the listener answered. */
  readonly answeredWith: number;
}

export class Listener {
  readonly requests: ReceivedRequest[] = [];
  private readonly queue: number[] = [];
  private defaultStatus = 200;

  private constructor(
    private readonly server: Server,
    /** `http://127.0.0.1:<port>/hook`. */
    readonly url: string,
  ) {}

  /** A listener answering 200 to everything (unless told otherwise). */
  static async start(options: { defaultStatus?: number; answers?: number[] } = {}): Promise<Listener> {
    let self: Listener | undefined;
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const status = self?.queue.shift() ?? self?.defaultStatus ?? 200;
        self?.requests.push({
          method: request.method ?? '',
          path: request.url ?? '',
          headers: request.headers,
          rawHeaders: request.rawHeaders,
          body: Buffer.concat(chunks).toString('utf8'),
          receivedAt: Date.now(),
          answeredWith: status,
        });
        response.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'not now');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    self = new Listener(server, `http://127.0.0.1:${port}/hook`);
    if (options.defaultStatus !== undefined) self.defaultStatus = options.defaultStatus;
    self.queue.push(...(options.answers ?? []));
    return self;
  }

  /** Answers the next requests with these statuses, in order, then the default again. */
  answerNext(...statuses: number[]): void {
    this.queue.push(...statuses);
  }

  /** The status for every request once the queue is empty. */
  answerFromNowOn(status: number): void {
    this.defaultStatus = status;
  }

  /** The `index`th request received (from 0); fails when there is none. */
  request(index: number): ReceivedRequest {
    const request = this.requests[index];
    if (!request)
      throw new Error(`${this.url} received ${this.requests.length} request(s), not ${index + 1}`);
    return request;
  }

  /** Requests whose body contains `text` (an event's marker). */
  requestsWith(text: string): ReceivedRequest[] {
    return this.requests.filter((request) => request.body.includes(text));
  }

  /** The distinct `webhook-id`s received, optionally only those answered with a 2xx. */
  webhookIds(options: { succeeded?: boolean } = {}): Set<string> {
    return new Set(
      this.requests
        .filter(
          (request) => !options.succeeded || (request.answeredWith >= 200 && request.answeredWith < 300),
        )
        .map((request) => String(request.headers['webhook-id'])),
    );
  }

  /** Resolves with the requests once at least `count` arrived; fails after `timeoutMs`. */
  async waitFor(count: number, timeoutMs = 15_000): Promise<ReceivedRequest[]> {
    await waitUntil(() => this.requests.length >= count, {
      timeoutMs,
      what: () => `${count} request(s) at ${this.url} (received ${this.requests.length})`,
    });
    return [...this.requests];
  }

  async close(): Promise<void> {
    // The delivery client keeps connections alive: close them too, or close() waits for them to idle out.
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
