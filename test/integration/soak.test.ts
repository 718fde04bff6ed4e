import { describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS, type SoakOptions } from '../../scripts/soak/options.js';
import { formatReport, machine } from '../../scripts/soak/report.js';
import { runSoak } from '../../scripts/soak/run.js';

/*
 * The fault soak (`npm run soak`, docs/RELIABILITY.md) in small: 250 deliveries over five subscriptions
 * (two brands, JSON and SOAP) whose listeners fail at random (5xx, 429 with Retry-After, resets,
 * timeouts, slow answers), and the stack SIGKILLed twice while events are put, restarted on the same
 * data each time. Nothing may be lost, nothing may arrive that was not sent, and every duplicate comes
 * from a kill.
 */

const OPTIONS: SoakOptions = {
  ...DEFAULT_OPTIONS,
  deliveries: 250,
  seed: 'npm-test',
  kills: 2,
  rate: 25,
  visibilitySeconds: 10,
  drainTimeoutSeconds: 60,
};

/**
 * A ceiling on what one SIGKILL duplicates here, with room to spare. A kill re-delivers what the killed
 * process held: delivery records its listeners had already answered 2xx but that were not deleted yet (a
 * batch is deleted once its slowest record is done), and the events whose ingest records it held, routed
 * again after the restart with the same ids. Runs of this size saw 24–49 for the two kills together
 * (docs/RELIABILITY.md). Every duplicate must also follow a kill (`unexplained`).
 */
const DUPLICATES_PER_KILL = 40;

describe('the fault soak, small', () => {
  it('loses nothing through random listener failures and two SIGKILLs', { timeout: 120_000 }, async () => {
    const result = await runSoak(OPTIONS);
    const report = formatReport(result, machine());

    expect(result.expected, report).toBe(OPTIONS.deliveries);
    expect(result.kills, report).toHaveLength(OPTIONS.kills);
    expect(result.lost, report).toBe(0);
    expect(result.delivered + result.failedRecorded, report).toBe(result.expected);
    expect(result.outstanding, report).toEqual([]);
    expect(result.unexpected, report).toBe(0);
    expect(result.badSignatures, report).toBe(0);
    expect(result.payloadMismatches, report).toBe(0);
    expect(result.queues, report).toMatchObject({ ingest: 0, delivery: 0, ingestDlq: 0, deliveryDlq: 0 });
    expect(result.duplicates.unexplained, report).toBe(0);
    expect(result.duplicates.extra, report).toBeLessThanOrEqual(OPTIONS.kills * DUPLICATES_PER_KILL);
    // Every kind of failure was exercised, and retried.
    for (const count of Object.values(result.attempts.byBehaviour)) expect(count, report).toBeGreaterThan(0);
    expect(result.attempts.total, report).toBeGreaterThan(result.expected);
    expect(result.ok, report).toBe(true);
  });
});
