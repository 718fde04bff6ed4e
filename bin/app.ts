#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { WebhooksStack } from '../lib/webhooks-stack.js';

const app = new App();
// `cdk synth` and `cdk deploy` stop on any AwsSolutions finding that is not acknowledged in lib/.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
new WebhooksStack(app, 'CommBoxWebhooks', {
  description: 'CommBox webhook delivery: EventBridge -> SQS -> Lambda -> listeners',
});
