import type { InFlight } from './queue.js';
import { FAIR_QUEUE_NOISY_MIN_IN_FLIGHT, FAIR_QUEUE_NOISY_SHARE } from './queue-limits.js';
import type { QueueRow, QueueStatements } from './queue-statements.js';

/*
 * Fair-queue receive order (SQS fair queues, see FAIR_QUEUE_NOISY_SHARE): while no message group is a
 * noisy neighbour, the visible messages in the order they became visible. While some are, the quiet
 * groups' visible messages first (and those without a group, each a tenant of its own), in that order; then
 * the noisy groups', the one with the fewest in flight first. Nothing is dropped or throttled.
 *
 * `groupCap` is not SQS's: the local deliver poller passes it while the process's event loop is saturated
 * (queue-poller.ts), and a group with that many messages in flight gets none until some are deleted.
 */

export function fairOrder(
  statements: QueueStatements,
  queue: string,
  now: number,
  count: number,
  inFlight: InFlight,
  groupCap = Number.POSITIVE_INFINITY,
): QueueRow[] {
  if (count <= 0) return [];
  const noisy = noisyGroups(inFlight);
  const room = (group: string) => Math.min(count, groupCap - (inFlight.byGroup.get(group) ?? 0));
  if (noisy.length === 0 && groupCap === Number.POSITIVE_INFINITY)
    return statements.ready.all(queue, now, count) as unknown as QueueRow[];

  const noisySet = new Set(noisy);
  const quietGroups = (statements.groups.all(queue) as { id: string }[])
    .map(({ id }) => id)
    .filter((id) => !noisySet.has(id) && room(id) > 0);
  const quiet = [
    ...(statements.readyWithoutGroup.all(queue, now, count) as unknown as QueueRow[]),
    ...quietGroups.flatMap(
      (group) => statements.readyOfGroup.all(queue, group, now, room(group)) as unknown as QueueRow[],
    ),
  ]
    .sort((a, b) => a.visible_at - b.visible_at || a.seq - b.seq)
    .slice(0, count);
  const rows = [...quiet];
  for (const group of noisy) {
    if (rows.length >= count) break;
    const take = Math.min(count - rows.length, room(group));
    if (take > 0)
      rows.push(...(statements.readyOfGroup.all(queue, group, now, take) as unknown as QueueRow[]));
  }
  return rows;
}

/** Groups above the share with at least the minimum in flight, the fewest in flight first. */
export function noisyGroups(inFlight: InFlight): string[] {
  return [...inFlight.byGroup]
    .filter(([, n]) => n >= FAIR_QUEUE_NOISY_MIN_IN_FLIGHT && n > FAIR_QUEUE_NOISY_SHARE * inFlight.total)
    .sort(([, a], [, b]) => a - b)
    .map(([group]) => group);
}
