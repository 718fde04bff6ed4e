/** The DynamoDB JSON protocol as the local transaction shim speaks it: attribute values and errors. */
import { type AttributeValue, DynamoDBServiceException } from '@aws-sdk/client-dynamodb';

export const JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';
export const DYNAMODB_ERROR = 'com.amazonaws.dynamodb.v20120810#';
const VALIDATION_ERROR = 'com.amazon.coral.validate#ValidationException';

/** An attribute value or map as it travels in the JSON protocol (binary as base64 strings). */
export type WireValue = Record<string, unknown>;
export type WireMap = Record<string, WireValue>;
export type ItemMap = Record<string, AttributeValue>;

/** An error answered in DynamoDB's JSON error shape. */
export class DynamoError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DynamoError';
  }

  body(): Record<string, unknown> {
    return { __type: this.type, message: this.message, ...this.extra };
  }
}

export const validation = (message: string) => new DynamoError(400, VALIDATION_ERROR, message);

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Wire → SDK: the SDK wants binary as bytes and base64-encodes it itself. */
export function fromWire(value: WireValue): AttributeValue {
  if (typeof value.B === 'string') return { B: Buffer.from(value.B, 'base64') };
  if (Array.isArray(value.BS)) return { BS: value.BS.map((b) => Buffer.from(String(b), 'base64')) };
  if (isRecord(value.M)) return { M: fromWireMap(value.M as WireMap) };
  if (Array.isArray(value.L)) return { L: value.L.map((v) => fromWire(v as WireValue)) };
  return value as unknown as AttributeValue;
}

export function fromWireMap(map: WireMap): ItemMap {
  return Object.fromEntries(Object.entries(map).map(([name, value]) => [name, fromWire(value)]));
}

/** SDK → wire, for an item returned in a cancellation reason. */
export function toWire(value: AttributeValue): WireValue {
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BS !== undefined) return { BS: value.BS.map((b) => Buffer.from(b).toString('base64')) };
  if (value.M !== undefined) return { M: toWireMap(value.M) };
  if (value.L !== undefined) return { L: value.L.map(toWire) };
  return value as unknown as WireValue;
}

export function toWireMap(map: ItemMap): WireMap {
  return Object.fromEntries(Object.entries(map).map(([name, value]) => [name, toWire(value)]));
}

export function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  throw validation(`${field} must be a string`);
}

export function optionalMap(value: unknown, field: string): Record<string, unknown> | undefined {
  if (value === undefined || isRecord(value)) return value;
  throw validation(`${field} must be a map`);
}

/** Any failure as DynamoDB would answer it. */
export function toDynamoError(error: unknown): DynamoError {
  if (error instanceof DynamoError) return error;
  if (error instanceof DynamoDBServiceException) {
    const type = error.name === 'ValidationException' ? VALIDATION_ERROR : `${DYNAMODB_ERROR}${error.name}`;
    return new DynamoError(error.$metadata.httpStatusCode ?? 400, type, error.message);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new DynamoError(500, `${DYNAMODB_ERROR}InternalServerError`, message);
}
