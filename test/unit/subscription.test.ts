import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lambdas/core/errors.js';
import { applySubscriptionUpdate, parseSubscriptionCreate } from '../../lambdas/core/subscription.js';

const production = { allowLocalTargets: false };

const validBody = {
  name: 'CRM sync',
  entity: 'Object',
  events: ['OnNew', { name: 'OnNewActivity', activityTypes: [2, 6], channels: [71, '72'] }],
  url: 'https://crm.example.com/hooks/commbox',
};

function rejectionOf(body: unknown): ValidationError {
  try {
    parseSubscriptionCreate(body, production);
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

describe('parseSubscriptionCreate', () => {
  it('stores the URL the guard checked, normalised, not the raw spelling', () => {
    const spec = parseSubscriptionCreate(
      { ...validBody, url: 'HTTPS://CRM.Example.COM:443/a/../hooks/%7euser?x=1#frag' },
      production,
    );
    expect(spec.url).toBe('https://crm.example.com/hooks/%7euser?x=1#frag');
  });

  it('keeps public header names that name a custom header, in any case', () => {
    const spec = parseSubscriptionCreate(
      { ...validBody, headers: { 'X-Team': 'crm', 'X-Auth': 'a' }, publicHeaders: ['x-team'] },
      production,
    );
    expect(spec.publicHeaders).toEqual(['x-team']);
  });

  it('refuses a public header name that is not one of the custom headers', () => {
    const error = rejectionOf({ ...validBody, headers: { 'X-Team': 'crm' }, publicHeaders: ['X-Other'] });
    expect(error.details).toEqual([
      { field: 'publicHeaders.0', message: '"X-Other" is not one of the custom headers' },
    ]);
  });

  it.each([null, [], 'X-Team: crm', 7])(
    'refuses %j as headers with a 422 naming the field, never a crash',
    (headers) => {
      const error = rejectionOf({ ...validBody, headers });
      expect(error.details).toEqual([
        { field: 'headers', message: 'must be an object of header names to values' },
      ]);
    },
  );

  it('accepts a valid subscription, expands plain event names and fills the defaults', () => {
    const spec = parseSubscriptionCreate(validBody, production);
    expect(spec).toEqual({
      name: 'CRM sync',
      entity: 'Object',
      events: [{ name: 'OnNew' }, { name: 'OnNewActivity', activityTypes: [2, 6], channels: [71, '72'] }],
      url: 'https://crm.example.com/hooks/commbox',
      format: 'json',
      includeCompleteData: false,
      status: 'active',
      signatureScheme: 'hmac-sha256',
    });
  });

  it('keeps the optional fields it is given', () => {
    const spec = parseSubscriptionCreate(
      {
        ...validBody,
        format: 'soap',
        includeCompleteData: true,
        headers: { 'X-Tenant': 'acme' },
        retrySchedule: [0, 1, 1],
        maxRequestsPerSecond: 25,
        status: 'paused',
        description: 'Feeds the CRM',
      },
      production,
    );
    expect(spec).toMatchObject({
      format: 'soap',
      includeCompleteData: true,
      headers: { 'X-Tenant': 'acme' },
      retrySchedule: [0, 1, 1],
      maxRequestsPerSecond: 25,
      status: 'paused',
    });
  });

  it.each([
    ['name', { name: '' }, 'name'],
    ['name', { name: 'x'.repeat(101) }, 'name'],
    ['name', { name: 42 }, 'name'],
    ['a name with an unpaired surrogate', { name: 'Orders \ud800' }, 'name'],
    ['a description with an unpaired surrogate', { description: '\udfff trailing half' }, 'description'],
    ['a url with an unpaired surrogate', { url: 'https://crm.example.com/\ud83d' }, 'url'],
    ['entity', { entity: 'Invoice' }, 'entity'],
    ['events', { events: [] }, 'events'],
    ['events', { events: 'OnNew' }, 'events'],
    ['an event name', { events: ['OnSubmit'] }, 'events.0.name'],
    ['a duplicated event', { events: ['OnNew', { name: 'OnNew' }] }, 'events.1.name'],
    [
      'a component the event lacks',
      { events: [{ name: 'OnNew', activityTypes: [2] }] },
      'events.0.activityTypes',
    ],
    [
      'an unknown activity type',
      { events: [{ name: 'OnNewActivity', activityTypes: [12] }] },
      'events.0.activityTypes',
    ],
    [
      'an empty component list',
      { events: [{ name: 'OnNewActivity', activityTypes: [] }] },
      'events.0.activityTypes',
    ],
    [
      'a channel that is not an id',
      { events: [{ name: 'OnNew', channels: ['seventy'] }] },
      'events.0.channels.0',
    ],
    ['an unknown key in an event', { events: [{ name: 'OnNew', color: 'red' }] }, 'events.0.color'],
    ['url', { url: 17 }, 'url'],
    ['url', { url: `https://example.com/${'a'.repeat(2048)}` }, 'url'],
    ['an http url', { url: 'http://crm.example.com/hook' }, 'url'],
    ['a url with credentials', { url: 'https://user:pw@crm.example.com/hook' }, 'url'],
    ['a private address', { url: 'https://10.1.2.3/hook' }, 'url'],
    ['a javascript: url', { url: 'javascript:alert(1)' }, 'url'],
    ['format', { format: 'xml' }, 'format'],
    ['includeCompleteData', { includeCompleteData: 'yes' }, 'includeCompleteData'],
    ['a hop-by-hop header', { headers: { Connection: 'close' } }, 'headers.Connection'],
    ['a signature header', { headers: { 'Webhook-Signature': 'v1,forged' } }, 'headers.Webhook-Signature'],
    ['a content type header', { headers: { 'content-type': 'text/plain' } }, 'headers.content-type'],
    ['a header name with a space', { headers: { 'X Bad': '1' } }, 'headers.X Bad'],
    ['a header value with a line break', { headers: { 'X-Ok': 'a\r\nInjected: 1' } }, 'headers.X-Ok'],
    ['a header given twice in two cases', { headers: { 'X-Ok': '1', 'x-ok': '2' } }, 'headers.x-ok'],
    ['retrySchedule', { retrySchedule: [] }, 'retrySchedule'],
    ['a retry delay past 12 hours', { retrySchedule: [0, 43201] }, 'retrySchedule.1'],
    ['a negative retry delay', { retrySchedule: [-1] }, 'retrySchedule.0'],
    ['a zero rate limit', { maxRequestsPerSecond: 0 }, 'maxRequestsPerSecond'],
    ['a fractional rate limit', { maxRequestsPerSecond: 2.5 }, 'maxRequestsPerSecond'],
    ['a rate limit given as text', { maxRequestsPerSecond: '10' }, 'maxRequestsPerSecond'],
    ['a rate limit past the maximum', { maxRequestsPerSecond: 1001 }, 'maxRequestsPerSecond'],
    ['status disabled (only the platform disables)', { status: 'disabled' }, 'status'],
    ['an unknown field', { colour: 'blue' }, 'colour'],
  ])('rejects %s, naming the field', (_, change, field) => {
    const error = rejectionOf({ ...validBody, ...change });
    expect(error.status).toBe(422);
    expect(error.details.map((issue) => issue.field)).toContain(field);
    expect(error.details.every((issue) => issue.message.length > 0)).toBe(true);
  });

  it('accepts text outside the BMP (a surrogate pair) in the name and description', () => {
    const spec = parseSubscriptionCreate(
      { ...validBody, name: 'Orders 📦', description: 'ship 🚚 fast' },
      production,
    );
    expect([spec.name, spec.description]).toEqual(['Orders 📦', 'ship 🚚 fast']);
  });

  it('reports every missing required field at once', () => {
    const error = rejectionOf({});
    expect(error.details.map((issue) => issue.field).sort()).toEqual(['entity', 'events', 'name', 'url']);
  });

  it('accepts a loopback listener only where the runtime allows local targets', () => {
    const local = { ...validBody, url: 'http://127.0.0.1:4000/hook' };
    expect(() => parseSubscriptionCreate(local, production)).toThrow(ValidationError);
    expect(parseSubscriptionCreate(local, { allowLocalTargets: true }).url).toBe(local.url);
    expect(() =>
      parseSubscriptionCreate({ ...local, url: 'http://10.0.0.1/' }, { allowLocalTargets: true }),
    ).toThrow(ValidationError);
  });

  it('rejects a body that is not an object', () => {
    expect(rejectionOf(['a']).details[0]?.field).toBe('(body)');
    expect(rejectionOf(null).details[0]?.field).toBe('(body)');
  });
});

describe('applySubscriptionUpdate', () => {
  const current = parseSubscriptionCreate({ ...validBody, headers: { 'X-Tenant': 'acme' } }, production);

  it('changes only the fields it is given', () => {
    const next = applySubscriptionUpdate(
      current,
      { status: 'paused', includeCompleteData: true },
      production,
    );
    expect(next).toEqual({ ...current, status: 'paused', includeCompleteData: true });
  });

  it('removes an optional field set to null', () => {
    const next = applySubscriptionUpdate(current, { headers: null }, production);
    expect(next.headers).toBeUndefined();
  });

  it('sets a rate limit and lifts it again with null', () => {
    const limited = applySubscriptionUpdate(current, { maxRequestsPerSecond: 10 }, production);
    expect(limited.maxRequestsPerSecond).toBe(10);
    expect(applySubscriptionUpdate(limited, { maxRequestsPerSecond: null }, production)).toEqual(current);
  });

  it('validates the merged subscription, so a new entity must come with its own events', () => {
    expect(() => applySubscriptionUpdate(current, { entity: 'Tag' }, production)).toThrow(ValidationError);
    const next = applySubscriptionUpdate(current, { entity: 'Tag', events: ['OnAdd'] }, production);
    expect(next.events).toEqual([{ name: 'OnAdd' }]);
  });

  it('rejects an empty update and unknown fields', () => {
    expect(() => applySubscriptionUpdate(current, {}, production)).toThrow(ValidationError);
    expect(() => applySubscriptionUpdate(current, { id: 'sub_1' }, production)).toThrow(/invalid/);
  });
});
