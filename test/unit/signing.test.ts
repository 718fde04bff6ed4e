import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  generateSecret,
  InvalidSecretError,
  parseSecret,
  signWebhook,
  webhookId,
} from '../../lambdas/core/signing.js';

// The example of the Standard Webhooks specification, with its published signature.
const SPEC_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const SPEC_ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const SPEC_TIMESTAMP = 1614265330;
const SPEC_BODY = '{"test": 2432232314}';

// A 32-byte key ("0123456789abcdef" twice) and a non-ASCII body; signatures cross-checked once with the
// official `standardwebhooks` library and hard-coded.
const SECRET_A = 'whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';
const SECRET_B = SPEC_SECRET;
const UNICODE_BODY = '{"type":"Chat.OnNewMessage","text":"שלום — héllo 🌍"}';
const UNICODE_SIGNATURE_A = 'v1,8tUupxlRqVzZX+JTUptYOFLGZGWX1EJbH4329psGd0A=';
const UNICODE_SIGNATURE_B = 'v1,ZUsgavpzaadcAj6Pm9iinA/TKiloIwMuHB/senhKAoI=';

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('Expected the action to throw');
}

describe('signWebhook', () => {
  it('signs the specification example to the signature the specification publishes', () => {
    // Prepare
    const input = { id: SPEC_ID, timestamp: SPEC_TIMESTAMP, body: SPEC_BODY, secrets: [SPEC_SECRET] };

    // Act
    const headers = signWebhook(input);

    // Assert
    expect(headers).toEqual({
      'webhook-id': SPEC_ID,
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    });
  });

  it('signs a non-ASCII body over its UTF-8 bytes to a pinned signature', () => {
    // Prepare
    const input = { id: 'msg_kat', timestamp: 1700000000, body: UNICODE_BODY, secrets: [SECRET_A] };

    // Act
    const headers = signWebhook(input);

    // Assert
    expect(headers['webhook-signature']).toBe(UNICODE_SIGNATURE_A);
  });

  it('signs a Buffer body exactly like the same body as a string', () => {
    // Prepare
    const base = { id: 'msg_kat', timestamp: 1700000000, secrets: [SECRET_A] };

    // Act
    const fromBuffer = signWebhook({ ...base, body: Buffer.from(UNICODE_BODY, 'utf8') });
    const fromString = signWebhook({ ...base, body: UNICODE_BODY });

    // Assert
    expect(fromBuffer).toEqual(fromString);
  });

  it('produces one space-separated v1 signature per secret, in the order of the secrets, while rotating', () => {
    // Prepare
    const input = { id: 'msg_kat', timestamp: 1700000000, body: UNICODE_BODY, secrets: [SECRET_A, SECRET_B] };

    // Act
    const headers = signWebhook(input);

    // Assert
    expect(headers['webhook-signature']).toBe(`${UNICODE_SIGNATURE_A} ${UNICODE_SIGNATURE_B}`);
  });

  it('produces a single signature when the same secret is listed twice', () => {
    // Prepare
    const input = { id: 'msg_kat', timestamp: 1700000000, body: UNICODE_BODY, secrets: [SECRET_A, SECRET_A] };

    // Act
    const headers = signWebhook(input);

    // Assert
    expect(headers['webhook-signature']).toBe(UNICODE_SIGNATURE_A);
  });

  it('produces headers that the official library verifies, for a non-ASCII body', () => {
    // Prepare
    const body = UNICODE_BODY;
    const headers = signWebhook({
      id: webhookId('evt_1', 'sub_1'),
      timestamp: nowSeconds(),
      body,
      secrets: [SECRET_A],
    });

    // Act
    const payload = new Webhook(SECRET_A).verify(body, { ...headers });

    // Assert
    expect(payload).toEqual(JSON.parse(body));
  });

  it('produces a rotation header that the official library verifies with each of the two secrets separately', () => {
    // Prepare
    const body = UNICODE_BODY;
    const headers = signWebhook({
      id: 'msg_rotation',
      timestamp: nowSeconds(),
      body,
      secrets: [SECRET_A, SECRET_B],
    });

    // Act
    const withA = new Webhook(SECRET_A).verify(body, { ...headers });
    const withB = new Webhook(SECRET_B).verify(body, { ...headers });

    // Assert
    expect(withA).toEqual(JSON.parse(body));
    expect(withB).toEqual(JSON.parse(body));
  });

  it('produces a signature that the official library rejects with a secret that was not used', () => {
    // Prepare
    const headers = signWebhook({
      id: 'msg_1',
      timestamp: nowSeconds(),
      body: SPEC_BODY,
      secrets: [SECRET_A],
    });

    // Act
    const verify = () => new Webhook(generateSecret()).verify(SPEC_BODY, { ...headers });

    // Assert
    expect(verify).toThrow('No matching signature found');
  });

  it('rejects a timestamp in milliseconds', () => {
    // Prepare
    const input = { id: 'msg_1', timestamp: Date.now(), body: SPEC_BODY, secrets: [SECRET_A] };

    // Act
    const error = thrown(() => signWebhook(input));

    // Assert
    expect(error).toBeInstanceOf(RangeError);
  });

  it('rejects a fractional or negative timestamp', () => {
    // Prepare
    const base = { id: 'msg_1', body: SPEC_BODY, secrets: [SECRET_A] };

    // Act
    const fractional = thrown(() => signWebhook({ ...base, timestamp: 1700000000.5 }));
    const negative = thrown(() => signWebhook({ ...base, timestamp: -1 }));

    // Assert
    expect(fractional).toBeInstanceOf(RangeError);
    expect(negative).toBeInstanceOf(RangeError);
  });

  it('rejects an id that would not be a safe header value', () => {
    // Prepare
    const base = { timestamp: 1700000000, body: SPEC_BODY, secrets: [SECRET_A] };

    // Act
    const empty = thrown(() => signWebhook({ ...base, id: '' }));
    const withSpace = thrown(() => signWebhook({ ...base, id: 'msg 1' }));
    const withNewline = thrown(() => signWebhook({ ...base, id: 'msg_1\r\nx-injected: 1' }));

    // Assert
    expect(empty).toBeInstanceOf(TypeError);
    expect(withSpace).toBeInstanceOf(TypeError);
    expect(withNewline).toBeInstanceOf(TypeError);
  });

  it('rejects an empty list of secrets', () => {
    // Prepare
    const input = { id: 'msg_1', timestamp: 1700000000, body: SPEC_BODY, secrets: [] };

    // Act
    const error = thrown(() => signWebhook(input));

    // Assert
    expect(error).toBeInstanceOf(InvalidSecretError);
  });

  it('rejects a malformed secret by its position without revealing it or the other secrets', () => {
    // Prepare
    const malformed = 'whsec_not*base64*at*all*secret-material';
    const input = { id: 'msg_1', timestamp: 1700000000, body: SPEC_BODY, secrets: [SECRET_A, malformed] };

    // Act
    const error = thrown(() => signWebhook(input));

    // Assert
    expect(error).toBeInstanceOf(InvalidSecretError);
    const message = (error as Error).message;
    expect(message).toContain('#2');
    expect(message).not.toContain('secret-material');
    expect(message).not.toContain(SECRET_A.slice('whsec_'.length));
  });
});

describe('webhookId', () => {
  it('derives the same id for the same event and subscription every time', () => {
    // Prepare
    const eventId = 'evt_01J9Z3';
    const subscriptionId = 'sub_42';

    // Act
    const first = webhookId(eventId, subscriptionId);
    const second = webhookId(eventId, subscriptionId);

    // Assert
    expect(second).toBe(first);
  });

  it('keeps the derivation pinned so that retries after a deployment keep their id', () => {
    // Prepare
    const eventId = 'evt_1';
    const subscriptionId = 'sub_1';

    // Act
    const id = webhookId(eventId, subscriptionId);

    // Assert
    expect(id).toBe('msg_73nak4w5h5jvhccaxuyus6k3zhndi45f');
  });

  it('derives different ids for a different subscription or a different event', () => {
    // Prepare
    const base = webhookId('evt_1', 'sub_1');

    // Act
    const otherSubscription = webhookId('evt_1', 'sub_2');
    const otherEvent = webhookId('evt_2', 'sub_1');
    const swapped = webhookId('sub_1', 'evt_1');

    // Assert
    expect(new Set([base, otherSubscription, otherEvent, swapped]).size).toBe(4);
  });

  it('does not confuse pairs whose concatenations are equal', () => {
    // Prepare
    const left = ['ab', 'c'] as const;
    const right = ['a', 'bc'] as const;

    // Act
    const leftId = webhookId(...left);
    const rightId = webhookId(...right);

    // Assert
    expect(leftId).not.toBe(rightId);
  });

  it('produces msg_ followed by 32 lowercase base32 characters, even for non-ASCII input', () => {
    // Prepare
    const eventId = 'évènement/1 with spaces';
    const subscriptionId = 'abonnement\n2';

    // Act
    const id = webhookId(eventId, subscriptionId);

    // Assert
    expect(id).toMatch(/^msg_[a-z2-7]{32}$/);
  });

  it('rejects an empty event id or subscription id', () => {
    // Prepare
    const emptyEvent = () => webhookId('', 'sub_1');
    const emptySubscription = () => webhookId('evt_1', '');

    // Act
    const errors = [thrown(emptyEvent), thrown(emptySubscription)];

    // Assert
    expect(errors[0]).toBeInstanceOf(TypeError);
    expect(errors[1]).toBeInstanceOf(TypeError);
  });
});

describe('generateSecret', () => {
  it('returns whsec_ followed by the base64 of 32 random bytes by default', () => {
    // Prepare
    const prefix = 'whsec_';

    // Act
    const secret = generateSecret();

    // Assert
    expect(secret.startsWith(prefix)).toBe(true);
    expect(Buffer.from(secret.slice(prefix.length), 'base64')).toHaveLength(32);
    expect(parseSecret(secret)).toHaveLength(32);
  });

  it('accepts the bounds of 24 and 64 bytes', () => {
    // Prepare
    const sizes = [24, 64];

    // Act
    const keys = sizes.map((size) => parseSecret(generateSecret(size)));

    // Assert
    expect(keys.map((key) => key.length)).toEqual([24, 64]);
  });

  it('rejects 23 and 65 bytes', () => {
    // Prepare
    const sizes = [23, 65];

    // Act
    const errors = sizes.map((size) => thrown(() => generateSecret(size)));

    // Assert
    expect(errors[0]).toBeInstanceOf(RangeError);
    expect(errors[1]).toBeInstanceOf(RangeError);
  });

  it('returns a different secret each time', () => {
    // Prepare
    const count = 10;

    // Act
    const secrets = Array.from({ length: count }, () => generateSecret());

    // Assert
    expect(new Set(secrets).size).toBe(count);
  });

  it('returns a secret that the official library accepts and signs with like this module', () => {
    // Prepare
    const secret = generateSecret();
    const timestamp = 1700000000;

    // Act
    const official = new Webhook(secret).sign('msg_1', new Date(timestamp * 1000), SPEC_BODY);
    const ours = signWebhook({ id: 'msg_1', timestamp, body: SPEC_BODY, secrets: [secret] });

    // Assert
    expect(ours['webhook-signature']).toBe(official);
  });
});

describe('parseSecret', () => {
  it('returns the base64-decoded key after the whsec_ prefix', () => {
    // Prepare
    const secret = SECRET_A;

    // Act
    const key = parseSecret(secret);

    // Assert
    expect(key.toString('utf8')).toBe('0123456789abcdef0123456789abcdef');
  });

  it.each([
    ['has no whsec_ prefix', 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY='],
    ['is not base64', 'whsec_this is not base64 at all, it is a secret!!'],
    ['is base64url rather than base64', 'whsec_-_-_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlh'],
    ['lacks its base64 padding', 'whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY'],
    ['is too short', 'whsec_c2hvcnQtc2VjcmV0'],
    ['is too long', `whsec_${Buffer.alloc(65, 7).toString('base64')}`],
    ['is empty after the prefix', 'whsec_'],
  ])('rejects a secret that %s with a message that does not contain the secret', (_case, secret) => {
    // Prepare
    const payload = secret.slice('whsec_'.length);

    // Act
    const error = thrown(() => parseSecret(secret));

    // Assert
    expect(error).toBeInstanceOf(InvalidSecretError);
    const { message, stack } = error as Error;
    expect(message).not.toBe('');
    expect(message).not.toContain(secret);
    if (payload !== '') {
      expect(message).not.toContain(payload);
      expect(message).not.toContain(payload.slice(0, 8));
      expect(stack).not.toContain(payload);
    }
  });
});
