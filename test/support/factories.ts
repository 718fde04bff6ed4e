import { type EntityName, findEvent } from '../../lambdas/core/catalogue.js';
import type { EntityEvent, MatchableSubscription } from '../../lambdas/core/matching.js';
import type { EventSelection } from '../../lambdas/core/subscription.js';

/** The catalogue's example data of `<entity>.<event>`, with `overrides` merged in. */
export function exampleData(entity: EntityName, event: string, overrides: Record<string, unknown> = {}) {
  const definition = findEvent(entity, event);
  if (!definition) throw new Error(`no catalogue entry for ${entity}.${event}`);
  return { ...structuredClone(definition.example), ...overrides } as Record<string, unknown>;
}

export function anEvent(overrides: Partial<EntityEvent> = {}): EntityEvent {
  const entity = overrides.entity ?? 'Object';
  const event = overrides.event ?? 'OnNew';
  return { brand: 'acme', entity, event, data: exampleData(entity, event), ...overrides };
}

export interface TestSubscription extends MatchableSubscription {
  readonly id: string;
}

export function aSubscription(
  id: string,
  overrides: Partial<Omit<TestSubscription, 'events'>> & { events?: (string | EventSelection)[] } = {},
): TestSubscription {
  const { events = ['OnNew'], ...rest } = overrides;
  return {
    id,
    brand: 'acme',
    entity: 'Object',
    status: 'active',
    ...rest,
    events: events.map((selection) => (typeof selection === 'string' ? { name: selection } : selection)),
  };
}
