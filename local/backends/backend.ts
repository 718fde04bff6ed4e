import type { ApiKeyStore } from '../../lambdas/core/ports.js';
import { INGEST_MAX_CONCURRENCY, QUEUES } from '../../lib/definitions.js';
import type { EventEnvelope } from '../put-events.js';

/*
 * What the local stack needs from where it keeps its data: the embedded default (./sqlite.ts, one SQLite
 * file) or the AWS emulators (./aws-emulators.ts, dynalite and fauxqs, for the AWS wire protocols).
 * local/stack.ts runs the same handler modules, API and PutEvents endpoint over either.
 */

export const LOCAL_BACKENDS = ['sqlite', 'aws-emulators'] as const;
export type LocalBackendName = (typeof LOCAL_BACKENDS)[number];

/** The handler modules, loaded once the environment is set. */
export interface HandlerModules {
  readonly api: typeof import('../../lambdas/api.js');
  readonly authorizer: typeof import('../../lambdas/authorizer.js');
  readonly route: typeof import('../../lambdas/route.js');
  readonly deliver: typeof import('../../lambdas/deliver.js');
  readonly clients: typeof import('../../lambdas/commons/clients.js');
}

export interface PollerHooks {
  readonly onError: (message: string, error: unknown) => void;
  readonly onInvoke?: (name: string, durationMs: number, records: number) => void;
}

/** Where each part runs, for the banner, scripts and tests. */
export type BackendServices =
  | { readonly backend: 'sqlite'; readonly databaseFile: string }
  | {
      readonly backend: 'aws-emulators';
      readonly dynamoEndpoint: string;
      readonly sqsEndpoint: string;
      readonly tableName: string;
      readonly queueUrls: Readonly<
        Record<'ingest' | 'ingestDlq' | 'delivery' | 'deliveryDlq' | 'operational', string>
      >;
    };

export interface Backend {
  readonly services: BackendServices;
  /** Variables the handler modules read (endpoints, table, queue URL), set before they load. */
  readonly env: Readonly<Record<string, string>>;
  readonly apiKeys: ApiKeyStore;
  /** Gives the loaded handler modules this backend's adapters where the environment is not enough. */
  wire(modules: HandlerModules): void;
  /** The EventBridge rules' SQS targets: resolve once the envelopes are durably queued. */
  readonly ingestTarget: (envelopes: EventEnvelope[]) => Promise<void>;
  readonly operationalTarget: (envelopes: EventEnvelope[]) => Promise<void>;
  /** The event source mappings: route on the ingest queue, deliver on the delivery queue. */
  startPollers(modules: HandlerModules, hooks: PollerHooks): { stop(): Promise<void> };
  /** Banner lines saying what runs where. */
  banner(): string[];
  stop(): Promise<void>;
}

/** A brand whose deliveries have a queue and a poller of their own (WEBHOOKS_DEDICATED_LANES). */
export interface LocalLane {
  readonly brand: string;
  /** Batches its poller hands the deliver handler at once. */
  readonly maxConcurrency: number;
}

/** A lane's batches at once when WEBHOOKS_DEDICATED_LANES names only the brand. */
export const LANE_CONCURRENCY = 8;

/** Batches in flight at once per function, as Lambda scales its event source mappings. */
export const ROUTE_CONCURRENCY = INGEST_MAX_CONCURRENCY;
/** A batch ends with its slowest record, so deliver gets many: a listener that hangs holds one of them. */
export const DELIVER_CONCURRENCY = 16;
/**
 * While the process's event loop is saturated, a brand's most delivery messages in flight on the local
 * deliver poller: one batch (local/sqlite/queue-poller.ts). Measured with the flood of `npm run isolation`
 * (docs/RELIABILITY.md), before and after in turn: during brand A's flood of a listener that answers at
 * once, brand B's p50 fell from 31–41 ms to 17–18 ms, and A delivered as many a second as with sixteen.
 */
export const BUSY_BRAND_IN_FLIGHT = QUEUES.delivery.batchSize;
export const REGION = 'us-east-1';
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
