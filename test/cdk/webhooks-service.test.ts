import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { App, CfnElement, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES, routeKey } from '../../lambdas/api/routes.js';
import { ENV } from '../../lambdas/environment.js';
import { FUNCTIONS, QUEUES } from '../../lib/definitions.js';
import type { WebhooksFunction } from '../../lib/webhooks-function.js';
import { WebhooksService, type WebhooksServiceProps } from '../../lib/webhooks-service.js';
import { WebhooksStack } from '../../lib/webhooks-stack.js';

/*
 * Bundling runs esbuild for every function when the construct is created, so the default stack is
 * built and synthesized once and its template shared. The stack with custom props skips bundling
 * (`aws:cdk:bundling-stacks: []`); the rejection tests throw before any function exists.
 */

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

let app: App;
let stack: WebhooksStack;
let service: WebhooksService;
let template: Template;

// Four esbuild runs and a synth take several seconds; under load, more than the 10 s default.
beforeAll(() => {
  app = new App();
  stack = new WebhooksStack(app, 'TestWebhooks');
  service = stack.service;
  template = Template.fromStack(stack);
}, 120_000);

afterAll(() => {
  if (app) rmSync(app.outdir, { recursive: true, force: true });
});

function resources(type: string, from: Template = template): Record<string, Resource> {
  return from.findResources(type) as Record<string, Resource>;
}

function logicalId(construct: { node: { defaultChild?: unknown } }, inStack: Stack = stack): string {
  const child = construct.node.defaultChild;
  if (!(child instanceof CfnElement)) throw new Error('construct has no CloudFormation resource');
  return inStack.getLogicalId(child);
}

const getAtt = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
const actionsOf = (statement: Statement) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];

/** The function's properties in the template; throws when the template does not hold it. */
function functionProperties(fn: WebhooksFunction, from: Template = template, inStack: Stack = stack) {
  const resource = resources('AWS::Lambda::Function', from)[logicalId(fn, inStack)];
  if (!resource) throw new Error(`no function ${fn.node.path} in the template`);
  return resource.Properties as {
    Role: { 'Fn::GetAtt': [string, string] };
    Environment: { Variables: Record<string, unknown> };
  } & Record<string, unknown>;
}

/** The statements of the policies attached to the function's role. */
function statementsOf(fn: WebhooksFunction): Statement[] {
  const role = { Ref: functionProperties(fn).Role['Fn::GetAtt'][0] };
  const policies = Object.values(resources('AWS::IAM::Policy')).filter((policy) =>
    (policy.Properties.Roles as unknown[]).some(
      (candidate) => JSON.stringify(candidate) === JSON.stringify(role),
    ),
  );
  return policies.flatMap(
    (policy) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
  );
}

function environmentOf(fn: WebhooksFunction, from: Template = template, inStack: Stack = stack) {
  return functionProperties(fn, from, inStack).Environment.Variables;
}

const functionsByName = () =>
  ({
    api: service.apiFunction,
    authorizer: service.authorizerFunction,
    route: service.routeFunction,
    deliver: service.deliverFunction,
  }) as const;

describe('WebhooksService events and queues', () => {
  it('routes events whose source is commbox from the bus to the ingest queue, with the ingest DLQ behind the target', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: logicalId(service.eventBus) },
      EventPattern: { source: ['commbox'] },
      Targets: [
        Match.objectLike({
          Arn: getAtt(logicalId(service.ingestQueue)),
          DeadLetterConfig: { Arn: getAtt(logicalId(service.ingestDlq)) },
        }),
      ],
    });
    template.resourceCountIs('AWS::Events::Rule', 1);
  });

  it('gives every queue that is not a dead-letter queue a DLQ, and keeps dead letters for 14 days', () => {
    const queues = resources('AWS::SQS::Queue');
    const dlqIds = new Set(
      Object.values(queues).flatMap((queue) => {
        const redrive = queue.Properties.RedrivePolicy as { deadLetterTargetArn: { 'Fn::GetAtt': string[] } };
        return redrive ? [redrive.deadLetterTargetArn['Fn::GetAtt'][0]] : [];
      }),
    );
    expect(Object.keys(queues)).toHaveLength(4);
    expect(dlqIds).toEqual(new Set([logicalId(service.ingestDlq), logicalId(service.deliveryDlq)]));
    for (const [id, queue] of Object.entries(queues)) {
      if (dlqIds.has(id)) expect(queue.Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
      else expect(queue.Properties.RedrivePolicy).toBeDefined();
    }
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: QUEUES.ingest.visibilityTimeoutSeconds,
      RedrivePolicy: { maxReceiveCount: QUEUES.ingest.maxReceiveCount },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: QUEUES.delivery.visibilityTimeoutSeconds,
      RedrivePolicy: { maxReceiveCount: QUEUES.delivery.maxReceiveCount },
    });
  });

  it('encrypts every queue with SQS-managed keys and denies it any connection without TLS', () => {
    const queueIds = Object.keys(resources('AWS::SQS::Queue'));
    const tlsEnforced = new Set(
      Object.values(resources('AWS::SQS::QueuePolicy'))
        .filter((policy) =>
          (policy.Properties.PolicyDocument as { Statement: Array<Record<string, unknown>> }).Statement.some(
            (statement) =>
              statement.Effect === 'Deny' &&
              JSON.stringify(statement.Condition) ===
                JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }),
          ),
        )
        .flatMap((policy) => (policy.Properties.Queues as Array<{ Ref: string }>).map((queue) => queue.Ref)),
    );
    for (const id of queueIds) {
      expect(resources('AWS::SQS::Queue')[id]?.Properties.SqsManagedSseEnabled, id).toBe(true);
      expect(tlsEnforced.has(id), id).toBe(true);
    }
  });

  it('reports batch item failures on every event source mapping, with the batch settings from QUEUES', () => {
    const mappings = Object.values(resources('AWS::Lambda::EventSourceMapping'));
    expect(mappings).toHaveLength(2);
    for (const mapping of mappings) {
      expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    }
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: getAtt(logicalId(service.ingestQueue)),
      FunctionName: { Ref: logicalId(service.routeFunction) },
      BatchSize: QUEUES.ingest.batchSize,
      MaximumBatchingWindowInSeconds: QUEUES.ingest.maxBatchingWindowSeconds,
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: getAtt(logicalId(service.deliveryQueue)),
      FunctionName: { Ref: logicalId(service.deliverFunction) },
      BatchSize: QUEUES.delivery.batchSize,
      MaximumBatchingWindowInSeconds: QUEUES.delivery.maxBatchingWindowSeconds,
    });
  });
});

describe('WebhooksService table', () => {
  it('creates an on-demand table with point-in-time recovery, TTL on expiresAt, the gsi1 index and AWS-managed encryption', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      SSESpecification: { SSEEnabled: true },
      GlobalSecondaryIndexes: [
        {
          IndexName: 'gsi1',
          KeySchema: [
            { AttributeName: 'gsi1pk', KeyType: 'HASH' },
            { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
  });

  it('retains the table when the stack is deleted, because it holds customer data', () => {
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });
});

describe('WebhooksService functions', () => {
  it('runs every function on nodejs24.x on arm64 with active tracing and a log group kept for a month', () => {
    const functions = Object.values(resources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(4);
    for (const fn of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogGroup: { Ref: expect.any(String) } },
      });
    }
    const logGroups = Object.values(resources('AWS::Logs::LogGroup'));
    expect(logGroups).toHaveLength(4);
    for (const group of logGroups) expect(group.Properties.RetentionInDays).toBe(30);
  });

  it('takes memory and timeout of each function from FUNCTIONS', () => {
    for (const [name, fn] of Object.entries(functionsByName())) {
      const definition = FUNCTIONS[name as keyof typeof FUNCTIONS];
      expect(functionProperties(fn)).toMatchObject({
        MemorySize: definition.memoryMb,
        Timeout: definition.timeoutSeconds,
      });
    }
  });

  it('bundles every handler into a minified ES module with a source map and the createRequire banner', () => {
    for (const fn of Object.values(resources('AWS::Lambda::Function'))) {
      const key = (fn.Properties.Code as { S3Key: string }).S3Key;
      const assetDir = path.join(app.outdir, `asset.${key.replace(/\.zip$/, '')}`);
      const bundle = readFileSync(path.join(assetDir, 'index.mjs'), 'utf8');
      // Booleans, not the bundle: a failure should not print half a megabyte of minified code.
      expect(bundle.startsWith('import { createRequire as'), 'createRequire banner').toBe(true);
      expect(bundle.includes('const require = '), 'require shim').toBe(true);
      expect(/export\s*\{[^}]*\bhandler\b[^}]*\}/.test(bundle), 'exports handler').toBe(true);
      expect(existsSync(path.join(assetDir, 'index.mjs.map'))).toBe(true);
      // lib/bundle-aliases.ts: environment credentials only, not the SDK's default chain (SSO, STS, ...).
      expect(bundle.includes('Unable to find environment variable credentials'), 'fromEnv').toBe(true);
      expect(bundle.includes('Could not load credentials from any providers'), 'default chain').toBe(false);
      // node:http comes from process.getBuiltinModule: an ES import of it would load undici at start.
      expect(/from\s*"(node:)?http"/.test(bundle), 'ES import of node:http').toBe(false);
      expect(fn.Properties.Environment).toMatchObject({
        Variables: { NODE_OPTIONS: '--enable-source-maps', POWERTOOLS_SERVICE_NAME: 'commbox-webhooks' },
      });
    }
  });

  it('gives each function the environment its handler reads, and the authorizer only the table', () => {
    const tableRef = { Ref: logicalId(service.table) };
    const queueRef = { Ref: logicalId(service.deliveryQueue) };
    expect(environmentOf(service.authorizerFunction)).toEqual({
      POWERTOOLS_SERVICE_NAME: 'commbox-webhooks',
      NODE_OPTIONS: '--enable-source-maps',
      [ENV.tableName]: tableRef,
    });
    for (const fn of [service.apiFunction, service.routeFunction, service.deliverFunction]) {
      expect(environmentOf(fn)).toMatchObject({
        [ENV.tableName]: tableRef,
        [ENV.deliveryQueueUrl]: queueRef,
        [ENV.deliveryTimeoutMs]: '15000',
        [ENV.retentionDays]: '30',
        [ENV.disableAfterDays]: '5',
        [ENV.deliveryLog]: 'full',
        [ENV.maxSubscriptionsPerBrand]: '100',
      });
      expect(environmentOf(fn)).not.toHaveProperty(ENV.retrySchedule);
      expect(environmentOf(fn)).not.toHaveProperty(ENV.allowLocalTargets);
    }
    expect(environmentOf(service.deliverFunction)[ENV.eventBusName]).toEqual({
      Ref: logicalId(service.eventBus),
    });
    expect(environmentOf(service.apiFunction)).not.toHaveProperty(ENV.eventBusName);
  });
});

describe('WebhooksService permissions', () => {
  it('grants no IAM policy statement a wildcard action', () => {
    const policies = Object.values(resources('AWS::IAM::Policy'));
    expect(policies.length).toBeGreaterThanOrEqual(4);
    for (const policy of policies) {
      for (const statement of (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement) {
        for (const action of actionsOf(statement)) expect(action).not.toMatch(/(^\*$|:\*$)/);
      }
    }
  });

  it('gives the authorizer read-only access to the table and nothing else', () => {
    const actions = statementsOf(service.authorizerFunction).flatMap(actionsOf);
    const writes = [
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:BatchWriteItem',
    ];
    expect(actions).toContain('dynamodb:GetItem');
    for (const action of actions) {
      expect(writes).not.toContain(action);
      expect(action).toMatch(/^(dynamodb|xray):/);
    }
  });

  it('lets api and route send to the delivery queue, and neither consume it nor put events', () => {
    for (const fn of [service.apiFunction, service.routeFunction]) {
      const statements = statementsOf(fn);
      const deliveryQueue = statements.filter(
        (statement) =>
          JSON.stringify(statement.Resource) === JSON.stringify(getAtt(logicalId(service.deliveryQueue))),
      );
      expect(deliveryQueue.flatMap(actionsOf)).toContain('sqs:SendMessage');
      expect(deliveryQueue.flatMap(actionsOf)).not.toContain('sqs:ReceiveMessage');
      expect(statements.flatMap(actionsOf)).not.toContain('events:PutEvents');
    }
  });

  it('lets deliver change message visibility on the delivery queue and put events on this bus only', () => {
    const statements = statementsOf(service.deliverFunction);
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: 'sqs:ChangeMessageVisibility',
        Resource: getAtt(logicalId(service.deliveryQueue)),
      }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: 'events:PutEvents',
        Resource: getAtt(logicalId(service.eventBus)),
      }),
    );
    expect(statements.flatMap(actionsOf)).not.toContain('sqs:SendMessage');
  });

  it("denies every principal but the deliver function's role putting events with the service's own source", () => {
    template.hasResourceProperties('AWS::Events::EventBusPolicy', {
      EventBusName: { Ref: logicalId(service.eventBus) },
      Statement: {
        Sid: 'cdk-OnlyTheServicePutsItsOperationalEvents',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'events:PutEvents',
        Resource: getAtt(logicalId(service.eventBus)),
        Condition: {
          StringEquals: { 'events:source': 'commbox.webhooks' },
          ArnNotEquals: {
            'aws:PrincipalArn': {
              'Fn::GetAtt': [Match.stringLikeRegexp('^WebhooksDeliverServiceRole'), 'Arn'],
            },
          },
        },
      },
    });
  });
});

describe('WebhooksService HTTP API', () => {
  it('puts the authorizer on every authorized route and on no public one', () => {
    const routes = Object.values(resources('AWS::ApiGatewayV2::Route'));
    const authorizerId = Object.keys(resources('AWS::ApiGatewayV2::Authorizer'))[0];
    expect(routes).toHaveLength(API_ROUTES.length);
    for (const apiRoute of API_ROUTES) {
      const route = routes.find((candidate) => candidate.Properties.RouteKey === routeKey(apiRoute));
      expect(route, routeKey(apiRoute)).toBeDefined();
      if (apiRoute.authorized) {
        expect(route?.Properties, routeKey(apiRoute)).toMatchObject({
          AuthorizationType: 'CUSTOM',
          AuthorizerId: { Ref: authorizerId },
        });
      } else {
        expect(route?.Properties.AuthorizationType, routeKey(apiRoute)).toBe('NONE');
        expect(route?.Properties.AuthorizerId, routeKey(apiRoute)).toBeUndefined();
      }
    }
  });

  it('uses a simple-response authorizer on the Authorization header that never caches, so a revoked key stops at once', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      EnableSimpleResponses: true,
      AuthorizerResultTtlInSeconds: 0,
      IdentitySource: ['$request.header.Authorization'],
      AuthorizerUri: { 'Fn::Join': ['', Match.arrayWith([getAtt(logicalId(service.authorizerFunction))])] },
    });
  });

  it('throttles the default stage', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
    });
  });
});

describe('WebhooksService alarms and outputs', () => {
  it('raises alarms on DLQ depth, queue age and the errors of each function, without actions by default', () => {
    const alarms = Object.values(resources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(8);
    const byMetric = (name: string) => alarms.filter((alarm) => alarm.Properties.MetricName === name);
    expect(byMetric('ApproximateNumberOfMessagesVisible').map((alarm) => alarm.Properties)).toEqual([
      expect.objectContaining({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' }),
      expect.objectContaining({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' }),
    ]);
    expect(
      byMetric('ApproximateAgeOfOldestMessage')
        .map((alarm) => alarm.Properties.Threshold)
        .sort((a, b) => Number(a) - Number(b)),
    ).toEqual([5 * 60, 13 * 3600]);
    expect(byMetric('Errors')).toHaveLength(4);
    for (const alarm of byMetric('Errors')) {
      expect(alarm.Properties).toMatchObject({ Threshold: 1, Period: 300, Statistic: 'Sum' });
    }
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toBeUndefined();
  });

  it('outputs the API URL, the bus name, the table name and the queue URLs', () => {
    for (const name of [
      'ApiUrl',
      'EventBusName',
      'TableName',
      'IngestQueueUrl',
      'IngestDlqUrl',
      'DeliveryQueueUrl',
      'DeliveryDlqUrl',
    ]) {
      template.hasOutput(name, {});
    }
  });
});

describe('WebhooksService props', () => {
  // Bundling is skipped here: these tests read the template, not the bundles.
  const build = (props: WebhooksServiceProps, extra?: (stack: Stack) => WebhooksServiceProps) => {
    const customApp = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const customStack = new Stack(customApp, 'Custom');
    const built = new WebhooksService(customStack, 'Webhooks', { ...props, ...extra?.(customStack) });
    return { customStack, built, customTemplate: Template.fromStack(customStack) };
  };

  it('passes the configured delivery settings to the functions and notifies the alarm topic', () => {
    const { customStack, built, customTemplate } = build(
      {
        retrySchedule: [0, 60, 43_200],
        deliveryTimeout: Duration.seconds(5),
        retentionDays: 7,
        disableAfterDays: 2,
        deliveryLog: 'failures',
        maxSubscriptionsPerBrand: 250,
        tableRemovalPolicy: RemovalPolicy.DESTROY,
      },
      (scope) => ({
        eventBus: EventBus.fromEventBusName(scope, 'Existing', 'commbox-bus'),
        alarmTopic: new Topic(scope, 'Alarms'),
      }),
    );
    expect(environmentOf(built.deliverFunction, customTemplate, customStack)).toMatchObject({
      [ENV.retrySchedule]: '0,60,43200',
      [ENV.deliveryTimeoutMs]: '5000',
      [ENV.retentionDays]: '7',
      [ENV.disableAfterDays]: '2',
      [ENV.deliveryLog]: 'failures',
      [ENV.maxSubscriptionsPerBrand]: '250',
      [ENV.eventBusName]: 'commbox-bus',
    });
    customTemplate.resourceCountIs('AWS::Events::EventBus', 0);
    customTemplate.hasResourceProperties('AWS::Events::Rule', { EventBusName: 'commbox-bus' });
    customTemplate.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
    const topicRef = { Ref: Object.keys(customTemplate.findResources('AWS::SNS::Topic'))[0] };
    for (const alarm of Object.values(resources('AWS::CloudWatch::Alarm', customTemplate))) {
      expect(alarm.Properties.AlarmActions).toEqual([topicRef]);
      expect(alarm.Properties.OKActions).toEqual([topicRef]);
    }
  });

  it.each<[string, (stack: Stack) => WebhooksServiceProps, RegExp]>([
    [
      'an event bus together with a bus name',
      (scope) => ({ eventBus: new EventBus(scope, 'Bus'), eventBusName: 'other' }),
      /either eventBus or eventBusName/,
    ],
    ['an empty retry schedule', () => ({ retrySchedule: [] }), /at least one delay/],
    ['a retry delay above 12 hours', () => ({ retrySchedule: [0, 43_201] }), /43201/],
    ['a negative retry delay', () => ({ retrySchedule: [-1] }), /-1/],
    ['a fractional retry delay', () => ({ retrySchedule: [1.5] }), /1\.5/],
    ['more than 20 attempts', () => ({ retrySchedule: Array.from({ length: 21 }, () => 1) }), /at most 20/],
    [
      "a delivery timeout as long as the deliver function's",
      () => ({ deliveryTimeout: Duration.seconds(FUNCTIONS.deliver.timeoutSeconds) }),
      /deliveryTimeout/,
    ],
    ['zero retention days', () => ({ retentionDays: 0 }), /retentionDays/],
    ['a fractional disable-after', () => ({ disableAfterDays: 1.5 }), /disableAfterDays/],
    [
      'an unknown delivery log mode',
      () => ({ deliveryLog: 'none' as unknown as WebhooksServiceProps['deliveryLog'] }),
      /deliveryLog/,
    ],
    ['a subscription quota of zero', () => ({ maxSubscriptionsPerBrand: 0 }), /maxSubscriptionsPerBrand/],
  ])('rejects %s', (_name, props, message) => {
    const rejectStack = new Stack(new App(), 'Rejected');
    expect(() => new WebhooksService(rejectStack, 'Webhooks', props(rejectStack))).toThrow(message);
  });
});
