import { cpus, loadavg, totalmem } from 'node:os';
import type { SoakResult } from './run.js';

/* The soak's report: a table for people, then one JSON line for tools. */

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGb: number;
  readonly node: string;
  readonly platform: string;
  readonly date: string;
  /** The 1-minute load average when the run started, and when it ended: other work on the machine. */
  readonly load: { start: number; end?: number };
}

export function machine(): Machine {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
    load: { start: round(loadavg()[0] ?? 0) },
  };
}

const round = (value: number) => Math.round(value * 100) / 100;

/** The machine as the run ends: the load average then. */
export function atEnd(host: Machine): Machine {
  return { ...host, load: { ...host.load, end: round(loadavg()[0] ?? 0) } };
}

const percent = (part: number, whole: number) =>
  whole === 0 ? '0 %' : `${((100 * part) / whole).toFixed(part === 0 ? 0 : 2)} %`;
const seconds = (value: number | undefined) => (value === undefined ? 'n/a' : `${value.toFixed(1)} s`);

export function formatReport(result: SoakResult, host: Machine): string {
  const { options: o, duplicates: d, attempts: a, stack: s } = result;
  const rows: [string, string][] = [
    [
      'machine',
      `${host.cpu}, ${host.cores} cores, ${host.memoryGb} GB, node ${host.node}, ${host.date}; ` +
        `load average ${host.load.start} at the start, ${host.load.end ?? 'n/a'} at the end`,
    ],
    [
      'settings',
      `seed ${o.seed}; retry schedule ${o.retrySchedule.join(',')} s; timeout ${o.timeoutMs} ms; ` +
        `visibility ${o.visibilitySeconds} s; ${o.rate} events/s; failure rate ${o.failureRate}`,
    ],
    ['events put', `${result.events} (${result.putRetries} PutEvents retried)`],
    ['subscriptions', String(result.subscriptions)],
    ['deliveries expected', String(result.expected)],
    ['delivered', `${result.delivered} (${percent(result.delivered, result.expected)})`],
    ['failed (recorded)', `${result.failedRecorded} (every attempt used, in the failed list)`],
    ['LOST', String(result.lost)],
    ...(result.deliveredAndFailed > 0
      ? [['delivered and recorded failed', String(result.deliveredAndFailed)] as [string, string]]
      : []),
    [
      'duplicates',
      `${d.extra} extra 2xx on ${d.webhookIds} webhook-ids (${percent(d.extra, result.expected)} of deliveries): ` +
        `${d.acrossKill} across a kill, ${d.withinLifetime} within one lifetime; ${d.unexplained} not explained by a kill`,
    ],
    [
      'unexpected / bad signature / wrong payload',
      `${result.unexpected} / ${result.badSignatures} / ${result.payloadMismatches}`,
    ],
    [
      'attempts',
      `${a.total}: ${Object.entries(a.byBehaviour)
        .map(([behaviour, n]) => `${behaviour} ${n}`)
        .join(', ')}; ${result.lateAnswers} 2xx too late (the connection was gone)`,
    ],
    [
      'stack (from its logs)',
      `${s.retriesScheduled} retries scheduled, ${s.exhausted} exhausted; deferred: circuit open ${s.deferred.circuitOpen}, ` +
        `probing ${s.deferred.circuitProbing}, in-flight limit ${s.deferred.inFlightLimit}; circuit openings ~${s.circuitOpenings}`,
    ],
    [
      'kills',
      result.kills
        .map(
          (k, i) =>
            `#${i + 1} at ${k.atSeconds.toFixed(1)} s (${k.eventsPut} events put, ${k.deliveredBefore} delivered), back in ${k.restartSeconds.toFixed(1)} s`,
        )
        .join('; ') || 'none',
    ],
    [
      'time',
      `production ${seconds(result.timing.productionSeconds)}; drain (last put → last delivery) ` +
        `${seconds(result.timing.drainSeconds)}; queues empty ${seconds(result.timing.quietSeconds)} after the last put; ` +
        `total ${seconds(result.timing.totalSeconds)}`,
    ],
    ['queues at the end', result.queues ? JSON.stringify(result.queues) : 'n/a'],
  ];
  const notices = Object.entries(s.notices);
  if (notices.length > 0) rows.push(['stack notices', notices.map(([k, n]) => `${k} ×${n}`).join('; ')]);
  if (result.outstanding.length > 0)
    rows.push([
      'outstanding (sample)',
      result.outstanding.map((p) => `${p.event} → ${p.subscription}`).join('; '),
    ]);
  if (result.dataDir) rows.push(['data folder (kept)', result.dataDir]);
  rows.push(['verdict', result.ok ? 'OK' : `FAILED: ${result.problems.join('; ')}`]);
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `${name.padEnd(width)}  ${value}`).join('\n');
}

/** The JSON line: the figures, the settings and the machine. */
export function jsonLine(result: SoakResult, host: Machine): string {
  return JSON.stringify({ soak: { ...result, machine: host } });
}
