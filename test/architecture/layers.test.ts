import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/*
 * The dependency rules of docs/DECISIONS.md ("Layout"), read from the source: lambdas/ (the handlers, their
 * core and adapters) reaches nothing outside itself, and lambdas/core/ does no I/O. lib/ (CDK), local/ (the
 * embedded runtime), bin/ and scripts/ may import lambdas/, never the reverse.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const SOURCE_FILE = /\.(c|m)?[jt]s$/;

/** Modules that open sockets, resolve names or talk to AWS: none of them belongs in the core. */
const IO_MODULES = [
  /^(node:)?(http|https|http2|net|tls|dns|dgram|child_process|fs|worker_threads)(\/.*)?$/,
  /^@aws-sdk\//,
  /^@smithy\//,
  /^@aws-lambda-powertools\//,
  /^undici$/,
  /^request-filtering-agent$/,
];

interface ImportStatement {
  readonly line: number;
  readonly specifier: string;
}

/** Every module specifier a source file names: static and dynamic imports, re-exports and require(). */
function importsOf(source: string): ImportStatement[] {
  const patterns = [
    /\b(?:import|export)\s[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  const found: ImportStatement[] = [];
  for (const pattern of patterns) {
    for (const match of source.matchAll(pattern)) {
      const line = source.slice(0, match.index).split('\n').length;
      found.push({ line, specifier: match[1] ?? '' });
    }
  }
  return found.sort((a, b) => a.line - b.line);
}

/** The rule a file's import breaks, or undefined. `file` is relative to the repository root. */
function violationOf(file: string, specifier: string): string | undefined {
  const inLambdas = file.startsWith('lambdas/');
  const inCore = file.startsWith('lambdas/core/');
  if (specifier.startsWith('.')) {
    const target = relative(ROOT, resolve(ROOT, dirname(file), specifier));
    if (inLambdas && !target.startsWith('lambdas/')) return `lambdas/ must not import from ${target}`;
    if (inCore && !target.startsWith('lambdas/core/')) return `lambdas/core/ must not import from ${target}`;
    return undefined;
  }
  if (inCore && IO_MODULES.some((pattern) => pattern.test(specifier))) {
    return `lambdas/core/ does no I/O, but imports ${specifier}`;
  }
  return undefined;
}

function sourceFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter((name) => SOURCE_FILE.test(name) && !name.endsWith('.d.ts'))
    .map((name) => join(folder, name));
}

function violationsIn(files: readonly string[]): string[] {
  return files.flatMap((file) =>
    importsOf(readFileSync(join(ROOT, file), 'utf8')).flatMap(({ line, specifier }) => {
      const rule = violationOf(file, specifier);
      return rule === undefined ? [] : [`${file}:${line} imports '${specifier}': ${rule}`];
    }),
  );
}

describe('the layers', () => {
  it('keep every import of lambdas/ inside lambdas/, and every I/O module out of lambdas/core/', () => {
    const files = sourceFiles('lambdas');
    expect(files.length).toBeGreaterThan(40);
    expect(violationsIn(files)).toEqual([]);
  });

  it('name the file, the line and the import of a handler that reaches into lib/', () => {
    const source = "import { z } from 'zod';\nimport { QUEUES } from '../lib/definitions.js';\n";
    const found = importsOf(source).flatMap(({ line, specifier }) => {
      const rule = violationOf('lambdas/route.ts', specifier);
      return rule === undefined ? [] : [`lambdas/route.ts:${line} '${specifier}': ${rule}`];
    });
    expect(found).toEqual([
      "lambdas/route.ts:2 '../lib/definitions.js': lambdas/ must not import from lib/definitions.js",
    ]);
  });

  it.each([
    ["import http from 'node:http';", 'node:http'],
    ["import { lookup } from 'node:dns/promises';", 'node:dns/promises'],
    ["import type { Socket } from 'net';", 'net'],
    ["export { connect } from 'node:tls';", 'node:tls'],
    ["const { SQSClient } = await import('@aws-sdk/client-sqs');", '@aws-sdk/client-sqs'],
    ["import { Logger } from '@aws-lambda-powertools/logger';", '@aws-lambda-powertools/logger'],
    ["const agent = require('request-filtering-agent');", 'request-filtering-agent'],
  ])('refuse I/O in the core: %s', (source, specifier) => {
    const [statement] = importsOf(source);
    expect(statement?.specifier).toBe(specifier);
    expect(violationOf('lambdas/core/delivery.ts', specifier)).toMatch(/does no I\/O/);
    expect(violationOf('lambdas/adapters/listener-client.ts', specifier)).toBeUndefined();
  });

  it('refuse a core module that imports an adapter, and a handler that imports the local runtime', () => {
    expect(violationOf('lambdas/core/delivery.ts', '../adapters/listener-client.js')).toMatch(
      /must not import from lambdas\/adapters/,
    );
    expect(violationOf('lambdas/commons/deps.ts', '../../local/stack.js')).toMatch(
      /must not import from local/,
    );
    expect(violationOf('lambdas/commons/deps.ts', '../adapters/dynamo-events.js')).toBeUndefined();
  });

  it('let lib/, local/, bin/ and scripts/ use lambdas/', () => {
    expect(violationOf('lib/webhooks-service.ts', '../lambdas/api/routes.js')).toBeUndefined();
    expect(violationOf('local/stack.ts', '../lambdas/environment.js')).toBeUndefined();
  });
});
