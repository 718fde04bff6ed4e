import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { findEvent } from '../../lambdas/core/catalogue.js';
import {
  renderJson,
  renderPayload,
  renderSoapEnvelope,
  SOAP_ENVELOPE_NS,
  SOAP_PARAMETERS_NS,
} from '../../lambdas/core/render.js';
import { exampleData } from '../support/factories.js';

const definitionOf = (entity: string, event: string) => {
  const definition = findEvent(entity, event);
  if (!definition) throw new Error(`no ${entity}.${event}`);
  return definition;
};

const tagAdd = {
  definition: definitionOf('Tag', 'OnAdd'),
  brand: 'acme',
  data: { tagId: '40', name: 'VIP', type: '1', internalScore: '0.9' },
  includeCompleteData: false,
};

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false });

describe('renderJson', () => {
  it('wraps the data as CommBox does: Subscription, Name, Brand and the entity', () => {
    const payload = renderJson(tagAdd);
    expect(payload.contentType).toBe('application/json');
    expect(JSON.parse(payload.body)).toEqual({
      Event: {
        Subscription: 'Tag',
        Name: 'OnAdd',
        Brand: 'acme',
        Tag: { tagId: '40', name: 'VIP', type: '1' },
      },
    });
  });

  it('carries every field the producer sent when complete data is included', () => {
    const payload = renderJson({ ...tagAdd, includeCompleteData: true });
    expect(JSON.parse(payload.body).Event.Tag.internalScore).toBe('0.9');
  });

  it('strips undeclared fields inside nested objects and arrays too', () => {
    const data = exampleData('Object', 'OnNewActivity', {
      Activities: [{ Id: 1, Type: 2, Secret: 'x', User: { Id: 5, Password: 'p' } }],
    });
    const body = JSON.parse(
      renderJson({ ...tagAdd, definition: definitionOf('Object', 'OnNewActivity'), data }).body,
    );
    expect(body.Event.Object.Activities).toEqual([{ Id: 1, Type: 2, User: { Id: 5 } }]);
  });
});

describe('renderSoapEnvelope', () => {
  it('builds a SOAP 1.1 envelope whose body holds the Event element with its attributes', () => {
    const payload = renderSoapEnvelope(tagAdd);
    expect(payload.contentType).toBe('text/xml; charset=utf-8');
    expect(payload.headers).toEqual({ SOAPAction: '""' });
    expect(XMLValidator.validate(payload.body)).toBe(true);
    const envelope = parser.parse(payload.body)['soap:Envelope'];
    expect(envelope['@xmlns:soap']).toBe(SOAP_ENVELOPE_NS);
    const event = envelope['soap:Body'].Event;
    expect(event['@Subscription']).toBe('Tag');
    expect(event['@Name']).toBe('OnAdd');
    expect(event['@Brand']).toBe('acme');
    expect(event.Tag).toEqual({ tagId: '40', name: 'VIP', type: '1' });
  });

  it('keeps <, &, quotes, apostrophes and non-ASCII text intact through a parse', () => {
    const name = `<b>Tom & "Jerry"</b> 'n' שלום 🙂 ]]> ü`;
    const payload = renderSoapEnvelope({ ...tagAdd, brand: `a&b"<c>`, data: { tagId: '1', name } });
    expect(XMLValidator.validate(payload.body)).toBe(true);
    expect(payload.body).not.toContain('<b>');
    const event = parser.parse(payload.body)['soap:Envelope']['soap:Body'].Event;
    expect(event.Tag.name).toBe(name);
    expect(event['@Brand']).toBe(`a&b"<c>`);
  });

  it('renders arrays as CommBox does, one element per item', () => {
    const payload = renderSoapEnvelope({
      ...tagAdd,
      definition: definitionOf('Object', 'OnNewActivity'),
      data: exampleData('Object', 'OnNewActivity'),
    });
    expect(payload.body).toContain('<Activities><Activity><Id>565420</Id><Type>2</Type>');
    const object = parser.parse(payload.body)['soap:Envelope']['soap:Body'].Event.Object;
    expect(object.Activities.Activity.Data).toBe('{"statusId": 8}');
    expect(object.Activities.Activity.User.Identity.Id).toBe('16982');
  });

  it('keeps fields whose names are not XML names, as Field elements that name them', () => {
    const payload = renderSoapEnvelope({
      ...tagAdd,
      includeCompleteData: true,
      data: { tagId: '1', name: 'x', 'my field': 'a', '1st': 'b', xmlns: 'c', '@_x': 'd', '#text': 'e' },
    });
    expect(XMLValidator.validate(payload.body)).toBe(true);
    const fields = parser.parse(payload.body)['soap:Envelope']['soap:Body'].Event.Tag.Field;
    expect(fields.map((field: Record<string, string>) => [field['@Name'], field['#text']])).toEqual([
      ['my field', 'a'],
      ['1st', 'b'],
      ['xmlns', 'c'],
      ['@_x', 'd'],
      ['#text', 'e'],
    ]);
  });

  it('replaces characters XML 1.0 cannot carry instead of producing a broken document', () => {
    const payload = renderSoapEnvelope({ ...tagAdd, data: { tagId: '1', name: 'bell\u0007 and nul\u0000' } });
    expect(XMLValidator.validate(payload.body)).toBe(true);
    expect(parser.parse(payload.body)['soap:Envelope']['soap:Body'].Event.Tag.name).toBe(
      'bell\uFFFD and nul\uFFFD',
    );
  });

  it('marks nulls as nil and renders very deep data as JSON text rather than failing', () => {
    let deep: Record<string, unknown> = { leaf: true };
    for (let level = 0; level < 200; level += 1) deep = { nested: deep };
    const payload = renderSoapEnvelope({
      ...tagAdd,
      includeCompleteData: true,
      data: { tagId: '1', name: 'x', unit: null, deep },
    });
    expect(XMLValidator.validate(payload.body)).toBe(true);
    expect(payload.body).toContain('<unit xsi:nil="true"/>');
    expect(payload.body).toContain('{&quot;nested&quot;:');
  });
});

describe('renderPayload', () => {
  it('picks the renderer by the subscription format', () => {
    expect(renderPayload('json', tagAdd).contentType).toBe('application/json');
    expect(renderPayload('soap', tagAdd).contentType).toBe('text/xml; charset=utf-8');
  });
});

describe('SOAP action and parameters', () => {
  it('sends the action quoted in SOAPAction, as SOAP 1.1 requires', () => {
    const payload = renderSoapEnvelope({ ...tagAdd, soap: { action: 'urn:crm:TagAdded' } });
    expect(payload.headers).toEqual({ SOAPAction: '"urn:crm:TagAdded"' });
  });

  it('renders the parameters as namespace-qualified entries of a soap:Header before the body', () => {
    const payload = renderPayload('soap', {
      ...tagAdd,
      soap: { parameters: { Username: 'crm-bot', TenantId: '17' } },
    });
    expect(XMLValidator.validate(payload.body)).toBe(true);
    expect(payload.body).toContain(
      `<soap:Header xmlns="${SOAP_PARAMETERS_NS}"><Username>crm-bot</Username><TenantId>17</TenantId></soap:Header><soap:Body>`,
    );
    const envelope = parser.parse(payload.body)['soap:Envelope'];
    expect(envelope['soap:Header']).toMatchObject({ Username: 'crm-bot', TenantId: '17' });
    expect(envelope['soap:Body'].Event.Tag.tagId).toBe('40');
  });

  it('escapes parameter values, so markup in a value stays text', () => {
    const value = `</Username><Admin>true</Admin> & "quotes" ]]> שלום`;
    const payload = renderSoapEnvelope({ ...tagAdd, soap: { parameters: { Username: value } } });
    expect(XMLValidator.validate(payload.body)).toBe(true);
    const header = parser.parse(payload.body)['soap:Envelope']['soap:Header'];
    expect(header.Username).toBe(value);
    expect(header.Admin).toBeUndefined();
  });

  it('has no soap:Header without parameters', () => {
    expect(renderSoapEnvelope({ ...tagAdd, soap: { action: 'urn:a' } }).body).not.toContain('soap:Header');
  });
});
