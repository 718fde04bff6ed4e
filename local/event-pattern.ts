/*
 * EventBridge content filtering, the subset the project may use, for the local PutEvents endpoint. The
 * same pattern objects (lib/definitions.ts) go to the CDK stack, so anything this module does not
 * implement is refused when the rule is defined, never silently mismatched at run time.
 *
 * A pattern is an object whose leaves are non-empty arrays of matchers; an event matches when every key
 * of the pattern matches (AND), and a leaf matches when any of its matchers does (OR). Keys are the
 * envelope's names: `source`, `detail-type`, `account`, `detail`, ...
 *
 * Matchers: a literal (string, number, boolean, null: exact match), `{ prefix: 'x' }`,
 * `{ exists: true | false }`, `{ 'anything-but': literal | [literals] | { prefix: 'x' } }` and
 * `{ numeric: ['>', 0, '<=', 5] }` (operators =, <, <=, >, >=; every pair must hold).
 *
 * Like EventBridge, a leaf is compared with the event's leaf values: a missing key or an object has
 * none, an array contributes its (non-object) elements and any of them matching suffices. So
 * `{ exists: true }` needs at least one leaf value (an object or `[]` does not exist, `null` does), and
 * every other matcher fails on a key without leaf values. A nested pattern recurses into the event's
 * object; against an array it matches when any object element matches.
 */

export type PatternLiteral = string | number | boolean | null;

export type PatternMatcher =
  | PatternLiteral
  | { readonly prefix: string }
  | { readonly exists: boolean }
  | { readonly 'anything-but': PatternLiteral | readonly PatternLiteral[] | { readonly prefix: string } }
  | { readonly numeric: readonly (string | number)[] };

export interface EventPattern {
  readonly [key: string]: readonly PatternMatcher[] | EventPattern;
}

const NUMERIC_OPERATORS = ['=', '<', '<=', '>', '>='] as const;
type NumericOperator = (typeof NUMERIC_OPERATORS)[number];

/** Thrown for a pattern this module cannot evaluate exactly as EventBridge would. */
export class InvalidEventPatternError extends Error {
  override readonly name = 'InvalidEventPatternError';
}

/**
 * Checks a pattern once, when a rule is defined: throws an {@link InvalidEventPatternError} naming the
 * path for an empty pattern or leaf, a leaf that is neither an array nor an object, or an unknown or
 * malformed operator.
 */
export function validateEventPattern(pattern: unknown, path = ''): asserts pattern is EventPattern {
  if (!isPlainObject(pattern)) fail(path, 'a pattern must be an object');
  const entries = Object.entries(pattern);
  if (entries.length === 0) fail(path, 'a pattern must not be empty');
  for (const [key, value] of entries) {
    const at = path ? `${path}.${key}` : key;
    if (Array.isArray(value)) {
      if (value.length === 0) fail(at, 'empty arrays are not allowed');
      for (const matcher of value) validateMatcher(matcher, at);
    } else if (isPlainObject(value)) {
      validateEventPattern(value, at);
    } else {
      fail(at, 'must be an array of matchers or a nested pattern object');
    }
  }
}

/** Whether the event (an EventBridge envelope) matches the pattern. */
export function matchesEventPattern(pattern: EventPattern, event: Record<string, unknown>): boolean {
  return Object.entries(pattern).every(([key, expected]) => {
    const value = Object.hasOwn(event, key) ? event[key] : undefined;
    return isMatcherList(expected) ? matchesLeaf(expected, value) : matchesNested(expected, value);
  });
}

function isMatcherList(value: readonly PatternMatcher[] | EventPattern): value is readonly PatternMatcher[] {
  return Array.isArray(value);
}

function matchesNested(pattern: EventPattern, value: unknown): boolean {
  if (isPlainObject(value)) return matchesEventPattern(pattern, value);
  if (Array.isArray(value)) {
    const objects = value.filter(isPlainObject);
    if (objects.length > 0) return objects.some((element) => matchesEventPattern(pattern, element));
  }
  // No object here: only matchers satisfied by absence (`exists: false`) can match.
  return matchesEventPattern(pattern, {});
}

function matchesLeaf(matchers: readonly PatternMatcher[], value: unknown): boolean {
  const leaves = leafValues(value);
  return matchers.some((matcher) => matchesOne(matcher, leaves));
}

function matchesOne(matcher: PatternMatcher, leaves: readonly unknown[]): boolean {
  if (!isPlainObject(matcher)) return leaves.some((leaf) => leaf === matcher);
  if ('exists' in matcher) return matcher.exists === leaves.length > 0;
  if ('prefix' in matcher)
    return leaves.some((leaf) => typeof leaf === 'string' && leaf.startsWith(matcher.prefix));
  if ('numeric' in matcher) {
    const conditions = numericConditions(matcher.numeric, '');
    return leaves.some(
      (leaf) =>
        typeof leaf === 'number' && conditions.every(([operator, bound]) => compare(leaf, operator, bound)),
    );
  }
  if ('anything-but' in matcher) {
    const excluded = matcher['anything-but'];
    if (isPlainObject(excluded)) {
      const { prefix } = excluded;
      return leaves.some((leaf) => typeof leaf === 'string' && !leaf.startsWith(prefix));
    }
    const list: readonly unknown[] = Array.isArray(excluded) ? excluded : [excluded];
    return leaves.some((leaf) => !list.includes(leaf));
  }
  // Unreachable for a validated pattern; refuse rather than guess.
  return fail('', `unknown operator "${Object.keys(matcher).join(', ')}"`);
}

/** The event's leaf values at a key: none for a missing key or an object, the elements of an array. */
function leafValues(value: unknown): unknown[] {
  if (value === undefined || isPlainObject(value)) return [];
  if (Array.isArray(value)) return value.flatMap(leafValues);
  return [value];
}

function compare(value: number, operator: NumericOperator, bound: number): boolean {
  switch (operator) {
    case '=':
      return value === bound;
    case '<':
      return value < bound;
    case '<=':
      return value <= bound;
    case '>':
      return value > bound;
    case '>=':
      return value >= bound;
  }
}

function validateMatcher(matcher: unknown, path: string): void {
  if (matcher === null || typeof matcher === 'string' || typeof matcher === 'boolean') return;
  if (typeof matcher === 'number') {
    if (!Number.isFinite(matcher)) fail(path, 'numbers must be finite');
    return;
  }
  if (!isPlainObject(matcher)) fail(path, 'a matcher must be a string, number, boolean, null or an object');
  const keys = Object.keys(matcher);
  const [operator] = keys;
  if (keys.length !== 1 || operator === undefined)
    fail(path, `a matcher object must hold exactly one operator, found ${keys.length}`);
  const operand = matcher[operator];
  switch (operator) {
    case 'prefix':
      if (typeof operand !== 'string') fail(path, 'prefix must be a string');
      return;
    case 'exists':
      if (typeof operand !== 'boolean') fail(path, 'exists must be true or false');
      return;
    case 'numeric':
      numericConditions(operand, path);
      return;
    case 'anything-but':
      validateAnythingBut(operand, path);
      return;
    default:
      fail(path, `unknown operator "${operator}"`);
  }
}

function validateAnythingBut(operand: unknown, path: string): void {
  if (isPlainObject(operand)) {
    const keys = Object.keys(operand);
    if (keys.length !== 1 || keys[0] !== 'prefix' || typeof operand.prefix !== 'string')
      fail(path, 'anything-but takes a value, a list of values or { prefix: string }');
    return;
  }
  const values = Array.isArray(operand) ? operand : [operand];
  if (values.length === 0) fail(path, 'anything-but must not be an empty list');
  for (const value of values)
    if (!isLiteral(value)) fail(path, 'anything-but takes a value, a list of values or { prefix: string }');
}

function numericConditions(operand: unknown, path: string): Array<[NumericOperator, number]> {
  if (!Array.isArray(operand) || operand.length === 0 || operand.length % 2 !== 0)
    fail(path, 'numeric takes operator/number pairs, e.g. [">", 0, "<=", 5]');
  const conditions: Array<[NumericOperator, number]> = [];
  for (let index = 0; index < operand.length; index += 2) {
    const operator: unknown = operand[index];
    const bound: unknown = operand[index + 1];
    if (!NUMERIC_OPERATORS.some((known) => known === operator))
      fail(path, `unknown numeric operator ${JSON.stringify(operator)}`);
    if (typeof bound !== 'number' || !Number.isFinite(bound))
      fail(path, `numeric ${String(operator)} needs a finite number`);
    conditions.push([operator as NumericOperator, bound]);
  }
  return conditions;
}

function isLiteral(value: unknown): value is PatternLiteral {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(path: string, reason: string): never {
  throw new InvalidEventPatternError(`Event pattern is not valid${path ? ` at "${path}"` : ''}: ${reason}`);
}
