import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The service's structured logger. What goes into it is chosen with care: ids, codes and reasons, never
 * request bodies, headers, secrets or API keys.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'commbox-webhooks' });
