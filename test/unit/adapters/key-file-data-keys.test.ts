import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SecretBox } from '../../../lambdas/core/secret-box.js';
import { secretAad } from '../../../lambdas/core/secret-envelope.js';
import { localSecretsEnvironment, localSecretsProvider } from '../../../local/secrets.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const AAD = secretAad('acme', 'sub_AAAAAAAAAAAAAAAA', 'secrets.*.secret');
let dataDir: string;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'secret-key-'));
});

afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the local key file', () => {
  it('is created on first use with mode 0600, holding a 32-byte key', () => {
    localSecretsProvider(dataDir);

    const file = join(dataDir, 'secret.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64')).toHaveLength(32);
  });

  it('is reused across restarts: a secret sealed before one reads after it', async () => {
    const sealed = await new SecretBox(localSecretsProvider(dataDir)).seal(SECRET, AAD);
    const before = readFileSync(join(dataDir, 'secret.key'));

    const restarted = new SecretBox(localSecretsProvider(dataDir));

    expect(await restarted.open(sealed, AAD)).toBe(SECRET);
    expect(readFileSync(join(dataDir, 'secret.key'))).toEqual(before);
  });

  it('refuses to start from a key file that others may read, naming the fix', () => {
    localSecretsProvider(dataDir);
    chmodSync(join(dataDir, 'secret.key'), 0o644);

    expect(() => localSecretsProvider(dataDir)).toThrow(/mode 644\): run chmod 600/);
    expect(() => localSecretsEnvironment(dataDir)).toThrow(/chmod 600/);
  });

  it('refuses a key file that does not hold a 32-byte key', () => {
    writeFileSync(join(dataDir, 'secret.key'), 'too short\n', { mode: 0o600 });

    expect(() => localSecretsProvider(dataDir)).toThrow(/32-byte key/);
  });

  it('tells a data key wrapped by another key file from a tampered one', async () => {
    const otherDir = mkdtempSync(join(tmpdir(), 'secret-key-'));
    try {
      const foreign = await localSecretsProvider(otherDir).generate();
      const provider = localSecretsProvider(dataDir);
      const own = await provider.generate();
      const [prefix, keyId, iv, sealed] = own.wrapped.split('.');
      const flipped = `${sealed?.slice(0, 5)}${sealed?.[5] === 'A' ? 'B' : 'A'}${sealed?.slice(6)}`;

      await expect(provider.decrypt(foreign.wrapped)).rejects.toThrow(/another key file/);
      await expect(provider.decrypt([prefix, keyId, iv, flipped].join('.'))).rejects.toThrow(/altered/);
      await expect(provider.decrypt('kms.AAAA')).rejects.toThrow(/not wrapped by a key file/);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('gives the handlers its path through the environment, and leaves no temporary file behind', () => {
    expect(localSecretsEnvironment(dataDir)).toEqual({ SECRETS_KEY_FILE: join(dataDir, 'secret.key') });
    expect(readdirSync(dataDir)).toEqual(['secret.key']);
  });
});
