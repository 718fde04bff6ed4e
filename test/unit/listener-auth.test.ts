import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lambdas/core/errors.js';
import { MAX_KEY_PEM_LENGTH, MAX_SOAP_PARAMETERS } from '../../lambdas/core/listener-auth.js';
import { applySubscriptionUpdate, parseSubscriptionCreate } from '../../lambdas/core/subscription.js';

/* The new subscription fields as the API parses them: signatureScheme, soap and tls (shapes only). */

const production = { allowLocalTargets: false };
const local = { allowLocalTargets: true };
const base = { name: 'CRM', entity: 'Object', events: ['OnNew'], url: 'https://crm.example.com/hook' };
const soapBase = { ...base, format: 'soap' };
const PEM = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n';

function issuesOf(body: unknown, policy = production) {
  try {
    parseSubscriptionCreate(body, policy);
  } catch (error) {
    if (error instanceof ValidationError) return error.details;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

describe('signatureScheme', () => {
  it('defaults to hmac-sha256 and accepts ed25519', () => {
    expect(parseSubscriptionCreate(base, production).signatureScheme).toBe('hmac-sha256');
    expect(parseSubscriptionCreate({ ...base, signatureScheme: 'ed25519' }, production).signatureScheme).toBe(
      'ed25519',
    );
  });

  it('refuses any other scheme, naming the field', () => {
    expect(issuesOf({ ...base, signatureScheme: 'rsa' })).toEqual([
      { field: 'signatureScheme', message: expect.any(String) },
    ]);
  });
});

describe('soap', () => {
  it('keeps the action and the parameters of a SOAP subscription', () => {
    const soap = {
      action: 'http://crm.example.com/Notify#Tag?x=1',
      parameters: { User: 'bot', Tenant_1: '7' },
    };
    expect(parseSubscriptionCreate({ ...soapBase, soap }, production).soap).toEqual(soap);
  });

  it('is refused on a JSON subscription', () => {
    expect(issuesOf({ ...base, soap: { action: 'urn:a' } })).toEqual([
      { field: 'soap', message: 'is for format "soap" subscriptions only' },
    ]);
  });

  it.each([
    ['a quote', 'urn:"x"'],
    ['a space', 'urn:a b'],
    ['a line break', 'urn:a\r\nX-Injected: 1'],
    ['a backslash', 'urn:a\\b'],
  ])('refuses an action with %s', (_, action) => {
    expect(issuesOf({ ...soapBase, soap: { action } })).toEqual([
      { field: 'soap.action', message: expect.stringContaining('URI') },
    ]);
  });

  it.each(['1st', 'xmlThing', 'a:b', 'a b', '<x>', ''])('refuses the parameter name %j', (name) => {
    expect(issuesOf({ ...soapBase, soap: { parameters: { [name]: 'v' } } })[0]?.field).toBe(
      `soap.parameters.${name}`,
    );
  });

  it('refuses a parameter value XML cannot carry, and more parameters than allowed', () => {
    expect(issuesOf({ ...soapBase, soap: { parameters: { A: 'bell\u0007' } } })[0]?.field).toBe(
      'soap.parameters.A',
    );
    const many = Object.fromEntries(
      Array.from({ length: MAX_SOAP_PARAMETERS + 1 }, (_, i) => [`P${i}`, 'v']),
    );
    expect(issuesOf({ ...soapBase, soap: { parameters: many } })).toEqual([
      { field: 'soap.parameters', message: `at most ${MAX_SOAP_PARAMETERS} parameters` },
    ]);
  });

  it('must be removed (null) when an update turns the subscription into JSON', () => {
    const current = parseSubscriptionCreate({ ...soapBase, soap: { action: 'urn:a' } }, production);
    expect(() => applySubscriptionUpdate(current, { format: 'json' }, production)).toThrow(ValidationError);
    expect(applySubscriptionUpdate(current, { format: 'json', soap: null }, production).soap).toBeUndefined();
  });
});

describe('tls', () => {
  it('needs the certificate and the key together, and the key before its passphrase', () => {
    expect(issuesOf({ ...base, tls: { clientCertificate: PEM } })).toEqual([
      { field: 'tls.clientKey', message: 'is required with tls.clientCertificate' },
    ]);
    expect(issuesOf({ ...base, tls: { clientKey: KEY, clientKeyPassphrase: 'p' } })).toEqual([
      { field: 'tls.clientCertificate', message: 'is required with tls.clientKey' },
    ]);
    expect(issuesOf({ ...base, tls: { serverCa: PEM, clientKeyPassphrase: 'p' } })).toEqual([
      { field: 'tls.clientKeyPassphrase', message: 'is given without tls.clientKey' },
    ]);
  });

  it('applies to https listeners only', () => {
    expect(issuesOf({ ...base, url: 'http://127.0.0.1:9/hook', tls: { serverCa: PEM } }, local)).toEqual([
      { field: 'tls', message: 'applies to https listener URLs only' },
    ]);
  });

  it('bounds the size of each PEM and refuses unknown members', () => {
    const huge = `${KEY}${'A'.repeat(MAX_KEY_PEM_LENGTH)}`;
    expect(issuesOf({ ...base, tls: { clientCertificate: PEM, clientKey: huge } })).toEqual([
      { field: 'tls.clientKey', message: `must be at most ${MAX_KEY_PEM_LENGTH} characters` },
    ]);
    expect(issuesOf({ ...base, tls: { ca: PEM } })[0]).toMatchObject({ field: 'tls.ca' });
    expect(issuesOf({ ...base, tls: {} })).toEqual([
      { field: 'tls', message: 'give at least one member, or leave tls out' },
    ]);
  });

  it('is merged member by member on update: left out kept, given replaced, null removed', () => {
    const current = parseSubscriptionCreate(
      { ...base, tls: { clientCertificate: PEM, clientKey: KEY, serverCa: PEM } },
      production,
    );
    const newCa = PEM.replace('AAAA', 'BBBB');
    expect(applySubscriptionUpdate(current, { tls: { serverCa: newCa } }, production).tls).toEqual({
      clientCertificate: PEM,
      clientKey: KEY,
      serverCa: newCa,
    });
    expect(applySubscriptionUpdate(current, { tls: { serverCa: null } }, production).tls).toEqual({
      clientCertificate: PEM,
      clientKey: KEY,
    });
    expect(applySubscriptionUpdate(current, { tls: null }, production).tls).toBeUndefined();
    expect(() => applySubscriptionUpdate(current, { tls: { clientKey: null } }, production)).toThrow(
      ValidationError,
    );
  });
});
