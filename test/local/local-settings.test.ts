import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/*
 * `npm start` refuses a WEBHOOKS_API_KEYS key that starts with `cbs_`: the authorizer only ever tries such
 * a bearer as a console session, so the key could never work. It exits 2 naming the setting, before
 * creating anything.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('WEBHOOKS_API_KEYS', () => {
  it('refuses a key with the console session prefix, naming the setting, and starts nothing', () => {
    const folder = mkdtempSync(join(tmpdir(), 'local-settings-'));
    const dataDir = join(folder, 'data');
    try {
      const result = spawnSync(process.execPath, ['--import', 'tsx', 'bin/local.ts'], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          PORT: '0',
          DATA_DIR: dataDir,
          WEBHOOKS_API_KEYS: 'acme:acme-key-123456,globex:cbs_looks-like-a-session',
        },
        encoding: 'utf8',
        timeout: 30_000,
      });

      expect(result.status).toBe(2);
      expect(result.stderr).toContain('WEBHOOKS_API_KEYS: a key may not start with cbs_');
      expect(result.stderr).not.toContain('looks-like-a-session');
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }, 40_000);
});
