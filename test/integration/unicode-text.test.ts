import { describe, expect, it } from 'vitest';
import { commboxEvent, putEvents } from './support/events.js';
import { createSubscription, subscriptionSpec, uniqueMarker } from './support/fixtures.js';
import { BRANDS } from './support/local-process.js';
import { useLocalStack } from './support/local-stack.js';
import { verifiedJson } from './support/webhooks.js';

/*
 * Every valid text arrives, in either mode (WEBHOOKS_LOCAL_BACKEND): a User.OnNew whose names hold emoji
 * and other characters above U+FFFF, U+2028 and U+2029, right-to-left text with its marks, and 4-byte CJK
 * is delivered to the listener with the very same characters, raw in the signed UTF-8 body (not escaped),
 * across both queue hops. Real SQS takes every one of them; fauxqs alone refuses those above U+FFFF.
 */

const TEXTS = {
  emoji: 'Dana 😀👩🏽‍💻🎉',
  separators: 'line\u2028separator\u2029paragraph',
  rightToLeft: '\u202Bשלום עולם\u202C مرحبا بالعالم',
  fourByte: '𠜎𠜱𠝹𠱓 𝄞 𐍈',
} as const;

const local = useLocalStack();

describe('text above U+FFFF, line separators and right-to-left text', { timeout: 40_000 }, () => {
  it('reaches the listener byte for byte, in the signed body', async () => {
    const listener = await local.listener();
    const subscription = await createSubscription(
      local.acme,
      subscriptionSpec(uniqueMarker('unicode'), listener.url, { entity: 'User', events: ['OnNew'] }),
    );
    const marker = uniqueMarker('unicode-mail');
    const content = {
      FirstName: TEXTS.emoji,
      LastName: TEXTS.rightToLeft,
      Notes: TEXTS.separators,
      Address: TEXTS.fourByte,
      Email: `${marker}@example.com`,
    };
    await putEvents(local.producer, [
      commboxEvent(BRANDS.acme.brand, 'User.OnNew', {
        Id: 433178,
        Identity: { Id: 16982 },
        Content: content,
      }),
    ]);

    const [request] = await listener.waitFor(1);
    if (!request) throw new Error('nothing arrived');
    for (const text of Object.values(TEXTS)) expect(request.body).toContain(text);
    expect(verifiedJson(request, subscription.secret)).toMatchObject({
      Event: { Subscription: 'User', Name: 'OnNew', User: { Content: content } },
    });
  });
});
