import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';

/*
 * Producers' side: the real @aws-sdk/client-eventbridge pointed at the local PutEvents endpoint.
 */

/** An EventBridge client for the local stack at `url` (dummy credentials: nothing checks them locally). */
export function eventBridgeClient(url: string): EventBridgeClient {
  return new EventBridgeClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

/** A CommBox entity event as producers put it: `Source: commbox`, `DetailType: <Entity>.<Event>`. */
export function commboxEvent(
  brand: string,
  detailType: string,
  data: Record<string, unknown>,
  id?: string,
): PutEventsRequestEntry {
  return {
    Source: 'commbox',
    DetailType: detailType,
    Detail: JSON.stringify({ brand, ...(id ? { id } : {}), data }),
  };
}

/** Puts the entries (one request, at most 10) and fails unless every entry was accepted. */
export async function putEvents(
  client: EventBridgeClient,
  entries: readonly PutEventsRequestEntry[],
): Promise<PutEventsResultEntry[]> {
  const output = await client.send(new PutEventsCommand({ Entries: [...entries] }));
  const results = output.Entries ?? [];
  if ((output.FailedEntryCount ?? 0) > 0 || results.length !== entries.length) {
    throw new Error(`PutEvents refused entries: ${JSON.stringify(results)}`);
  }
  return results;
}
