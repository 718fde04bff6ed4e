import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { signWebhook } from '../../lambdas/core/signing.js';
import {
  InvalidSecretError,
  type VerifyWebhookInput,
  verifyWebhook,
  WebhookVerificationError,
  type WebhookVerificationReason,
} from '../../lambdas/core/verify.js';

const SECRET_A = 'whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';
const SECRET_B = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const OTHER_SECRET = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
const NOW = 1700000000;
const CLOCK = new Date(NOW * 1000);
const BODY = '{"type":"Chat.OnNewMessage","data":{"text":"שלום — héllo 🌍"}}';

function signed(overrides: { timestamp?: number; secrets?: string[]; body?: string } = {}) {
  const body = overrides.body ?? BODY;
  const headers = signWebhook({
    id: 'msg_abc',
    timestamp: overrides.timestamp ?? NOW,
    body,
    secrets: overrides.secrets ?? [SECRET_A],
  });
  return { body, headers: { ...headers } as Record<string, string> };
}

function reasonOf(input: VerifyWebhookInput): WebhookVerificationReason {
  try {
    verifyWebhook(input);
  } catch (error) {
    if (error instanceof WebhookVerificationError) {
      return error.reason;
    }
    throw error;
  }
  throw new Error('Expected verifyWebhook to reject the request');
}

describe('verifyWebhook accepts', () => {
  it('accepts a delivery signed by signWebhook and returns its id, timestamp, body and parsed payload', () => {
    // Prepare
    const { body, headers } = signed();

    // Act
    const result = verifyWebhook({ headers, body, secrets: SECRET_A, now: CLOCK });

    // Assert
    expect(result).toEqual({ id: 'msg_abc', timestamp: NOW, body, payload: JSON.parse(body) });
  });

  it('accepts a signature produced by the official library sign method', () => {
    // Prepare
    const timestamp = Math.floor(Date.now() / 1000);
    const signature = new Webhook(SECRET_A).sign('msg_official', new Date(timestamp * 1000), BODY);
    const headers = {
      'webhook-id': 'msg_official',
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signature,
    };

    // Act
    const result = verifyWebhook({ headers, body: BODY, secrets: [SECRET_A] });

    // Assert
    expect(result.payload).toEqual(JSON.parse(BODY));
  });

  it('accepts a rotation header with two signatures using either secret', () => {
    // Prepare
    const { body, headers } = signed({ secrets: [SECRET_A, SECRET_B] });

    // Act
    const withA = verifyWebhook({ headers, body, secrets: SECRET_A, now: CLOCK });
    const withB = verifyWebhook({ headers, body, secrets: SECRET_B, now: CLOCK });

    // Assert
    expect(headers['webhook-signature']?.split(' ')).toHaveLength(2);
    expect(withA.id).toBe('msg_abc');
    expect(withB.id).toBe('msg_abc');
  });

  it('accepts a single signature when the receiver holds several secrets during its rotation', () => {
    // Prepare
    const { body, headers } = signed({ secrets: [SECRET_B] });

    // Act
    const result = verifyWebhook({ headers, body, secrets: [OTHER_SECRET, SECRET_B], now: CLOCK });

    // Assert
    expect(result.id).toBe('msg_abc');
  });

  it('accepts the body as a Buffer of the same bytes', () => {
    // Prepare
    const { body, headers } = signed();

    // Act
    const result = verifyWebhook({ headers, body: Buffer.from(body, 'utf8'), secrets: SECRET_A, now: CLOCK });

    // Assert
    expect(result.body).toBe(body);
  });

  it('finds the headers whatever the case of their names in a plain object', () => {
    // Prepare
    const { body, headers } = signed();
    const shouted = {
      'Webhook-Id': headers['webhook-id'],
      'WEBHOOK-TIMESTAMP': headers['webhook-timestamp'],
      'webhook-Signature': headers['webhook-signature'],
    };

    // Act
    const result = verifyWebhook({ headers: shouted, body, secrets: SECRET_A, now: CLOCK });

    // Assert
    expect(result.id).toBe('msg_abc');
  });

  it('reads the headers from a fetch Headers instance', () => {
    // Prepare
    const { body, headers } = signed();

    // Act
    const result = verifyWebhook({ headers: new Headers(headers), body, secrets: SECRET_A, now: CLOCK });

    // Assert
    expect(result.id).toBe('msg_abc');
  });

  it('ignores signatures of unknown versions next to a valid v1 signature', () => {
    // Prepare
    const { body, headers } = signed();
    const signature = headers['webhook-signature'] ?? '';
    const mixed = { ...headers, 'webhook-signature': `v1a,${signature.slice(3)} v2,abc ${signature}` };

    // Act
    const result = verifyWebhook({ headers: mixed, body, secrets: SECRET_A, now: CLOCK });

    // Assert
    expect(result.id).toBe('msg_abc');
  });

  it('accepts timestamps exactly five minutes old and five minutes ahead', () => {
    // Prepare
    const old = signed({ timestamp: NOW - 300 });
    const ahead = signed({ timestamp: NOW + 300 });

    // Act
    const oldResult = verifyWebhook({ ...old, secrets: SECRET_A, now: CLOCK });
    const aheadResult = verifyWebhook({ ...ahead, secrets: SECRET_A, now: CLOCK });

    // Assert
    expect(oldResult.timestamp).toBe(NOW - 300);
    expect(aheadResult.timestamp).toBe(NOW + 300);
  });

  it('returns the body without parsing it when parseJson is off', () => {
    // Prepare
    const { body, headers } = signed({ body: 'plain text, not JSON' });

    // Act
    const result = verifyWebhook({ headers, body, secrets: SECRET_A, now: CLOCK, parseJson: false });

    // Assert
    expect(result).toEqual({
      id: 'msg_abc',
      timestamp: NOW,
      body: 'plain text, not JSON',
      payload: undefined,
    });
  });
});

describe('verifyWebhook rejects', () => {
  it('rejects a tampered body as invalid_signature', () => {
    // Prepare
    const { headers } = signed();
    const tampered = BODY.replace('héllo', 'hello');

    // Act
    const reason = reasonOf({ headers, body: tampered, secrets: SECRET_A, now: CLOCK });

    // Assert
    expect(reason).toBe('invalid_signature');
  });

  it('rejects a tampered id as invalid_signature', () => {
    // Prepare
    const { body, headers } = signed();
    const tampered = { ...headers, 'webhook-id': 'msg_abd' };

    // Act
    const reason = reasonOf({ headers: tampered, body, secrets: SECRET_A, now: CLOCK });

    // Assert
    expect(reason).toBe('invalid_signature');
  });

  it('rejects a tampered timestamp that is still in range as invalid_signature', () => {
    // Prepare
    const { body, headers } = signed();
    const tampered = { ...headers, 'webhook-timestamp': String(NOW + 1) };

    // Act
    const reason = reasonOf({ headers: tampered, body, secrets: SECRET_A, now: CLOCK });

    // Assert
    expect(reason).toBe('invalid_signature');
  });

  it('rejects a signature made with a secret the receiver does not hold as invalid_signature', () => {
    // Prepare
    const { body, headers } = signed({ secrets: [OTHER_SECRET] });

    // Act
    const reason = reasonOf({ headers, body, secrets: [SECRET_A, SECRET_B], now: CLOCK });

    // Assert
    expect(reason).toBe('invalid_signature');
  });

  it('rejects a header whose only signature has an unknown version as invalid_signature', () => {
    // Prepare
    const { body, headers } = signed();
    const relabelled = {
      ...headers,
      'webhook-signature': headers['webhook-signature']?.replace('v1,', 'v1a,'),
    };

    // Act
    const reason = reasonOf({ headers: relabelled, body, secrets: SECRET_A, now: CLOCK });

    // Assert
    expect(reason).toBe('invalid_signature');
  });

  it('rejects a truncated signature as invalid_signature', () => {
    // Prepare
    const { body, headers } = signed();
    const truncated = { ...headers, 'webhook-signature': headers['webhook-signature']?.slice(0, -2) };

    // Act
    const reason = reasonOf({ headers: truncated, body, secrets: SECRET_A, now: CLOCK });

    // Assert
    expect(reason).toBe('invalid_signature');
  });

  it('rejects a timestamp six minutes old as timestamp_out_of_range', () => {
    // Prepare
    const { body, headers } = signed({ timestamp: NOW - 360 });

    // Act
    const reason = reasonOf({ headers, body, secrets: SECRET_A, now: CLOCK });

    // Assert
    expect(reason).toBe('timestamp_out_of_range');
  });

  it('rejects a timestamp six minutes in the future as timestamp_out_of_range', () => {
    // Prepare
    const { body, headers } = signed({ timestamp: NOW + 360 });

    // Act
    const reason = reasonOf({ headers, body, secrets: SECRET_A, now: CLOCK });

    // Assert
    expect(reason).toBe('timestamp_out_of_range');
  });

  it('honours a custom tolerance', () => {
    // Prepare
    const { body, headers } = signed({ timestamp: NOW - 61 });

    // Act
    const reason = reasonOf({ headers, body, secrets: SECRET_A, now: CLOCK, toleranceSeconds: 60 });

    // Assert
    expect(reason).toBe('timestamp_out_of_range');
  });

  it('checks the timestamp before the signature, like the official library', () => {
    // Prepare
    const { body, headers } = signed({ timestamp: NOW - 3600 });

    // Act
    const reason = reasonOf({ headers, body: `${body} tampered`, secrets: SECRET_A, now: CLOCK });

    // Assert
    expect(reason).toBe('timestamp_out_of_range');
  });

  it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'])(
    'rejects a request without the %s header as missing_headers',
    (name) => {
      // Prepare
      const { body, headers } = signed();
      delete headers[name];

      // Act
      const reason = reasonOf({ headers, body, secrets: SECRET_A, now: CLOCK });

      // Assert
      expect(reason).toBe('missing_headers');
    },
  );

  it('rejects a request with no headers at all as missing_headers', () => {
    // Prepare
    const headers = {};

    // Act
    const reason = reasonOf({ headers, body: BODY, secrets: SECRET_A, now: CLOCK });

    // Assert
    expect(reason).toBe('missing_headers');
  });

  it('rejects an empty header as missing_headers', () => {
    // Prepare
    const { body, headers } = signed();
    const emptied = { ...headers, 'webhook-signature': '' };

    // Act
    const reason = reasonOf({ headers: emptied, body, secrets: SECRET_A, now: CLOCK });

    // Assert
    expect(reason).toBe('missing_headers');
  });

  it.each(['soon', '1700000000abc', '-1700000000', '1.7e9', '1700000000.5'])(
    'rejects the non-integer timestamp %s as malformed',
    (timestamp) => {
      // Prepare
      const { body, headers } = signed();
      const broken = { ...headers, 'webhook-timestamp': timestamp };

      // Act
      const reason = reasonOf({ headers: broken, body, secrets: SECRET_A, now: CLOCK });

      // Assert
      expect(reason).toBe('malformed');
    },
  );

  it('rejects a header given twice with different values as malformed', () => {
    // Prepare
    const { body, headers } = signed();
    const doubled = { ...headers, 'Webhook-Id': 'msg_other' };

    // Act
    const reason = reasonOf({ headers: doubled, body, secrets: SECRET_A, now: CLOCK });

    // Assert
    expect(reason).toBe('malformed');
  });

  it('rejects a correctly signed body that is not JSON as malformed, after checking the signature', () => {
    // Prepare
    const { body, headers } = signed({ body: '{"truncated":' });

    // Act
    const reason = reasonOf({ headers, body, secrets: SECRET_A, now: CLOCK });

    // Assert
    expect(reason).toBe('malformed');
  });

  it('does not parse the body of a request whose signature does not match', () => {
    // Prepare
    const { headers } = signed();

    // Act
    const reason = reasonOf({ headers, body: '{"not json', secrets: SECRET_A, now: CLOCK });

    // Assert
    expect(reason).toBe('invalid_signature');
  });

  it('throws InvalidSecretError, not a verification error, when the receiver secret is malformed', () => {
    // Prepare
    const { body, headers } = signed();
    const broken = 'whsec_short-and-secret';

    // Act
    const verify = () => verifyWebhook({ headers, body, secrets: broken, now: CLOCK });

    // Assert
    expect(verify).toThrow(InvalidSecretError);
    expect(verify).not.toThrow('short-and-secret');
  });

  it('throws errors that are WebhookVerificationError instances with a name and a message', () => {
    // Prepare
    const { body, headers } = signed();

    // Act
    let caught: unknown;
    try {
      verifyWebhook({ headers, body: `${body} `, secrets: SECRET_A, now: CLOCK });
    } catch (error) {
      caught = error;
    }

    // Assert
    expect(caught).toBeInstanceOf(WebhookVerificationError);
    expect(caught).toMatchObject({
      name: 'WebhookVerificationError',
      reason: 'invalid_signature',
      message: 'No matching webhook signature found',
    });
  });
});
