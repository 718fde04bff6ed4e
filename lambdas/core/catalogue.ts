import * as z from 'zod';
import * as schemas from './catalogue-schemas.js';

/**
 * The CommBox catalogue: every entity, its events, their data schemas and components.
 * It is data: the API validates subscriptions against it, the router validates events with it, and the
 * OpenAPI document and `GET /event-types` print it. Adding an event is one entry in `EVENT_DEFINITIONS`.
 */

export const ENTITY_NAMES = ['Object', 'User', 'Satisfaction', 'Form', 'Chat', 'Tag'] as const;
export type EntityName = (typeof ENTITY_NAMES)[number];

export const COMPONENT_NAMES = ['activityTypes', 'channels'] as const;
export type ComponentName = (typeof COMPONENT_NAMES)[number];

/** OnNewActivity's activity types, as CommBox numbers them (12 and 14 are unpublished). */
export const ACTIVITY_TYPES: Readonly<Record<number, string>> = {
  1: 'Remark',
  2: 'Status change',
  3: 'Forward',
  4: 'Reply to a forward',
  5: 'Stream change',
  6: 'Agent assignment',
  7: 'Tag update',
  8: 'Follow-up',
  9: 'Intent update',
  10: 'Attachment',
  11: 'Routed by a rule',
  13: 'Publicity change',
  15: 'Invalid file extension',
  16: 'Invalid file size',
  17: 'File upload not allowed',
  18: 'Inactivity logout',
  19: 'Participants change',
};

export interface ComponentDefinition {
  readonly name: ComponentName;
  readonly description: string;
  /** The values a subscription may list, when the set is closed (activity types); channels are open ids. */
  readonly values?: Readonly<Record<number, string>>;
  /** The component values one event carries, as strings (ids may arrive as numbers or strings). */
  readonly valuesOf: (data: Record<string, unknown>) => string[];
}

export const COMPONENTS: Readonly<Record<ComponentName, ComponentDefinition>> = {
  activityTypes: {
    name: 'activityTypes',
    description: 'Activity types (numbers); the event matches when any of its activities has a listed type',
    values: ACTIVITY_TYPES,
    valuesOf: (data) =>
      Array.isArray(data.Activities)
        ? data.Activities.flatMap((a: unknown) => idOf((a as Record<string, unknown> | null)?.Type))
        : [],
  },
  channels: {
    name: 'channels',
    description: 'Channel (stream) ids; the event matches when its StreamId is listed',
    valuesOf: (data) => idOf(data.StreamId),
  },
};

function idOf(value: unknown): string[] {
  return typeof value === 'number' || typeof value === 'string' ? [canonicalId(value)] : [];
}

/** One spelling per id, so 71, "71" and "071" compare equal. */
export function canonicalId(value: number | string): string {
  return String(value).replace(/^0+(?=\d)/, '');
}

export interface EventDefinition {
  readonly entity: EntityName;
  readonly name: string;
  /** EventBridge `DetailType`: `<Entity>.<Event>`. */
  readonly detailType: string;
  readonly description: string;
  readonly schema: z.ZodObject;
  readonly components: readonly ComponentName[];
  /** A valid `data` for this event: documentation, the API's test event, and test fixtures. */
  readonly example: Readonly<Record<string, unknown>>;
}

type EventEntry = Omit<EventDefinition, 'detailType' | 'schema'> & {
  /** Builds the data schema (lambdas/core/catalogue-schemas.ts); called once, when first used. */
  readonly schema: () => z.ZodObject;
};

const withStream = ['channels'] as const;

const EVENT_ENTRIES: readonly EventEntry[] = [
  {
    entity: 'Object',
    name: 'OnNew',
    description: 'A new conversation is created',
    schema: schemas.objectOnNew,
    components: withStream,
    example: {
      Id: 901731,
      StreamId: 71,
      SubStreamId: 0,
      Type: 0,
      StatusID: 1,
      CreateDate: '26-03-2017 06:57:33',
      Message: 'Hello, I need help with my order',
      Content: 'Hello, I need help with my order',
      ManagerId: 433178,
      Snippet: 'Hello, I need help',
      User: { Id: 433178, Identity: { Id: 16982 } },
    },
  },
  {
    entity: 'Object',
    name: 'OnNewChild',
    description: 'A new message is added to a conversation',
    schema: schemas.objectOnNewChild,
    components: withStream,
    example: {
      Id: 901731,
      StreamId: 71,
      SubStreamId: 0,
      Children: [
        { Id: 901732, Type: 0, CreateDate: '26-03-2017 07:01:10', Message: 'Thanks!', User: { Id: 433178 } },
      ],
    },
  },
  {
    entity: 'Object',
    name: 'OnNewActivity',
    description: 'A new activity (status change, forward, assignment, ...) on a conversation',
    schema: schemas.objectOnNewActivity,
    components: ['activityTypes', 'channels'],
    example: {
      Id: 901731,
      StreamId: 71,
      SubStreamId: 0,
      Activities: [
        {
          Id: 565420,
          Type: 2,
          CreateDate: '26-03-2017 06:57:33',
          User: { Id: 433178, Identity: { Id: 16982 } },
          Data: '{"statusId": 8}',
        },
      ],
    },
  },
  {
    entity: 'Object',
    name: 'OnUpdateTag',
    description: 'A tag is added to or removed from a conversation',
    schema: schemas.objectOnUpdateTag,
    components: withStream,
    example: { Id: 901731, StreamId: 71, Action: 'Add', Tag: { Id: 40, Name: 'VIP' } },
  },
  {
    entity: 'User',
    name: 'OnNew',
    description: 'A user (customer) is created',
    schema: schemas.userOnChange,
    components: [],
    example: {
      Id: 433178,
      Identity: { Id: 16982 },
      Content: { FirstName: 'Dana', Email: 'dana@example.com' },
    },
  },
  {
    entity: 'User',
    name: 'OnUpdate',
    description: 'A user (customer) is updated',
    schema: schemas.userOnChange,
    components: [],
    example: { Id: 433178, Identity: { Id: 16982 }, Content: { Phone: '+972500000000' } },
  },
  {
    entity: 'User',
    name: 'OnUpdateTag',
    description: 'A tag is added to or removed from a user',
    schema: schemas.userOnUpdateTag,
    components: [],
    example: { Id: 433178, Action: 'Remove', Tag: { Id: 40, Name: 'VIP' } },
  },
  {
    entity: 'Satisfaction',
    name: 'OnSubmit',
    description: 'A satisfaction survey is submitted for a conversation',
    schema: schemas.satisfactionOnSubmit,
    components: [],
    example: { ObjectId: 901731, Score: 5, Description: 'Quick and friendly' },
  },
  {
    entity: 'Form',
    name: 'OnSubmit',
    description: 'A customer submits a form',
    schema: schemas.formOnSubmit,
    components: [],
    example: { ObjectId: 901731, FormUrl: 'https://forms.example.com/f/12', Properties: '{"Name":"Dana"}' },
  },
  {
    entity: 'Chat',
    name: 'OnUserExit',
    description: 'The customer closes the chat window or disconnects',
    schema: schemas.chatOnUserExit,
    components: [],
    example: { User: { Id: 433178 }, Object: { Id: 901731 } },
  },
  {
    entity: 'Tag',
    name: 'OnAdd',
    description: "A tag is created in the organisation's settings",
    schema: schemas.tagOnChange,
    components: [],
    example: { tagId: '40', groupId: '3', name: 'VIP', isObject: '1', isUser: '0', type: '1', unit: '' },
  },
  {
    entity: 'Tag',
    name: 'OnUpdate',
    description: "A tag is updated in the organisation's settings",
    schema: schemas.tagOnChange,
    components: [],
    example: {
      tagId: '40',
      groupId: '3',
      name: 'Very important',
      isObject: '1',
      isUser: '1',
      type: '1',
      unit: '',
    },
  },
];

export const EVENT_DEFINITIONS: readonly EventDefinition[] = EVENT_ENTRIES.map(
  ({ schema: build, ...entry }) => {
    let schema: z.ZodObject | undefined;
    return {
      ...entry,
      detailType: `${entry.entity}.${entry.name}`,
      // Built on first use: a cold start does not pay for the schemas of events it never sees.
      get schema() {
        schema ??= build();
        return schema;
      },
    };
  },
);

const byDetailType = new Map(EVENT_DEFINITIONS.map((definition) => [definition.detailType, definition]));

/** The definition of `<Entity>.<Event>`, or undefined when the catalogue has no such event. */
export function findEvent(entity: string, event: string): EventDefinition | undefined {
  return byDetailType.get(`${entity}.${event}`);
}

export function findEventByDetailType(detailType: string): EventDefinition | undefined {
  return byDetailType.get(detailType);
}

export function eventsOf(entity: EntityName): EventDefinition[] {
  return EVENT_DEFINITIONS.filter((definition) => definition.entity === entity);
}

/** The catalogue as plain JSON (for `GET /event-types`, the OpenAPI document and a console). */
export function describeCatalogue() {
  return ENTITY_NAMES.map((entity) => ({
    entity,
    events: eventsOf(entity).map((definition) => ({
      name: definition.name,
      detailType: definition.detailType,
      description: definition.description,
      components: definition.components.map((name) => {
        const { description, values } = COMPONENTS[name];
        return values
          ? {
              name,
              description,
              values: Object.entries(values).map(([id, label]) => ({ id: Number(id), name: label })),
            }
          : { name, description };
      }),
      dataSchema: z.toJSONSchema(definition.schema, { io: 'input' }),
      example: definition.example,
    })),
  }));
}
