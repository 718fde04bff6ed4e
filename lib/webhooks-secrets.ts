import type { RemovalPolicy } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { SECRETS_ENCRYPTION_CONTEXT } from '../lambdas/adapters/kms-data-keys.js';
import { ENV } from '../lambdas/environment.js';

/*
 * The customer-managed KMS key that wraps the data keys of secret fields (docs/DECISIONS.md "Secrets at
 * rest"), and who may use it: the functions that write secrets may generate and decrypt data keys, those
 * that sign may only decrypt, and only under the service's encryption context. Any other function (route,
 * the authorizer), a Scan, an export or a PITR restore sees ciphertext only.
 */

export interface SecretsEncryptionProps {
  /** An existing key (its key policy must let this account's IAM policies grant its use); default: a new one. */
  readonly key?: IKey;
  /** What happens to a new key when it leaves the stack: keep it as long as the table it protects. */
  readonly removalPolicy: RemovalPolicy;
  /** Create and rotate secrets: GenerateDataKey and Decrypt. */
  readonly writers: readonly LambdaFunction[];
  /** Sign with secrets: Decrypt only. */
  readonly readers: readonly LambdaFunction[];
}

export function encryptSecretsAtRest(scope: Construct, props: SecretsEncryptionProps): IKey {
  const key =
    props.key ??
    new Key(scope, 'SecretsKey', {
      description: 'Wraps the data keys that encrypt webhook signing secrets and client keys',
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy,
    });
  const grant = (fn: LambdaFunction, actions: string[]) => {
    fn.addEnvironment(ENV.secretsKmsKeyId, key.keyArn);
    fn.addToRolePolicy(
      new PolicyStatement({
        actions,
        resources: [key.keyArn],
        conditions: {
          StringEquals: { 'kms:EncryptionContext:purpose': SECRETS_ENCRYPTION_CONTEXT.purpose },
        },
      }),
    );
  };
  for (const fn of props.writers) grant(fn, ['kms:GenerateDataKey', 'kms:Decrypt']);
  for (const fn of props.readers) grant(fn, ['kms:Decrypt']);
  return key;
}
