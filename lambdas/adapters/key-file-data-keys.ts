import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, linkSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { DATA_KEY_BYTES, type DataKey, type DataKeyProvider } from '../core/secret-envelope.js';

/*
 * Data keys wrapped by a master key kept in a file: the embedded default's stand-in for KMS, so no secret
 * is stored in clear on its disk either. The file holds 32 random bytes in base64, is created with mode
 * 0600 when absent, and a file that others may read is refused (chmod 600 it). The wrapped form is
 * `file.<key id>.<iv>.<ciphertext and tag>`: AES-256-GCM under the master key, where the key id (a hash
 * of the master key) tells a data key wrapped by another key file apart from a tampered one.
 */

const PREFIX = 'file';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Binds a wrapped data key to this use of the master key. */
const WRAP_AAD = Buffer.from('commbox-webhooks/data-key/v1', 'utf8');
/** Group and other permission bits: none may be set on the key file. */
const SHARED_MODE_BITS = 0o077;

export class KeyFileDataKeyProvider implements DataKeyProvider {
  private readonly keyId: string;

  private constructor(private readonly masterKey: Buffer) {
    this.keyId = createHash('sha256').update(masterKey).digest().subarray(0, 8).toString('base64url');
  }

  /** Reads the master key at `path`, creating it (mode 0600) when absent; throws if it is unsafe or malformed. */
  static open(path: string): KeyFileDataKeyProvider {
    createIfAbsent(path);
    const mode = statSync(path).mode;
    if (process.platform !== 'win32' && (mode & SHARED_MODE_BITS) !== 0) {
      throw new Error(
        `${path} may be read by other users (mode ${(mode & 0o777).toString(8)}): run chmod 600 on it`,
      );
    }
    const masterKey = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
    if (masterKey.length !== DATA_KEY_BYTES) {
      throw new Error(`${path} does not hold a 32-byte key in base64: restore it from its backup`);
    }
    return new KeyFileDataKeyProvider(masterKey);
  }

  async generate(): Promise<DataKey> {
    const plaintext = randomBytes(DATA_KEY_BYTES);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.masterKey, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(WRAP_AAD);
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return {
      plaintext,
      wrapped: [PREFIX, this.keyId, iv.toString('base64url'), sealed.toString('base64url')].join('.'),
    };
  }

  async decrypt(wrapped: string): Promise<Uint8Array> {
    const [prefix, keyId, iv, sealed, ...rest] = wrapped.split('.');
    if (prefix !== PREFIX || !keyId || !iv || !sealed || rest.length > 0) {
      throw new Error('this data key was not wrapped by a key file (was it written with KMS?)');
    }
    if (keyId !== this.keyId) {
      throw new Error(
        `this data key was wrapped by another key file (key id ${keyId}, this one is ${this.keyId})`,
      );
    }
    const bytes = Buffer.from(sealed, 'base64url');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.masterKey, Buffer.from(iv, 'base64url'), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(WRAP_AAD);
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new Error('a wrapped data key failed authentication: it was altered');
    }
  }
}

function createIfAbsent(path: string): void {
  if (existsSync(path)) return;
  // Written whole under a temporary name, then linked into place: a concurrent reader never sees half a
  // key, and linking fails when the file exists, so two processes starting at once keep the same key.
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temporary, `${randomBytes(DATA_KEY_BYTES).toString('base64')}\n`, {
    mode: 0o600,
    flag: 'wx',
  });
  try {
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    rmSync(temporary, { force: true });
  }
}
