import { describe, expect, it } from 'vitest';
import {
  ACTIVITY_TYPES,
  describeCatalogue,
  EVENT_DEFINITIONS,
  findEvent,
  findEventByDetailType,
} from '../../lambdas/core/catalogue.js';
import { exampleData } from '../support/factories.js';

// The entity/event table of the CommBox contract, copied by hand: a second record the catalogue must match.
const COMMBOX_EVENTS = [
  'Object.OnNew',
  'Object.OnNewChild',
  'Object.OnNewActivity',
  'Object.OnUpdateTag',
  'User.OnNew',
  'User.OnUpdate',
  'User.OnUpdateTag',
  'Satisfaction.OnSubmit',
  'Form.OnSubmit',
  'Chat.OnUserExit',
  'Tag.OnAdd',
  'Tag.OnUpdate',
];

describe('the CommBox catalogue', () => {
  it('holds exactly the entities and events CommBox publishes', () => {
    expect(EVENT_DEFINITIONS.map((definition) => definition.detailType).sort()).toEqual(
      [...COMMBOX_EVENTS].sort(),
    );
  });

  it('names every detail type <Entity>.<Event> and finds it both ways', () => {
    for (const definition of EVENT_DEFINITIONS) {
      expect(definition.detailType).toBe(`${definition.entity}.${definition.name}`);
      expect(findEventByDetailType(definition.detailType)).toBe(definition);
      expect(findEvent(definition.entity, definition.name)).toBe(definition);
    }
  });

  it('lists the seventeen published activity types with their names', () => {
    expect(Object.keys(ACTIVITY_TYPES).map(Number)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 16, 17, 18, 19,
    ]);
    expect(ACTIVITY_TYPES[2]).toBe('Status change');
    expect(ACTIVITY_TYPES[6]).toBe('Agent assignment');
  });

  it('gives OnNewActivity the activity type component and every StreamId event the channel component', () => {
    for (const definition of EVENT_DEFINITIONS) {
      const carriesStream = 'StreamId' in definition.schema.shape;
      expect(definition.components.includes('channels'), definition.detailType).toBe(carriesStream);
      expect(definition.components.includes('activityTypes'), definition.detailType).toBe(
        definition.detailType === 'Object.OnNewActivity',
      );
    }
  });

  it.each(EVENT_DEFINITIONS.map((definition) => [definition.detailType, definition] as const))(
    'accepts its own example of %s',
    (_, definition) => {
      expect(definition.schema.safeParse(definition.example).success).toBe(true);
      expect(definition.description.length).toBeGreaterThan(10);
    },
  );

  it('builds each event schema once, on first use, and hands out the same one after', () => {
    // A getter, not a value built when the module loads (a cold start pays only for the events it sees).
    for (const definition of EVENT_DEFINITIONS) {
      expect(Object.getOwnPropertyDescriptor(definition, 'schema')?.get).toBeTypeOf('function');
    }
    const first = EVENT_DEFINITIONS.map((definition) => definition.schema);
    const second = EVENT_DEFINITIONS.map((definition) => definition.schema);

    second.forEach((schema, index) => {
      expect(schema).toBe(first[index]);
    });
  });

  it('accepts ids as numbers or numeric strings of up to 16 digits and more', () => {
    const schema = findEvent('Object', 'OnNew')?.schema;
    expect(schema?.safeParse({ Id: '9007199254740993123' }).success).toBe(true);
    expect(schema?.safeParse({ Id: 901731 }).success).toBe(true);
    expect(schema?.safeParse({ Id: 'abc' }).success).toBe(false);
    expect(schema?.safeParse({ Id: -1 }).success).toBe(false);
  });

  it('rejects data that lacks the identifying field or has the wrong type', () => {
    const activity = findEvent('Object', 'OnNewActivity');
    expect(
      activity?.schema.safeParse(exampleData('Object', 'OnNewActivity', { Activities: [] })).success,
    ).toBe(false);
    expect(findEvent('Tag', 'OnAdd')?.schema.safeParse({ name: 'VIP' }).success).toBe(false);
    expect(
      findEvent('Object', 'OnUpdateTag')?.schema.safeParse({ Id: 1, Action: 'Toggle', Tag: { Id: 1 } })
        .success,
    ).toBe(false);
    expect(
      findEvent('Form', 'OnSubmit')?.schema.safeParse({ ObjectId: 1, Properties: '{not json' }).success,
    ).toBe(false);
  });

  it('lets undeclared fields through validation and strips them from the declared projection', () => {
    const schema = findEvent('Satisfaction', 'OnSubmit')?.schema;
    const parsed = schema?.parse({ ObjectId: 1, Score: 4, Internal: 'x' });
    expect(parsed).toEqual({ ObjectId: 1, Score: 4 });
  });

  it('describes itself as plain JSON with a JSON Schema and an example per event', () => {
    const described = JSON.parse(JSON.stringify(describeCatalogue()));
    const object = described.find((entry: { entity: string }) => entry.entity === 'Object');
    const activity = object.events.find((event: { name: string }) => event.name === 'OnNewActivity');
    expect(activity.detailType).toBe('Object.OnNewActivity');
    expect(activity.components.map((component: { name: string }) => component.name)).toEqual([
      'activityTypes',
      'channels',
    ]);
    expect(activity.components[0].values).toContainEqual({ id: 6, name: 'Agent assignment' });
    expect(activity.dataSchema.required).toContain('Activities');
    expect(activity.example.Id).toBe(901731);
  });
});
