import { fromEnv } from '@aws-sdk/credential-provider-env';

/*
 * Stands in for `@aws-sdk/credential-provider-node` in the deployed bundles only (lib/bundle-aliases.ts):
 * Lambda hands a function its role's credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN, which is the first link of the SDK's default chain and the one that answers there.
 * The rest of the chain (SSO, profiles, STS web identity, process, container and instance metadata) would
 * add about 130 KB to every bundle for nothing. The local runtime, the tests and the CLI run the sources,
 * not the bundles, and keep the whole chain.
 */

/** The SDK clients call this when no `credentials` are configured, as they call the default chain. */
export const defaultProvider: typeof fromEnv = (init) => fromEnv(init);
