/*
 * What AWS would bill for a measured window, from the counted SDK calls (./tally.ts), the events the
 * producer put and the pollers' invocation durations. The price table is also in docs/PERFORMANCE.md.
 */
import { FUNCTIONS } from '../../lib/definitions.js';
import type { Tally } from './tally.js';

/**
 * us-east-1 list prices as known on 2026-11-27 (not re-checked online: the bench runs offline), first
 * pricing tier, free tiers ignored. Sources: aws.amazon.com/eventbridge/pricing, /sqs/pricing,
 * /lambda/pricing, /dynamodb/pricing/on-demand (the rates since the 2024-11-01 reduction),
 * /cloudwatch/pricing.
 */
export const PRICES = {
  asOf: '2026-11-27',
  /** EventBridge custom events put on a bus, per event (each 64 KB chunk of an event is one event). */
  eventBridgeEvent: 1.0 / 1e6,
  /** SQS standard queue, per request (each 64 KB chunk of a payload is one request). */
  sqsRequest: 0.4 / 1e6,
  /** Lambda requests (invocations). */
  lambdaRequest: 0.2 / 1e6,
  /** Lambda duration on arm64, per GB-second (first tier). */
  lambdaArmGbSecond: 0.0000133334,
  /**
   * DynamoDB on-demand: a write request unit (≤ 1 KB; transactional ×2) and a read request unit (≤ 4 KB,
   * strongly consistent; eventually consistent ½).
   */
  dynamoWriteUnit: 0.625 / 1e6,
  dynamoReadUnit: 0.125 / 1e6,
  /** CloudWatch Logs ingestion (standard), per GB: not in the targets, shown for information. */
  logsIngestGb: 0.5,
} as const;

export interface CostInput {
  readonly tally: Tally;
  readonly eventsPut: number;
  readonly deliveries: number;
  /** What the handlers wrote to stdout (their Powertools log lines), in bytes. */
  readonly logBytes: number;
}

export interface CostLine {
  readonly item: string;
  readonly quantity: number;
  readonly dollars: number;
}

export interface Cost {
  readonly lines: CostLine[];
  /** EventBridge + SQS + Lambda + DynamoDB: what the targets are about. */
  readonly dollars: number;
  readonly perMillionDeliveries: number;
  readonly logsPerMillionDeliveries: number;
  /** Every counted call per delivery, by `<origin> <service> <operation> [queue]`. */
  readonly callsPerDelivery: { readonly key: string; readonly perDelivery: number }[];
  readonly invocations: {
    readonly name: string;
    readonly count: number;
    readonly recordsPerInvocation: number;
    readonly meanMs: number;
    readonly maxMs: number;
  }[];
  readonly deferred: number;
}

export function priceWindow(input: CostInput): Cost {
  const { tally, eventsPut, deliveries, logBytes } = input;
  const operations = Object.entries(tally.operations);
  const sum = (filter: (key: string) => boolean, field: 'chunks' | 'entries' | 'readUnits' | 'writeUnits') =>
    operations.filter(([key]) => filter(key)).reduce((total, [, entry]) => total + entry[field], 0);

  // EventBridge's SQS target sends each event on its own: one request per event (per 64 KB chunk). The
  // local rule target batches them; its entries to the ingest queue are what AWS would send.
  const firstHop = sum(
    (key) => key.startsWith('esm SQS SendMessageBatch') && key.endsWith('-ingest'),
    'entries',
  );
  // Empty receives are idle polling: a cost per hour, not per delivery (and the local pollers wait 1 s
  // per receive where Lambda's event source mapping waits 20 s): counted, not priced.
  const emptyReceives = operations
    .filter(([key]) => key.startsWith('esm SQS ReceiveMessage'))
    .reduce((total, [, entry]) => total + entry.empty, 0);
  const esmRequests =
    sum((key) => key.startsWith('esm SQS') && !key.includes('SendMessageBatch'), 'chunks') - emptyReceives;
  const handlerSqs = sum((key) => key.startsWith('handler SQS'), 'chunks');
  const operationalEvents = sum((key) => key.startsWith('handler EventBridge'), 'chunks');
  const readUnits = sum((key) => key.startsWith('handler DynamoDB'), 'readUnits');
  const writeUnits =
    sum((key) => key.startsWith('handler DynamoDB'), 'writeUnits') +
    operations
      .filter(([key]) => key.startsWith('handler DynamoDB'))
      .reduce((total, [, entry]) => total + entry.estimatedWriteUnits, 0);

  const lines: CostLine[] = [
    {
      item: 'EventBridge events put (producer)',
      quantity: eventsPut,
      dollars: eventsPut * PRICES.eventBridgeEvent,
    },
    {
      item: 'EventBridge events put (handlers)',
      quantity: operationalEvents,
      dollars: operationalEvents * PRICES.eventBridgeEvent,
    },
    {
      item: 'SQS first hop (EventBridge → ingest)',
      quantity: firstHop,
      dollars: firstHop * PRICES.sqsRequest,
    },
    { item: 'SQS event source mappings', quantity: esmRequests, dollars: esmRequests * PRICES.sqsRequest },
    { item: 'SQS empty receives (idle polling, not priced)', quantity: emptyReceives, dollars: 0 },
    { item: 'SQS handler requests', quantity: handlerSqs, dollars: handlerSqs * PRICES.sqsRequest },
  ];
  for (const [name, invocation] of Object.entries(tally.invocations)) {
    const memoryMb = FUNCTIONS[name as keyof typeof FUNCTIONS]?.memoryMb ?? 512;
    const gbSeconds = (invocation.billedMs / 1000) * (memoryMb / 1024);
    lines.push(
      {
        item: `Lambda ${name} requests`,
        quantity: invocation.count,
        dollars: invocation.count * PRICES.lambdaRequest,
      },
      {
        item: `Lambda ${name} GB-s (${memoryMb} MB)`,
        quantity: gbSeconds,
        dollars: gbSeconds * PRICES.lambdaArmGbSecond,
      },
    );
  }
  lines.push(
    { item: 'DynamoDB read request units', quantity: readUnits, dollars: readUnits * PRICES.dynamoReadUnit },
    {
      item: 'DynamoDB write request units',
      quantity: writeUnits,
      dollars: writeUnits * PRICES.dynamoWriteUnit,
    },
  );
  const dollars = lines.reduce((total, line) => total + line.dollars, 0);
  const per = (value: number) => (deliveries > 0 ? value / deliveries : Number.NaN);
  const logsDollars = (logBytes / 2 ** 30) * PRICES.logsIngestGb;

  return {
    lines,
    dollars,
    perMillionDeliveries: per(dollars) * 1e6,
    logsPerMillionDeliveries: per(logsDollars) * 1e6,
    callsPerDelivery: operations
      .map(([key, entry]) => ({ key, perDelivery: per(entry.calls) }))
      .sort((a, b) => a.key.localeCompare(b.key)),
    invocations: Object.entries(tally.invocations).map(([name, invocation]) => ({
      name,
      count: invocation.count,
      recordsPerInvocation: invocation.records / Math.max(1, invocation.count),
      meanMs: invocation.ms / Math.max(1, invocation.count),
      maxMs: invocation.maxMs,
    })),
    deferred: operations.reduce((total, [, entry]) => total + entry.delayed, 0),
  };
}
