import { inSendMessageBatches, sqsSafeJson } from '../../lambdas/core/sqs-text.js';
import type { SqliteQueue } from './queue.js';
import { MAX_BATCH_BYTES, MAX_BATCH_ENTRIES } from './queue-limits.js';

/*
 * An EventBridge rule's SQS target on a SQLite queue: each envelope one message, its JSON with every
 * character SQS refuses in a body written as an escape (lambdas/core/sqs-text.ts, as on every other hop),
 * in batches within SQS's limits. Throws if the queue refuses any, so PutEvents reports the failure
 * instead of losing the event.
 */
export function sqliteRuleTarget(queue: SqliteQueue): (envelopes: unknown[]) => Promise<void> {
  return async (envelopes) => {
    const bodies = envelopes.map(sqsSafeJson);
    const limits = { entries: MAX_BATCH_ENTRIES, bytes: MAX_BATCH_BYTES };
    for (const batch of inSendMessageBatches(bodies, (body) => body, limits)) {
      const results = queue.sendBatch(batch.map((body) => ({ body })));
      const refused = results.filter((result) => result.error);
      const [first] = refused;
      if (first?.error)
        throw new Error(
          `the ${queue.name} queue refused ${refused.length} of ${batch.length} messages: ${first.error.code} ${first.error.message}`,
        );
    }
  };
}
