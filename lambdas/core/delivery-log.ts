/** `full` records every delivery; `failures` skips deliveries that succeed at their first attempt. */
export const DELIVERY_LOG_MODES = ['full', 'failures'] as const;
export type DeliveryLogMode = (typeof DELIVERY_LOG_MODES)[number];
