import { randomBytes } from 'node:crypto';
import {
  DecryptCommand,
  GenerateDataKeyCommand,
  InvalidCiphertextException,
  KMSClient,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KmsDataKeyProvider, SECRETS_ENCRYPTION_CONTEXT } from '../../../lambdas/adapters/kms-data-keys.js';
import { SecretBox } from '../../../lambdas/core/secret-box.js';
import { secretAad } from '../../../lambdas/core/secret-envelope.js';
import { stubAwsEnvironment } from '../../support/aws-env.js';
import { emulateKms } from '../../support/kms-fake.js';

const KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const AAD = secretAad('acme', 'sub_AAAAAAAAAAAAAAAA', 'secrets.*.secret');
const kms = mockClient(KMSClient);

function aProvider(): KmsDataKeyProvider {
  return new KmsDataKeyProvider(new KMSClient({}), KEY_ARN);
}

beforeEach(() => {
  stubAwsEnvironment();
  emulateKms(kms, KEY_ARN);
});

afterEach(() => {
  kms.reset();
});

describe('KmsDataKeyProvider', () => {
  it('generates AES-256 data keys under the service key and its encryption context, wrapped as `kms.`', async () => {
    const key = await aProvider().generate();

    expect(kms.commandCalls(GenerateDataKeyCommand)[0]?.args[0].input).toEqual({
      KeyId: KEY_ARN,
      KeySpec: 'AES_256',
      EncryptionContext: SECRETS_ENCRYPTION_CONTEXT,
    });
    expect(key.plaintext).toHaveLength(32);
    expect(key.wrapped).toMatch(/^kms\.[A-Za-z0-9_-]+$/);
    expect(Buffer.from(key.wrapped.slice(4), 'base64url')).toHaveLength(184);
  });

  it('unwraps its data keys with the key id and the same encryption context', async () => {
    const provider = aProvider();
    const key = await provider.generate();

    expect(Buffer.from(await provider.decrypt(key.wrapped))).toEqual(Buffer.from(key.plaintext));
    expect(kms.commandCalls(DecryptCommand)[0]?.args[0].input).toMatchObject({
      KeyId: KEY_ARN,
      EncryptionContext: SECRETS_ENCRYPTION_CONTEXT,
    });
  });

  it('refuses a data key wrapped by a key file without asking KMS', async () => {
    await expect(aProvider().decrypt('file.abc.def.ghi')).rejects.toThrow(/not wrapped by KMS/);
    expect(kms.commandCalls(DecryptCommand)).toHaveLength(0);
  });

  it('lets KMS refusals through, so a value is never read with a key it was not sealed with', async () => {
    const blob = `kms.${randomBytes(184).toString('base64url')}`;

    await expect(aProvider().decrypt(blob)).rejects.toThrow(InvalidCiphertextException);
  });
});

describe('KMS calls behind the SecretBox cache', () => {
  it('costs one GenerateDataKey for 1,000 secrets sealed by a container', async () => {
    const box = new SecretBox(aProvider());

    for (let i = 0; i < 1000; i++) await box.seal(`${SECRET}${i}`, AAD);

    expect(kms.commandCalls(GenerateDataKeyCommand)).toHaveLength(1);
    expect(kms.commandCalls(DecryptCommand)).toHaveLength(0);
  });

  it('costs one Decrypt for 1,000 deliveries reading secrets another container sealed', async () => {
    const sealed = await new SecretBox(aProvider()).seal(SECRET, AAD);
    const deliverer = new SecretBox(aProvider());

    const opened = await Promise.all(Array.from({ length: 1000 }, () => deliverer.open(sealed, AAD)));

    expect(new Set(opened)).toEqual(new Set([SECRET]));
    expect(kms.commandCalls(DecryptCommand)).toHaveLength(1);
  });
});
