import { describe, expect, it } from 'vitest';
import { matchSubscriptions } from '../../lambdas/core/matching.js';
import { anEvent, aSubscription, exampleData } from '../support/factories.js';

const activity = (type: number | string, streamId: number | string = 71) =>
  anEvent({
    event: 'OnNewActivity',
    data: exampleData('Object', 'OnNewActivity', {
      StreamId: streamId,
      Activities: [
        { Id: 1, Type: 1 },
        { Id: 2, Type: type },
      ],
    }),
  });

describe('matchSubscriptions', () => {
  const subscriptions = [
    aSubscription('all-new', { events: ['OnNew'] }),
    aSubscription('paused', { events: ['OnNew'], status: 'paused' }),
    aSubscription('disabled', { events: ['OnNew'], status: 'disabled' }),
    aSubscription('other-brand', { brand: 'globex', events: ['OnNew'] }),
    aSubscription('user-entity', { entity: 'User', events: ['OnNew'] }),
    aSubscription('status-changes', { events: [{ name: 'OnNewActivity', activityTypes: [2] }] }),
    aSubscription('assignments-on-72', {
      events: [{ name: 'OnNewActivity', activityTypes: [6], channels: [72] }],
    }),
    aSubscription('any-activity', { events: ['OnNewActivity'] }),
    aSubscription('stream-71-new', { events: [{ name: 'OnNew', channels: ['71'] }] }),
    aSubscription('stream-5-new', { events: [{ name: 'OnNew', channels: [5] }] }),
  ];
  const ids = (event: ReturnType<typeof anEvent>) =>
    matchSubscriptions(event, subscriptions).map((s) => s.id);

  it.each([
    ['an Object.OnNew on stream 71', anEvent(), ['all-new', 'stream-71-new']],
    [
      'an Object.OnNew on stream 5',
      anEvent({ data: exampleData('Object', 'OnNew', { StreamId: 5 }) }),
      ['all-new', 'stream-5-new'],
    ],
    ['an Object.OnNew of another brand', anEvent({ brand: 'globex' }), ['other-brand']],
    ['a User.OnNew', anEvent({ entity: 'User', event: 'OnNew' }), ['user-entity']],
    ['a status change activity', activity(2), ['status-changes', 'any-activity']],
    ['a status change given as a string type', activity('2'), ['status-changes', 'any-activity']],
    ['an assignment on stream 71', activity(6, 71), ['any-activity']],
    ['an assignment on stream 72', activity(6, '072'), ['assignments-on-72', 'any-activity']],
    ['a remark', activity(1), ['any-activity']],
    ['a Tag.OnAdd nobody selected', anEvent({ entity: 'Tag', event: 'OnAdd' }), []],
  ])('delivers %s to exactly the matching active subscriptions', (_, event, expected) => {
    expect(ids(event)).toEqual(expected);
  });

  it('does not match a channel filter when the event carries no StreamId', () => {
    const event = anEvent({ data: { Id: 1 } });
    expect(ids(event)).toEqual(['all-new']);
  });
});
