import { describe, expect, it } from 'vitest';
import { EVENT_SOURCE, OPERATIONAL_EVENT_SOURCE } from '../../lambdas/core/event-sources.js';
import { INGEST_RULE_PATTERN } from '../../lib/definitions.js';
import {
  type EventPattern,
  InvalidEventPatternError,
  matchesEventPattern,
  validateEventPattern,
} from '../../local/event-pattern.js';

const envelope = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'Contact Created',
  source: EVENT_SOURCE,
  account: '000000000000',
  time: '2026-11-27T12:00:00Z',
  region: 'us-east-1',
  resources: [],
  detail: {
    brand: 'acme',
    id: 'c-1',
    data: { count: 3, tags: ['vip', 'new'], owner: null, active: true, nested: { level: 2 } },
  },
  ...overrides,
});

describe('the ingest rule pattern', () => {
  it.each([
    [EVENT_SOURCE, true],
    [OPERATIONAL_EVENT_SOURCE, false],
    ['Commbox', false],
    ['commbox.other', false],
  ])('for an event with source %s, matches: %s', (source, expected) => {
    expect(matchesEventPattern(INGEST_RULE_PATTERN, envelope({ source }))).toBe(expected);
  });

  it('is a valid pattern', () => {
    expect(() => validateEventPattern(INGEST_RULE_PATTERN)).not.toThrow();
  });
});

describe('matchesEventPattern', () => {
  it.each<[string, EventPattern, boolean]>([
    ['a literal equal to the value matches', { source: ['commbox'] }, true],
    ['a literal differing from the value does not match', { source: ['other'] }, false],
    ['any literal of the list may match', { source: ['other', 'commbox'] }, true],
    ['every key of the pattern must match', { source: ['commbox'], 'detail-type': ['Other'] }, false],
    ['keys use the envelope names', { source: ['commbox'], 'detail-type': ['Contact Created'] }, true],
    ['a nested pattern recurses into detail', { detail: { brand: ['acme'] } }, true],
    ['a nested pattern fails on a different nested value', { detail: { brand: ['other'] } }, false],
    ['a deeply nested pattern recurses', { detail: { data: { nested: { level: [2] } } } }, true],
    ['a number literal matches a number', { detail: { data: { count: [3] } } }, true],
    ['a number literal does not match its string form', { detail: { id: [1] } }, false],
    ['a string literal does not match a number', { detail: { data: { count: ['3'] } } }, false],
    ['a boolean literal matches a boolean', { detail: { data: { active: [true] } } }, true],
    ['a null literal matches null', { detail: { data: { owner: [null] } } }, true],
    ['a null literal does not match a missing key', { detail: { data: { missing: [null] } } }, false],
    [
      'a literal matches when any element of an array value is equal',
      { detail: { data: { tags: ['new'] } } },
      true,
    ],
    [
      'a literal fails when no element of an array value is equal',
      { detail: { data: { tags: ['old'] } } },
      false,
    ],
    ['a literal does not match an object value', { detail: ['acme'] }, false],
    ['a literal does not match a missing key', { detail: { missing: ['acme'] } }, false],
    ['a nested pattern does not match a scalar value', { source: { brand: ['acme'] } }, false],
    ['a prefix matches the start of a string', { source: [{ prefix: 'comm' }] }, true],
    ['a prefix fails on another start', { source: [{ prefix: 'box' }] }, false],
    ['a prefix ignores numbers', { detail: { data: { count: [{ prefix: '3' }] } } }, false],
    [
      'a prefix matches an element of an array value',
      { detail: { data: { tags: [{ prefix: 'v' }] } } },
      true,
    ],
    ['exists true matches a present value', { detail: { id: [{ exists: true }] } }, true],
    ['exists true matches a null value', { detail: { data: { owner: [{ exists: true }] } } }, true],
    ['exists true fails on a missing key', { detail: { missing: [{ exists: true }] } }, false],
    ['exists true fails on an object (only leaves exist)', { detail: { data: [{ exists: true }] } }, false],
    ['exists false matches a missing key', { detail: { missing: [{ exists: false }] } }, true],
    ['exists false fails on a present value', { detail: { id: [{ exists: false }] } }, false],
    ['exists false matches under a missing object', { detail: { absent: { x: [{ exists: false }] } } }, true],
    ['exists true fails on an empty array', { resources: [{ exists: true }] }, false],
    ['anything-but a literal matches another value', { source: [{ 'anything-but': 'other' }] }, true],
    ['anything-but a literal fails on that value', { source: [{ 'anything-but': 'commbox' }] }, false],
    [
      'anything-but a list fails on a listed value',
      { source: [{ 'anything-but': ['x', 'commbox'] }] },
      false,
    ],
    ['anything-but a list matches an unlisted value', { source: [{ 'anything-but': ['x', 'y'] }] }, true],
    [
      'anything-but a number fails on that number',
      { detail: { data: { count: [{ 'anything-but': 3 }] } } },
      false,
    ],
    ['anything-but fails on a missing key', { detail: { missing: [{ 'anything-but': 'x' }] } }, false],
    [
      'anything-but a prefix fails on that prefix',
      { source: [{ 'anything-but': { prefix: 'comm' } }] },
      false,
    ],
    [
      'anything-but a prefix matches another start',
      { source: [{ 'anything-but': { prefix: 'aws.' } }] },
      true,
    ],
    [
      'numeric matches a number in range',
      { detail: { data: { count: [{ numeric: ['>', 0, '<=', 5] }] } } },
      true,
    ],
    [
      'numeric fails on a number out of range',
      { detail: { data: { count: [{ numeric: ['>', 3] }] } } },
      false,
    ],
    [
      'numeric equality matches the same number',
      { detail: { data: { count: [{ numeric: ['=', 3] }] } } },
      true,
    ],
    [
      'numeric includes an inclusive bound',
      { detail: { data: { count: [{ numeric: ['>=', 3, '<', 4] }] } } },
      true,
    ],
    ['numeric ignores strings', { detail: { id: [{ numeric: ['>', 0] }] } }, false],
    ['a literal or an operator may match', { source: ['other', { prefix: 'commb' }] }, true],
  ])('%s', (_, pattern, expected) => {
    validateEventPattern(pattern);
    expect(matchesEventPattern(pattern, envelope())).toBe(expected);
  });

  it.each<[string, Record<string, unknown>, boolean]>([
    ['matches when any object of an array matches', { items: [{ kind: 'a' }, { kind: 'b' }] }, true],
    ['fails when no object of an array matches', { items: [{ kind: 'a' }, { kind: 'c' }] }, false],
  ])('a nested pattern against an array of objects %s', (_, detail, expected) => {
    expect(matchesEventPattern({ detail: { items: { kind: ['b'] } } }, envelope({ detail }))).toBe(expected);
  });
});

describe('validateEventPattern', () => {
  it.each<[string, unknown, string]>([
    ['an unknown operator', { source: [{ wildcard: 'comm*' }] }, 'unknown operator "wildcard"'],
    ['an operator this subset leaves out', { source: [{ suffix: 'box' }] }, 'unknown operator "suffix"'],
    ['two operators in one matcher', { source: [{ prefix: 'a', exists: true }] }, 'exactly one operator'],
    ['an empty pattern', {}, 'must not be empty'],
    ['an empty nested pattern', { detail: {} }, 'at "detail"'],
    ['an empty list of matchers', { source: [] }, 'empty arrays are not allowed'],
    ['a bare value instead of a list', { source: 'commbox' }, 'must be an array'],
    ['a pattern that is not an object', ['commbox'], 'must be an object'],
    ['a prefix that is not a string', { source: [{ prefix: 1 }] }, 'prefix must be a string'],
    ['exists that is not a boolean', { source: [{ exists: 'yes' }] }, 'exists must be true or false'],
    ['an unknown numeric operator', { detail: { n: [{ numeric: ['!=', 1] }] } }, 'unknown numeric operator'],
    ['a numeric operator without a number', { detail: { n: [{ numeric: ['>'] }] } }, 'pairs'],
    ['a numeric bound that is a string', { detail: { n: [{ numeric: ['>', '1'] }] } }, 'finite number'],
    [
      'anything-but with an operator it cannot take',
      { source: [{ 'anything-but': { suffix: 'x' } }] },
      'anything-but',
    ],
    ['anything-but with an empty list', { source: [{ 'anything-but': [] }] }, 'empty list'],
    ['a matcher that is a nested list', { source: [['commbox']] }, 'a matcher must be'],
  ])('refuses %s', (_, pattern, message) => {
    expect(() => validateEventPattern(pattern)).toThrow(InvalidEventPatternError);
    expect(() => validateEventPattern(pattern)).toThrow(message);
  });

  it('names the path of the faulty leaf', () => {
    expect(() => validateEventPattern({ detail: { data: { kind: [{ nope: 1 }] } } })).toThrow(
      'at "detail.data.kind"',
    );
  });
});
