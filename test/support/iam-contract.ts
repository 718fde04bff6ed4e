import type { RequiredPermission } from './sdk-calls.js';

/*
 * The checking half of the IAM contract: whether a function's role, as synthesized, allows each
 * permission its handler was recorded needing (test/support/sdk-calls.ts). A small evaluator of the
 * statements CDK writes: Allow/Deny, actions with `*` wildcards, resources built from `Fn::GetAtt` /
 * `Fn::Join` / pseudo-parameters, and `dynamodb:LeadingKeys` conditions. A statement with a condition it
 * does not understand allows nothing, so the evaluator can only err towards "missing".
 */

type Json = unknown;
interface Statement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | string[];
  readonly Resource: Json;
  readonly Condition?: Record<string, Record<string, string | string[]>>;
}
interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, Json>;
}
export interface TemplateJson {
  readonly Resources: Record<string, Resource>;
}

const PSEUDO: Readonly<Record<string, string>> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'region',
  'AWS::AccountId': 'account',
  'AWS::URLSuffix': 'amazonaws.com',
};

/**
 * A CloudFormation value as a string: `arn(<id>)` for `Fn::GetAtt [<id>, Arn]`, `ref(<id>)` for a
 * reference, joins joined. Both sides of a comparison go through it, so the shapes only need to agree.
 */
export function render(value: Json): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value))
    throw new Error(`a list where a single value was expected: ${JSON.stringify(value)}`);
  const object = (value ?? {}) as Record<string, Json>;
  if ('Ref' in object) return PSEUDO[String(object.Ref)] ?? `ref(${String(object.Ref)})`;
  if ('Fn::GetAtt' in object) {
    const [id, attribute] = object['Fn::GetAtt'] as [string, string];
    return attribute === 'Arn' ? `arn(${id})` : `${attribute.toLowerCase()}(${id})`;
  }
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, Json[]];
    return parts.map(render).join(separator);
  }
  throw new Error(`cannot render ${JSON.stringify(value)}`);
}

function globMatches(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .split('*')
    .map((part) => part.split('?').map(escapeRegExp).join('.'))
    .join('.*');
  return new RegExp(`^${source}$`, ignoreCase ? 'i' : '').test(value);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.+^${}()|[\]\\]/g, '\\$&');
}

const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** The ARN a permission targets: the ARN of what the function's environment variable refers to. */
function targetArn(permission: RequiredPermission, environment: Record<string, Json>): string | undefined {
  const [variable, ...suffix] = permission.resource.split('/');
  const value = variable === undefined ? undefined : environment[variable];
  if (value === undefined) return undefined;
  // The variable holds a name or URL (`Ref`); the policy names the resource by its ARN.
  const rendered = render(value);
  const arn = /^ref\((.+)\)$/.exec(rendered)?.[1];
  if (!arn) return undefined;
  return [`arn(${arn})`, ...suffix].join('/');
}

/** Whether the statement's conditions hold for the permission (only conditions this project uses). */
function conditionsHold(statement: Statement, permission: RequiredPermission): boolean {
  for (const [operator, keys] of Object.entries(statement.Condition ?? {})) {
    for (const [key, expected] of Object.entries(keys)) {
      if (key !== 'dynamodb:LeadingKeys' || permission.leadingKey === undefined) return false;
      // The recorded prefix, completed as a real key would be.
      const value = `${permission.leadingKey}example`;
      if (operator === 'ForAllValues:StringLike') {
        if (!list(expected).some((pattern) => globMatches(pattern, value))) return false;
      } else if (operator === 'ForAllValues:StringEquals') {
        if (!list(expected).includes(value)) return false;
      } else {
        return false;
      }
    }
  }
  return true;
}

function applies(statement: Statement, permission: RequiredPermission, arn: string): boolean {
  return (
    list(statement.Action).some((action) => globMatches(action, permission.action, true)) &&
    list(statement.Resource as Json).some((resource) => globMatches(render(resource), arn)) &&
    conditionsHold(statement, permission)
  );
}

/** Every statement of the policies attached to the role (separate policies and the role's inline ones). */
export function roleStatements(template: TemplateJson, roleId: string): Statement[] {
  const documents: Json[] = [];
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    const roles = (resource.Properties?.Roles ?? []) as Json[];
    if (roles.some((role) => render(role) === `ref(${roleId})`))
      documents.push(resource.Properties?.PolicyDocument);
  }
  const role = template.Resources[roleId];
  for (const inline of (role?.Properties?.Policies ?? []) as { PolicyDocument: Json }[]) {
    documents.push(inline.PolicyDocument);
  }
  return documents.flatMap((document) => (document as { Statement: Statement[] }).Statement);
}

/**
 * The permissions the function's role does not allow, each as a readable line; empty when the role
 * allows them all. `functionId` is the function's logical id in the template.
 */
export function missingPermissions(
  template: TemplateJson,
  functionId: string,
  permissions: readonly RequiredPermission[],
): string[] {
  const fn = template.Resources[functionId];
  if (fn?.Type !== 'AWS::Lambda::Function') return [`no function ${functionId} in the template`];
  const environment = ((fn.Properties?.Environment as { Variables?: Record<string, Json> })?.Variables ??
    {}) as Record<string, Json>;
  const roleArn = render(fn.Properties?.Role);
  const roleId = /^arn\((.+)\)$/.exec(roleArn)?.[1];
  if (!roleId) return [`the role of ${functionId} is not in the template (${roleArn})`];
  const statements = roleStatements(template, roleId);

  return permissions.flatMap((permission) => {
    const described = `${permission.action} on ${permission.resource}${permission.leadingKey ? ` (pk ${permission.leadingKey}…)` : ''}, sent by ${permission.command}`;
    const arn = targetArn(permission, environment);
    if (!arn) return [`${described}: the function's environment does not name ${permission.resource}`];
    const relevant = statements.filter((statement) => applies(statement, permission, arn));
    if (relevant.some((statement) => statement.Effect === 'Deny')) return [`${described}: denied`];
    return relevant.some((statement) => statement.Effect === 'Allow') ? [] : [`${described}: not allowed`];
  });
}
