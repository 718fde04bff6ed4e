/*
 * Which fields of a stored subscription are secrets, encrypted before every write and decrypted after
 * every read (lambdas/adapters/encrypting-subscription-store.ts, docs/DECISIONS.md "Secrets at rest").
 * Adding a secret field is one line here. A path is dot-separated; `*` stands for every element of an
 * array (or every value of an object); a path that is absent from a record is skipped, so a field is
 * listed before any record has it. The path is also bound into its ciphertext (the authenticated data):
 * renaming one leaves older ciphertexts unreadable, so add a new path instead.
 */

export const SUBSCRIPTION_SECRET_FIELDS = [
  // Signing secrets: the current one and, during a rotation, the previous ones still signing.
  'secrets.*.secret',
  // Client certificate authentication to the listener (mTLS).
  'tls.clientKey',
  'tls.clientKeyPassphrase',
  // SOAP header parameters: where SOAP listeners take their credentials (views redact them too).
  'soap.parameters.*',
] as const;

type Json = unknown;

/**
 * A copy of `record` with `transform(value, path)` applied to each string at one of `paths`. Objects and
 * arrays on the way are copied, everything else is shared. Async because a transform may await a key.
 */
export async function mapSecretFields<T>(
  record: T,
  paths: readonly string[],
  transform: (value: string, path: string) => Promise<string>,
): Promise<T> {
  let result: Json = record;
  for (const path of paths) {
    result = await mapPath(result, path.split('.'), path, transform);
  }
  return result as T;
}

async function mapPath(
  node: Json,
  steps: readonly string[],
  path: string,
  transform: (value: string, path: string) => Promise<string>,
): Promise<Json> {
  const [step, ...rest] = steps;
  if (step === undefined) return typeof node === 'string' ? transform(node, path) : node;
  if (step === '*') {
    if (Array.isArray(node)) return Promise.all(node.map((item) => mapPath(item, rest, path, transform)));
    if (isObject(node)) {
      const entries = await Promise.all(
        Object.entries(node).map(async ([key, value]) => [key, await mapPath(value, rest, path, transform)]),
      );
      return Object.fromEntries(entries);
    }
    return node;
  }
  if (!isObject(node) || !Object.hasOwn(node, step)) return node;
  return { ...node, [step]: await mapPath(node[step], rest, path, transform) };
}

function isObject(node: Json): node is Record<string, Json> {
  return typeof node === 'object' && node !== null && !Array.isArray(node);
}
