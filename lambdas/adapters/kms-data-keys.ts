import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { type DataKey, type DataKeyProvider, WRAPPED_KEY } from '../core/secret-envelope.js';

/*
 * Data keys from AWS KMS: GenerateDataKey (AES_256) under the service's customer-managed key, Decrypt to
 * unwrap. Both carry the same encryption context, which the functions' IAM policies require, so the key
 * serves this purpose only and CloudTrail names it on every call. The wrapped form is `kms.` and the
 * base64url CiphertextBlob (which names the KMS key itself). Calls are rare: lambdas/core/secret-box.ts
 * caches the keys.
 */

/** The encryption context of every data key; lib/webhooks-service.ts conditions the grants on it. */
export const SECRETS_ENCRYPTION_CONTEXT = { purpose: 'commbox-webhooks/subscription-secrets' } as const;
const PREFIX = 'kms.';

export class KmsDataKeyProvider implements DataKeyProvider {
  constructor(
    private readonly client: KMSClient,
    /** A key id, ARN or alias. */
    private readonly keyId: string,
  ) {}

  async generate(): Promise<DataKey> {
    const output = await this.client.send(
      new GenerateDataKeyCommand({
        KeyId: this.keyId,
        KeySpec: 'AES_256',
        EncryptionContext: { ...SECRETS_ENCRYPTION_CONTEXT },
      }),
    );
    if (!output.Plaintext || !output.CiphertextBlob) throw new Error('KMS returned no data key');
    return {
      plaintext: output.Plaintext,
      wrapped: `${PREFIX}${Buffer.from(output.CiphertextBlob).toString('base64url')}`,
    };
  }

  async decrypt(wrapped: string): Promise<Uint8Array> {
    if (!wrapped.startsWith(PREFIX) || !WRAPPED_KEY.test(wrapped)) {
      throw new Error('this data key was not wrapped by KMS (was it written with a local key file?)');
    }
    const output = await this.client.send(
      new DecryptCommand({
        CiphertextBlob: Buffer.from(wrapped.slice(PREFIX.length), 'base64url'),
        // Refuses a blob of any other KMS key instead of decrypting it with whatever key it names.
        KeyId: this.keyId,
        EncryptionContext: { ...SECRETS_ENCRYPTION_CONTEXT },
      }),
    );
    if (!output.Plaintext) throw new Error('KMS returned no plaintext');
    return output.Plaintext;
  }
}
