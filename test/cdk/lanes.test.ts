import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { App, CfnElement, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../lambdas/environment.js';
import { QUEUES } from '../../lib/definitions.js';
import type { WebhooksFunction } from '../../lib/webhooks-function.js';
import { WebhooksService, type WebhooksServiceProps } from '../../lib/webhooks-service.js';
import { missingPermissions, type TemplateJson } from '../support/iam-contract.js';
import { committedPermissions, type FunctionName } from '../support/sdk-calls.js';

/*
 * Dedicated lanes (lib/webhooks-lanes.ts): a brand's own delivery queue, DLQ and event source mapping,
 * optionally its own rule and ingest queue, the handlers told where each lane is, the grants that lets
 * them use it, and the synth-time checks. Bundling is skipped: these tests read the template.
 */

const LANES: WebhooksServiceProps = {
  deliveryMaxConcurrency: 30,
  functions: { deliver: { reservedConcurrency: 80 } },
  dedicatedLanes: [
    { brand: 'big-brand', maxConcurrency: 20, ownIngest: true, ingestMaxConcurrency: 4 },
    { brand: 'busy.brand', maxConcurrency: 10 },
  ],
};

let app: App;
let stack: Stack;
let service: WebhooksService;
let template: Template;

beforeAll(() => {
  app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  stack = new Stack(app, 'Lanes');
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  service = new WebhooksService(stack, 'Webhooks', LANES);
  template = Template.fromStack(stack);
}, 120_000);

afterAll(() => {
  if (app) rmSync(app.outdir, { recursive: true, force: true });
});

function logicalId(construct: { node: { defaultChild?: unknown } }): string {
  const child = construct.node.defaultChild;
  if (!(child instanceof CfnElement)) throw new Error('construct has no CloudFormation resource');
  return stack.getLogicalId(child);
}

const lane = (brand: string) => {
  const found = service.lanes.find((candidate) => candidate.brand === brand);
  if (!found) throw new Error(`no lane for ${brand}`);
  return found;
};
/** The environment variables of a function in a template (as JSON). */
function variablesOf(json: TemplateJson, functionId: string): Record<string, unknown> {
  const environment = json.Resources[functionId]?.Properties?.Environment as
    | { Variables?: Record<string, unknown> }
    | undefined;
  return environment?.Variables ?? {};
}

const functions = () => ({
  api: service.apiFunction,
  route: service.routeFunction,
  deliver: service.deliverFunction,
});

describe('dedicated lanes', () => {
  it("gives each lane its own delivery queue and DLQ, and the deliver function a mapping on it with the lane's concurrency", () => {
    for (const [brand, concurrency] of [
      ['big-brand', 20],
      ['busy.brand', 10],
    ] as const) {
      const { queue, dlq } = lane(brand);
      template.hasResourceProperties('AWS::SQS::Queue', {
        RedrivePolicy: {
          deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(dlq), 'Arn'] },
          maxReceiveCount: 25,
        },
        VisibilityTimeout: QUEUES.delivery.visibilityTimeoutSeconds,
      });
      expect(logicalId(queue)).not.toBe(logicalId(service.deliveryQueue));
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [logicalId(queue), 'Arn'] },
        FunctionName: { Ref: logicalId(service.deliverFunction) },
        ScalingConfig: { MaximumConcurrency: concurrency },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
    }
    // The shared lane keeps deliveryMaxConcurrency; the deliver function reserves what all lanes may use.
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [logicalId(service.deliveryQueue), 'Arn'] },
      ScalingConfig: { MaximumConcurrency: 30 },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Signs and POSTs'),
      ReservedConcurrentExecutions: 80,
    });
  });

  it("tells route, deliver and the API where each brand's lane is, as JSON brand → queue URL", () => {
    for (const fn of Object.values(functions())) {
      const variables = variablesOf(template.toJSON() as TemplateJson, logicalId(fn));
      const resolved = JSON.stringify(stack.resolve(variables[ENV.dedicatedLanes]));
      expect(resolved).toContain('big-brand');
      expect(resolved).toContain(logicalId(lane('big-brand').queue));
      expect(resolved).toContain('busy.brand');
      expect(resolved).toContain(logicalId(lane('busy.brand').queue));
    }
    const authorizerVariables = variablesOf(
      template.toJSON() as TemplateJson,
      logicalId(service.authorizerFunction),
    );
    expect(authorizerVariables).not.toHaveProperty(ENV.dedicatedLanes);
  });

  it('grants on every lane queue what each function was recorded doing on the delivery queue (the IAM contract)', () => {
    const json = template.toJSON() as TemplateJson;
    for (const [name, fn] of Object.entries(functions()) as [FunctionName, WebhooksFunction][]) {
      const onDeliveryQueue = committedPermissions(name).filter(
        (permission) => permission.resource === ENV.deliveryQueueUrl,
      );
      expect(onDeliveryQueue.length, name).toBeGreaterThan(0);
      for (const { brand, queue } of service.lanes) {
        // The same template, with the function's delivery queue variable naming the lane's queue instead.
        const pointed = structuredClone(json);
        const variables = variablesOf(pointed, logicalId(fn));
        variables[ENV.deliveryQueueUrl] = { Ref: logicalId(queue) };
        expect(
          missingPermissions(pointed, logicalId(fn), onDeliveryQueue),
          `${name} on ${brand}'s lane`,
        ).toEqual([]);
      }
    }
  });

  it('gives a lane with ownIngest its own rule and ingest queue, consumed by route, and leaves the brand out of the shared rule', () => {
    const { ingest } = lane('big-brand');
    if (!ingest) throw new Error('big-brand has no ingest lane');
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['commbox'], detail: { brand: ['big-brand'] } },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [logicalId(ingest.queue), 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(ingest.dlq), 'Arn'] } },
        }),
      ],
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [logicalId(ingest.queue), 'Arn'] },
      FunctionName: { Ref: logicalId(service.routeFunction) },
      ScalingConfig: { MaximumConcurrency: 4 },
    });
    // The shared rule: every other brand, and events without one (route rejects those with their reason).
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['commbox'],
        detail: { $or: [{ brand: [{ 'anything-but': ['big-brand'] }] }, { brand: [{ exists: false }] }] },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [logicalId(service.ingestQueue), 'Arn'] } })],
    });
    expect(lane('busy.brand').ingest).toBeUndefined();
  });

  it("alarms on each lane's DLQ depth and queue age (its ingest queue's too), to the alarm topic, with a runbook section", () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
      (alarm) => alarm.Properties as { AlarmDescription: string; AlarmActions: unknown[] },
    );
    const of = (brand: string) => alarms.filter((alarm) => alarm.AlarmDescription.includes(`brand ${brand}`));
    expect(
      of('big-brand')
        .map((alarm) => /#([a-z-]+)$/.exec(alarm.AlarmDescription)?.[1])
        .sort(),
    ).toEqual(['delivery-dlq-depth', 'delivery-queue-age', 'ingest-dlq-depth', 'ingest-lag']);
    expect(of('busy.brand')).toHaveLength(2);
    expect(service.laneAlarms).toHaveLength(6);
    const topic = stack.resolve((service.alarmTopic as unknown as { topicArn: string }).topicArn);
    for (const alarm of [...of('big-brand'), ...of('busy.brand')])
      expect(alarm.AlarmActions).toEqual([topic]);
  });

  it('passes the AwsSolutions checks with lanes, acknowledging nothing new', () => {
    const report = JSON.parse(readFileSync(path.join(app.outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: {
        pluginName: string;
        conclusion: string;
        violations: unknown[];
        suppressedViolations: { acknowledgedId: string }[];
      }[];
    };
    const nag = report.pluginReports.find((plugin) => plugin.pluginName === 'AwsSolutions');
    expect(nag).toMatchObject({ conclusion: 'success', violations: [] });
    expect(new Set(nag?.suppressedViolations.map((finding) => finding.acknowledgedId))).toEqual(
      new Set(['AwsSolutions::AwsSolutions-IAM5[Resource::*]', 'AwsSolutions::AwsSolutions-APIG4']),
    );
  });

  it('adds nothing without lanes: one delivery mapping, no lane variable, no reservation', () => {
    const plainApp = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const plainStack = new Stack(plainApp, 'Plain');
    const plain = new WebhooksService(plainStack, 'Webhooks');
    const plainTemplate = Template.fromStack(plainStack);
    expect(plain.lanes).toEqual([]);
    plainTemplate.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
    plainTemplate.hasResourceProperties('AWS::Events::Rule', { EventPattern: { source: ['commbox'] } });
    for (const fn of Object.values(plainTemplate.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.Environment?.Variables ?? {}).not.toHaveProperty(ENV.dedicatedLanes);
      expect(fn.Properties).not.toHaveProperty('ReservedConcurrentExecutions');
    }
  });

  it.each([
    [
      'lanes that need more than the reserved concurrency',
      {
        deliveryMaxConcurrency: 50,
        functions: { deliver: { reservedConcurrency: 60 } },
        dedicatedLanes: [{ brand: 'big', maxConcurrency: 20 }],
      },
      /the delivery lanes may run 70 deliver invocations at once \(shared 50 \+ big 20\), more than functions.deliver.reservedConcurrency \(60\)/,
    ],
    [
      'a brand twice',
      {
        dedicatedLanes: [
          { brand: 'big', maxConcurrency: 2 },
          { brand: 'big', maxConcurrency: 3 },
        ],
      },
      /big has more than one lane/,
    ],
    [
      'a brand producers cannot send',
      { dedicatedLanes: [{ brand: 'big brand', maxConcurrency: 2 }] },
      /"big brand" is not a brand/,
    ],
    [
      'a lane concurrency of 1',
      { dedicatedLanes: [{ brand: 'big', maxConcurrency: 1 }] },
      /big's maxConcurrency must be a whole number from 2 to 1000/,
    ],
    [
      'an ingest lane concurrency above 1000',
      { dedicatedLanes: [{ brand: 'big', maxConcurrency: 2, ownIngest: true, ingestMaxConcurrency: 1001 }] },
      /big's ingestMaxConcurrency/,
    ],
    [
      'more than 20 lanes',
      {
        dedicatedLanes: Array.from({ length: 21 }, (_, index) => ({ brand: `b${index}`, maxConcurrency: 2 })),
      },
      /at most 20 lanes/,
    ],
    [
      'a reserved concurrency of 0',
      { functions: { deliver: { reservedConcurrency: 0 } } },
      /functions.deliver.reservedConcurrency must be a whole number/,
    ],
  ] satisfies [string, WebhooksServiceProps, RegExp][])('rejects %s at synth', (_name, props, message) => {
    const rejectStack = new Stack(new App(), 'Rejected');
    expect(() => new WebhooksService(rejectStack, 'Webhooks', props)).toThrow(message);
  });
});
