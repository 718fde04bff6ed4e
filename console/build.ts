/**
 * Builds the console (console/src) with esbuild: `console.js` (Preact and the screens, minified),
 * `console.css`, `index.html` and `icon.svg`. `npm start` builds it in memory at startup (buildConsole); the CDK
 * bundling of the API function runs this file as a command to write the files beside the bundle:
 * `tsx console/build.ts <folder>`. No build output is kept in the repository.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { build } from 'esbuild';
import { CONSOLE_CONTENT_TYPES, type ConsoleAsset } from '../lambdas/api/console.js';

const SOURCE = join(import.meta.dirname, 'src');

/** The console's files, name to content, built in memory. */
export async function buildConsole(): Promise<Map<string, ConsoleAsset>> {
  const result = await build({
    entryPoints: { console: join(SOURCE, 'main.tsx') },
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: '/console',
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const assets = new Map<string, ConsoleAsset>();
  const add = (name: string, body: string) => {
    const contentType = CONSOLE_CONTENT_TYPES[extname(name)];
    if (!contentType) throw new Error(`the console build made ${name}, which the API does not serve`);
    assets.set(name, { contentType, body });
  };
  for (const file of result.outputFiles) add(basename(file.path), file.text);
  for (const name of ['index.html', 'icon.svg']) add(name, readFileSync(join(SOURCE, name), 'utf8'));
  return assets;
}

/** `tsx console/build.ts <folder>`: writes the files there. */
async function main(folder: string): Promise<void> {
  mkdirSync(folder, { recursive: true });
  for (const [name, asset] of await buildConsole()) writeFileSync(join(folder, name), asset.body);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const folder = process.argv[2];
  if (!folder) {
    console.error('usage: tsx console/build.ts <output folder>');
    process.exit(2);
  }
  main(resolve(folder)).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
