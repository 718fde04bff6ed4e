/**
 * Gathers the calls made in one turn of the event loop into one request: the records of an SQS batch
 * are processed side by side, so their reads become one BatchGetItem and their writes one
 * BatchWriteItem, while each record still awaits (and fails on) its own result. Calls that arrive after
 * the request has gone wait for the next one, never for a result fetched before they asked.
 */
export function coalesce<K, V>(
  run: (keys: readonly K[]) => Promise<readonly V[]>,
  maxBatch: number,
): (key: K) => Promise<V> {
  let pending: { key: K; resolve: (value: V) => void; reject: (error: unknown) => void }[] = [];

  const flush = () => {
    const calls = pending;
    pending = [];
    for (let start = 0; start < calls.length; start += maxBatch) {
      const chunk = calls.slice(start, start + maxBatch);
      // A run that throws instead of rejecting must still settle its callers (not crash the process).
      new Promise<readonly V[]>((resolve) => resolve(run(chunk.map((call) => call.key)))).then(
        (values) => {
          if (values.length !== chunk.length) {
            const error = new Error(
              `coalesced run answered ${values.length} values for ${chunk.length} keys`,
            );
            for (const call of chunk) call.reject(error);
            return;
          }
          chunk.forEach((call, index) => {
            call.resolve(values[index] as V);
          });
        },
        (error: unknown) => {
          for (const call of chunk) call.reject(error);
        },
      );
    }
  };

  return (key) =>
    new Promise<V>((resolve, reject) => {
      if (pending.length === 0) setImmediate(flush);
      pending.push({ key, resolve, reject });
    });
}
