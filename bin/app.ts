#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { createStageStack } from '../lib/stage-config.js';

const app = new App();
// `cdk synth` and `cdk deploy` stop on any AwsSolutions finding that is not acknowledged in lib/.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
// The stage comes from the context (`-c stage=prod`; cdk.json sets dev), its settings from config/<stage>.json.
createStageStack(app);
