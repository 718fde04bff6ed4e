/**
 * The floor, a child process of the bench: the same listener, the same payload, signed the same way
 * (webhookId + signWebhook per request, as the deliver function signs each attempt), POSTed straight by
 * a keep-alive loop at the pipeline's concurrency. What this machine can do with no pipeline at all.
 * Bounded: it stops after `durationMs` or `maxRequests`, whichever comes first.
 */
import http from 'node:http';
import { signWebhook, webhookId } from '../../lambdas/core/signing.js';
import { announceReady, serveCommands } from './ipc.js';

interface FloorArgs {
  readonly ports: number[];
  readonly body: string;
  readonly secret: string;
  readonly concurrency: number;
  readonly durationMs: number;
  readonly maxRequests: number;
}

async function run(args: FloorArgs) {
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: args.concurrency,
    maxFreeSockets: args.concurrency,
  });
  const started = performance.now();
  const deadline = started + args.durationMs;
  let sent = 0;
  let ok = 0;
  let failed = 0;

  const post = (port: number, sequence: number) =>
    new Promise<number>((resolve) => {
      const id = webhookId(`bench/floor-${sequence}`, 'sub_floor');
      const headers = signWebhook({
        id,
        timestamp: Math.floor(Date.now() / 1000),
        body: args.body,
        secrets: [args.secret],
      });
      const request = http.request(
        {
          host: '127.0.0.1',
          port,
          path: '/hook',
          method: 'POST',
          agent,
          headers: {
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(args.body),
            'User-Agent': 'CommBox-Webhooks/1.0',
            ...headers,
          },
          timeout: 10_000,
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
        },
      );
      request.on('timeout', () => request.destroy(new Error('timeout')));
      request.on('error', () => resolve(0));
      request.end(args.body);
    });

  const worker = async (index: number) => {
    const port = args.ports[index % args.ports.length] ?? 0;
    while (performance.now() < deadline && sent < args.maxRequests) {
      sent += 1;
      const status = await post(port, sent);
      if (status >= 200 && status < 300) ok += 1;
      else failed += 1;
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, (_, index) => worker(index)));
  const elapsedMs = performance.now() - started;
  agent.destroy();
  return { ok, failed, elapsedMs, perSecond: (ok / elapsedMs) * 1000 };
}

serveCommands({ run: (args) => run(args as unknown as FloorArgs) });
announceReady({});
