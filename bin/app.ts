#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { WebhooksStack } from '../lib/webhooks-stack.js';

const app = new App();
new WebhooksStack(app, 'CommBoxWebhooks', {
  description: 'CommBox webhook delivery: EventBridge -> SQS -> Lambda -> listeners',
});
