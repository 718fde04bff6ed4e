import * as z from 'zod';

/*
 * Objects whose keys someone else chose (event data, custom headers) are kept exactly as parsed from
 * JSON: own properties, any name. zod's `z.record` builds a new object and drops a `__proto__` key, so
 * these schemas check the shape and hand back the very object they were given.
 */

/** A JSON object: not null, not an array. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON object with any keys, passed through unchanged (`{"type": "object"}` in JSON Schema). */
export const jsonObjectSchema = z
  .unknown()
  .refine(isJsonObject, { error: 'must be a JSON object' })
  .meta({ type: 'object' }) as z.ZodType<Record<string, unknown>, Record<string, unknown>>;
