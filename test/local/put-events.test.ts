import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SignatureV4 } from '@smithy/signature-v4';
import { type FauxqsServer, startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_SOURCE, OPERATIONAL_EVENT_SOURCE } from '../../lambdas/core/event-sources.js';
import { INGEST_RULE_PATTERN } from '../../lib/definitions.js';
import {
  createPutEventsHandler,
  type EventEnvelope,
  isPutEventsRequest,
  type PutEventsHttpResponse,
  type PutEventsRule,
  sqsRuleTarget,
} from '../../local/put-events.js';
import { NodeSha256, type SignedRequest } from '../../local/sigv4-check.js';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const now = () => new Date('2026-11-27T12:00:00.123Z');

let fauxqs: FauxqsServer;
let sqs: SQSClient;
let server: http.Server;
let events: EventBridgeClient;
/** What the HTTP server routes PutEvents to; each test installs its own rules. */
let handle: (request: SignedRequest) => Promise<PutEventsHttpResponse> = async () => {
  throw new Error('no handler installed');
};

beforeAll(async () => {
  fauxqs = await startFauxqs({ port: 0, logger: false });
  sqs = new SQSClient({ endpoint: fauxqs.address, region: 'us-east-1', credentials });
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (!isPutEventsRequest(req.method ?? '', req.url ?? '', req.headers)) {
        res.writeHead(404).end();
        return;
      }
      handle({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
      }).then(
        (answer) => res.writeHead(answer.status, { 'content-type': answer.contentType }).end(answer.body),
        () => res.writeHead(500).end(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  events = new EventBridgeClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials });
});

afterAll(async () => {
  events?.destroy();
  sqs?.destroy();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await fauxqs?.stop();
});

async function createQueue(): Promise<string> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `ingest-${randomUUID()}` }));
  if (!QueueUrl) throw new Error('no queue url');
  return QueueUrl;
}

/** Every message in the queue (drained), parsed. */
async function drain(queueUrl: string): Promise<EventEnvelope[]> {
  const bodies: EventEnvelope[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (Messages.length === 0) return bodies;
    for (const message of Messages) bodies.push(JSON.parse(message.Body ?? 'null') as EventEnvelope);
  }
}

/** Installs a handler whose ingest rule queues to a fresh queue; returns the queue. */
async function withIngestQueue(extraRules: PutEventsRule[] = []): Promise<string> {
  const queueUrl = await createQueue();
  handle = createPutEventsHandler({
    rules: [
      { name: 'ingest', pattern: INGEST_RULE_PATTERN, send: sqsRuleTarget(sqs, queueUrl) },
      ...extraRules,
    ],
    now,
  });
  return queueUrl;
}

const entry = (overrides: Partial<PutEventsRequestEntry> = {}): PutEventsRequestEntry => ({
  Source: EVENT_SOURCE,
  DetailType: 'Contact Created',
  Detail: JSON.stringify({ brand: 'acme', id: 'c-1', data: { name: 'Ada' } }),
  ...overrides,
});

describe('the local PutEvents endpoint, through the real EventBridge client', () => {
  it('queues a commbox event as an EventBridge envelope and answers with its EventId', async () => {
    const queueUrl = await withIngestQueue();

    const output = await events.send(new PutEventsCommand({ Entries: [entry({ Resources: ['arn:x'] })] }));

    expect(output.FailedEntryCount).toBe(0);
    const eventId = output.Entries?.[0]?.EventId;
    expect(eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(await drain(queueUrl)).toEqual([
      {
        version: '0',
        id: eventId,
        'detail-type': 'Contact Created',
        source: EVENT_SOURCE,
        account: '000000000000',
        time: '2026-11-27T12:00:00Z',
        region: 'us-east-1',
        resources: ['arn:x'],
        detail: { brand: 'acme', id: 'c-1', data: { name: 'Ada' } },
      },
    ]);
  });

  it("takes the envelope's time from the entry's Time, in whole seconds", async () => {
    const queueUrl = await withIngestQueue();

    await events.send(
      new PutEventsCommand({ Entries: [entry({ Time: new Date('2026-01-02T03:04:05.678Z') })] }),
    );

    expect((await drain(queueUrl)).map((envelope) => envelope.time)).toEqual(['2026-01-02T03:04:05Z']);
  });

  it('answers per entry in order, failing the bad ones, and queues only the valid one', async () => {
    const queueUrl = await withIngestQueue();

    const output = await events.send(
      new PutEventsCommand({
        Entries: [entry(), entry({ Source: undefined }), entry({ Detail: 'not json' })],
      }),
    );

    expect(output.FailedEntryCount).toBe(2);
    expect(output.Entries).toEqual([
      { EventId: expect.any(String) },
      {
        ErrorCode: 'InvalidArgument',
        ErrorMessage: 'Parameter Source is not valid. Reason: Source is a required argument.',
      },
      { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' },
    ]);
    expect((await drain(queueUrl)).map((envelope) => envelope.id)).toEqual([output.Entries?.[0]?.EventId]);
  });

  it('accepts an event of another source without queuing it, as AWS accepts unmatched events', async () => {
    const queueUrl = await withIngestQueue();

    const output = await events.send(new PutEventsCommand({ Entries: [entry({ Source: 'crm.other' })] }));

    expect(output).toMatchObject({ FailedEntryCount: 0, Entries: [{ EventId: expect.any(String) }] });
    expect(await drain(queueUrl)).toEqual([]);
  });

  it('queues a full batch of ten in one request', async () => {
    const queueUrl = await withIngestQueue();

    const output = await events.send(
      new PutEventsCommand({ Entries: Array.from({ length: 10 }, () => entry()) }),
    );

    expect(output.FailedEntryCount).toBe(0);
    const ids = output.Entries?.map((result) => result.EventId);
    expect((await drain(queueUrl)).map((envelope) => envelope.id).sort()).toEqual(ids?.sort());
  });

  it.each([
    [11, 'less than or equal to 10'],
    [0, 'greater than or equal to 1'],
  ])('refuses a request of %i entries with a ValidationException', async (count, words) => {
    const queueUrl = await withIngestQueue();

    const put = events.send(new PutEventsCommand({ Entries: Array.from({ length: count }, () => entry()) }));

    await expect(put).rejects.toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining(words),
      $metadata: { httpStatusCode: 400 },
    });
    expect(await drain(queueUrl)).toEqual([]);
  });

  it('refuses a request whose entries total over 256 KB with a ValidationException', async () => {
    await withIngestQueue();
    const detail = JSON.stringify({ brand: 'acme', data: { text: 'x'.repeat(100_000) } });

    const put = events.send(
      new PutEventsCommand({ Entries: [1, 2, 3].map(() => entry({ Detail: detail })) }),
    );

    await expect(put).rejects.toMatchObject({
      name: 'ValidationException',
      message: 'Total size of the entries in the request is over the limit.',
    });
  });

  it('fails with InternalFailure the entries of a rule whose send throws, and only those', async () => {
    const failing: PutEventsRule = {
      name: 'broken',
      pattern: { source: ['other'] },
      send: async () => {
        throw new Error('queue unavailable');
      },
    };
    const queueUrl = await withIngestQueue([failing]);

    const output = await events.send(
      new PutEventsCommand({ Entries: [entry({ Source: 'other' }), entry(), entry({ Source: 'other' })] }),
    );

    expect(output.FailedEntryCount).toBe(2);
    expect(output.Entries).toEqual([
      { ErrorCode: 'InternalFailure', ErrorMessage: 'The event could not be queued for rule broken.' },
      { EventId: expect.any(String) },
      { ErrorCode: 'InternalFailure', ErrorMessage: expect.stringContaining('broken') },
    ]);
    expect((await drain(queueUrl)).map((envelope) => envelope.id)).toEqual([output.Entries?.[1]?.EventId]);
  });

  it('fails an entry when any of the rules it matched could not take it', async () => {
    const failing: PutEventsRule = {
      name: 'also-commbox',
      pattern: { source: [EVENT_SOURCE] },
      send: () => Promise.reject(new Error('down')),
    };
    await withIngestQueue([failing]);

    const output = await events.send(new PutEventsCommand({ Entries: [entry()] }));

    expect(output).toMatchObject({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure' }] });
  });
});

/** A PutEvents request as the SDK sends it, signed (SigV4) with `signer` credentials, now. */
async function signedRequest(
  body: Buffer,
  signer: { accessKeyId: string; secretAccessKey: string } = credentials,
): Promise<SignedRequest> {
  const signed = await new SignatureV4({
    credentials: signer,
    region: 'us-east-1',
    service: 'events',
    sha256: NodeSha256,
  }).sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 4010,
      path: '/',
      query: {},
      headers: {
        host: '127.0.0.1:4010',
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'AWSEvents.PutEvents',
      },
      body,
    },
    { signingDate: new Date() },
  );
  const headers = Object.fromEntries(
    Object.entries(signed.headers).map(([name, value]) => [name.toLowerCase(), value]),
  );
  return { method: 'POST', path: '/', headers, body };
}

describe('createPutEventsHandler', () => {
  const handlerWith =
    (rules: PutEventsRule[] = []) =>
    async (body: Buffer) =>
      createPutEventsHandler({ rules, now })(await signedRequest(body));
  const request = (payload: unknown) => Buffer.from(JSON.stringify(payload));

  it.each<[string, Buffer, string]>([
    ['a body that is not JSON', Buffer.from('{"Entries": ['), 'SerializationException'],
    ['a body that is not an object', request([1]), 'SerializationException'],
    ['Entries that is not a list', request({ Entries: 'x' }), 'SerializationException'],
    ['an entry that is not an object', request({ Entries: [null] }), 'SerializationException'],
    [
      'a Source that is not a string',
      request({ Entries: [{ ...entry(), Source: 1 }] }),
      'SerializationException',
    ],
    [
      'a Time that is not a timestamp',
      request({ Entries: [{ ...entry(), Time: 'soon' }] }),
      'SerializationException',
    ],
    ['no Entries', request({}), 'ValidationException'],
  ])('answers 400 to %s', async (_, body, type) => {
    const answer = await handlerWith()(body);

    expect(answer.status).toBe(400);
    expect(answer.contentType).toBe('application/x-amz-json-1.1');
    expect(JSON.parse(answer.body)).toEqual({ __type: type, message: expect.any(String) });
  });

  it.each<[string, Record<string, unknown>, string, string]>([
    [
      'a missing DetailType',
      { DetailType: undefined },
      'InvalidArgument',
      'Parameter DetailType is not valid',
    ],
    ['an empty Source', { Source: '' }, 'InvalidArgument', 'Parameter Source is not valid'],
    ['a missing Detail', { Detail: undefined }, 'InvalidArgument', 'Parameter Detail is not valid'],
    ['a Detail that is a JSON array', { Detail: '[1]' }, 'MalformedDetail', 'Detail is malformed.'],
    ['a Detail that is a JSON string', { Detail: '"x"' }, 'MalformedDetail', 'Detail is malformed.'],
  ])('fails the entry with %s', async (_, overrides, code, message) => {
    const answer = await handlerWith()(request({ Entries: [{ ...entry(), ...overrides }] }));

    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: code, ErrorMessage: expect.stringContaining(message) }],
    });
  });

  it('accepts any EventBusName and ignores EndpointId', async () => {
    const answer = await handlerWith()(
      request({ Entries: [{ ...entry(), EventBusName: 'commbox-webhooks' }], EndpointId: 'abc.def' }),
    );

    expect(JSON.parse(answer.body)).toMatchObject({ FailedEntryCount: 0 });
  });

  it('calls each matching rule once per request with its envelopes in entry order', async () => {
    const calls: Record<string, string[][]> = { all: [], contacts: [], none: [] };
    const recorder = (name: string) => async (envelopes: EventEnvelope[]) => {
      calls[name]?.push(envelopes.map((envelope) => envelope['detail-type']));
    };
    const handler = handlerWith([
      { name: 'all', pattern: INGEST_RULE_PATTERN, send: recorder('all') },
      { name: 'contacts', pattern: { 'detail-type': [{ prefix: 'Contact' }] }, send: recorder('contacts') },
      { name: 'none', pattern: { source: ['nobody'] }, send: recorder('none') },
    ]);

    await handler(
      request({
        Entries: [
          entry({ DetailType: 'Contact Created' }),
          entry({ DetailType: 'Ticket Created' }),
          entry({ DetailType: 'Contact Updated' }),
        ],
      }),
    );

    expect(calls).toEqual({
      all: [['Contact Created', 'Ticket Created', 'Contact Updated']],
      contacts: [['Contact Created', 'Contact Updated']],
      none: [],
    });
  });

  it('answers only after every send resolved', async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const handler = handlerWith([{ name: 'slow', pattern: INGEST_RULE_PATTERN, send: () => gate }]);
    let answered = false;

    const pending = handler(request({ Entries: [entry()] })).then((answer) => {
      answered = true;
      return answer;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(answered).toBe(false);
    release();

    expect((await pending).status).toBe(200);
  });

  it.each<[string, unknown]>([
    ['an unknown operator', { source: [{ wildcard: 'comm*' }] }],
    ['an empty list', { source: [] }],
  ])('refuses at creation a rule pattern with %s', (_, pattern) => {
    expect(() =>
      createPutEventsHandler({
        rules: [{ name: 'bad', pattern: pattern as PutEventsRule['pattern'], send: async () => {} }],
      }),
    ).toThrow('Rule "bad"');
  });
});

describe('who may put events (SigV4, as AWS checks it)', () => {
  const SERVICE = { accessKeyId: 'commbox-webhooks-service', secretAccessKey: 'a-service-secret' };
  const sent: EventEnvelope[] = [];
  const errors: string[] = [];
  const handler = createPutEventsHandler({
    rules: [
      {
        name: 'all',
        pattern: { source: [{ prefix: '' }] },
        send: async (envelopes) => void sent.push(...envelopes),
      },
    ],
    serviceCredentials: SERVICE,
    onError: (message, error) => errors.push(`${message}: ${(error as Error).message}`),
  });
  const body = (entries: object[]) => Buffer.from(JSON.stringify({ Entries: entries }));
  const refusal = (answer: PutEventsHttpResponse) => ({ status: answer.status, ...JSON.parse(answer.body) });

  it('refuses an unsigned request, queuing nothing', async () => {
    const request = await signedRequest(body([entry()]));
    const { authorization: _dropped, ...unsigned } = request.headers;

    expect(refusal(await handler({ ...request, headers: unsigned }))).toEqual({
      status: 400,
      __type: 'MissingAuthenticationTokenException',
      message: 'Missing Authentication Token',
    });
    expect(sent).toEqual([]);
  });

  it.each<[string, (request: SignedRequest) => SignedRequest, string]>([
    [
      'a made-up signature',
      (request) => ({
        ...request,
        headers: {
          ...request.headers,
          authorization: String(request.headers.authorization).replace(
            /Signature=\w+/,
            `Signature=${'0'.repeat(64)}`,
          ),
        },
      }),
      'InvalidSignatureException',
    ],
    [
      'a body changed after signing',
      (request) => ({ ...request, body: body([entry({ DetailType: 'X' })]) }),
      'InvalidSignatureException',
    ],
    [
      'a target changed after signing',
      (request) => ({ ...request, headers: { ...request.headers, 'x-amz-target': 'AWSEvents.PutRule' } }),
      'InvalidSignatureException',
    ],
    [
      'a header that is not a SigV4 one',
      (request) => ({ ...request, headers: { ...request.headers, authorization: 'Bearer local' } }),
      'IncompleteSignatureException',
    ],
  ])('refuses %s', async (_, tamper, type) => {
    const answer = await handler(tamper(await signedRequest(body([entry()]))));

    expect(refusal(answer)).toMatchObject({ status: 400, __type: type });
    expect(sent).toEqual([]);
  });

  it('refuses a signature by an unknown key, and one by the known key with another secret', async () => {
    const unknown = await handler(
      await signedRequest(body([entry()]), { accessKeyId: 'AKIAFAKE', secretAccessKey: 'x' }),
    );
    const wrongSecret = await handler(
      await signedRequest(body([entry()]), { accessKeyId: 'local', secretAccessKey: 'guessed' }),
    );

    expect(refusal(unknown)).toMatchObject({ status: 400, __type: 'UnrecognizedClientException' });
    expect(refusal(wrongSecret)).toMatchObject({ status: 400, __type: 'InvalidSignatureException' });
    expect(sent).toEqual([]);
  });

  it('refuses, through the real EventBridge client, credentials other than the configured ones', async () => {
    await withIngestQueue();
    const forger = new EventBridgeClient({
      endpoint: await events.config
        .endpoint?.()
        .then((endpoint) => `http://${endpoint.hostname}:${endpoint.port}`),
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'not-local' },
    });

    await expect(forger.send(new PutEventsCommand({ Entries: [entry()] }))).rejects.toMatchObject({
      name: 'InvalidSignatureException',
    });
    forger.destroy();
  });

  it("refuses producers' events of the service's own source; the service's credentials may put them", async () => {
    const operational = entry({ Source: OPERATIONAL_EVENT_SOURCE, DetailType: 'Subscription.Recovered' });

    const forged = JSON.parse((await handler(await signedRequest(body([operational, entry()])))).body);
    const own = JSON.parse((await handler(await signedRequest(body([operational]), SERVICE))).body);

    expect(forged).toEqual({
      FailedEntryCount: 1,
      Entries: [
        { ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: 'Not authorized for the source.' },
        { EventId: expect.any(String) },
      ],
    });
    expect(own).toMatchObject({ FailedEntryCount: 0 });
    expect(sent.map((envelope) => envelope.source)).toEqual([EVENT_SOURCE, OPERATIONAL_EVENT_SOURCE]);
    sent.length = 0;
  });

  it.each([
    ['a line break', 'Object.OnNew\noperational event Subscription.Recovered {}'],
    ['a carriage return', 'Object.OnNew\r'],
    ['a NUL', 'Object.OnNew\u0000'],
    ['a line separator', 'Object.OnNew\u2028'],
    ['more than 128 characters', `Object.${'x'.repeat(125)}`],
  ])('fails an entry whose DetailType holds %s', async (_, detailType) => {
    const answer = JSON.parse(
      (await handler(await signedRequest(body([entry({ DetailType: detailType })])))).body,
    );

    expect(answer).toEqual({
      FailedEntryCount: 1,
      Entries: [
        {
          ErrorCode: 'InvalidArgument',
          ErrorMessage: expect.stringContaining('Parameter DetailType is not valid'),
        },
      ],
    });
    expect(sent).toEqual([]);
  });

  it('never tells the caller an internal error message, and logs it', async () => {
    const failing = createPutEventsHandler({
      rules: [
        {
          name: 'ingest',
          pattern: INGEST_RULE_PATTERN,
          send: async () => {
            throw new RangeError('Maximum call stack size exceeded at /srv/app/secret-path.js');
          },
        },
      ],
      onError: (message, error) => errors.push(`${message}: ${(error as Error).message}`),
    });

    const answer = await failing(await signedRequest(body([entry()])));

    expect(answer.body).not.toMatch(/Maximum call stack|secret-path/);
    expect(JSON.parse(answer.body).Entries).toEqual([
      { ErrorCode: 'InternalFailure', ErrorMessage: 'The event could not be queued for rule ingest.' },
    ]);
    expect(errors).toEqual([
      'PutEvents rule ingest: Maximum call stack size exceeded at /srv/app/secret-path.js',
    ]);
  });
});

describe('sqsRuleTarget', () => {
  const envelopeWith = (id: string, detail: Record<string, unknown>): EventEnvelope => ({
    version: '0',
    id,
    'detail-type': 'Contact Created',
    source: EVENT_SOURCE,
    account: '000000000000',
    time: '2026-11-27T12:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail,
  });

  it('queues more envelopes than one SendMessageBatch takes', async () => {
    const queueUrl = await createQueue();
    const envelopes = Array.from({ length: 23 }, (_, index) => envelopeWith(`e-${index}`, {}));

    await sqsRuleTarget(sqs, queueUrl)(envelopes);

    expect((await drain(queueUrl)).map((envelope) => envelope.id).sort()).toEqual(
      envelopes.map((envelope) => envelope.id).sort(),
    );
  });

  it('queues characters fauxqs would refuse raw (an emoji, U+FFFF) as the same JSON value', async () => {
    const queueUrl = await createQueue();
    const detail = { brand: 'acme', data: { text: 'hi 😀 \uFFFF é' } };

    await sqsRuleTarget(sqs, queueUrl)([envelopeWith('e-1', detail)]);

    expect((await drain(queueUrl)).map((envelope) => envelope.detail)).toEqual([detail]);
  });

  it('throws when SQS fails an entry of the batch', async () => {
    const { QueueUrl: small } = await sqs.send(
      new CreateQueueCommand({
        QueueName: `small-${randomUUID()}`,
        Attributes: { MaximumMessageSize: '1024' },
      }),
    );
    if (!small) throw new Error('no queue url');

    const send = sqsRuleTarget(sqs, small)([envelopeWith('e-1', { text: 'x'.repeat(2000) })]);

    await expect(send).rejects.toThrow('SQS refused 1 of 1 messages');
  });

  it('throws when the queue does not exist, and sends nothing for no envelopes', async () => {
    const missing = `${fauxqs.address}/000000000000/no-such-queue`;

    await expect(sqsRuleTarget(sqs, missing)([])).resolves.toBeUndefined();
    await expect(sqsRuleTarget(sqs, missing)([envelopeWith('e-1', {})])).rejects.toThrow();
  });
});

describe('isPutEventsRequest', () => {
  it.each<[string, string, http.IncomingHttpHeaders, boolean]>([
    ['POST', '/', { 'x-amz-target': 'AWSEvents.PutEvents' }, true],
    ['post', '/?x=1', { 'x-amz-target': 'AWSEvents.PutEvents' }, true],
    ['POST', '/', { 'x-amz-target': 'AWSEvents.PutRule' }, false],
    ['POST', '/', {}, false],
    ['GET', '/', { 'x-amz-target': 'AWSEvents.PutEvents' }, false],
    ['POST', '/v1/subscriptions', { 'x-amz-target': 'AWSEvents.PutEvents' }, false],
  ])('for %s %s with %o says %s', (method, path, headers, expected) => {
    expect(isPutEventsRequest(method, path, headers)).toBe(expected);
  });
});
