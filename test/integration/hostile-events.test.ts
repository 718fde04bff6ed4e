import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { commboxEvent, putEvents } from './support/events.js';
import {
  assertStatus,
  createSubscription,
  listDeliveries,
  subscriptionSpec,
  uniqueMarker,
} from './support/fixtures.js';
import type { Listener } from './support/listener.js';
import { useLocalStack } from './support/local-stack.js';
import { sleep, waitUntil } from './support/wait.js';

/*
 * Hostile event data, end to end through the local process: keys named like Object's members
 * (`constructor`, `__proto__`, `toString`, `hasOwnProperty`, at any depth), text SQS refuses raw
 * (U+FFFE, U+FFFF, characters above U+FFFF), and generated data of every shape. Each event either reaches
 * its listener exactly once with its data unchanged and one succeeded delivery in the log, or is refused
 * with a reason; none is retried until a dead-letter queue takes it.
 */

const local = useLocalStack();
/** How long to keep listening once the expected deliveries arrived, to see that none comes again. */
const SETTLE_MS = 2500;

/** JSON.parse makes `__proto__` an own key, as it arrives from a producer. */
const PROTOTYPE_KEYS: Record<string, unknown> = JSON.parse(
  JSON.stringify({
    Id: 7101,
    StreamId: 1,
    constructor: 'x',
    toString: 'not a function',
    hasOwnProperty: 1,
    valueOf: null,
    nested: { constructor: { name: 'String' }, deeper: [{ constructor: { name: 'Set' }, toString: [] }] },
  }).replace('"Id"', '"__proto__":{"polluted":true},"Id"'),
);

const HEADERS: Record<string, string> = JSON.parse(
  '{"constructor":"a","__proto__":"b","toString":"c","hasOwnProperty":"d","valueOf":"e"}',
);

/** The `Event.Object` of a JSON delivery, as the listener received it. */
const objectOf = (body: string) => (JSON.parse(body) as { Event: { Object: unknown } }).Event.Object;

async function subscribe(target: Listener, overrides: Record<string, unknown> = {}) {
  return createSubscription(
    local.acme,
    subscriptionSpec(uniqueMarker('hostile'), target.url, { includeCompleteData: true, ...overrides }),
  );
}

/** Every delivery of the subscription succeeded at its first attempt; `count` of them. */
async function expectDeliveredOnce(subscriptionId: string, count: number) {
  const deliveries = await listDeliveries(local.acme, subscriptionId);
  expect(deliveries).toHaveLength(count);
  for (const delivery of deliveries) {
    expect(delivery.status).toBe('succeeded');
    expect(delivery.attempts).toHaveLength(1);
  }
}

describe('keys named like Object members', { timeout: 30_000 }, () => {
  it('are accepted as custom header names on create and on update, and sent to the listener', async () => {
    const target = await local.listener();
    const created = await subscribe(target, { headers: HEADERS });
    const updated = await local.acme.patch(`/subscriptions/${created.id}`, {
      headers: { ...HEADERS, 'X-Added': 'f' },
    });
    assertStatus(updated, 200);
    const marker = uniqueMarker('headers');

    await putEvents(local.producer, [commboxEvent('acme', 'Object.OnNew', { Id: 1, Message: marker })]);
    const [request] = await target.waitFor(1);

    expect(request?.body).toContain(marker);
    const raw = request?.rawHeaders ?? [];
    const sent = raw.flatMap((name, index) => (index % 2 === 0 ? [`${name}: ${raw[index + 1]}`] : []));
    for (const [name, value] of Object.entries({ ...HEADERS, 'X-Added': 'f' }))
      expect(sent).toContain(`${name}: ${value}`);
  });

  it('in event data reach JSON and SOAP listeners once, unchanged, and the log says succeeded', async () => {
    const json = await local.listener();
    const soap = await local.listener();
    const jsonSubscription = await subscribe(json);
    const soapSubscription = await subscribe(soap, { format: 'soap' });

    await putEvents(local.producer, [commboxEvent('acme', 'Object.OnNew', PROTOTYPE_KEYS)]);
    const [jsonRequest] = await json.waitFor(1);
    const [soapRequest] = await soap.waitFor(1);
    await sleep(SETTLE_MS);

    expect(JSON.stringify(objectOf(jsonRequest?.body ?? '{}'))).toBe(JSON.stringify(PROTOTYPE_KEYS));
    expect(soapRequest?.body).toContain('<constructor>x</constructor>');
    expect(soapRequest?.body).toContain('<__proto__><polluted>true</polluted></__proto__>');
    expect(json.requests).toHaveLength(1);
    expect(soap.requests).toHaveLength(1);
    await expectDeliveredOnce(jsonSubscription.id, 1);
    await expectDeliveredOnce(soapSubscription.id, 1);
  });
});

describe('text SQS refuses in a message body', { timeout: 30_000 }, () => {
  it('reaches the listener once, unchanged: U+FFFE, U+FFFF and characters above U+FFFF', async () => {
    const target = await local.listener();
    const subscription = await subscribe(target);
    const data = { Id: 2, Message: 'a\uFFFE b\uFFFF c😀 d\u0001', 'key\uFFFF😀': '\uFFFE' };

    await putEvents(local.producer, [commboxEvent('acme', 'Object.OnNew', data)]);
    const [request] = await target.waitFor(1);
    await sleep(SETTLE_MS);

    expect(objectOf(request?.body ?? '{}')).toEqual(data);
    expect(target.requests).toHaveLength(1);
    await expectDeliveredOnce(subscription.id, 1);
  });
});

describe('who may put which events', { timeout: 30_000 }, () => {
  it("refuses a producer's operational event (source commbox.webhooks) and a DetailType holding a line break", async () => {
    const output = await local.producer.send(
      new PutEventsCommand({
        Entries: [
          { Source: 'commbox.webhooks', DetailType: 'Subscription.Recovered', Detail: '{"brand":"acme"}' },
          commboxEvent('acme', 'Object.OnNew\noperational event Subscription.Recovered {}', { Id: 1 }),
        ],
      }),
    );

    expect(output.Entries?.map((entry) => entry.ErrorCode)).toEqual([
      'NotAuthorizedForSourceException',
      'InvalidArgument',
    ]);
  });

  it('refuses an unsigned PutEvents request', async () => {
    const response = await fetch(local.stack.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutEvents' },
      body: JSON.stringify({ Entries: [commboxEvent('acme', 'Object.OnNew', { Id: 1 })] }),
    });

    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ __type: 'MissingAuthenticationTokenException' });
  });

  it("still puts the service's own operational events: a listener answering 410 disables its subscription", async () => {
    const gone = await local.listener({ defaultStatus: 410 });
    const subscription = await subscribe(gone);

    await putEvents(local.producer, [commboxEvent('acme', 'Object.OnNew', { Id: 3 })]);
    await gone.waitFor(1);

    await waitUntil(
      () =>
        local.stack.logs.find(
          (line) =>
            line.includes('operational event') &&
            line.includes(subscription.id) &&
            line.includes('Subscription.Disabled'),
        ),
      { timeoutMs: 10_000, what: () => 'the Subscription.Disabled operational event in the log' },
    );
    expect(local.stack.logs.some((line) => line.includes('NotAuthorizedForSource'))).toBe(false);
  });
});

describe('requests aimed at the service itself', { timeout: 30_000 }, () => {
  it('answers broken percent-encoding 400 before asking for a key', async () => {
    const response = await fetch(`${local.stack.url}/subscriptions/%E0%A4%A`);

    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: { code: 'invalid_path', details: [{ field: 'id' }] },
    });
  });

  it("refuses a listener on the service's own API port, by any loopback name", async () => {
    const port = new URL(local.stack.url).port;
    for (const url of [
      `http://127.0.0.1:${port}/subscriptions`,
      `http://localhost:${port}/`,
      `http://[::1]:${port}/`,
    ]) {
      const response = await local.acme.post('/subscriptions', subscriptionSpec(uniqueMarker('self'), url));
      expect(response.status, url).toBe(422);
      expect(JSON.stringify(response.body)).toContain("is this service's own");
    }
  });
});

/** Keys a producer might send, hostile ones first; never a field Object.OnNew declares (its type is checked). */
const keyArbitrary = fc.oneof(
  fc.constantFrom('constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', ''),
  fc.string({ unit: 'binary', maxLength: 12 }),
);
const textArbitrary = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('\uFFFE', '\uFFFF', '😀', '\u0000', '\u2028', '<![CDATA[', '&amp;', '"\\'),
);
const valueArbitrary = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    textArbitrary,
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(keyArbitrary, tie('value'), { maxKeys: 4 }),
  ),
})).value;
const DECLARED = new Set(['Id', 'StreamId', 'SubStreamId', 'Type', 'StatusID', 'CreateDate', 'User']);
const dataArbitrary = fc
  .dictionary(
    keyArbitrary.filter((key) => !DECLARED.has(key)),
    valueArbitrary,
    { maxKeys: 6 },
  )
  .map((extra) => ({ ...extra, Id: 1 }));

describe('generated event data', { timeout: 60_000 }, () => {
  it('each event reaches its listener exactly once with its data unchanged, or is refused at PutEvents', async () => {
    const target = await local.listener();
    const subscription = await subscribe(target);
    // Well-formed text only: an unpaired surrogate is refused with a reason (test/unit/handlers/route.test.ts).
    const samples = fc
      .sample(dataArbitrary, { numRuns: 60, seed: 1212 })
      .filter((data) => JSON.stringify(data).isWellFormed());

    for (let start = 0; start < samples.length; start += 10) {
      const batch = samples.slice(start, start + 10);
      await putEvents(
        local.producer,
        batch.map((data, index) => commboxEvent('acme', 'Object.OnNew', data, `gen-${start + index}`)),
      );
    }
    await target.waitFor(samples.length, 30_000);
    await sleep(SETTLE_MS);

    expect(target.requests).toHaveLength(samples.length);
    const received = new Set(target.requests.map((request) => JSON.stringify(objectOf(request.body))));
    for (const data of samples) expect(received.has(JSON.stringify(data))).toBe(true);
    await expectDeliveredOnce(subscription.id, samples.length);
  });
});
