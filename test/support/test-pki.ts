import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/*
 * A throwaway PKI for the mutual-TLS tests, made at test time with the `openssl` command line: CAs,
 * server and client certificates, expired ones, keys of refused kinds, encrypted keys. Nothing is
 * committed: every key lives in memory (and in a temporary folder removed before the call returns).
 */

export interface Issued {
  /** PEM certificate. */
  readonly cert: string;
  /** PEM private key (PKCS#8, unencrypted). */
  readonly key: string;
}

export type KeyKind = 'p256' | 'p384' | 'p521' | 'rsa1024' | 'rsa2048' | 'ed25519';

export interface IssueOptions {
  readonly commonName: string;
  readonly key?: KeyKind;
  /** Certificate purposes: a CA, a TLS server (with these SANs, e.g. `IP:127.0.0.1`) or a TLS client. */
  readonly kind: 'ca' | 'server' | 'client' | 'leaf-not-ca';
  readonly subjectAltNames?: readonly string[];
  /** Validity as openssl `YYYYMMDDHHMMSSZ` instants; default: from yesterday for `days` days. */
  readonly startDate?: string;
  readonly endDate?: string;
  readonly days?: number;
}

const KEY_ARGS: Record<KeyKind, string[]> = {
  p256: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  p384: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  p521: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521'],
  rsa1024: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'],
  rsa2048: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  ed25519: ['-algorithm', 'ED25519'],
};

const EXTENSIONS: Record<IssueOptions['kind'], string> = {
  ca: 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign',
  server: 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth',
  client: 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth',
  'leaf-not-ca': 'basicConstraints=critical,CA:FALSE',
};

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function inTempDir<T>(work: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'test-pki-'));
  try {
    return work(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** openssl's date form of an instant. */
export function opensslDate(at: Date): string {
  return `${at.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

/** A private key of the kind, as unencrypted PKCS#8 PEM. */
export function generateKey(kind: KeyKind = 'p256'): string {
  return inTempDir((dir) => {
    openssl(['genpkey', ...KEY_ARGS[kind], '-out', 'key.pem'], dir);
    return readFileSync(join(dir, 'key.pem'), 'utf8');
  });
}

/** The key encrypted with the passphrase (PKCS#8, AES-256-CBC). */
export function encryptKey(key: string, passphrase: string): string {
  return inTempDir((dir) => {
    writeFileSync(join(dir, 'key.pem'), key);
    writeFileSync(join(dir, 'pass.txt'), passphrase);
    openssl(
      [
        'pkcs8',
        '-topk8',
        '-in',
        'key.pem',
        '-v2',
        'aes-256-cbc',
        '-passout',
        'file:pass.txt',
        '-out',
        'enc.pem',
      ],
      dir,
    );
    return readFileSync(join(dir, 'enc.pem'), 'utf8');
  });
}

/**
 * A certificate for `options`, signed by `issuer` (self-signed without one), with a fresh key unless
 * `key` PEM is given. `openssl ca` is used because it alone takes explicit start and end dates (3.0).
 */
export function issue(options: IssueOptions, issuer?: Issued, keyPem?: string): Issued {
  const key = keyPem ?? generateKey(options.key);
  return inTempDir((dir) => {
    const at = (name: string) => join(dir, name);
    writeFileSync(at('key.pem'), key);
    writeFileSync(at('index.txt'), '');
    writeFileSync(at('serial'), `${Date.now().toString(16).padStart(16, '0')}\n`);
    const san = options.subjectAltNames?.length
      ? `\nsubjectAltName=${options.subjectAltNames.join(',')}`
      : '';
    writeFileSync(
      at('ca.cnf'),
      [
        '[ca]',
        'default_ca = test_ca',
        '[test_ca]',
        `database = ${at('index.txt')}`,
        `new_certs_dir = ${dir}`,
        `serial = ${at('serial')}`,
        'default_md = sha256',
        'policy = any',
        'unique_subject = no',
        'email_in_dn = no',
        '[any]',
        'commonName = supplied',
        '[req]',
        'distinguished_name = dn',
        'prompt = no',
        '[dn]',
        `CN = ${options.commonName}`,
        '[ext]',
        `${EXTENSIONS[options.kind]}${san}`,
        'subjectKeyIdentifier=hash',
        '',
      ].join('\n'),
    );
    openssl(['req', '-new', '-config', 'ca.cnf', '-key', 'key.pem', '-out', 'req.csr'], dir);
    if (issuer) {
      writeFileSync(at('issuer.pem'), issuer.cert);
      writeFileSync(at('issuer.key'), issuer.key);
    }
    const now = Date.now();
    const startDate = options.startDate ?? opensslDate(new Date(now - 86_400_000));
    const endDate = options.endDate ?? opensslDate(new Date(now + (options.days ?? 30) * 86_400_000));
    openssl(
      [
        'ca',
        '-batch',
        '-notext',
        '-config',
        'ca.cnf',
        '-extensions',
        'ext',
        '-startdate',
        startDate,
        '-enddate',
        endDate,
        '-in',
        'req.csr',
        '-out',
        'cert.pem',
        ...(issuer
          ? ['-cert', 'issuer.pem', '-keyfile', 'issuer.key']
          : ['-selfsign', '-keyfile', 'key.pem']),
      ],
      dir,
    );
    return { cert: readFileSync(at('cert.pem'), 'utf8'), key };
  });
}

/** A CA, a server certificate for 127.0.0.1 and localhost, and a client certificate, all from that CA. */
export function testPki() {
  const ca = issue({ commonName: 'Test Listener CA', kind: 'ca', days: 365 });
  const server = issue(
    { commonName: 'listener.test', kind: 'server', subjectAltNames: ['IP:127.0.0.1', 'DNS:localhost'] },
    ca,
  );
  const client = issue({ commonName: 'commbox-webhooks client', kind: 'client', days: 365 }, ca);
  return { ca, server, client };
}
