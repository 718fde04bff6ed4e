/*
 * Modules the deployed bundles replace (esbuild `--alias`), shared by lib/webhooks-function.ts and the
 * bench (scripts/bench/cold-start.ts). Paths are relative to the repository root, where esbuild runs. No
 * CDK import here. Only the bundles see these: the local runtime and the tests run the sources unchanged.
 */
export const BUNDLE_ALIASES: Readonly<Record<string, string>> = {
  // Environment credentials only: what Lambda provides (lambdas/commons/lambda-credentials.ts).
  '@aws-sdk/credential-provider-node': './lambdas/commons/lambda-credentials.ts',
  // node:http without Node's undici (WebSocket & co.) at load (lambdas/commons/node-http.cjs).
  http: './lambdas/commons/node-http.cjs',
  'node:http': './lambdas/commons/node-http.cjs',
};
