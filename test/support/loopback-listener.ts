import http from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * A real webhook listener on 127.0.0.1 (an ephemeral port) for delivery tests: it records every request
 * as received and answers with whatever the test's responder says.
 */

export interface ReceivedWebhook {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  /** The raw body, exactly as received (verify signatures against this). */
  readonly body: string;
}

export interface ListenerAnswer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Answer only after this long (a slow listener). */
  readonly delayMs?: number;
}

export type Responder = (request: ReceivedWebhook) => ListenerAnswer;

export interface LoopbackListener {
  /** `http://127.0.0.1:<port><path>`. */
  url(path?: string): string;
  readonly received: ReceivedWebhook[];
  /** Changes how the listener answers from now on. */
  answer(responder: Responder): void;
  close(): Promise<void>;
}

export async function startLoopbackListener(
  responder: Responder = () => ({ status: 200 }),
): Promise<LoopbackListener> {
  const received: ReceivedWebhook[] = [];
  let respond = responder;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: ReceivedWebhook = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(request);
      const { status, headers = {}, body = '', delayMs = 0 } = respond(request);
      setTimeout(() => res.writeHead(status, headers).end(body), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path = '/hook') => `http://127.0.0.1:${port}${path}`,
    received,
    answer(next) {
      respond = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        // The delivery client keeps connections alive; close them too, or close() waits for their idle timeout.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A loopback URL nothing listens on: a connection to it is refused. */
export async function aClosedLoopbackUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/hook`;
}
