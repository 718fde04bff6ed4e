/*
 * The package entry another CDK app imports (`commbox-webhooks/construct`, docs/DEPLOY.md "Using the
 * construct in another CDK app"): the construct, its stack, and the types of their props.
 */
export type { WebhooksAlarms } from './webhooks-alarms.js';
export { OperationalEvents, type OperationalEventsProps } from './webhooks-operational-events.js';
export {
  type DeliveryLogMode,
  type WebhooksFunctionSettings,
  type WebhooksFunctionsSettings,
  WebhooksService,
  type WebhooksServiceProps,
} from './webhooks-service.js';
export { WebhooksStack, type WebhooksStackProps } from './webhooks-stack.js';
