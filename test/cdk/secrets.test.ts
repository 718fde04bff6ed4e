import { rmSync } from 'node:fs';
import { App, CfnElement, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { SECRETS_ENCRYPTION_CONTEXT } from '../../lambdas/adapters/kms-data-keys.js';
import { ENV } from '../../lambdas/environment.js';
import { WebhooksService, type WebhooksServiceProps } from '../../lib/webhooks-service.js';

/*
 * Secrets at rest in the synthesized stack: a customer-managed key with rotation, usable only by the
 * functions that write secrets (api) or sign with them (deliver), only under the service's encryption
 * context. Bundling is skipped: these tests read the template, not the bundles. A synth takes seconds
 * on a busy machine, hence the longer timeout of the tests that build their own.
 */

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
const apps: App[] = [];

afterAll(() => {
  for (const app of apps) rmSync(app.outdir, { recursive: true, force: true });
});

function build(props: (scope: Stack) => WebhooksServiceProps = () => ({})) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  apps.push(app);
  const stack = new Stack(app, 'Secrets', { env: { account: '111122223333', region: 'eu-west-1' } });
  const service = new WebhooksService(stack, 'Webhooks', props(stack));
  const template = Template.fromStack(stack);

  const logicalId = (construct: { node: { defaultChild?: unknown } }) => {
    const child = construct.node.defaultChild;
    if (!(child instanceof CfnElement)) throw new Error('construct has no CloudFormation resource');
    return stack.getLogicalId(child);
  };
  const functionOf = (fn: LambdaFunction) => {
    const resource = template.findResources('AWS::Lambda::Function')[logicalId(fn)];
    if (!resource) throw new Error(`no function ${fn.node.path}`);
    return resource.Properties as {
      Role: { 'Fn::GetAtt': [string, string] };
      Environment: { Variables: Record<string, unknown> };
    };
  };
  const statementsOf = (fn: LambdaFunction): Statement[] => {
    const role = JSON.stringify({ Ref: functionOf(fn).Role['Fn::GetAtt'][0] });
    return Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy) => (policy.Properties.Roles as unknown[]).some((r) => JSON.stringify(r) === role))
      .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
  };
  const kmsStatementsOf = (fn: LambdaFunction) =>
    statementsOf(fn).filter((statement) => actionsOf(statement).some((action) => action.startsWith('kms:')));
  return {
    stack,
    service,
    template,
    logicalId,
    environmentOf: (fn: LambdaFunction) => functionOf(fn).Environment.Variables,
    kmsStatementsOf,
  };
}

const actionsOf = (statement: Statement) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];

const inServiceContext = {
  StringEquals: { 'kms:EncryptionContext:purpose': SECRETS_ENCRYPTION_CONTEXT.purpose },
};

describe('WebhooksService secrets at rest', () => {
  const built = build();
  const { service, template } = built;
  const keyArn = { 'Fn::GetAtt': [built.logicalId(service.secretsKey as Key), 'Arn'] };

  it('creates a customer-managed key with automatic rotation, kept with the table by default', () => {
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResource('AWS::KMS::Key', {
      Properties: { EnableKeyRotation: true },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('lets the API generate and decrypt data keys, only for this key and the service encryption context', () => {
    expect(built.kmsStatementsOf(service.apiFunction)).toEqual([
      {
        Effect: 'Allow',
        Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
        Resource: keyArn,
        Condition: inServiceContext,
      },
    ]);
  });

  it('lets deliver decrypt data keys, and not generate them', () => {
    expect(built.kmsStatementsOf(service.deliverFunction)).toEqual([
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: keyArn, Condition: inServiceContext },
    ]);
  });

  it('gives route and the authorizer no use of the key at all', () => {
    for (const fn of [service.routeFunction, service.authorizerFunction]) {
      expect(built.kmsStatementsOf(fn)).toEqual([]);
      expect(built.environmentOf(fn)).not.toHaveProperty(ENV.secretsKmsKeyId);
    }
  });

  it('tells the API and deliver which key to use', () => {
    for (const fn of [service.apiFunction, service.deliverFunction]) {
      expect(built.environmentOf(fn)[ENV.secretsKmsKeyId]).toEqual(keyArn);
    }
  });

  it('leaves the key policy to the account, so that only the IAM grants above decide who uses it', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'kms:*',
            Principal: { AWS: Match.anyValue() },
            Resource: '*',
          }),
        ]),
      },
    });
    const keyPolicy = JSON.stringify(template.findResources('AWS::KMS::Key'));
    expect(keyPolicy).toContain(':root');
    expect(keyPolicy).not.toMatch(/ApiServiceRole|DeliverServiceRole|RouteServiceRole/);
  });
});

describe('WebhooksService secrets key props', { timeout: 30_000 }, () => {
  it('uses a key passed in instead of creating one', () => {
    const built = build((scope) => ({
      secretsKey: Key.fromKeyArn(
        scope,
        'Existing',
        'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      ),
    }));

    built.template.resourceCountIs('AWS::KMS::Key', 0);
    expect(built.environmentOf(built.service.deliverFunction)[ENV.secretsKmsKeyId]).toBe(
      'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    );
    expect(built.kmsStatementsOf(built.service.deliverFunction)).toEqual([
      expect.objectContaining({
        Action: 'kms:Decrypt',
        Resource: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      }),
    ]);
  });

  it('removes a new key with the table when the table is not retained', () => {
    const built = build(() => ({ tableRemovalPolicy: RemovalPolicy.DESTROY }));

    built.template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete' });
  });
});
