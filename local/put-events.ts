import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { OPERATIONAL_EVENT_SOURCE } from '../lambdas/core/event-sources.js';
import { inSendMessageBatches, sqsSafeJson } from '../lambdas/core/sqs-text.js';
import { type EventPattern, matchesEventPattern, validateEventPattern } from './event-pattern.js';
import { type LocalCredentials, type SignedRequest, verifySigV4 } from './sigv4-check.js';

/*
 * The local EventBridge PutEvents endpoint (AWS JSON 1.1), a pure function of the request body so the
 * local HTTP server routes `POST /` with `X-Amz-Target: AWSEvents.PutEvents` here and producers use the
 * real `@aws-sdk/client-eventbridge` with an `endpoint` override.
 *
 * It answers like AWS: request-level faults are HTTP 400 `{"__type": ..., "message": ...}`; entry faults
 * are reported per entry (`ErrorCode`, `ErrorMessage`) with `FailedEntryCount`. A valid entry becomes an
 * EventBridge envelope, and every rule whose pattern matches gets it; the answer comes only after every
 * rule's `send` resolved, so an `EventId` in the answer means the event is durably queued. An entry no rule
 * matches succeeds, as on AWS.
 *
 * There is one bus: `EventBusName` (a name or an ARN) and `EndpointId` are accepted and ignored, like
 * `TraceHeader`. Time in the envelope is the entry's `Time` or now, whole seconds, like AWS.
 */

/** An EventBridge event as targets receive it (the SQS message body, as JSON). */
export type EventEnvelope = {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  /** `YYYY-MM-DDTHH:MM:SSZ`. */
  readonly time: string;
  readonly region: string;
  readonly resources: string[];
  readonly detail: Record<string, unknown>;
};

export interface PutEventsRule {
  readonly name: string;
  readonly pattern: EventPattern;
  /** Delivers the request's matching envelopes (one call per request); resolves once they are durable. */
  send(envelopes: EventEnvelope[]): Promise<void>;
}

export interface PutEventsOptions {
  readonly rules: readonly PutEventsRule[];
  /**
   * Producers' credentials: every request must carry a valid SigV4 signature by one of them, as AWS
   * checks (./sigv4-check.ts). Default: access key id `local`, secret `local`.
   */
  readonly credentials?: readonly LocalCredentials[];
  /**
   * The service's own credentials, the only ones that may put events of its own source
   * (`commbox.webhooks`, its operational events); producers' entries with that source are refused with
   * `NotAuthorizedForSourceException`. Default: none, so nobody may.
   */
  readonly serviceCredentials?: LocalCredentials;
  /** Told why a request failed inside (never shown to the caller). */
  readonly onError?: (message: string, error: unknown) => void;
  /** Default `000000000000`. */
  readonly account?: string;
  /** Default `us-east-1`. */
  readonly region?: string;
  readonly now?: () => Date;
}

export interface PutEventsHttpResponse {
  readonly status: number;
  readonly body: string;
  readonly contentType: string;
}

export const DEFAULT_LOCAL_CREDENTIALS: LocalCredentials = { accessKeyId: 'local', secretAccessKey: 'local' };
/** Sources only the service itself may put. */
const RESERVED_SOURCES: ReadonlySet<string> = new Set([OPERATIONAL_EVENT_SOURCE]);
/** EventBridge's DetailType is at most 128 characters. */
const MAX_DETAIL_TYPE_LENGTH = 128;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const CONTROL_CHARACTERS = /[\u0000-\u001F\u007F-\u009F\u2028\u2029]/;

export const PUT_EVENTS_TARGET = 'AWSEvents.PutEvents';
export const AMZ_JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';
/** PutEvents takes 1 to 10 entries. */
export const MAX_ENTRIES = 10;
/** The total entry size of a request, computed as AWS does (Time 14 bytes, UTF-8 of the strings). */
export const MAX_ENTRIES_BYTES = 256 * 1024;

type EntryResult =
  | { readonly EventId: string }
  | { readonly ErrorCode: string; readonly ErrorMessage: string };

/** A request entry after the wire types were checked (a type mismatch is a SerializationException). */
interface WireEntry {
  readonly Source?: string;
  readonly DetailType?: string;
  readonly Detail?: string;
  readonly Resources?: string[];
  readonly Time?: Date;
}

class RequestError extends Error {
  constructor(
    readonly type: 'SerializationException' | 'ValidationException',
    message: string,
  ) {
    super(message);
  }
}

/** Whether an HTTP request is a PutEvents call (AWS JSON 1.1: `POST /`, the target in a header). */
export function isPutEventsRequest(method: string, path: string, headers: IncomingHttpHeaders): boolean {
  const target = headers['x-amz-target'];
  const value = Array.isArray(target) ? target[0] : target;
  return method.toUpperCase() === 'POST' && path.split('?')[0] === '/' && value === PUT_EVENTS_TARGET;
}

/**
 * Builds the PutEvents handler. Every rule pattern is validated here, so a pattern the local matcher
 * cannot evaluate fails at start, not on the first event.
 */
export function createPutEventsHandler(
  options: PutEventsOptions,
): (request: SignedRequest) => Promise<PutEventsHttpResponse> {
  const {
    rules,
    account = '000000000000',
    region = 'us-east-1',
    now = () => new Date(),
    credentials = [DEFAULT_LOCAL_CREDENTIALS],
    serviceCredentials,
    onError = () => undefined,
  } = options;
  const accepted = serviceCredentials ? [...credentials, serviceCredentials] : credentials;
  const names = new Set<string>();
  for (const rule of rules) {
    if (names.has(rule.name)) throw new Error(`Two rules are named "${rule.name}"`);
    names.add(rule.name);
    try {
      validateEventPattern(rule.pattern);
    } catch (error) {
      throw new Error(`Rule "${rule.name}": ${(error as Error).message}`, { cause: error });
    }
  }

  return async (request) => {
    // The wall clock, as AWS checks it: `now` dates the envelopes (tests fix it).
    const signature = await verifySigV4(request, accepted, new Date());
    if (!signature.valid) return answer(400, { __type: signature.type, message: signature.message });
    const fromService = signature.accessKeyId === serviceCredentials?.accessKeyId;
    let entries: WireEntry[];
    try {
      entries = parseRequest(request.body);
    } catch (error) {
      if (error instanceof RequestError) return answer(400, { __type: error.type, message: error.message });
      onError('PutEvents request', error);
      return answer(500, INTERNAL_ERROR);
    }
    try {
      return answer(200, await putEntries(entries, fromService));
    } catch (error) {
      // The reason goes to the log; the caller learns only that it was not its fault.
      onError('PutEvents', error);
      return answer(500, INTERNAL_ERROR);
    }
  };

  async function putEntries(entries: WireEntry[], fromService: boolean) {
    const receivedAt = now();
    const results: EntryResult[] = [];
    const batches = new Map<PutEventsRule, { indexes: number[]; envelopes: EventEnvelope[] }>();
    for (const [index, entry] of entries.entries()) {
      const checked = checkEntry(entry, fromService);
      if ('ErrorCode' in checked) {
        results.push(checked);
        continue;
      }
      const envelope: EventEnvelope = {
        version: '0',
        id: randomUUID(),
        'detail-type': checked.detailType,
        source: checked.source,
        account,
        time: wholeSeconds(entry.Time ?? receivedAt),
        region,
        resources: entry.Resources ?? [],
        detail: checked.detail,
      };
      results.push({ EventId: envelope.id });
      for (const rule of rules) {
        if (!matchesEventPattern(rule.pattern, envelope)) continue;
        const batch = batches.get(rule) ?? { indexes: [], envelopes: [] };
        batch.indexes.push(index);
        batch.envelopes.push(envelope);
        batches.set(rule, batch);
      }
    }

    const sends = [...batches].map(async ([rule, batch]) => {
      try {
        await rule.send(batch.envelopes);
      } catch (error) {
        onError(`PutEvents rule ${rule.name}`, error);
        for (const index of batch.indexes) {
          const earlier = results[index];
          if (earlier && 'ErrorCode' in earlier) continue; // another rule's failure already told
          results[index] = {
            ErrorCode: 'InternalFailure',
            ErrorMessage: `The event could not be queued for rule ${rule.name}.`,
          };
        }
      }
    });
    await Promise.all(sends);

    return {
      FailedEntryCount: results.filter((result) => 'ErrorCode' in result).length,
      Entries: results,
    };
  }
}

/**
 * Returns the SQS target of a rule: the envelopes go to the queue as JSON message bodies
 * ({@link sqsSafeJson}), in batches of ten (and at most 1 MiB, SQS's batch limit); throws if SQS refuses
 * any of them.
 */
export function sqsRuleTarget(
  client: SQSClient,
  queueUrl: string,
): (envelopes: EventEnvelope[]) => Promise<void> {
  return async (envelopes) => {
    const batches = inSendMessageBatches(envelopes.map(sqsSafeJson), (body) => body, {
      entries: SQS_BATCH_ENTRIES,
      bytes: SQS_BATCH_BYTES,
    });
    await Promise.all(
      batches.map(async (bodies) => {
        const entries: SendMessageBatchRequestEntry[] = bodies.map((body, index) => ({
          Id: String(index),
          MessageBody: body,
        }));
        const output = await client.send(
          new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }),
        );
        const failed = output.Failed ?? [];
        const [first] = failed;
        if (first)
          throw new Error(
            `SQS refused ${failed.length} of ${entries.length} messages: ${first.Code ?? 'unknown'} ${first.Message ?? ''}`.trim(),
          );
      }),
    );
  };
}

const SQS_BATCH_ENTRIES = 10;
const SQS_BATCH_BYTES = 1024 * 1024;

function parseRequest(body: Buffer): WireEntry[] {
  let request: unknown;
  try {
    request = JSON.parse(body.toString('utf8'));
  } catch {
    throw new RequestError('SerializationException', 'The request body is not valid JSON.');
  }
  if (!isPlainObject(request))
    throw new RequestError('SerializationException', 'The request body must be a JSON object.');
  const entries = request.Entries;
  if (entries === undefined || entries === null)
    throw new RequestError(
      'ValidationException',
      "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null",
    );
  if (!Array.isArray(entries)) throw new RequestError('SerializationException', 'Entries must be a list.');
  if (entries.length < 1) throw lengthError(`Member must have length greater than or equal to 1`);
  if (entries.length > MAX_ENTRIES)
    throw lengthError(`Member must have length less than or equal to ${MAX_ENTRIES}`);
  const parsed = entries.map(parseEntry);
  if (parsed.reduce((total, entry) => total + entrySize(entry), 0) > MAX_ENTRIES_BYTES)
    throw new RequestError(
      'ValidationException',
      'Total size of the entries in the request is over the limit.',
    );
  return parsed;
}

function lengthError(constraint: string): RequestError {
  return new RequestError(
    'ValidationException',
    `1 validation error detected: Value at 'entries' failed to satisfy constraint: ${constraint}`,
  );
}

function parseEntry(entry: unknown, index: number): WireEntry {
  const wrong = (field: string, type: string) =>
    new RequestError('SerializationException', `Entries[${index}].${field} must be ${type}.`);
  if (!isPlainObject(entry)) throw wrong('', 'an object');
  for (const field of ['Source', 'DetailType', 'Detail', 'EventBusName', 'TraceHeader'])
    if (entry[field] !== undefined && entry[field] !== null && typeof entry[field] !== 'string')
      throw wrong(field, 'a string');
  const { Resources: resources, Time: time } = entry;
  if (
    resources !== undefined &&
    resources !== null &&
    !(Array.isArray(resources) && resources.every((resource) => typeof resource === 'string'))
  )
    throw wrong('Resources', 'a list of strings');
  let parsedTime: Date | undefined;
  if (time !== undefined && time !== null) {
    // AWS JSON 1.1 sends timestamps as epoch seconds; an ISO string is accepted too.
    parsedTime =
      typeof time === 'number'
        ? new Date(time * 1000)
        : typeof time === 'string'
          ? new Date(time)
          : undefined;
    if (!parsedTime || !Number.isFinite(parsedTime.getTime())) throw wrong('Time', 'a timestamp');
  }
  return {
    Source: stringOrUndefined(entry.Source),
    DetailType: stringOrUndefined(entry.DetailType),
    Detail: stringOrUndefined(entry.Detail),
    Resources: (resources as string[] | null | undefined) ?? undefined,
    Time: parsedTime,
  };
}

/** The entry size as AWS computes it (docs: "Calculating PutEvents event entry size"). */
function entrySize(entry: WireEntry): number {
  let size = entry.Time ? 14 : 0;
  for (const text of [entry.Source, entry.DetailType, entry.Detail, ...(entry.Resources ?? [])])
    if (text) size += Buffer.byteLength(text);
  return size;
}

function checkEntry(
  entry: WireEntry,
  fromService: boolean,
):
  | { readonly source: string; readonly detailType: string; readonly detail: Record<string, unknown> }
  | { readonly ErrorCode: string; readonly ErrorMessage: string } {
  if (!entry.Source) return required('Source');
  if (!entry.DetailType) return required('DetailType');
  if (!entry.Detail) return required('Detail');
  if (RESERVED_SOURCES.has(entry.Source) && !fromService)
    return { ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: 'Not authorized for the source.' };
  if (entry.DetailType.length > MAX_DETAIL_TYPE_LENGTH || CONTROL_CHARACTERS.test(entry.DetailType))
    return invalid('DetailType', `at most ${MAX_DETAIL_TYPE_LENGTH} characters, no control characters`);
  let detail: unknown;
  try {
    detail = JSON.parse(entry.Detail);
  } catch {
    detail = undefined;
  }
  if (!isPlainObject(detail)) return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
  return { source: entry.Source, detailType: entry.DetailType, detail };
}

function invalid(parameter: string, reason: string) {
  return {
    ErrorCode: 'InvalidArgument',
    ErrorMessage: `Parameter ${parameter} is not valid. Reason: ${reason}.`,
  };
}

function required(parameter: string): { readonly ErrorCode: string; readonly ErrorMessage: string } {
  return {
    ErrorCode: 'InvalidArgument',
    ErrorMessage: `Parameter ${parameter} is not valid. Reason: ${parameter} is a required argument.`,
  };
}

/** `YYYY-MM-DDTHH:MM:SSZ`, as EventBridge writes `time`. */
function wholeSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const INTERNAL_ERROR = { __type: 'InternalException', message: 'An internal error occurred.' };

function answer(status: number, payload: unknown): PutEventsHttpResponse {
  return { status, body: JSON.stringify(payload), contentType: AMZ_JSON_CONTENT_TYPE };
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
