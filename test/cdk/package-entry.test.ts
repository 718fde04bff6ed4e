import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as entry from 'commbox-webhooks/construct';
import { describe, expect, it } from 'vitest';
import { WebhooksService } from '../../lib/webhooks-service.js';
import { WebhooksStack } from '../../lib/webhooks-stack.js';

/* The package entry another team's CDK app imports (docs/DEPLOY.md "Using the construct in another CDK app"). */

const manifest = JSON.parse(readFileSync(path.join(import.meta.dirname, '../../package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, string>;
  peerDependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  dependencies: Record<string, string>;
};

describe('package entry', () => {
  it('exports the construct and its stack under commbox-webhooks/construct', () => {
    expect(manifest.exports['./construct']).toBe('./lib/index.ts');
    // Imported above by the package's own name, through the exports map, as a consumer imports it.
    expect(entry.WebhooksService).toBe(WebhooksService);
    expect(entry.WebhooksStack).toBe(WebhooksStack);
  });

  it('takes aws-cdk-lib and constructs from the app that uses it, at the versions it is built with', () => {
    for (const name of ['aws-cdk-lib', 'constructs']) {
      // One copy of the CDK in the app: two would make its constructs foreign to each other.
      expect(manifest.peerDependencies[name], name).toBe(manifest.devDependencies[name]);
      expect(manifest.dependencies).not.toHaveProperty(name);
    }
  });
});
