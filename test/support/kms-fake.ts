import { randomBytes } from 'node:crypto';
import {
  DecryptCommand,
  type DecryptCommandInput,
  GenerateDataKeyCommand,
  type GenerateDataKeyCommandInput,
  InvalidCiphertextException,
  type KMSClient,
  NotFoundException,
} from '@aws-sdk/client-kms';
import type { AwsClientStub } from 'aws-sdk-client-mock';

/*
 * KMS as far as GenerateDataKey and Decrypt go, behind an aws-sdk-client-mock stub: it knows one key, and
 * a data key it generated decrypts only under that key and the same encryption context; anything else is
 * refused with the exception the real service answers.
 */

export function emulateKms(stub: AwsClientStub<KMSClient>, keyArn: string): void {
  const issued = new Map<string, { plaintext: Uint8Array; context: string }>();
  stub.on(GenerateDataKeyCommand).callsFake(async (input: GenerateDataKeyCommandInput) => {
    if (input.KeyId !== keyArn) throw new NotFoundException({ message: 'no such key', $metadata: {} });
    if (input.KeySpec !== 'AES_256') throw new Error(`unexpected KeySpec ${input.KeySpec}`);
    const plaintext = randomBytes(32);
    // A symmetric key's ciphertext blob for a 32-byte data key is 184 bytes.
    const blob = randomBytes(184);
    issued.set(blob.toString('hex'), { plaintext, context: JSON.stringify(input.EncryptionContext ?? {}) });
    return { KeyId: keyArn, Plaintext: plaintext, CiphertextBlob: blob };
  });
  stub.on(DecryptCommand).callsFake(async (input: DecryptCommandInput) => {
    const found = issued.get(Buffer.from(input.CiphertextBlob ?? []).toString('hex'));
    const context = JSON.stringify(input.EncryptionContext ?? {});
    if (!found || (input.KeyId !== undefined && input.KeyId !== keyArn) || context !== found.context) {
      throw new InvalidCiphertextException({ message: 'invalid ciphertext', $metadata: {} });
    }
    return { KeyId: keyArn, Plaintext: found.plaintext };
  });
}
