import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { type ApiClient, bodyOf, deliverySchema, rotationSchema } from './support/api-client.js';
import { commboxEvent, putEvents } from './support/events.js';
import {
  assertStatus,
  createSubscription,
  listDeliveries,
  subscriptionSpec,
  uniqueMarker,
  waitForDelivery,
} from './support/fixtures.js';
import type { Listener } from './support/listener.js';
import { BRANDS, capturedLogs } from './support/local-process.js';
import { useLocalStack } from './support/local-stack.js';
import { sleep } from './support/wait.js';
import {
  signaturesOf,
  soapEvent,
  verifiedJson,
  verifiesWith,
  webhookIdOf,
  withSignature,
} from './support/webhooks.js';

/*
 * Events put with the real EventBridge client travel through the real local process (router, queues,
 * deliverer) to loopback listeners; the API shows what happened. Retry schedule 0, 1, 1 s: 3 attempts.
 */

/** How long to keep listening after the expected deliveries, to see that nothing else arrives. */
const SETTLE_MS = 1000;

const local = useLocalStack();
/** Every secret this file was given, to make sure none of them reaches the logs. */
const secretsSeen = new Set<string>();

async function subscribe(api: ApiClient, target: Listener, overrides: Record<string, unknown>) {
  const created = await createSubscription(api, subscriptionSpec(uniqueMarker('sub'), target.url, overrides));
  secretsSeen.add(created.secret);
  return created;
}

function put(...entries: Parameters<typeof commboxEvent>[]) {
  return putEvents(
    local.producer,
    entries.map((entry) => commboxEvent(...entry)),
  );
}

const activity = (id: number, type: number) => ({
  Id: id,
  StreamId: 71,
  Activities: [{ Id: id * 10, Type: type }],
});

describe('fan-out of one batch of events', { timeout: 30_000 }, () => {
  it('reaches exactly the matching subscriptions of each brand, in JSON and SOAP, signed', async () => {
    const acmeJson = await local.listener();
    const acmeSoap = await local.listener();
    const acmeTags = await local.listener();
    const acmeUsers = await local.listener();
    const globexObjects = await local.listener();
    const globexUsers = await local.listener();
    const subscriptions = {
      acmeJson: await subscribe(local.acme, acmeJson, { entity: 'Object', events: ['OnNew'] }),
      acmeSoap: await subscribe(local.acme, acmeSoap, {
        entity: 'Object',
        events: ['OnNew', { name: 'OnNewActivity', activityTypes: [2, 6] }],
        format: 'soap',
      }),
      acmeTags: await subscribe(local.acme, acmeTags, { entity: 'Tag', events: ['OnAdd'] }),
      acmeUsers: await subscribe(local.acme, acmeUsers, { entity: 'User', events: ['OnNew'] }),
      globexObjects: await subscribe(local.globex, globexObjects, { entity: 'Object', events: ['OnNew'] }),
      globexUsers: await subscribe(local.globex, globexUsers, {
        entity: 'User',
        events: ['OnNew', 'OnUpdate'],
      }),
    };

    await put(
      ['acme', 'Object.OnNew', { Id: 1001, StreamId: 71, Message: 'Hello & <welcome>' }],
      ['acme', 'Object.OnNewActivity', activity(1002, 1)],
      ['acme', 'Object.OnNewActivity', activity(1003, 6)],
      ['acme', 'Tag.OnAdd', { tagId: '3001', name: 'VIP' }],
      ['globex', 'Object.OnNew', { Id: 2001, StreamId: 5 }],
      ['globex', 'User.OnNew', { Id: 2002, Content: { FirstName: 'Dana' } }],
    );
    await Promise.all([
      acmeJson.waitFor(1),
      acmeSoap.waitFor(2),
      acmeTags.waitFor(1),
      globexObjects.waitFor(1),
      globexUsers.waitFor(1),
    ]);
    await sleep(SETTLE_MS);

    expect(acmeJson.requests).toHaveLength(1);
    expect(acmeSoap.requests).toHaveLength(2);
    expect(acmeTags.requests).toHaveLength(1);
    expect(acmeUsers.requests).toHaveLength(0);
    expect(globexObjects.requests).toHaveLength(1);
    expect(globexUsers.requests).toHaveLength(1);
    expect(await listDeliveries(local.acme, subscriptions.acmeUsers.id)).toEqual([]);

    const json = acmeJson.request(0);
    expect(json.method).toBe('POST');
    expect(json.headers['content-type']).toBe('application/json');
    expect(verifiedJson(json, subscriptions.acmeJson.secret)).toEqual({
      Event: {
        Subscription: 'Object',
        Name: 'OnNew',
        Brand: 'acme',
        Object: { Id: 1001, StreamId: 71, Message: 'Hello & <welcome>' },
      },
    });
    // The official Standard Webhooks library accepts it too.
    expect(() =>
      new Webhook(subscriptions.acmeJson.secret).verify(json.body, json.headers as Record<string, string>),
    ).not.toThrow();

    const soapEvents = acmeSoap.requests.map((request) => {
      expect(request.headers['content-type']).toBe('text/xml; charset=utf-8');
      expect(request.headers.soapaction).toBe('""');
      expect(verifiesWith(request, subscriptions.acmeSoap.secret)).toBe(true);
      return soapEvent(request.body);
    });
    expect(soapEvents).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          '@Subscription': 'Object',
          '@Name': 'OnNew',
          '@Brand': 'acme',
          Object: expect.objectContaining({ Id: 1001, Message: 'Hello & <welcome>' }),
        }),
        expect.objectContaining({
          '@Name': 'OnNewActivity',
          Object: expect.objectContaining({ Id: 1003, Activities: { Activity: { Id: 10030, Type: 6 } } }),
        }),
      ]),
    );

    expect(verifiedJson(acmeTags.request(0), subscriptions.acmeTags.secret)).toEqual({
      Event: { Subscription: 'Tag', Name: 'OnAdd', Brand: 'acme', Tag: { tagId: '3001', name: 'VIP' } },
    });
    expect(verifiedJson(globexObjects.request(0), subscriptions.globexObjects.secret)).toEqual({
      Event: { Subscription: 'Object', Name: 'OnNew', Brand: 'globex', Object: { Id: 2001, StreamId: 5 } },
    });
    expect(verifiedJson(globexUsers.request(0), subscriptions.globexUsers.secret)).toMatchObject({
      Event: { Subscription: 'User', Name: 'OnNew', Brand: 'globex', User: { Id: 2002 } },
    });
    // One event to two subscriptions: two webhook-ids, each signed only with its own subscription's secret.
    const acmeOnNewOverSoap = acmeSoap.requests.find((request) => request.body.includes('Name="OnNew"'));
    expect(acmeOnNewOverSoap && webhookIdOf(acmeOnNewOverSoap)).not.toBe(webhookIdOf(json));
    expect(verifiesWith(json, subscriptions.acmeSoap.secret)).toBe(false);
    expect(verifiesWith(json, subscriptions.globexObjects.secret)).toBe(false);
  });
});

describe('the activity-type component', { timeout: 30_000 }, () => {
  it('lets through only the activities whose type the subscription lists', async () => {
    const target = await local.listener();
    const subscription = await subscribe(local.acme, target, {
      events: [{ name: 'OnNewActivity', activityTypes: [2, 6] }],
    });

    await put(
      ['acme', 'Object.OnNewActivity', activity(4001, 1)],
      ['acme', 'Object.OnNewActivity', activity(4002, 6)],
      [
        'acme',
        'Object.OnNewActivity',
        {
          Id: 4003,
          Activities: [
            { Id: 1, Type: 1 },
            { Id: 2, Type: 2 },
          ],
        },
      ],
      ['acme', 'Object.OnNewActivity', activity(4004, 7)],
    );
    await target.waitFor(2);
    await sleep(SETTLE_MS);

    const ids = target.requests.map((request) => {
      const payload = verifiedJson(request, subscription.secret) as { Event: { Object: { Id: number } } };
      return payload.Event.Object.Id;
    });
    expect(ids.sort()).toEqual([4002, 4003]);
  });
});

describe('retries', { timeout: 30_000 }, () => {
  it('retries a failing listener on the schedule with one webhook-id until it accepts (3 attempts)', async () => {
    const target = await local.listener({ answers: [500, 500] });
    const subscription = await subscribe(local.acme, target, {});

    await put(['acme', 'Object.OnNew', { Id: 5001 }]);
    const requests = await target.waitFor(3);
    const delivery = await waitForDelivery(
      local.acme,
      subscription.id,
      (candidate) => candidate.status === 'succeeded',
      'the delivery to succeed',
    );
    await sleep(SETTLE_MS);

    expect(target.requests).toHaveLength(3);
    expect(requests.map((request) => request.answeredWith)).toEqual([500, 500, 200]);
    expect(new Set(requests.map(webhookIdOf))).toEqual(new Set([delivery.webhookId]));
    expect(new Set(requests.map((request) => request.body)).size).toBe(1);
    for (const request of requests) expect(verifiesWith(request, subscription.secret)).toBe(true);
    const [first, second, third] = requests.map((request) => request.receivedAt);
    expect((second ?? 0) - (first ?? 0)).toBeGreaterThanOrEqual(900);
    expect((third ?? 0) - (second ?? 0)).toBeGreaterThanOrEqual(900);

    const fetched = await local.acme.get(`/subscriptions/${subscription.id}/deliveries/${delivery.id}`);
    assertStatus(fetched, 200);
    expect(bodyOf(deliverySchema, fetched)).toMatchObject({
      id: delivery.id,
      subscriptionId: subscription.id,
      brand: 'acme',
      entity: 'Object',
      event: 'OnNew',
      status: 'succeeded',
      attempts: [
        { attempt: 1, statusCode: 500 },
        { attempt: 2, statusCode: 500 },
        { attempt: 3, statusCode: 200 },
      ],
    });
  });

  /** A delivery that failed all 3 attempts (the listener answers 500), as the failed list shows it. */
  async function exhaustedDelivery() {
    const target = await local.listener({ defaultStatus: 500 });
    const subscription = await subscribe(local.acme, target, {});
    await put(['acme', 'Object.OnNew', { Id: 6001, Message: uniqueMarker('exhausted') }]);
    await target.waitFor(3);
    const failed = await waitForDelivery(
      local.acme,
      subscription.id,
      (candidate) => candidate.status === 'failed',
      'the delivery to fail',
    );
    return { target, subscription, failed };
  }

  it('gives up after the last attempt and lists the delivery as failed, with its attempts and payload', async () => {
    const { target, subscription, failed } = await exhaustedDelivery();
    await sleep(SETTLE_MS + 500);

    const failedList = await listDeliveries(local.acme, subscription.id, 'failed');
    const succeededList = await listDeliveries(local.acme, subscription.id, 'succeeded');

    expect(target.requests).toHaveLength(3);
    expect(succeededList).toEqual([]);
    expect(failedList).toHaveLength(1);
    expect(failedList[0]).toMatchObject({
      id: failed.id,
      status: 'failed',
      webhookId: webhookIdOf(target.request(0)),
      failureReason: expect.stringContaining('gave up after 3 attempts'),
      attempts: [
        { attempt: 1, statusCode: 500, error: expect.stringContaining('HTTP 500') },
        { attempt: 2, statusCode: 500 },
        { attempt: 3, statusCode: 500 },
      ],
      payload: { contentType: 'application/json', body: target.request(0).body },
    });
  });

  it('resends a failed delivery with the same webhook-id once the listener is fixed', async () => {
    const { target, subscription, failed } = await exhaustedDelivery();
    target.answerFromNowOn(200);

    const resent = await local.acme.post(`/subscriptions/${subscription.id}/deliveries/${failed.id}/resend`);
    await target.waitFor(4);
    const again = target.request(3);
    const succeeded = await waitForDelivery(
      local.acme,
      subscription.id,
      (candidate) => candidate.id === failed.id && candidate.status === 'succeeded',
      'the resent delivery to succeed',
    );

    expect(resent.status).toBe(202);
    expect(resent.body).toEqual({ deliveryId: failed.id, status: 'pending' });
    expect(webhookIdOf(again)).toBe(failed.webhookId);
    expect(again.answeredWith).toBe(200);
    expect(verifiesWith(again, subscription.secret)).toBe(true);
    expect(succeeded.attempts.map((attempt) => attempt.statusCode)).toEqual([500, 500, 500, 200]);
    expect(succeeded.attempts.at(-1)?.attempt).toBe(4);
    expect(await listDeliveries(local.acme, subscription.id, 'failed')).toEqual([]);
  });
});

describe('test events and secret rotation', { timeout: 30_000 }, () => {
  it('sends a test event through the pipeline to the listener, signed with the secret', async () => {
    const target = await local.listener();
    const subscription = await subscribe(local.acme, target, { events: ['OnNewChild', 'OnNew'] });

    const response = await local.acme.post(`/subscriptions/${subscription.id}/test`);
    await target.waitFor(1);
    const request = target.request(0);
    const delivery = await waitForDelivery(
      local.acme,
      subscription.id,
      (candidate) => candidate.status === 'succeeded',
      'the test delivery to succeed',
    );

    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({ event: 'Object.OnNewChild', status: 'pending' });
    expect(response.body).toEqual(expect.objectContaining({ deliveryId: delivery.id }));
    expect(signaturesOf(request)).toHaveLength(1);
    expect(verifiedJson(request, subscription.secret)).toMatchObject({
      Event: { Subscription: 'Object', Name: 'OnNewChild', Brand: 'acme', Object: { Id: 901731 } },
    });
  });

  it('signs with both the old and the new secret after a rotation', async () => {
    const target = await local.listener();
    const subscription = await subscribe(local.acme, target, {});
    const oldSecret = subscription.secret;

    const response = await local.acme.post(`/subscriptions/${subscription.id}/secret/rotate`);
    const rotated = bodyOf(rotationSchema, response);
    secretsSeen.add(rotated.secret);
    await put(['acme', 'Object.OnNew', { Id: 7001 }]);
    await target.waitFor(1);
    const request = target.request(0);

    expect(response.status).toBe(200);
    expect(rotated.id).toBe(subscription.id);
    expect(rotated.secret).not.toBe(oldSecret);
    expect(Date.parse(rotated.previousSecretsExpireAt) - Date.now()).toBeGreaterThan(23 * 60 * 60 * 1000);
    const signatures = signaturesOf(request);
    expect(signatures).toHaveLength(2);
    expect(signatures.every((signature) => signature.startsWith('v1,'))).toBe(true);
    const signedWith = (secret: string) =>
      signatures.filter((signature) => verifiesWith(withSignature(request, signature), secret));
    expect(signedWith(rotated.secret)).toHaveLength(1);
    expect(signedWith(oldSecret)).toHaveLength(1);
    expect(signedWith(oldSecret)).not.toEqual(signedWith(rotated.secret));
  });
});

describe('the process logs', () => {
  it('never contain a signing secret or an API key', () => {
    const logs = capturedLogs.map((entry) => entry.line).join('\n');

    expect(logs).toContain('ready http://127.0.0.1:');
    expect(secretsSeen.size).toBeGreaterThan(5);
    for (const secret of secretsSeen) expect(logs).not.toContain(secret.slice('whsec_'.length));
    expect(logs).not.toContain(BRANDS.acme.key);
    expect(logs).not.toContain(BRANDS.globex.key);
  });
});
