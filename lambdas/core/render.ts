import { XMLBuilder } from 'fast-xml-parser';
import type { EventDefinition } from './catalogue.js';
import type { SoapOptions } from './listener-auth.js';

/** What a listener is sent: the body, its content type, and the headers the format adds. */
export interface RenderedPayload {
  readonly body: string;
  readonly contentType: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface RenderInput {
  readonly definition: EventDefinition;
  readonly brand: string;
  /** The producer's data as it arrived (already validated against the definition's schema). */
  readonly data: Record<string, unknown>;
  readonly includeCompleteData: boolean;
  /** The subscription's SOAP action and header parameters (SOAP only). */
  readonly soap?: SoapOptions;
}

export const SOAP_ENVELOPE_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';
/**
 * The namespace of the subscription's parameters in the soap:Header: SOAP 1.1 (section 4.2) requires
 * every header entry to be namespace-qualified, so the header declares it as the default namespace.
 */
export const SOAP_PARAMETERS_NS = 'urn:commbox:webhooks:parameters';

/** Renders the payload in the subscription's format. */
export function renderPayload(format: 'json' | 'soap', input: RenderInput): RenderedPayload {
  return format === 'soap' ? renderSoapEnvelope(input) : renderJson(input);
}

/**
 * The fields a payload carries: every field the producer sent with "include complete data", otherwise
 * only those the event's schema declares (its `z.object`s strip the rest).
 */
export function payloadData(input: RenderInput): Record<string, unknown> {
  if (input.includeCompleteData) return input.data;
  return input.definition.schema.parse(input.data);
}

/** `{"Event": {"Subscription": <entity>, "Name": <event>, "Brand": <brand>, "<Entity>": {...}}}`. */
export function renderJson(input: RenderInput): RenderedPayload {
  const { entity, name } = input.definition;
  const body = JSON.stringify({
    Event: { Subscription: entity, Name: name, Brand: input.brand, [entity]: payloadData(input) },
  });
  return { body, contentType: 'application/json', headers: {} };
}

/**
 * A SOAP 1.1 envelope whose body holds the `Event` element (`Subscription`, `Name` and `Brand`
 * attributes) with the entity's data as elements. Built with fast-xml-parser's builder, which escapes
 * text and attributes; names that are not valid XML become `<Field Name="...">` so nothing is lost. The
 * subscription's parameters, if any, are the entries of a `soap:Header`, and its action the SOAPAction.
 */
export function renderSoapEnvelope(input: RenderInput): RenderedPayload {
  const { entity, name } = input.definition;
  const event = element('Event', [toNode(entity, payloadData(input))], {
    Subscription: entity,
    Name: name,
    Brand: input.brand,
  });
  const parameters = Object.entries(input.soap?.parameters ?? {});
  const header =
    parameters.length === 0
      ? []
      : [
          element(
            'soap:Header',
            parameters.map(([name, value]) => element(name, [{ '#text': xmlText(value) }])),
            { xmlns: SOAP_PARAMETERS_NS },
          ),
        ];
  const envelope = element('soap:Envelope', [...header, element('soap:Body', [event])], {
    'xmlns:soap': SOAP_ENVELOPE_NS,
    'xmlns:xsi': XSI_NS,
  });
  const body = `<?xml version="1.0" encoding="utf-8"?>${builder.build([envelope])}`;
  // SOAP 1.1 requires the SOAPAction header; its value is quoted, and may be empty.
  return {
    body,
    contentType: 'text/xml; charset=utf-8',
    headers: { SOAPAction: `"${input.soap?.action ?? ''}"` },
  };
}

const builder = new XMLBuilder({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  suppressEmptyNode: true,
  suppressBooleanAttributes: false,
  processEntities: true,
  // Our own nesting bound (MAX_XML_DEPTH) is checked first; this one only guards the builder.
  maxNestedTags: 1000,
});

/** Depth past which data is rendered as a JSON string instead of more elements. */
export const MAX_XML_DEPTH = 64;

type XmlNode = Record<string, unknown>;

function element(tag: string, children: XmlNode[], attributes: Record<string, string> = {}): XmlNode {
  const node: XmlNode = { [tag]: children };
  const entries = Object.entries(attributes);
  if (entries.length > 0)
    node[':@'] = Object.fromEntries(entries.map(([key, value]) => [`@_${key}`, xmlText(value)]));
  return node;
}

function toNode(key: string, value: unknown, depth = 0): XmlNode {
  const validName = XML_NAME.test(key) && !/^xml/i.test(key);
  const tag = validName ? key : 'Field';
  const attributes: Record<string, string> = validName ? {} : { Name: key };
  if (value === null || value === undefined) return element(tag, [], { ...attributes, 'xsi:nil': 'true' });
  if (typeof value !== 'object') return element(tag, [{ '#text': xmlText(String(value)) }], attributes);
  if (depth >= MAX_XML_DEPTH) return element(tag, [{ '#text': xmlText(JSON.stringify(value)) }], attributes);
  const children = Array.isArray(value)
    ? value.map((item) => toNode(itemName(key), item, depth + 1))
    : Object.entries(value).map(([childKey, childValue]) => toNode(childKey, childValue, depth + 1));
  return element(tag, children, attributes);
}

/** Array items are elements of their own: `<Activities><Activity>`, `<Children><Child>` as CommBox names them. */
const ARRAY_ITEM_NAMES: Readonly<Record<string, string>> = { Activities: 'Activity', Children: 'Child' };

function itemName(arrayKey: string): string {
  return ARRAY_ITEM_NAMES[arrayKey] ?? 'Item';
}

// An XML NCName, ASCII letters, digits and the usual punctuation (no colon: no namespaces in data).
const XML_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** XML 1.0 cannot carry most control characters or lone surrogates at all; they become U+FFFD. */
function xmlText(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters XML forbids
  return text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '\uFFFD').toWellFormed();
}
