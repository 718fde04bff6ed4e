import * as z from 'zod';
import { ACTIVITY_TYPES, COMPONENT_NAMES, ENTITY_NAMES, type EntityName, findEvent } from './catalogue.js';
import { commboxId } from './catalogue-schemas.js';
import { ClientError, type FieldIssue, ValidationError } from './errors.js';
import { isJsonObject } from './json-object.js';
import {
  listenerAuthIssues,
  mergeTls,
  type SignatureScheme,
  type SoapOptions,
  type SubscriptionTls,
  signatureSchemeSchema,
  soapSchema,
  tlsPatchSchema,
  tlsSchema,
} from './listener-auth.js';
import { retryScheduleSchema } from './retry.js';
import { type AddressPolicy, checkListenerUrl } from './ssrf.js';

/*
 * The subscription a client creates and updates through the API. Objects are strict: an unknown
 * field is a client mistake, reported by name, not silently dropped.
 */

export const MAX_CUSTOM_HEADERS = 20;

/** Headers the platform owns: hop-by-hop ones, framing, and the signature scheme's. */
const RESERVED_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'content-type',
  'content-encoding',
  'expect',
  'soapaction',
  'user-agent',
]);
const RESERVED_HEADER_PREFIXES = ['webhook-', 'svix-', ':'];
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$/;
// Visible ASCII, space and tab, and no line breaks: a value can never smuggle a second header.
const HEADER_VALUE = /^[\t\x20-\x7e]{0,1024}$/;

export const SUBSCRIPTION_STATUSES = ['active', 'paused', 'disabled'] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

const componentList = <T extends z.ZodType>(item: T) => z.array(item).min(1).max(100);

export const eventSelectionSchema = z.union([
  z.string().min(1).max(100),
  z.strictObject({
    name: z.string().min(1).max(100),
    activityTypes: componentList(z.number().int()).optional(),
    channels: componentList(commboxId).optional(),
  }),
]);

/** A selected event in its stored form: the plain-string shorthand is expanded. */
export interface EventSelection {
  readonly name: string;
  readonly activityTypes?: number[];
  readonly channels?: (number | string)[];
}

/** Header names to values; the object is kept as given, so a header may have any token as its name. */
const headersSchema = z
  .unknown()
  .refine(isJsonObject, { error: 'must be an object of header names to values' })
  .superRefine((value, context) => {
    // zod runs every check even after the one above failed: null or an array is not read as headers.
    if (!isJsonObject(value)) return;
    const headers = value as Record<string, unknown>;
    const names = Object.keys(headers);
    if (names.length > MAX_CUSTOM_HEADERS)
      context.addIssue({ code: 'custom', message: `at most ${MAX_CUSTOM_HEADERS} headers` });
    for (const name of names) {
      const header = headers[name];
      if (!HEADER_NAME.test(name))
        context.addIssue({ code: 'custom', path: [name], message: 'must be a valid HTTP header name' });
      else if (typeof header !== 'string' || !HEADER_VALUE.test(header))
        context.addIssue({
          code: 'custom',
          path: [name],
          message: 'must be printable ASCII, at most 1024 characters, no line breaks',
        });
    }
  })
  .meta({
    type: 'object',
    additionalProperties: { type: 'string' },
    description:
      'Sent with every delivery. Views show each value as "[redacted]" unless its name is in publicHeaders; a PATCH that sends "[redacted]" back keeps the stored value.',
  }) as z.ZodType<Record<string, string>, Record<string, string>>;

/**
 * Text the table can store: DynamoDB refuses a string that is not valid UTF-8, which an unpaired UTF-16
 * surrogate (valid in a JSON string) cannot become, and would answer the write with an error (a 500).
 */
const wellFormed = { error: 'must be valid Unicode text (no unpaired surrogate)' } as const;

/** The highest rate limit a subscription may set: above it, a limit would not limit anything deliver does. */
export const MAX_REQUESTS_PER_SECOND = 1_000;

const fields = {
  name: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .refine((text) => text.isWellFormed(), wellFormed),
  entity: z.enum(ENTITY_NAMES),
  events: z.array(eventSelectionSchema).min(1).max(50),
  url: z
    .string()
    .max(2048)
    .refine((text) => text.isWellFormed(), wellFormed),
  format: z.enum(['json', 'soap']),
  includeCompleteData: z.boolean(),
  headers: headersSchema,
  publicHeaders: z
    .array(z.string().regex(HEADER_NAME, { error: 'must be a valid HTTP header name' }))
    .max(MAX_CUSTOM_HEADERS)
    .meta({ description: 'Names of custom headers whose values views may show (they are not credentials)' }),
  retrySchedule: retryScheduleSchema,
  maxRequestsPerSecond: z
    .number()
    .int()
    .min(1)
    .max(MAX_REQUESTS_PER_SECOND)
    .meta({
      description:
        'At most this many requests per second to the listener, across all deliveries of the subscription; ' +
        'deliveries past it wait (they do not fail or use up attempts). Absent: no limit.',
    }),
  /** Clients may pause and resume; only the platform disables (with a reason). */
  status: z.enum(['active', 'paused']),
  description: z
    .string()
    .max(500)
    .refine((text) => text.isWellFormed(), wellFormed),
};

export const subscriptionCreateSchema = z.strictObject({
  name: fields.name,
  entity: fields.entity,
  events: fields.events,
  url: fields.url,
  format: fields.format.default('json'),
  includeCompleteData: fields.includeCompleteData.default(false),
  headers: fields.headers.optional(),
  publicHeaders: fields.publicHeaders.optional(),
  retrySchedule: fields.retrySchedule.optional(),
  maxRequestsPerSecond: fields.maxRequestsPerSecond.optional(),
  status: fields.status.default('active'),
  description: fields.description.optional(),
  signatureScheme: signatureSchemeSchema.default('hmac-sha256'),
  soap: soapSchema.optional(),
  tls: tlsSchema.optional(),
});

export const subscriptionUpdateSchema = z
  .strictObject({
    name: fields.name.optional(),
    entity: fields.entity.optional(),
    events: fields.events.optional(),
    url: fields.url.optional(),
    format: fields.format.optional(),
    includeCompleteData: fields.includeCompleteData.optional(),
    headers: fields.headers.nullable().optional(),
    publicHeaders: fields.publicHeaders.nullable().optional(),
    retrySchedule: fields.retrySchedule.nullable().optional(),
    maxRequestsPerSecond: fields.maxRequestsPerSecond.nullable().optional(),
    status: fields.status.optional(),
    description: fields.description.nullable().optional(),
    /** Fixed at creation: accepted when unchanged, so a form can send it back. */
    signatureScheme: signatureSchemeSchema.optional(),
    soap: soapSchema.nullable().optional(),
    tls: tlsPatchSchema.nullable().optional(),
  })
  .refine((patch) => Object.keys(patch).length > 0, { error: 'give at least one field to change' });

/** The client-settable part of a subscription, validated and normalised. */
export interface SubscriptionSpec {
  readonly name: string;
  readonly entity: EntityName;
  readonly events: EventSelection[];
  readonly url: string;
  readonly format: 'json' | 'soap';
  readonly includeCompleteData: boolean;
  readonly headers?: Record<string, string>;
  /** Custom header names (any case) whose values views show; every other value is redacted. */
  readonly publicHeaders?: string[];
  readonly retrySchedule?: number[];
  /** The listener gets at most this many requests per second (lambdas/core/rate-limit.ts). */
  readonly maxRequestsPerSecond?: number;
  readonly status: 'active' | 'paused';
  readonly description?: string;
  /** Absent in subscriptions stored before ed25519 existed: hmac-sha256. */
  readonly signatureScheme?: SignatureScheme;
  readonly soap?: SoapOptions;
  readonly tls?: SubscriptionTls;
}

export type SubscriptionPatch = z.infer<typeof subscriptionUpdateSchema>;

/** Zod's issues as the API reports them: a dotted field path and a reason. */
export function toFieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const path = issue.path.map(String);
    if (keys.length > 0) {
      return { field: [...path, keys[0]].join('.'), message: `unknown field(s): ${keys.join(', ')}` };
    }
    return { field: path.join('.') || '(body)', message: issue.message };
  });
}

/**
 * Parses a create request; throws a ValidationError naming every bad field. The URL passes the SSRF
 * guard's syntax checks here (scheme, credentials, IP literals); its DNS answers are checked by the caller.
 */
export function parseSubscriptionCreate(body: unknown, policy: AddressPolicy): SubscriptionSpec {
  const result = subscriptionCreateSchema.safeParse(body);
  if (!result.success) throw new ValidationError(toFieldIssues(result.error));
  const { events, headers, publicHeaders, ...rest } = result.data;
  const spec: SubscriptionSpec = {
    ...rest,
    events: events.map(expandSelection),
    ...(headers ? { headers } : {}),
    ...(publicHeaders ? { publicHeaders } : {}),
  };
  assertValid(spec, policy);
  // Stored as the guard saw it: the normalised URL, never a raw spelling it would read differently.
  return { ...spec, url: new URL(spec.url).href };
}

/** Parses an update request and applies it to the current spec; the result is validated whole. */
export function applySubscriptionUpdate(
  current: SubscriptionSpec,
  body: unknown,
  policy: AddressPolicy,
): SubscriptionSpec {
  const result = subscriptionUpdateSchema.safeParse(body);
  if (!result.success) throw new ValidationError(toFieldIssues(result.error));
  const merged: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(result.data)) {
    // null removes an optional field (headers, publicHeaders, retrySchedule, maxRequestsPerSecond, description); undefined leaves it.
    if (value === null) delete merged[key];
    else if (key === 'tls') {
      // Member by member: the key is never shown, so a client changing the CA need not send it again.
      const tls = mergeTls(current.tls, value as z.infer<typeof tlsPatchSchema>);
      if (tls) merged.tls = tls;
      else delete merged.tls;
    } else if (value !== undefined) merged[key] = value;
  }
  return parseSubscriptionCreate(merged, policy);
}

function expandSelection(selection: z.infer<typeof eventSelectionSchema>): EventSelection {
  return typeof selection === 'string' ? { name: selection } : selection;
}

function assertValid(spec: SubscriptionSpec, policy: AddressPolicy): void {
  const issues = [
    ...urlIssues(spec.url, policy),
    ...selectionIssues(spec.entity, spec.events),
    ...headerIssues(spec.headers ?? {}),
    ...publicHeaderIssues(spec.headers ?? {}, spec.publicHeaders ?? []),
    ...listenerAuthIssues(spec),
  ];
  if (issues.length > 0) throw new ValidationError(issues);
}

/** Checks each selected event and its components against the catalogue entry of the entity. */
export function selectionIssues(entity: EntityName, events: readonly EventSelection[]): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const seen = new Set<string>();
  events.forEach((selection, index) => {
    const field = `events.${index}`;
    const definition = findEvent(entity, selection.name);
    if (!definition) {
      issues.push({ field: `${field}.name`, message: `${entity} has no event "${selection.name}"` });
      return;
    }
    if (seen.has(selection.name)) {
      issues.push({ field: `${field}.name`, message: `"${selection.name}" is selected twice` });
    }
    seen.add(selection.name);
    for (const component of COMPONENT_NAMES) {
      if (selection[component] && !definition.components.includes(component)) {
        issues.push({
          field: `${field}.${component}`,
          message: `${definition.detailType} has no ${component} component`,
        });
      }
    }
    for (const type of selection.activityTypes ?? []) {
      if (!(type in ACTIVITY_TYPES)) {
        issues.push({ field: `${field}.activityTypes`, message: `${type} is not a known activity type` });
      }
    }
  });
  return issues;
}

function urlIssues(url: string, policy: AddressPolicy): FieldIssue[] {
  try {
    checkListenerUrl(url, policy);
    return [];
  } catch (error) {
    if (error instanceof ClientError) return [...error.details];
    throw error;
  }
}

function headerIssues(headers: Record<string, string>): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const seen = new Set<string>();
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    if (RESERVED_HEADERS.has(lower) || RESERVED_HEADER_PREFIXES.some((prefix) => lower.startsWith(prefix))) {
      issues.push({
        field: `headers.${name}`,
        message: `"${name}" is set by the platform and cannot be overridden`,
      });
    } else if (seen.has(lower)) {
      issues.push({
        field: `headers.${name}`,
        message: `"${name}" is given twice (header names ignore case)`,
      });
    }
    seen.add(lower);
  }
  return issues;
}

function publicHeaderIssues(headers: Record<string, string>, publicHeaders: readonly string[]): FieldIssue[] {
  const names = new Set(Object.keys(headers).map((name) => name.toLowerCase()));
  return publicHeaders.flatMap((name, index) =>
    names.has(name.toLowerCase())
      ? []
      : [{ field: `publicHeaders.${index}`, message: `"${name}" is not one of the custom headers` }],
  );
}
