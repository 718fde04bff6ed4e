import { COMPONENT_NAMES, COMPONENTS, canonicalId, type EntityName } from './catalogue.js';
import type { EventSelection, SubscriptionStatus } from './subscription.js';

/** An entity event after validation: whose it is, what happened, and the producer's data. */
export interface EntityEvent {
  readonly brand: string;
  readonly entity: EntityName;
  readonly event: string;
  readonly data: Record<string, unknown>;
}

/** The part of a subscription that matching reads. */
export interface MatchableSubscription {
  readonly brand: string;
  readonly entity: EntityName;
  readonly events: readonly EventSelection[];
  readonly status: SubscriptionStatus;
}

/**
 * The subscriptions that receive `event`: same brand, active, the event selected, and every component
 * the selection lists matched by the event's data (a selection without a component takes every event).
 */
export function matchSubscriptions<S extends MatchableSubscription>(
  event: EntityEvent,
  subscriptions: readonly S[],
): S[] {
  return subscriptions.filter((subscription) => receives(subscription, event));
}

function receives(subscription: MatchableSubscription, event: EntityEvent): boolean {
  if (subscription.brand !== event.brand || subscription.entity !== event.entity) return false;
  if (subscription.status !== 'active') return false;
  const selection = subscription.events.find((candidate) => candidate.name === event.event);
  return selection !== undefined && componentsMatch(selection, event.data);
}

function componentsMatch(selection: EventSelection, data: Record<string, unknown>): boolean {
  return COMPONENT_NAMES.every((component) => {
    const wanted = selection[component];
    if (!wanted) return true;
    const listed = new Set(wanted.map(canonicalId));
    return COMPONENTS[component].valuesOf(data).some((value) => listed.has(value));
  });
}
