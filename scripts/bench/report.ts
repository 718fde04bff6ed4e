/* The bench's printed report: tables, then one PASS/FAIL line per target. */
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import type { ColdStarts } from './cold-start.js';
import { PRICES } from './cost.js';
import type { ConfigResult, PhaseResult } from './run.js';

export interface FloorResult {
  readonly ok: number;
  readonly failed: number;
  readonly elapsedMs: number;
  readonly perSecond: number;
  readonly concurrency: number;
  readonly bodyBytes: number;
  readonly verified: number;
  readonly rejected: number;
}

export interface BenchResults {
  readonly machine: Record<string, string>;
  /** Fan-out N, full log: deliveries/s. */
  readonly burst?: ConfigResult;
  /** Fan-out N, full log: latency at a steady rate. */
  readonly steady?: ConfigResult;
  /** Fan-out 1 and N, full and failures-only log: $ per million deliveries. */
  readonly costRuns: ConfigResult[];
  readonly floor?: FloorResult;
  readonly cold?: ColdStarts;
  readonly profile?: string;
}

export const TARGETS = {
  burstPerSecond: 2000,
  floorRatio: 0.2,
  steadyP50: 20,
  steadyP99: 100,
  costFailures: 1.8,
  costFull: 2.5,
  bundleBytes: 400 * 1024,
  loadMs: 80,
} as const;

export function machine(): Record<string, string> {
  const list = cpus();
  return {
    cpu: `${list[0]?.model ?? 'unknown'} (${list.length} cores)`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
    loadAverageAtStart: loadavg()
      .map((value) => value.toFixed(2))
      .join(' '),
    cpuPressureAtStart: cpuPressure(),
  };
}

/** Linux PSI: the share of time some task waited for a CPU (other work on this shared machine). */
export function cpuPressure(): string {
  try {
    const some = readFileSync('/proc/pressure/cpu', 'utf8').split('\n')[0] ?? '';
    const avg60 = /avg60=([0-9.]+)/.exec(some)?.[1];
    return avg60 === undefined ? 'unknown' : `some avg60 ${avg60}%`;
  } catch {
    return 'unknown';
  }
}

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join('  ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

const n = (value: number, digits = 0) =>
  Number.isFinite(value) ? value.toFixed(digits) : value === Number.POSITIVE_INFINITY ? 'never' : '—';
const dollars = (value: number) => (Number.isFinite(value) ? `$${value.toFixed(3)}` : '—');

function label(config: ConfigResult): string {
  const brands = config.brands > 1 ? ` × ${config.brands} brands` : '';
  return `${config.backend}, fan-out ${config.fanout}${brands}, log ${config.deliveryLog}`;
}

function complete(phase: PhaseResult): boolean {
  return phase.listener.unique >= phase.expected && phase.expected > 0;
}

function phaseRow(config: ConfigResult): string[] {
  const { phase } = config;
  return [
    `${phase.name} (${label(config)})`,
    n(phase.eventsPut),
    `${phase.listener.unique}/${phase.expected}`,
    n(phase.listener.duplicates),
    n(phase.listener.rejected),
    n(phase.seconds, 1),
    n(phase.deliveriesPerSecond),
    n(phase.listener.latency.p50, 1),
    n(phase.listener.latency.p90, 1),
    n(phase.listener.latency.p99, 1),
    n(phase.listener.latency.max, 1),
    n(phase.listener.maxConnections),
    n(phase.peakRssMiB),
    n(phase.cpuMsPerDelivery, 2),
  ];
}

function costRow(config: ConfigResult): string[] {
  const { cost, listener } = config.phase;
  const group = (prefix: string) =>
    (cost.lines.filter((line) => line.item.startsWith(prefix)).reduce((sum, line) => sum + line.dollars, 0) /
      listener.unique) *
    1e6;
  return [
    label(config) + (complete(config.phase) ? '' : ' (INCOMPLETE)'),
    n(listener.unique),
    dollars(group('EventBridge')),
    dollars(group('SQS')),
    dollars(group('Lambda')),
    dollars(group('DynamoDB')),
    dollars(cost.perMillionDeliveries),
    dollars(cost.logsPerMillionDeliveries),
    n(cost.deferred),
  ];
}

function costDetail(config: ConfigResult): string {
  const { phase } = config;
  const calls = phase.cost.callsPerDelivery.map(
    ({ key, perDelivery }) => `    ${perDelivery.toFixed(3).padStart(7)}  ${key}`,
  );
  const units = phase.cost.lines
    .filter(
      (line) => line.item.startsWith('DynamoDB') || line.item.includes('GB-s') || line.item.includes('empty'),
    )
    .map((line) => `    ${(line.quantity / phase.listener.unique).toFixed(3).padStart(7)}  ${line.item}`);
  const invocations = phase.cost.invocations.map(
    (invocation) =>
      `    ${invocation.name}: ${invocation.count} invocations, ${invocation.recordsPerInvocation.toFixed(1)} records ` +
      `each, mean ${invocation.meanMs.toFixed(1)} ms, max ${invocation.maxMs.toFixed(0)} ms`,
  );
  return [`  ${label(config)}, per delivery:`, ...calls, ...units, ...invocations].join('\n');
}

export function formatReport(results: BenchResults): string {
  const out: string[] = [];
  out.push(
    `Machine: ${Object.entries(results.machine)
      .map(([key, value]) => `${key} ${value}`)
      .join('; ')}`,
  );
  const runs = [results.burst, results.steady, ...results.costRuns].filter(
    (config): config is ConfigResult => config !== undefined,
  );

  out.push(
    '\n== End to end: s from the first put to the last delivery; latency (ms) from the put to the listener ' +
      '(never: not delivered within the drain time); bad sig: of the sampled signature checks',
  );
  out.push(
    table(
      [
        'phase',
        'events',
        'deliveries',
        'dup',
        'bad sig',
        's',
        'deliv/s',
        'p50',
        'p90',
        'p99',
        'max',
        'peak conns',
        'peak RSS MiB',
        'CPU ms/deliv',
      ],
      runs.map(phaseRow),
    ),
  );
  const burst = results.burst?.phase;
  if (results.floor) {
    const floor = results.floor;
    const ratio = burst ? (burst.deliveriesPerSecond / floor.perSecond).toFixed(3) : '—';
    out.push(
      `\n== Floor: signed keep-alive POSTs of the same ${floor.bodyBytes}-byte payload to the same listener, ` +
        `concurrency ${floor.concurrency}: ${n(floor.perSecond)} POSTs/s (${floor.ok} ok, ${floor.failed} failed, ` +
        `${floor.rejected} of ${floor.verified + floor.rejected} sampled signatures bad); end to end / floor = ${ratio}`,
    );
  }

  if (results.costRuns.length > 0) {
    out.push(
      `\n== What AWS would bill, $ per million deliveries (us-east-1 list prices as of ${PRICES.asOf}; ` +
        "docs/PERFORMANCE.md); (+ logs): CloudWatch Logs ingestion of the handlers' log lines, not in the total",
    );
    out.push(
      table(
        ['run', 'deliveries', 'EventBridge', 'SQS', 'Lambda', 'DynamoDB', 'total', '(+ logs)', 'deferred'],
        results.costRuns.map(costRow),
      ),
    );
    out.push(...results.costRuns.map(costDetail));
  }

  if (results.cold) {
    const { bareMs, bareMapsMs, runs } = results.cold;
    out.push(
      '\n== Cold start (esbuild as deployed; load = median of a fresh process importing the bundle minus bare node, ' +
        `${runs} runs; bare \`node -e 0\` ${n(bareMs, 1)} ms, with --enable-source-maps ${n(bareMapsMs, 1)} ms)`,
    );
    out.push(
      table(
        [
          'function',
          'bundle KB',
          'map KB',
          'load ms (source maps, as deployed)',
          'load ms (no maps)',
          'load CPU ms',
        ],
        results.cold.results.map((cold) => [
          cold.name + (cold.error ? ` (ERROR ${cold.error})` : ''),
          n(cold.bundleBytes / 1024, 1),
          n(cold.mapBytes / 1024, 1),
          n(cold.loadMs, 1),
          n(cold.loadNoMapsMs, 1),
          n(cold.loadCpuMs, 1),
        ]),
      ),
    );
    for (const warning of results.cold.warnings) out.push(`  warning: ${warning}`);
  }
  for (const config of runs) {
    const { phase } = config;
    if (phase.errors.length > 0 || phase.stackLogLines > 0 || phase.putErrors > 0)
      out.push(
        `  note (${phase.name} ${label(config)}): ${phase.putErrors} put errors, ` +
          `${phase.stackLogLines} stack log lines, SDK errors: ${phase.errors.join('; ') || 'none'}`,
      );
  }
  if (results.profile) out.push(`\n${results.profile}`);
  out.push('\n== Targets');
  out.push(...verdicts(results));
  return out.join('\n');
}

export function verdicts(results: BenchResults): string[] {
  const lines: string[] = [];
  const verdict = (ok: boolean, text: string) => lines.push(`${ok ? 'PASS' : 'FAIL'}  ${text}`);
  const burst = results.burst?.phase;
  if (burst) {
    verdict(
      burst.deliveriesPerSecond >= TARGETS.burstPerSecond && complete(burst),
      `burst: ${n(burst.deliveriesPerSecond)} deliveries/s end to end (target ≥ ${TARGETS.burstPerSecond}; ` +
        `${burst.listener.unique}/${burst.expected} delivered)`,
    );
    if (results.floor) {
      const ratio = burst.deliveriesPerSecond / results.floor.perSecond;
      verdict(
        ratio >= TARGETS.floorRatio,
        `burst / floor: ${ratio.toFixed(3)} (${n(burst.deliveriesPerSecond)} / ${n(results.floor.perSecond)}; ` +
          `target ≥ ${TARGETS.floorRatio})`,
      );
    }
  }
  const steady = results.steady?.phase;
  if (steady) {
    const { p50, p90, p99 } = steady.listener.latency;
    const delivered = `${steady.listener.unique}/${steady.expected} delivered`;
    verdict(
      p50 <= TARGETS.steadyP50,
      `steady: p50 ${n(p50, 1)} ms (target ≤ ${TARGETS.steadyP50}; ${delivered})`,
    );
    verdict(
      p99 <= TARGETS.steadyP99,
      `steady: p99 ${n(p99, 1)} ms (target ≤ ${TARGETS.steadyP99}; p90 ${n(p90, 1)} ms)`,
    );
  }
  for (const [log, target] of [
    ['failures', TARGETS.costFailures],
    ['full', TARGETS.costFull],
  ] as const) {
    const run = results.costRuns.find((config) => config.fanout === 1 && config.deliveryLog === log)?.phase;
    if (run)
      verdict(
        run.cost.perMillionDeliveries <= target && complete(run),
        `cost, fan-out 1, log ${log}: ${dollars(run.cost.perMillionDeliveries)} per million deliveries ` +
          `(target ≤ $${target.toFixed(2)})`,
      );
  }
  for (const cold of results.cold?.results ?? []) {
    verdict(
      cold.bundleBytes <= TARGETS.bundleBytes && !cold.error,
      `cold start ${cold.name}: bundle ${n(cold.bundleBytes / 1024, 1)} KB (target ≤ 400 KB)`,
    );
    verdict(
      cold.loadMs <= TARGETS.loadMs && !cold.error,
      `cold start ${cold.name}: load ${n(cold.loadMs, 1)} ms over bare node (target ≤ ${TARGETS.loadMs})`,
    );
  }
  return lines;
}
