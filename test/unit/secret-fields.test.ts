import { describe, expect, it } from 'vitest';
import { mapSecretFields, SUBSCRIPTION_SECRET_FIELDS } from '../../lambdas/core/secret-fields.js';

const upper = async (value: string, path: string) => `${path}=${value.toUpperCase()}`;

describe('mapSecretFields', () => {
  it('transforms each listed string, every array element under a `*`, and nothing else', async () => {
    const record = {
      name: 'orders',
      secrets: [
        { secret: 'a', createdAt: 't1' },
        { secret: 'b', createdAt: 't2', expiresAt: 't3' },
      ],
      tls: { clientKey: 'pem', clientCertificate: 'cert' },
    };

    const mapped = await mapSecretFields(record, ['secrets.*.secret', 'tls.clientKey'], upper);

    expect(mapped).toEqual({
      name: 'orders',
      secrets: [
        { secret: 'secrets.*.secret=A', createdAt: 't1' },
        { secret: 'secrets.*.secret=B', createdAt: 't2', expiresAt: 't3' },
      ],
      tls: { clientKey: 'tls.clientKey=PEM', clientCertificate: 'cert' },
    });
  });

  it('leaves the record it was given unchanged', async () => {
    const record = { secrets: [{ secret: 'a' }], tls: { clientKey: 'pem' } };

    await mapSecretFields(record, SUBSCRIPTION_SECRET_FIELDS, upper);

    expect(record).toEqual({ secrets: [{ secret: 'a' }], tls: { clientKey: 'pem' } });
  });

  it('skips a listed path a record does not have, and adds nothing for it', async () => {
    const record = { secrets: [] as { secret: string }[], name: 'x' };

    expect(await mapSecretFields(record, SUBSCRIPTION_SECRET_FIELDS, upper)).toEqual(record);
  });

  it('maps every value of an object under a `*`, and leaves non-string values alone', async () => {
    const record = { keys: { ed: { privateKey: 'k1' }, rsa: { privateKey: 7 } } };

    expect(await mapSecretFields(record, ['keys.*.privateKey'], upper)).toEqual({
      keys: { ed: { privateKey: 'keys.*.privateKey=K1' }, rsa: { privateKey: 7 } },
    });
  });

  it('lists the signing secrets and the client key fields as secret', () => {
    expect(SUBSCRIPTION_SECRET_FIELDS).toEqual(
      expect.arrayContaining(['secrets.*.secret', 'tls.clientKey', 'tls.clientKeyPassphrase']),
    );
  });
});
