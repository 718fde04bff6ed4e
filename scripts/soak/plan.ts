import type { PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';

/*
 * What a soak run puts and expects, decided up front from the seed: the subscriptions (two brands, JSON
 * and SOAP, with and without component filters), the events, and for every event the subscriptions that
 * must receive it. The expectation comes from the small matcher below, written from the contract
 * (brand, entity, event name, activityTypes, channels), not from the service's own matching code.
 */

/** A seeded generator of numbers in [0, 1) (sfc32 seeded with cyrb128 of the text). */
export function seededRandom(seed: string): () => number {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < seed.length; i += 1) {
    const k = seed.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  let [a, b, c, d] = [(h1 ^ h2 ^ h3 ^ h4) >>> 0, (h2 ^ h1) >>> 0, (h3 ^ h1) >>> 0, (h4 ^ h1) >>> 0];
  return () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

/** Picks one of `items` with probability proportional to its weight. */
export function pickWeighted<T>(random: () => number, items: readonly (readonly [T, number])[]): T {
  const total = items.reduce((sum, [, weight]) => sum + weight, 0);
  let point = random() * total;
  for (const [item, weight] of items) {
    point -= weight;
    if (point < 0) return item;
  }
  const last = items.at(-1);
  if (!last) throw new Error('pickWeighted: nothing to pick from');
  return last[0];
}

export type SoakBrand = 'acme' | 'globex';

type Selection = string | { name: string; activityTypes?: number[]; channels?: number[] };

export interface SubscriptionPlan {
  readonly index: number;
  readonly brand: SoakBrand;
  readonly name: string;
  readonly entity: 'Object' | 'Tag';
  readonly format: 'json' | 'soap';
  readonly events: readonly Selection[];
}

/** Subscription i takes template i mod 6: both brands, both formats, filtered and unfiltered events. */
const TEMPLATES: readonly Omit<SubscriptionPlan, 'index' | 'name'>[] = [
  {
    brand: 'acme',
    entity: 'Object',
    format: 'json',
    events: ['OnNew', { name: 'OnNewActivity', activityTypes: [2] }],
  },
  {
    brand: 'globex',
    entity: 'Object',
    format: 'json',
    events: ['OnNew', { name: 'OnNewChild', channels: [71] }],
  },
  { brand: 'acme', entity: 'Object', format: 'soap', events: ['OnNew', 'OnNewChild'] },
  {
    brand: 'globex',
    entity: 'Object',
    format: 'soap',
    events: ['OnNew', { name: 'OnNewActivity', activityTypes: [2, 6] }],
  },
  { brand: 'acme', entity: 'Tag', format: 'json', events: ['OnAdd', 'OnUpdate'] },
  { brand: 'globex', entity: 'Tag', format: 'soap', events: ['OnAdd'] },
];

export function planSubscriptions(count: number): SubscriptionPlan[] {
  return Array.from({ length: count }, (_, index) => {
    const template = TEMPLATES[index % TEMPLATES.length] as (typeof TEMPLATES)[number];
    return {
      ...template,
      index,
      name: `soak-${index + 1}-${template.entity.toLowerCase()}-${template.format}`,
    };
  });
}

/** One event as the plan puts it. */
export interface EventPlan {
  readonly seq: number;
  readonly brand: SoakBrand;
  readonly entity: 'Object' | 'Tag';
  readonly event: string;
  /** `Detail.id`: unique per event, so a re-put after a crash is recognised and deliveries attributed. */
  readonly id: string;
  /** A number that appears in the event's payload whatever the format (its entity id). */
  readonly marker: string;
  readonly activityType?: number;
  readonly streamId?: number;
  /** Indexes of the subscriptions that must receive it. */
  readonly subscribers: readonly number[];
}

interface Kind {
  readonly brand: SoakBrand;
  readonly entity: 'Object' | 'Tag';
  readonly event: string;
  readonly activityType?: number;
  readonly streamId?: number;
  readonly weight: number;
}

const KINDS: readonly Kind[] = (['acme', 'globex'] as const).flatMap((brand): Kind[] => [
  { brand, entity: 'Object', event: 'OnNew', streamId: 71, weight: 6 },
  { brand, entity: 'Object', event: 'OnNewChild', streamId: 71, weight: 1 },
  { brand, entity: 'Object', event: 'OnNewChild', streamId: 72, weight: 1 },
  { brand, entity: 'Object', event: 'OnNewActivity', activityType: 2, streamId: 71, weight: 1 },
  { brand, entity: 'Object', event: 'OnNewActivity', activityType: 6, streamId: 71, weight: 1 },
  { brand, entity: 'Tag', event: 'OnAdd', weight: 1 },
  { brand, entity: 'Tag', event: 'OnUpdate', weight: 1 },
]);

/** The contract's matching rule, on its own: brand, entity, event name, then every listed component. */
export function receives(subscription: SubscriptionPlan, event: Omit<Kind, 'weight'>): boolean {
  if (subscription.brand !== event.brand || subscription.entity !== event.entity) return false;
  const selection = subscription.events.find(
    (candidate) => (typeof candidate === 'string' ? candidate : candidate.name) === event.event,
  );
  if (selection === undefined) return false;
  if (typeof selection === 'string') return true;
  if (selection.activityTypes && !selection.activityTypes.includes(event.activityType ?? Number.NaN))
    return false;
  if (selection.channels && !selection.channels.includes(event.streamId ?? Number.NaN)) return false;
  return true;
}

/**
 * The events of a run: exactly `events` of them, or (without) as many as it takes for the expected
 * deliveries to add up to exactly `deliveries`. Some events match no subscription on purpose.
 */
export function planEvents(options: {
  readonly random: () => number;
  readonly subscriptions: readonly SubscriptionPlan[];
  readonly runTag: string;
  readonly events?: number;
  readonly deliveries: number;
}): EventPlan[] {
  const { random, subscriptions, runTag } = options;
  const weighted = KINDS.map((kind) => {
    const subscribers = subscriptions.filter((s) => receives(s, kind)).map((s) => s.index);
    return { kind, subscribers };
  });
  const plans: EventPlan[] = [];
  const make = (choice: (typeof weighted)[number]): EventPlan => {
    const seq = plans.length + 1;
    const { kind } = choice;
    return {
      seq,
      brand: kind.brand,
      entity: kind.entity,
      event: kind.event,
      id: `soak-${runTag}-${seq}`,
      marker: String(100_000_000 + seq),
      ...(kind.activityType !== undefined ? { activityType: kind.activityType } : {}),
      ...(kind.streamId !== undefined ? { streamId: kind.streamId } : {}),
      subscribers: choice.subscribers,
    };
  };
  const all = weighted.map((choice) => [choice, choice.kind.weight] as const);
  if (options.events !== undefined) {
    for (let n = 0; n < options.events; n += 1) plans.push(make(pickWeighted(random, all)));
    return plans;
  }
  let remaining = options.deliveries;
  // Bounded: every pick either delivers at least once or is one of the few that match nothing.
  while (remaining > 0 && plans.length < options.deliveries * 4) {
    let choice = pickWeighted(random, all);
    if (choice.subscribers.length > remaining) {
      const fitting = all.filter(([c]) => c.subscribers.length > 0 && c.subscribers.length <= remaining);
      if (fitting.length === 0) break;
      choice = pickWeighted(random, fitting);
    }
    plans.push(make(choice));
    remaining -= choice.subscribers.length;
  }
  return plans;
}

/** The event as a producer puts it; entity ids carry the marker, child and activity ids another range. */
export function eventEntry(plan: EventPlan): PutEventsRequestEntry {
  const id = Number(plan.marker);
  const other = 300_000_000 + plan.seq;
  let data: Record<string, unknown>;
  if (plan.entity === 'Tag') {
    data = { tagId: plan.marker, name: `Soak tag ${plan.seq}`, groupId: '3', isObject: '1' };
  } else if (plan.event === 'OnNewChild') {
    data = {
      Id: id,
      StreamId: plan.streamId,
      Children: [{ Id: other, Type: 0, Message: 'A reply' }],
    };
  } else if (plan.event === 'OnNewActivity') {
    data = {
      Id: id,
      StreamId: plan.streamId,
      Activities: [{ Id: other, Type: plan.activityType, Data: '{"statusId": 8}' }],
    };
  } else {
    data = { Id: id, StreamId: plan.streamId, StatusID: 1, Message: 'Hello, I need help with my order' };
  }
  return {
    Source: 'commbox',
    DetailType: `${plan.entity}.${plan.event}`,
    Detail: JSON.stringify({ brand: plan.brand, id: plan.id, data }),
  };
}
