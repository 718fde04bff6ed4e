import type { Lifetime } from './stack.js';

/*
 * What the stack said about itself, read from its logs after the run: the handlers' structured lines
 * (Powertools JSON) and the local runtime's own `local: ...` lines.
 */

export interface StackActivity {
  /** Deliveries put back without an attempt, by reason. */
  readonly deferred: {
    readonly circuitOpen: number;
    readonly circuitProbing: number;
    readonly inFlightLimit: number;
  };
  /** Times a subscription's circuit was found open after being closed (an estimate of the trips). */
  readonly circuitOpenings: number;
  readonly retriesScheduled: number;
  /** Deliveries that used every attempt. */
  readonly exhausted: number;
  /** WARN and ERROR lines and the local runtime's own lines, by message. */
  readonly notices: Readonly<Record<string, number>>;
}

interface LogLine {
  level?: string;
  message?: string;
  reason?: string;
  subscriptionId?: string;
}

export function analyseLogs(lifetimes: readonly Lifetime[]): StackActivity {
  const deferred = { circuitOpen: 0, circuitProbing: 0, inFlightLimit: 0 };
  let circuitOpenings = 0;
  let retriesScheduled = 0;
  let exhausted = 0;
  const notices: Record<string, number> = {};
  const note = (key: string) => {
    notices[key] = (notices[key] ?? 0) + 1;
  };
  for (const lifetime of lifetimes) {
    // Circuits live in the process's memory: every lifetime starts with all of them closed.
    const open = new Set<string>();
    for (const text of lifetime.logs) {
      if (text.startsWith('local: ')) {
        const rest = text.slice('local: '.length);
        const cut = rest.search(/ \{|: (?=[^:]*$)/);
        note(`local: ${(cut > 0 ? rest.slice(0, cut) : rest).slice(0, 100)}`);
        continue;
      }
      if (!text.startsWith('{')) continue;
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        continue;
      }
      const subscription = line.subscriptionId ?? '';
      switch (line.message) {
        case 'delivery deferred':
          if (line.reason === 'circuit open') {
            deferred.circuitOpen += 1;
            if (!open.has(subscription)) circuitOpenings += 1;
            open.add(subscription);
          } else if (line.reason?.startsWith('circuit half-open')) deferred.circuitProbing += 1;
          else deferred.inFlightLimit += 1;
          break;
        case 'delivery succeeded':
          open.delete(subscription);
          break;
        case 'delivery retry scheduled':
          retriesScheduled += 1;
          break;
        case 'delivery failed':
          exhausted += 1;
          break;
      }
      if (line.level === 'WARN' || line.level === 'ERROR' || line.level === 'CRITICAL')
        note(`${line.level}: ${String(line.message).slice(0, 100)}`);
    }
  }
  return { deferred, circuitOpenings, retriesScheduled, exhausted, notices };
}
