import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Issued } from './test-pki.js';

/*
 * An https webhook listener on 127.0.0.1 that requires a client certificate signed by `clientCa`: it
 * records each request with the certificate the client presented, and answers 200.
 */

export interface MtlsRequest {
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  /** The presented client certificate's subject CN and SHA-256 fingerprint. */
  readonly clientSubject: string;
  readonly clientFingerprint256: string;
}

export interface MtlsListener {
  /** `https://127.0.0.1:<port><path>`. */
  url(path?: string): string;
  readonly requests: MtlsRequest[];
  /** TLS handshakes that the listener refused (no or untrusted client certificate). */
  readonly refusedHandshakes: number;
  close(): Promise<void>;
}

export async function startMtlsListener(server: Issued, clientCa: Issued): Promise<MtlsListener> {
  const requests: MtlsRequest[] = [];
  let refused = 0;
  const listener = https.createServer(
    { key: server.key, cert: server.cert, ca: clientCa.cert, requestCert: true, rejectUnauthorized: true },
    (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const peer = (request.socket as TLSSocket).getPeerCertificate();
        requests.push({
          path: request.url ?? '',
          headers: request.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          clientSubject: String(peer.subject?.CN ?? ''),
          clientFingerprint256: peer.fingerprint256 ?? '',
        });
        response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      });
    },
  );
  listener.on('tlsClientError', () => {
    refused += 1;
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const { port } = listener.address() as AddressInfo;
  return {
    url: (path = '/hook') => `https://127.0.0.1:${port}${path}`,
    requests,
    get refusedHandshakes() {
      return refused;
    },
    close: () =>
      new Promise<void>((resolve) => {
        listener.closeAllConnections();
        listener.close(() => resolve());
      }),
  };
}
