/*
 * Cold start, per function: the bundle as deployed (esbuild with the options lib/webhooks-function.ts gives
 * NodejsFunction) and its module load time: the median wall time of a fresh process that imports the
 * bundle, minus the median of a bare one that imports nothing (`node -e`), both with --enable-source-maps
 * as the functions' NODE_OPTIONS set it (and without, for comparison); the processes' CPU time too. Runs
 * are interleaved so that a noisy moment hits every command alike.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { BUNDLE_ALIASES } from '../../lib/bundle-aliases.js';
import { FUNCTIONS } from '../../lib/definitions.js';
import { REPO_ROOT } from './ipc.js';
import { median } from './stats.js';

export interface ColdStart {
  readonly name: string;
  readonly bundleBytes: number;
  readonly mapBytes: number;
  /** Median load over bare node, with --enable-source-maps (as deployed). */
  readonly loadMs: number;
  /** The same without source maps. */
  readonly loadNoMapsMs: number;
  /** CPU time (user + system) of the load over bare node, with source maps: less sensitive to a busy machine. */
  readonly loadCpuMs: number;
  readonly error?: string;
}

/** The bundling options of lib/webhooks-function.ts, checked against its source so the two stay one. */
function deployedOptions(): { banner: string; warnings: string[] } {
  const source = readFileSync(join(REPO_ROOT, 'lib/webhooks-function.ts'), 'utf8');
  const banner = /const ESM_REQUIRE_SHIM =\s*"([^"]+)";/.exec(source)?.[1];
  if (!banner)
    throw new Error('ESM_REQUIRE_SHIM not found in lib/webhooks-function.ts: update scripts/bench');
  const expected = [
    'format: OutputFormat.ESM',
    'minify: true',
    'sourceMap: true',
    'sourcesContent: false',
    "target: 'node24'",
    "mainFields: ['module', 'main']",
    'externalModules: []',
    'banner: ESM_REQUIRE_SHIM',
    "esbuildArgs: { '--alias': Object.entries(BUNDLE_ALIASES)",
  ];
  const warnings = expected
    .filter((option) => !source.includes(option))
    .map((option) => `lib/webhooks-function.ts no longer says "${option}": the bench still builds with it`);
  return { banner, warnings };
}

/** Imports the bundle given as the first argument (none: nothing), then prints the process's CPU time. */
const PROBE = (load: boolean) =>
  `${load ? 'await import(process.argv[1]);' : ''}` +
  'const u = process.cpuUsage(); process.stdout.write(String((u.user + u.system) / 1000));';

/** One fresh process: its wall time from spawn to exit, and the CPU time it used (ms). */
function timeRun(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): { ms: number; cpuMs: number; error?: string } {
  const started = performance.now();
  const result = spawnSync(process.execPath, args, {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 20_000,
  });
  const ms = performance.now() - started;
  const cpuMs = Number(String(result.stdout));
  if (result.status !== 0)
    return { ms, cpuMs, error: `exit ${result.status}: ${String(result.stderr).slice(0, 300)}` };
  return { ms, cpuMs };
}

export interface ColdStarts {
  readonly results: ColdStart[];
  /** Medians of the bare `node -e 0`, without and with --enable-source-maps. */
  readonly bareMs: number;
  readonly bareMapsMs: number;
  readonly runs: number;
  readonly warnings: string[];
}

export async function measureColdStart(runs: number): Promise<ColdStarts> {
  const { banner, warnings } = deployedOptions();
  const outDir = mkdtempSync(join(tmpdir(), 'commbox-bench-bundles-'));
  try {
    const bundles: { name: string; file: string }[] = [];
    for (const [name, definition] of Object.entries(FUNCTIONS)) {
      const file = join(outDir, name, 'index.mjs');
      // As NodejsFunction runs it: esbuild --bundle <entry> --target=node24 --platform=node --format=esm
      // --minify --sourcemap --sources-content=false --main-fields=module,main --banner:js=<shim>
      // --alias:<module>=<replacement> for each of BUNDLE_ALIASES.
      await build({
        entryPoints: [join(REPO_ROOT, definition.entry)],
        absWorkingDir: REPO_ROOT,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node24',
        minify: true,
        sourcemap: true,
        sourcesContent: false,
        mainFields: ['module', 'main'],
        banner: { js: banner },
        alias: { ...BUNDLE_ALIASES },
        outfile: file,
        logLevel: 'silent',
      });
      bundles.push({ name, file });
    }

    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      AWS_REGION: 'us-east-1',
      POWERTOOLS_SERVICE_NAME: 'commbox-webhooks',
    };
    const module = ['--input-type=module', '-e'];
    const commands: { key: string; args: string[] }[] = [
      { key: 'bare', args: [...module, PROBE(false)] },
      { key: 'bare+maps', args: ['--enable-source-maps', ...module, PROBE(false)] },
      ...bundles.flatMap(({ name, file }) => [
        { key: name, args: [...module, PROBE(true), pathToFileURL(file).href] },
        {
          key: `${name}+maps`,
          args: ['--enable-source-maps', ...module, PROBE(true), pathToFileURL(file).href],
        },
      ]),
    ];
    const times = new Map<string, number[]>(commands.map(({ key }) => [key, []]));
    const cpu = new Map<string, number[]>(commands.map(({ key }) => [key, []]));
    const errors = new Map<string, string>();
    for (let run = 0; run < runs + 1; run += 1) {
      for (const { key, args } of commands) {
        const { ms, cpuMs, error } = timeRun(args, env);
        if (error) errors.set(key.replace('+maps', ''), error);
        // The first round only warms the file cache.
        if (run === 0) continue;
        times.get(key)?.push(ms);
        cpu.get(key)?.push(cpuMs);
      }
    }
    const bare = median(times.get('bare') ?? []);
    const bareMaps = median(times.get('bare+maps') ?? []);
    const bareCpu = median(cpu.get('bare+maps') ?? []);
    const results = bundles.map(({ name, file }) => {
      const error = errors.get(name);
      return {
        name,
        bundleBytes: statSync(file).size,
        mapBytes: statSync(`${file}.map`).size,
        loadMs: median(times.get(`${name}+maps`) ?? []) - bareMaps,
        loadNoMapsMs: median(times.get(name) ?? []) - bare,
        loadCpuMs: median(cpu.get(`${name}+maps`) ?? []) - bareCpu,
        ...(error ? { error } : {}),
      };
    });
    return { results, bareMs: bare, bareMapsMs: bareMaps, runs, warnings };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}
