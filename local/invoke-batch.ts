import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { localLambdaContext } from './lambda-context.js';

/*
 * One invocation as Lambda's SQS event source mapping makes it, shared by the pollers of both local backends:
 * the records as one SQSEvent, the function's timeout, and the batch response read as SQS would.
 */

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

export interface BatchInvocation {
  readonly name: string;
  readonly handler: SqsHandler;
  readonly timeoutSeconds: number;
  readonly onError: (message: string, error: unknown) => void;
  /** Benchmarks: told how long each invocation took. */
  readonly onInvoke?: ((name: string, durationMs: number, records: number) => void) | undefined;
}

/**
 * The ids of the records the handler reported failed (`batchItemFailures`), or undefined when the whole
 * batch failed (the handler threw or ran past its timeout): then every record comes back.
 */
export async function invokeBatch(
  invocation: BatchInvocation,
  records: SQSRecord[],
): Promise<ReadonlySet<string> | undefined> {
  const timeoutMs = invocation.timeoutSeconds * 1000;
  const started = performance.now();
  try {
    const response = await withTimeout(
      invocation.handler({ Records: records }, localLambdaContext(invocation.name, timeoutMs)),
      timeoutMs,
    );
    return new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
  } catch (error) {
    invocation.onError(`${invocation.name}: the batch failed`, error);
    return undefined;
  } finally {
    invocation.onInvoke?.(invocation.name, performance.now() - started, records.length);
  }
}

export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
