import { vi } from 'vitest';

/**
 * Dummy credentials and a region for the SDK, and every endpoint on a closed loopback port: should a
 * client stub not apply, the call fails here instead of reaching AWS.
 */
export function stubAwsEnvironment(): void {
  vi.stubEnv('AWS_REGION', 'eu-west-1');
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', 'http://127.0.0.1:1');
  vi.stubEnv('AWS_ENDPOINT_URL_SQS', 'http://127.0.0.1:1');
  vi.stubEnv('AWS_ENDPOINT_URL_KMS', 'http://127.0.0.1:1');
}
