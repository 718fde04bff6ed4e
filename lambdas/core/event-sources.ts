/** Producers put events with this source; the ingest rule routes exactly these to the router. */
export const EVENT_SOURCE = 'commbox';

/** The source of the operational events the platform itself puts on the bus (subscription disabled, ...). */
export const OPERATIONAL_EVENT_SOURCE = 'commbox.webhooks';
