import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { App, CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES, CONSOLE_ROUTES, routeKey } from '../../lambdas/api/routes.js';
import { ENV } from '../../lambdas/environment.js';
import { FUNCTIONS, QUEUES } from '../../lib/definitions.js';
import type { WebhooksFunction } from '../../lib/webhooks-function.js';
import { WebhooksService, type WebhooksServiceProps } from '../../lib/webhooks-service.js';
import { WebhooksStack } from '../../lib/webhooks-stack.js';
import { missingPermissions, type TemplateJson } from '../support/iam-contract.js';
import { committedPermissions } from '../support/sdk-calls.js';

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
  // cdk-nag runs as a validation plugin when the template is synthesized: an unacknowledged finding
  // throws here, with the report (the test below reads the acknowledged ones).
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
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

const FUNCTION_NAMES = ['api', 'authorizer', 'route', 'deliver'] as const;

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
  });

  it('routes the operational events (source commbox.webhooks) to a queue a team consumes, with a DLQ behind the target', () => {
    const { operationalEvents } = service;
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: logicalId(service.eventBus) },
      EventPattern: { source: ['commbox.webhooks'] },
      Targets: [
        Match.objectLike({
          Arn: getAtt(logicalId(operationalEvents.queue)),
          DeadLetterConfig: { Arn: getAtt(logicalId(operationalEvents.dlq)) },
        }),
      ],
    });
    template.resourceCountIs('AWS::Events::Rule', 2);
    template.hasOutput('OperationalEventsQueueUrl', { Value: { Ref: logicalId(operationalEvents.queue) } });
  });

  it('gives every queue that is not a dead-letter queue a DLQ, and keeps dead letters for 14 days', () => {
    const queues = resources('AWS::SQS::Queue');
    const dlqIds = new Set(
      Object.values(queues).flatMap((queue) => {
        const redrive = queue.Properties.RedrivePolicy as { deadLetterTargetArn: { 'Fn::GetAtt': string[] } };
        return redrive ? [redrive.deadLetterTargetArn['Fn::GetAtt'][0]] : [];
      }),
    );
    expect(Object.keys(queues)).toHaveLength(6);
    expect(dlqIds).toEqual(
      new Set([
        logicalId(service.ingestDlq),
        logicalId(service.deliveryDlq),
        logicalId(service.operationalEvents.dlq),
      ]),
    );
    for (const [id, queue] of Object.entries(queues)) {
      if (dlqIds.has(id)) {
        expect(queue.Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
      } else {
        expect(queue.Properties.RedrivePolicy).toBeDefined();
        // SQS expires a dead letter by its first send: the DLQ must keep it longer than its source did.
        const dlqId = (queue.Properties.RedrivePolicy as { deadLetterTargetArn: { 'Fn::GetAtt': string[] } })
          .deadLetterTargetArn['Fn::GetAtt'][0] as string;
        expect(Number(queue.Properties.MessageRetentionPeriod)).toBeLessThan(
          Number(queues[dlqId]?.Properties.MessageRetentionPeriod),
        );
      }
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
    // Bounded, so the delivery path cannot take the concurrency the API's functions need.
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId(service.routeFunction) },
      ScalingConfig: { MaximumConcurrency: 16 },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId(service.deliverFunction) },
      ScalingConfig: { MaximumConcurrency: 50 },
    });
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

  it('retains the table when the stack is deleted and protects it from deletion, because it holds customer data', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
    });
  });

  it('archives the events the ingest rule routes for 30 days, so the bus can be replayed', () => {
    template.resourceCountIs('AWS::Events::Archive', 1);
    template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: getAtt(logicalId(service.eventBus)),
      EventPattern: { source: ['commbox'] },
      RetentionDays: 30,
    });
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
    // Four function groups and the API's access logs.
    const logGroups = Object.values(resources('AWS::Logs::LogGroup'));
    expect(logGroups).toHaveLength(5);
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

  it("puts the console's built files beside the API bundle only, where lambdas/api/console.ts reads them", () => {
    const assetDirOf = (fn: WebhooksFunction) => {
      const key = (functionProperties(fn).Code as { S3Key: string }).S3Key;
      return path.join(app.outdir, `asset.${key.replace(/\.zip$/, '')}`);
    };
    const consoleDir = path.join(assetDirOf(service.apiFunction), 'console');
    expect(readdirSync(consoleDir).sort()).toEqual(['console.css', 'console.js', 'icon.svg', 'index.html']);
    expect(readFileSync(path.join(consoleDir, 'index.html'), 'utf8')).toContain('/console/console.js');
    expect(existsSync(path.join(assetDirOf(service.routeFunction), 'console'))).toBe(false);
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
      // The local runtime's emulators stay out of the deployed code.
      expect(/dynalite|fauxqs/.test(bundle), 'local-runtime packages').toBe(false);
      // node:http comes from process.getBuiltinModule: an ES import of it would load undici at start.
      expect(/from\s*"(node:)?http"/.test(bundle), 'ES import of node:http').toBe(false);
      expect(fn.Properties.Environment).toMatchObject({
        Variables: { NODE_OPTIONS: '--enable-source-maps', POWERTOOLS_SERVICE_NAME: 'commbox-webhooks' },
      });
    }
  });

  it("keeps the authorizer's bundle free of the validation library: it runs on every request", () => {
    const key = (functionProperties(service.authorizerFunction).Code as { S3Key: string }).S3Key;
    const bundle = readFileSync(
      path.join(app.outdir, `asset.${key.replace(/\.zip$/, '')}`, 'index.mjs'),
      'utf8',
    );
    expect(bundle.includes('ZodError'), 'zod in the authorizer').toBe(false);
    expect(bundle.includes('cbs_'), 'console sessions in the authorizer').toBe(true);
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
    // Failed records are logged at ERROR on the last receive before their DLQ.
    expect(environmentOf(service.routeFunction).MAX_RECEIVE_COUNT).toBe(
      String(QUEUES.ingest.maxReceiveCount),
    );
    expect(environmentOf(service.deliverFunction).MAX_RECEIVE_COUNT).toBe(
      String(QUEUES.delivery.maxReceiveCount),
    );
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
      expect(action).toMatch(/^(dynamodb|xray|logs):/);
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

  it('lets deliver send delivery messages (a retry is a new message), and put events on this bus only', () => {
    const statements = statementsOf(service.deliverFunction);
    const deliveryQueueArn = getAtt(logicalId(service.deliveryQueue));
    expect(statements).toContainEqual(
      expect.objectContaining({ Action: 'sqs:SendMessage', Resource: deliveryQueueArn }),
    );
    // No grant of its own to hold a received message back: only the event source mapping's consumption.
    expect(statements).not.toContainEqual(expect.objectContaining({ Action: 'sqs:ChangeMessageVisibility' }));
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: 'events:PutEvents',
        Resource: getAtt(logicalId(service.eventBus)),
      }),
    );
  });
});

describe('WebhooksService IAM contract', () => {
  const templateJson = () => template.toJSON() as TemplateJson;

  it.each(FUNCTION_NAMES)(
    'allows %s every command its handler tests recorded, on the resource and partition it targets',
    (name) => {
      const recorded = committedPermissions(name);
      expect(recorded.length, `test/cdk/sdk-calls/${name}.json`).toBeGreaterThan(0);
      expect(missingPermissions(templateJson(), logicalId(functionsByName()[name]), recorded)).toEqual([]);
    },
  );

  it('reports a permission as missing once its grant is removed from the template', () => {
    const broken = structuredClone(templateJson());
    const deliverRole = functionProperties(service.deliverFunction).Role['Fn::GetAtt'][0];
    for (const resource of Object.values(broken.Resources)) {
      if (
        resource.Type !== 'AWS::IAM::Policy' ||
        !JSON.stringify(resource.Properties?.Roles).includes(deliverRole)
      )
        continue;
      const document = resource.Properties?.PolicyDocument as { Statement: Statement[] };
      document.Statement = document.Statement.filter(
        (statement) => !actionsOf(statement).includes('sqs:SendMessage'),
      );
    }
    const missing = missingPermissions(
      broken,
      logicalId(service.deliverFunction),
      committedPermissions('deliver'),
    );
    expect(missing).toEqual([
      'sqs:SendMessage on DELIVERY_QUEUE_URL, sent by SendMessageBatchCommand: not allowed',
    ]);
  });

  it('reports a permission as missing when the partition it writes is outside the LeadingKeys condition', () => {
    const offPartition = {
      command: 'PutCommand',
      action: 'dynamodb:PutItem',
      resource: 'TABLE_NAME',
      leadingKey: 'APIKEY#',
    };
    const allowed = { ...offPartition, leadingKey: 'EVENT#' };
    const missing = missingPermissions(templateJson(), logicalId(service.routeFunction), [
      offPartition,
      allowed,
    ]);
    expect(missing).toEqual([
      'dynamodb:PutItem on TABLE_NAME (pk APIKEY#…), sent by PutCommand: not allowed',
    ]);
  });

  it('grants no function Scan, and only the api DeleteItem', () => {
    for (const [name, fn] of Object.entries(functionsByName())) {
      const actions = statementsOf(fn).flatMap(actionsOf);
      expect(actions, name).not.toContain('dynamodb:Scan');
      if (name !== 'api') expect(actions, name).not.toContain('dynamodb:DeleteItem');
    }
  });

  it("scopes log writing to the function's own log group and attaches no managed policy", () => {
    for (const [name, fn] of Object.entries(functionsByName())) {
      const logStatements = statementsOf(fn).filter((statement) =>
        actionsOf(statement).some((a) => a.startsWith('logs:')),
      );
      expect(logStatements, name).toEqual([
        expect.objectContaining({
          Resource: getAtt(logicalId(fn.functionLogGroup)),
        }),
      ]);
      const roleId = functionProperties(fn).Role['Fn::GetAtt'][0];
      expect(resources('AWS::IAM::Role')[roleId]?.Properties.ManagedPolicyArns, name).toBeUndefined();
    }
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
              'Fn::GetAtt': [Match.stringLikeRegexp('^WebhooksDeliverRole'), 'Arn'],
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
    expect(routes).toHaveLength(API_ROUTES.length + CONSOLE_ROUTES.length);
    for (const apiRoute of [...API_ROUTES, ...CONSOLE_ROUTES]) {
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

  it('writes one JSON access log line per request to a retained log group, without headers', () => {
    const stage = Object.values(resources('AWS::ApiGatewayV2::Stage'))[0];
    const settings = stage?.Properties.AccessLogSettings as { DestinationArn: unknown; Format: string };
    expect(settings.DestinationArn).toEqual(getAtt(logicalId(service.apiAccessLogGroup)));
    expect(JSON.parse(settings.Format)).toMatchObject({
      requestId: '$context.requestId',
      status: '$context.status',
      brand: '$context.authorizer.brand',
      keyId: '$context.authorizer.keyId',
      credential: '$context.authorizer.credential',
    });
    expect(settings.Format).not.toMatch(/header|authorization/i);
    expect(resources('AWS::Logs::LogGroup')[logicalId(service.apiAccessLogGroup)]?.DeletionPolicy).toBe(
      'Retain',
    );
  });

  it('throttles the default stage', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
    });
  });
});

describe('WebhooksService cdk-nag', () => {
  interface NagReport {
    pluginReports: Array<{
      pluginName: string;
      conclusion: string;
      violations: unknown[];
      suppressedViolations: Array<{ acknowledgedId: string; reason: string; violatingConstructs: unknown[] }>;
    }>;
  }

  it('passes the AwsSolutions checks, every acknowledged finding with its reason', () => {
    const report = JSON.parse(
      readFileSync(path.join(app.outdir, 'validation-report.json'), 'utf8'),
    ) as NagReport;
    const nag = report.pluginReports.find((plugin) => plugin.pluginName === 'AwsSolutions');
    expect(nag).toMatchObject({ conclusion: 'success', violations: [] });
    const acknowledged = nag?.suppressedViolations ?? [];
    for (const finding of acknowledged)
      expect(finding.reason.length, finding.acknowledgedId).toBeGreaterThan(40);
    // A new acknowledgement is a decision: it shows up here, in review.
    expect(new Set(acknowledged.map((finding) => finding.acknowledgedId))).toEqual(
      new Set(['AwsSolutions::AwsSolutions-IAM5[Resource::*]', 'AwsSolutions::AwsSolutions-APIG4']),
    );
  });
});

describe('WebhooksService alarms and outputs', () => {
  it('raises alarms on DLQ depth, queue age, API 5xx, and the errors and throttles of each function', () => {
    const alarms = Object.values(resources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(13);
    const byMetric = (name: string) => alarms.filter((alarm) => alarm.Properties.MetricName === name);
    expect(byMetric('ApproximateNumberOfMessagesVisible').map((alarm) => alarm.Properties)).toEqual([
      expect.objectContaining({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' }),
      expect.objectContaining({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' }),
    ]);
    expect(byMetric('Errors')).toHaveLength(4);
    for (const alarm of byMetric('Errors')) {
      expect(alarm.Properties).toMatchObject({ Threshold: 1, Period: 300, Statistic: 'Sum' });
    }
    expect(byMetric('Throttles')).toHaveLength(4);
    expect(byMetric('5xx')).toEqual([
      expect.objectContaining({ Properties: expect.objectContaining({ Threshold: 5, Period: 300 }) }),
    ]);
  });

  it('sets the queue-age thresholds from the first send: ingest after 10 minutes, deliveries after their whole schedule', () => {
    const ageThreshold = (queue: unknown) =>
      Object.values(resources('AWS::CloudWatch::Alarm')).find(
        (alarm) =>
          alarm.Properties.MetricName === 'ApproximateAgeOfOldestMessage' &&
          JSON.stringify(alarm.Properties.Dimensions).includes(JSON.stringify(queue)),
      )?.Properties.Threshold;
    expect(ageThreshold({ 'Fn::GetAtt': [logicalId(service.ingestQueue), 'QueueName'] })).toBe(10 * 60);
    // 0 + 5 s + 5 min + 30 min + 2 h + 5 h + 10 h + 10 h, plus one hour.
    expect(ageThreshold({ 'Fn::GetAtt': [logicalId(service.deliveryQueue), 'QueueName'] })).toBe(
      99_305 + 3600,
    );
  });

  it('sends every alarm, and its recovery, to the alarm topic it creates, which refuses plain HTTP', () => {
    const topicRef = { Ref: logicalId(service.alarmTopic as Topic) };
    for (const alarm of Object.values(resources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toEqual([topicRef]);
      expect(alarm.Properties.OKActions).toEqual([topicRef]);
      expect(alarm.Properties.AlarmDescription).toMatch(/Runbook: docs\/RUNBOOK\.md#[a-z0-9-]+$/);
    }
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('has a runbook section for every alarm its descriptions point to', () => {
    const runbook = readFileSync(path.join(import.meta.dirname, '..', '..', 'docs', 'RUNBOOK.md'), 'utf8');
    const anchors = new Set(
      [...runbook.matchAll(/^## (.+)$/gm)].map((match) =>
        (match[1] ?? '')
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    for (const alarm of Object.values(resources('AWS::CloudWatch::Alarm'))) {
      const anchor = /#([a-z0-9-]+)$/.exec(String(alarm.Properties.AlarmDescription))?.[1];
      expect(anchors.has(anchor ?? ''), `docs/RUNBOOK.md#${anchor}`).toBe(true);
    }
    expect(runbook).toContain('aws sqs start-message-move-task');
  });

  it('outputs the API URL, the bus name, the table name, the queue URLs, the DLQ ARNs and the alarm topic', () => {
    for (const name of [
      'ApiUrl',
      'EventBusName',
      'TableName',
      'IngestQueueUrl',
      'IngestDlqUrl',
      'DeliveryQueueUrl',
      'DeliveryDlqUrl',
      'IngestDlqArn',
      'DeliveryDlqArn',
      'AlarmTopicArn',
      'EventBusArn',
      'IngestArchiveArn',
      'IngestRuleArn',
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
        archiveRetention: Duration.days(7),
      },
      (scope) => ({
        eventBus: EventBus.fromEventBusName(scope, 'Existing', 'commbox-bus'),
        alarmTopic: new Topic(scope, 'Alarms'),
        alarmEmails: ['oncall@example.com'],
        operationalEventsTopic: new Topic(scope, 'OperationsTopic'),
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
    customTemplate.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
    });
    customTemplate.hasResourceProperties('AWS::Events::Archive', { RetentionDays: 7 });
    customTemplate.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['commbox.webhooks'] },
      Targets: Match.arrayWith([
        Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('OperationsTopic') } }),
      ]),
    });
    customTemplate.resourceCountIs('AWS::SNS::Topic', 2);
    const topicRef = { Ref: logicalId(built.alarmTopic as Topic, customStack) };
    for (const alarm of Object.values(resources('AWS::CloudWatch::Alarm', customTemplate))) {
      expect(alarm.Properties.AlarmActions).toEqual([topicRef]);
      expect(alarm.Properties.OKActions).toEqual([topicRef]);
    }
    // The delivery age threshold follows the configured schedule: 0 + 60 s + 12 h, plus one hour.
    customTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Threshold: 43_260 + 3600,
    });
    customTemplate.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
    // A second synth (without bundling): seconds, more when the machine is busy.
  }, 60_000);

  it("sets each function's memory, timeout and reserved concurrency, and its queue's visibility timeout from it", () => {
    const { customStack, built, customTemplate } = build({
      functions: {
        api: { memorySize: 1024 },
        authorizer: { reservedConcurrency: 20 },
        route: { timeout: Duration.minutes(1) },
        deliver: { memorySize: 256, timeout: Duration.minutes(2), reservedConcurrency: 60 },
      },
      deliveryTimeout: Duration.seconds(100),
    });
    const props = (fn: WebhooksFunction) => functionProperties(fn, customTemplate, customStack);
    expect(props(built.apiFunction)).toMatchObject({
      MemorySize: 1024,
      Timeout: FUNCTIONS.api.timeoutSeconds,
    });
    expect(props(built.apiFunction)).not.toHaveProperty('ReservedConcurrentExecutions');
    expect(props(built.authorizerFunction)).toMatchObject({
      MemorySize: FUNCTIONS.authorizer.memoryMb,
      ReservedConcurrentExecutions: 20,
    });
    expect(props(built.routeFunction)).toMatchObject({ MemorySize: FUNCTIONS.route.memoryMb, Timeout: 60 });
    expect(props(built.deliverFunction)).toMatchObject({
      MemorySize: 256,
      Timeout: 120,
      ReservedConcurrentExecutions: 60,
    });
    expect(environmentOf(built.deliverFunction, customTemplate, customStack)[ENV.deliveryTimeoutMs]).toBe(
      '100000',
    );
    // Six times the consumer's timeout when that exceeds the definition's visibility timeout.
    const queues = resources('AWS::SQS::Queue', customTemplate);
    expect(queues[logicalId(built.ingestQueue, customStack)]?.Properties.VisibilityTimeout).toBe(360);
    expect(queues[logicalId(built.deliveryQueue, customStack)]?.Properties.VisibilityTimeout).toBe(720);
  }, 60_000);

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
    ['a mapping concurrency of 1', () => ({ deliveryMaxConcurrency: 1 }), /deliveryMaxConcurrency/],
    ['a mapping concurrency above 1000', () => ({ ingestMaxConcurrency: 1001 }), /ingestMaxConcurrency/],
    ['a fractional disable-after', () => ({ disableAfterDays: 1.5 }), /disableAfterDays/],
    [
      'an unknown delivery log mode',
      () => ({ deliveryLog: 'none' as unknown as WebhooksServiceProps['deliveryLog'] }),
      /deliveryLog/,
    ],
    ['a subscription quota of zero', () => ({ maxSubscriptionsPerBrand: 0 }), /maxSubscriptionsPerBrand/],
    ['64 MB of memory', () => ({ functions: { route: { memorySize: 64 } } }), /functions\.route\.memorySize/],
    [
      'an api timeout above the HTTP API integration timeout',
      () => ({ functions: { api: { timeout: Duration.seconds(31) } } }),
      /functions\.api\.timeout .*1 to 30/,
    ],
    [
      'a timeout of a fraction of a second',
      () => ({ functions: { deliver: { timeout: Duration.millis(1500) } } }),
      /functions\.deliver\.timeout/,
    ],
    [
      'a timeout above 15 minutes',
      () => ({ functions: { route: { timeout: Duration.minutes(16) } } }),
      /functions\.route\.timeout .*1 to 900/,
    ],
    [
      "a delivery timeout as long as a configured deliver function's",
      () => ({
        functions: { deliver: { timeout: Duration.seconds(20) } },
        deliveryTimeout: Duration.seconds(20),
      }),
      /deliveryTimeout.*20 s/,
    ],
    [
      'a reserved concurrency of zero',
      () => ({ functions: { authorizer: { reservedConcurrency: 0 } } }),
      /functions\.authorizer\.reservedConcurrency/,
    ],
    [
      "deliver's reserved concurrency below its mapping's maximum concurrency",
      () => ({ functions: { deliver: { reservedConcurrency: 40 } } }),
      /functions\.deliver\.reservedConcurrency .*deliveryMaxConcurrency \(50\)/,
    ],
  ])('rejects %s', (_name, props, message) => {
    const rejectStack = new Stack(new App(), 'Rejected');
    expect(() => new WebhooksService(rejectStack, 'Webhooks', props(rejectStack))).toThrow(message);
  });
});
