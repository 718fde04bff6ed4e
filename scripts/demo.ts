/**
 * `npm run demo`: the service end to end on this machine, in one command. Starts the local stack on a
 * fresh data folder, a loopback listener that verifies every signature, creates subscriptions to it
 * through the API, puts sample events of several entities with the real EventBridge client, and prints
 * what arrives and how long each event took to reach the listener.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';

process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
const { findEvent } = await import('../lambdas/core/catalogue.js');
const { verifyWebhook } = await import('../lambdas/core/verify.js');
const { startLocalStack } = await import('../local/stack.js');

const API_KEY = 'local-dev-key';
const dataDir = mkdtempSync(join(tmpdir(), 'commbox-demo-'));
const stack = await startLocalStack({ port: 0, dataDir, apiKeys: [{ brand: 'demo', key: API_KEY }] });
const secrets = new Map<string, string>();
const sentAt = new Map<string, number>();
const latencies: number[] = [];
let expected = 0;
let verified = 0;

const listener = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const received = performance.now();
    const body = Buffer.concat(chunks).toString('utf8');
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname.slice(1);
    const line = describeArrival(path, request.headers, body, received);
    console.log(line);
    response.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
const listenerUrl = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;

function describeArrival(path: string, headers: IncomingHttpHeaders, body: string, received: number) {
  const secret = secrets.get(path) ?? '';
  let status = 'signature verified';
  try {
    verifyWebhook({ headers: headers as Record<string, string>, body, secrets: [secret], parseJson: false });
    verified += 1;
  } catch (error) {
    status = `SIGNATURE REJECTED (${error instanceof Error ? error.message : String(error)})`;
  }
  const marker = /DemoMarker[">:]+"?(\w+)/.exec(body)?.[1] ?? '';
  const latency = received - (sentAt.get(marker) ?? received);
  latencies.push(latency);
  const kind = String(headers['content-type']).startsWith('text/xml') ? 'SOAP' : 'JSON';
  return `  ← ${kind.padEnd(4)} ${marker.padEnd(22)} ${latency.toFixed(1).padStart(6)} ms  ${status}  (${headers['webhook-id']})`;
}

async function api(method: string, path: string, body?: unknown) {
  const response = await fetch(`${stack.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** Each subscription's listener path names it, so the listener knows which secret to verify with. */
async function subscribe(name: string, path: string, spec: Record<string, unknown>) {
  const created = await api('POST', '/subscriptions', { name, ...spec, url: `${listenerUrl}/${path}` });
  secrets.set(path, String(created.secret));
  console.log(`  subscribed ${String(created.id)}: ${name} -> ${listenerUrl}/${path}`);
}

try {
  console.log(`Local stack at ${stack.url}, listener at ${listenerUrl}\n`);
  console.log('Creating subscriptions through the API:');
  await subscribe('Conversations (JSON)', 'conversations', {
    entity: 'Object',
    events: ['OnNew', { name: 'OnNewActivity', activityTypes: [2, 6] }],
    includeCompleteData: true,
  });
  await subscribe('Tags (SOAP)', 'tags', {
    entity: 'Tag',
    events: ['OnAdd', 'OnUpdate'],
    format: 'soap',
    includeCompleteData: true,
  });
  await subscribe('Surveys (JSON)', 'surveys', {
    entity: 'Satisfaction',
    events: ['OnSubmit'],
    includeCompleteData: true,
  });

  const samples: [string, string, Record<string, unknown>, boolean][] = [
    ['Object', 'OnNew', {}, true],
    ['Object', 'OnNewActivity', { Activities: [{ Id: 1, Type: 2 }] }, true],
    ['Object', 'OnNewActivity', { Activities: [{ Id: 2, Type: 1 }] }, false],
    ['Tag', 'OnAdd', {}, true],
    ['Tag', 'OnUpdate', { name: 'Très <important> & "urgent"' }, true],
    ['Satisfaction', 'OnSubmit', {}, true],
    ['User', 'OnNew', {}, false],
  ];
  const producer = new EventBridgeClient({
    endpoint: stack.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  console.log(
    '\nPutting events with @aws-sdk/client-eventbridge (remark activities and users have no subscriber):',
  );
  for (const [index, [entity, event, overrides, subscribed]] of samples.entries()) {
    const marker = `${entity}_${event}_${index}`;
    const data = { ...findEvent(entity, event)?.example, ...overrides, DemoMarker: marker };
    if (subscribed) expected += 1;
    sentAt.set(marker, performance.now());
    const answer = await producer.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: 'commbox',
            DetailType: `${entity}.${event}`,
            Detail: JSON.stringify({ brand: 'demo', data }),
          },
        ],
      }),
    );
    console.log(`  → ${entity}.${event} ${answer.Entries?.[0]?.EventId ?? answer.Entries?.[0]?.ErrorCode}`);
  }
  const deadline = Date.now() + 15_000;
  while (latencies.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const sorted = [...latencies].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  console.log(
    `\n${latencies.length} of ${expected} expected deliveries arrived, ${verified} signatures verified; ` +
      `event→listener latency median ${median.toFixed(1)} ms, max ${(sorted.at(-1) ?? Number.NaN).toFixed(1)} ms`,
  );
  producer.destroy();
  if (latencies.length !== expected || verified !== expected) process.exitCode = 1;
} finally {
  listener.close();
  await stack.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
