import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { logger } from '../commons/logger.js';
import { OPERATIONAL_EVENT_SOURCE } from '../core/event-sources.js';
import type { OperationalEvent, OperationalEvents } from '../core/ports.js';

/** Operational events on the service's bus, source `commbox.webhooks`, detail type = the event type. */
export class EventBridgeOperationalEvents implements OperationalEvents {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly eventBusName: string,
  ) {}

  async publish(events: readonly OperationalEvent[]): Promise<void> {
    if (events.length === 0) return;
    try {
      const output = await this.client.send(
        new PutEventsCommand({
          Entries: events.map(({ type, ...detail }) => ({
            EventBusName: this.eventBusName,
            Source: OPERATIONAL_EVENT_SOURCE,
            DetailType: type,
            Detail: JSON.stringify(detail),
          })),
        }),
      );
      if (output.FailedEntryCount)
        logger.error('operational events not put', { failed: output.FailedEntryCount });
    } catch (error) {
      logger.error('operational events not put', { error: error as Error });
    }
    for (const event of events) logger.warn(`operational event ${event.type}`, { ...event });
  }
}
