import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, expect } from 'vitest';
import { documentClient, eventBridgeClient, sqsClient } from '../../lambdas/commons/clients.js';

/*
 * The recording half of the IAM contract (the checking half is test/support/iam-contract.ts, run by
 * test/cdk/webhooks-service.test.ts against the synthesized template).
 *
 * A handler test calls recordSdkCalls('<function>') once: every command its handler sends through the
 * container's SDK clients (lambdas/commons/clients.ts, the very clients the deployed function uses) is
 * turned into the IAM permissions it needs: action, the environment variable that named the target
 * (TABLE_NAME, DELIVERY_QUEUE_URL, EVENT_BUS_NAME, ...) and, for DynamoDB, the partition key prefix. When
 * the file is done, every permission recorded must be in test/cdk/sdk-calls/<function>.json; the CDK
 * test checks each one of that file against the function's role. A new command therefore fails here
 * until the file is updated (`UPDATE_SDK_CALLS=1 npx vitest run test/unit/handlers`), and then fails the
 * CDK test until the stack grants it.
 */

export type FunctionName = 'api' | 'authorizer' | 'route' | 'deliver';

/** One permission a function needs, as recorded from one command. */
export interface RequiredPermission {
  /** The SDK command, for the reader. */
  readonly command: string;
  /** The IAM action, e.g. `dynamodb:PutItem`. */
  readonly action: string;
  /** The environment variable whose value named the target, with `/index/<name>` for an index. */
  readonly resource: string;
  /** DynamoDB: the partition key up to its first `#` (what `dynamodb:LeadingKeys` sees). */
  readonly leadingKey?: string;
}

const SDK_CALLS_DIR = path.join(import.meta.dirname, '..', 'cdk', 'sdk-calls');

export function sdkCallsFile(name: FunctionName): string {
  return path.join(SDK_CALLS_DIR, `${name}.json`);
}

/** The permissions committed for a function (what the CDK test checks against its role). */
export function committedPermissions(name: FunctionName): RequiredPermission[] {
  return JSON.parse(readFileSync(sdkCallsFile(name), 'utf8')) as RequiredPermission[];
}

type Input = Record<string, unknown>;
type Key = Record<string, unknown> | undefined;

const DOCUMENT_ACTIONS: Readonly<Record<string, string>> = {
  GetCommand: 'dynamodb:GetItem',
  PutCommand: 'dynamodb:PutItem',
  UpdateCommand: 'dynamodb:UpdateItem',
  DeleteCommand: 'dynamodb:DeleteItem',
  QueryCommand: 'dynamodb:Query',
  ScanCommand: 'dynamodb:Scan',
  BatchGetCommand: 'dynamodb:BatchGetItem',
  BatchWriteCommand: 'dynamodb:BatchWriteItem',
};

/** TransactWriteItems is authorized per item, by the action each item performs. */
const TRANSACT_ACTIONS: Readonly<Record<string, string>> = {
  Put: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
  ConditionCheck: 'dynamodb:ConditionCheckItem',
};

const QUEUE_ACTIONS: Readonly<Record<string, string>> = {
  SendMessageCommand: 'sqs:SendMessage',
  SendMessageBatchCommand: 'sqs:SendMessage',
  ChangeMessageVisibilityCommand: 'sqs:ChangeMessageVisibility',
  ChangeMessageVisibilityBatchCommand: 'sqs:ChangeMessageVisibility',
  DeleteMessageCommand: 'sqs:DeleteMessage',
  DeleteMessageBatchCommand: 'sqs:DeleteMessage',
};

/** The environment variable holding `value` at the time of the call, or `?<value>` when none does. */
function resourceOf(value: unknown): string {
  const names = Object.keys(process.env)
    .filter((name) => /^[A-Z][A-Z0-9_]*$/.test(name) && !name.startsWith('AWS_'))
    .filter((name) => process.env[name] === value)
    .sort();
  return names[0] ?? `?${String(value)}`;
}

function leadingKeyOf(key: Key, attribute = 'pk'): string {
  const value = String(key?.[attribute] ?? '');
  const hash = value.indexOf('#');
  return hash >= 0 ? value.slice(0, hash + 1) : value;
}

/** The partition key value a Query names: `<pk name> = :placeholder` at the start of its key condition. */
function queriedKey(input: Input): Key {
  const expression = String(input.KeyConditionExpression ?? '');
  const match = /^\s*(#?\w+)\s*=\s*(:\w+)/.exec(expression);
  if (!match?.[1] || !match[2]) return undefined;
  const names = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
  const attribute = match[1].startsWith('#') ? (names[match[1]] ?? match[1]) : match[1];
  const values = (input.ExpressionAttributeValues ?? {}) as Record<string, unknown>;
  return { [attribute]: values[match[2]] };
}

function documentPermissions(command: string, input: Input): RequiredPermission[] {
  const table = (name: unknown, index?: unknown) =>
    `${resourceOf(name)}${index === undefined ? '' : `/index/${String(index)}`}`;
  if (command === 'TransactWriteCommand') {
    const items = (input.TransactItems ?? []) as Record<string, Input>[];
    return items.flatMap((item) =>
      Object.entries(item).map(([kind, request]) => ({
        command,
        action: TRANSACT_ACTIONS[kind] ?? `?transact:${kind}`,
        resource: table(request.TableName),
        leadingKey: leadingKeyOf((request.Item ?? request.Key) as Key),
      })),
    );
  }
  const action = DOCUMENT_ACTIONS[command] ?? `?dynamodb:${command}`;
  if (command === 'BatchGetCommand' || command === 'BatchWriteCommand') {
    const requests = (input.RequestItems ?? {}) as Record<string, unknown>;
    return Object.entries(requests).flatMap(([tableName, request]) => {
      const keys: Key[] = Array.isArray(request)
        ? request.map(
            (write: Record<string, Input>) => (write.PutRequest?.Item ?? write.DeleteRequest?.Key) as Key,
          )
        : (((request as Input).Keys ?? []) as Key[]);
      return keys.map((key) => ({
        command,
        action,
        resource: table(tableName),
        leadingKey: leadingKeyOf(key),
      }));
    });
  }
  if (command === 'QueryCommand') {
    const key = queriedKey(input);
    const attribute = Object.keys(key ?? {})[0];
    return [
      {
        command,
        action,
        resource: table(input.TableName, input.IndexName),
        leadingKey: leadingKeyOf(key, attribute),
      },
    ];
  }
  return [
    {
      command,
      action,
      resource: table(input.TableName),
      leadingKey: leadingKeyOf((input.Item ?? input.Key) as Key),
    },
  ];
}

function queuePermissions(command: string, input: Input): RequiredPermission[] {
  return [
    { command, action: QUEUE_ACTIONS[command] ?? `?sqs:${command}`, resource: resourceOf(input.QueueUrl) },
  ];
}

function eventPermissions(command: string, input: Input): RequiredPermission[] {
  if (command !== 'PutEventsCommand') return [{ command, action: `?events:${command}`, resource: '?' }];
  const entries = (input.Entries ?? []) as Input[];
  // An entry without a bus name goes to the account's default bus.
  return entries.map((entry) => ({
    command,
    action: 'events:PutEvents',
    resource: entry.EventBusName === undefined ? '?default-bus' : resourceOf(entry.EventBusName),
  }));
}

type Sender = { send: (...args: unknown[]) => unknown };

/**
 * Records each command sent through `client`. The wrapper is an own property of the instance and calls
 * whatever `send` the prototype has at that moment, so aws-sdk-client-mock's stubs (re-created on every
 * `reset()`) keep answering.
 */
function wrap(
  client: object,
  toPermissions: (command: string, input: Input) => RequiredPermission[],
  into: Map<string, RequiredPermission>,
) {
  const sender = client as Sender;
  const prototype = Object.getPrototypeOf(client) as Sender;
  sender.send = function recordingSend(this: unknown, ...args: unknown[]) {
    const command = args[0] as { constructor: { name: string }; input?: Input };
    for (const permission of toPermissions(command.constructor.name, command.input ?? {})) {
      into.set(JSON.stringify(permission), permission);
    }
    return prototype.send.apply(this, args);
  };
}

/** Sorted and without duplicates, so the committed file is stable. */
function normalized(permissions: Iterable<RequiredPermission>): RequiredPermission[] {
  const unique = new Map([...permissions].map((permission) => [JSON.stringify(permission), permission]));
  return [...unique.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, permission]) => permission);
}

/**
 * Records the SDK commands the function `name` sends during this test file, and checks at the end that
 * each permission they need is in the committed contract file (or, with UPDATE_SDK_CALLS=1, rewrites it).
 */
export function recordSdkCalls(name: FunctionName): void {
  const recorded = new Map<string, RequiredPermission>();
  wrap(documentClient(), documentPermissions, recorded);
  wrap(sqsClient(), queuePermissions, recorded);
  wrap(eventBridgeClient(), eventPermissions, recorded);

  afterAll(() => {
    const permissions = normalized(recorded.values());
    if (process.env.UPDATE_SDK_CALLS === '1') {
      writeFileSync(sdkCallsFile(name), `${JSON.stringify(permissions, null, 2)}\n`);
      return;
    }
    const committed = new Set(committedPermissions(name).map((permission) => JSON.stringify(permission)));
    const unseen = permissions.filter((permission) => !committed.has(JSON.stringify(permission)));
    expect(
      unseen,
      `${name} sends commands that test/cdk/sdk-calls/${name}.json does not list; record them with UPDATE_SDK_CALLS=1 npx vitest run test/unit/handlers, then make the stack grant them`,
    ).toEqual([]);
  });
}
