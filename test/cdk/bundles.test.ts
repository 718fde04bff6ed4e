import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { build, type Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../lib/definitions.js';
import { BUNDLE_METAFILE_CONTEXT } from '../../lib/webhooks-function.js';
import { WebhooksStack } from '../../lib/webhooks-stack.js';

/*
 * What the deployed code is made of. The stack is synthesized as `cdk synth` does it (esbuild on this
 * machine, the stack's own bundling options), with esbuild's metafile written next to each bundle, and
 * every input of every bundle is checked: none of the local runtime (local/, the emulators, SQLite, the
 * TypeScript runner) and none of the build tools reaches a Lambda.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Packages the local runtime, the build or the tests use: none belongs in a Lambda bundle. */
const LOCAL_AND_BUILD_PACKAGES = [
  'dynalite',
  'fauxqs',
  'tsx',
  'esbuild',
  'aws-cdk-lib',
  'aws-cdk',
  'constructs',
  'cdk-nag',
  'vitest',
  'aws-sdk-client-mock',
] as const;
/** Node modules only the local runtime uses. */
const LOCAL_BUILTINS = ['node:sqlite', 'sqlite'] as const;
/** Repository folders that are not handler code. */
const NON_HANDLER_FOLDERS = ['local/', 'bin/', 'lib/', 'scripts/', 'test/'] as const;

/** Every reason the metafile shows a bundle carrying what only the local runtime or the build uses. */
function localRuntimeInputs(metafile: Metafile): string[] {
  const found: string[] = [];
  for (const [input, { imports }] of Object.entries(metafile.inputs)) {
    const packageName = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1];
    if (packageName && (LOCAL_AND_BUILD_PACKAGES as readonly string[]).includes(packageName))
      found.push(`${input}: package ${packageName}`);
    if (!input.includes('node_modules/') && NON_HANDLER_FOLDERS.some((folder) => input.startsWith(folder)))
      found.push(`${input}: outside lambdas/`);
    for (const imported of imports) {
      if ((LOCAL_BUILTINS as readonly string[]).includes(imported.path))
        found.push(`${input} imports ${imported.path}`);
    }
  }
  return found;
}

let app: App;
let bundles: Record<string, { metafile: Metafile; code: string }>;

// Four esbuild runs and a synth: several seconds, more under load.
beforeAll(() => {
  app = new App({ context: { [BUNDLE_METAFILE_CONTEXT]: true } });
  const stack = new WebhooksStack(app, 'BundleWebhooks');
  const template = Template.fromStack(stack);
  bundles = {};
  for (const [name, fn] of Object.entries({
    api: stack.service.apiFunction,
    authorizer: stack.service.authorizerFunction,
    route: stack.service.routeFunction,
    deliver: stack.service.deliverFunction,
  })) {
    const child = fn.node.defaultChild as Parameters<typeof stack.getLogicalId>[0];
    const properties = template.findResources('AWS::Lambda::Function')[stack.getLogicalId(child)]
      ?.Properties as { Code: { S3Key: string } };
    const assetDir = path.join(app.outdir, `asset.${properties.Code.S3Key.replace(/\.zip$/, '')}`);
    bundles[name] = {
      metafile: JSON.parse(readFileSync(path.join(assetDir, 'index.meta.json'), 'utf8')) as Metafile,
      code: readFileSync(path.join(assetDir, 'index.mjs'), 'utf8'),
    };
  }
}, 180_000);

afterAll(() => {
  if (app) rmSync(app.outdir, { recursive: true, force: true });
});

describe('Lambda bundles', () => {
  it('are built from their handler and the packages it uses, as the metafile lists them', () => {
    for (const [name, { metafile }] of Object.entries(bundles)) {
      const inputs = Object.keys(metafile.inputs);
      expect(inputs, name).toContain(FUNCTIONS[name as keyof typeof FUNCTIONS].entry);
      // The metafile is the whole bundle: the SDK the handler calls is in it, so an absence below means something.
      expect(
        inputs.some((input) => input.startsWith('node_modules/@aws-sdk/')),
        `${name} has AWS SDK inputs`,
      ).toBe(true);
    }
  });

  it('contain none of the local runtime: no emulator, no SQLite, no local/ code, no tsx, no build tool', () => {
    for (const [name, { metafile, code }] of Object.entries(bundles)) {
      expect(localRuntimeInputs(metafile), name).toEqual([]);
      // The output too, in case something reached it without being an input (a banner, an inlined define).
      expect(/node:sqlite|dynalite|fauxqs/.test(code), `${name} bundle text`).toBe(false);
    }
  });

  it('finds local-runtime code in a bundle that has it, so the check above can fail', async () => {
    // A bundle of a local SQLite store: what a handler importing local/ would drag in.
    const result = await build({
      absWorkingDir: ROOT,
      entryPoints: ['local/sqlite/stores/index.ts'],
      bundle: true,
      platform: 'node',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const found = localRuntimeInputs(result.metafile);
    expect(found).toContainEqual(
      expect.stringMatching(/^local\/sqlite\/stores\/index\.ts: outside lambdas\//),
    );
    expect(found).toContainEqual(expect.stringMatching(/imports node:sqlite$/));
  });

  it('leaves the local runtime and the build tools out of the runtime dependencies', () => {
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    for (const name of LOCAL_AND_BUILD_PACKAGES) expect(manifest.dependencies).not.toHaveProperty(name);
  });
});
