import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TIME_FORMAT } from '../../console/src/time.js';
import { assertStatus } from '../integration/support/fixtures.js';
import type { Listener } from '../integration/support/listener.js';
import { BRANDS, REPO_ROOT } from '../integration/support/local-process.js';
import { useLocalStack } from '../integration/support/local-stack.js';
import { waitUntil } from '../integration/support/wait.js';
import { type Browser, launchChromium, seriousAxeViolations } from './support/chromium.js';

/*
 * The console in Debian's Chromium against the real `npm start` entry (bin/local.ts) and loopback
 * listeners, driven as a person would: by role and accessible name. `npm run screenshots` runs this file
 * with UPDATE_SCREENSHOTS=1 to refresh docs/console/*.png.
 */

const local = useLocalStack();
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? join(REPO_ROOT, 'docs/console') : undefined;
/** A zone far from UTC, so a time shown in UTC by mistake cannot pass for the viewer's. */
const VIEWER = { timezoneId: 'Asia/Jerusalem', locale: 'en-US' };
/** Emoji and a right-to-left script (Hebrew) in the names: one starting in Latin, one in Hebrew. */
const JSON_NAME = 'Orders 📦 הזמנות חדשות';
const SOAP_NAME = 'שירות ישן SOAP 🧼';

/** Draws 📦 with the console's font stack on a canvas and looks for a coloured pixel (a missing glyph is grey). */
const EMOJI_IS_COLOURED = `(() => {
  const canvas = document.createElement('canvas');
  canvas.width = 64; canvas.height = 64;
  const context = canvas.getContext('2d');
  context.font = '48px ' + getComputedStyle(document.documentElement).fontFamily;
  context.fillStyle = '#000';
  context.fillText('📦', 4, 52);
  const pixels = context.getImageData(0, 0, 64, 64).data;
  for (let i = 0; i < pixels.length; i += 4) {
    const [r, g, b, a] = [pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3]];
    if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 40) return true;
  }
  return false;
})()`;

let browser: Browser;
let page: Page;
let ok: Listener;
let failing: Listener;
/** Every URL the page requested, and every console error (a CSP violation is one). */
const requested: string[] = [];
const consoleErrors: string[] = [];

beforeAll(async () => {
  ok = await local.listener();
  failing = await local.listener({ defaultStatus: 503 });
  browser = await launchChromium(VIEWER);
  page = browser.page;
  page.setDefaultTimeout(20_000);
  page.on('request', (request) => requested.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
}, 30_000);

async function expectAccessible(): Promise<void> {
  expect(await seriousAxeViolations(page)).toEqual([]);
}

async function screenshot(name: string): Promise<void> {
  if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

const button = (name: string, where: Page | Locator = page) =>
  where.getByRole('button', { name, exact: true });
const region = (name: string) => page.getByRole('region', { name, exact: true });

async function refreshUntil(check: () => Promise<boolean>, what: string): Promise<void> {
  await waitUntil(
    async () => {
      await button('Refresh deliveries').click();
      await page.waitForTimeout(300);
      return check();
    },
    { timeoutMs: 20_000, intervalMs: 200, what: what },
  );
}

async function createSubscription(fill: () => Promise<void>): Promise<string> {
  await button('Add subscription').click();
  await expect.poll(() => page.getByRole('heading', { name: 'Add subscription' }).isVisible()).toBe(true);
  await fill();
  await button('Create subscription').click();
  const secret = page.getByRole('textbox', { name: 'Signing secret' });
  await secret.waitFor();
  return secret.inputValue();
}

describe('the console, in Chromium', () => {
  it('is served without a key, with the strict CSP, and signs in with the keyboard', async () => {
    const response = await page.goto(`${local.stack.url}/console`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("default-src 'self'");
    await page.getByRole('heading', { name: 'Webhooks console' }).waitFor();
    await expectAccessible();
    await screenshot('sign-in');

    // A wrong key: refused beside the field, and nothing kept.
    await page.getByLabel('API key').fill('not-a-key-at-all');
    await button('Sign in').click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('refused');
    expect(await page.getByLabel('API key').getAttribute('aria-invalid')).toBe('true');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);

    // The keyboard alone: the field, the key, Enter.
    await page.getByLabel('API key').fill('');
    await page.getByLabel('API key').focus();
    await page.keyboard.type(BRANDS.acme.key);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Subscriptions', level: 1 }).waitFor();

    expect(await page.evaluate('Object.values(sessionStorage)')).toEqual([BRANDS.acme.key]);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    expect(await page.evaluate('document.cookie')).toBe('');
    expect(await browser.context.cookies()).toEqual([]);
    expect(page.url()).not.toContain(BRANDS.acme.key);
    await expectAccessible();
  }, 30_000);

  it('names the field an API validation error is about, beside it', async () => {
    await button('Add subscription').click();
    await page.getByLabel('Name').fill('Bad URL');
    await page.getByRole('checkbox', { name: 'OnNew', exact: true }).check();
    await page.getByLabel('Listener URL').fill('ftp://listener.example.com/hook');
    await button('Create subscription').click();

    const url = page.getByLabel('Listener URL');
    await expect.poll(() => url.getAttribute('aria-invalid')).toBe('true');
    const describedBy = (await url.getAttribute('aria-describedby')) ?? '';
    const message = await page.locator(`[id="${describedBy}"]`).textContent();
    expect(message).toMatch(/http/i);
    // Focus moves to the field named, so a keyboard user lands on it.
    expect(await url.evaluate((element) => element === element.ownerDocument.activeElement)).toBe(true);
    await expectAccessible();
    await screenshot('add-subscription-error');
    await button('Cancel').click();
  }, 30_000);

  it('creates a REST (JSON) subscription with its components and shows the secret once', async () => {
    const secret = await createSubscription(async () => {
      await page.getByLabel('Name').fill(JSON_NAME);
      await page.getByLabel('Entity').selectOption('Object');
      await page.getByRole('checkbox', { name: 'OnNewActivity', exact: true }).check();
      await page.getByRole('checkbox', { name: 'Status change', exact: true }).check();
      await page.getByRole('checkbox', { name: 'Agent assignment', exact: true }).check();
      await page.getByLabel('Channels for OnNewActivity').fill('71');
      await page.getByLabel('Listener URL').fill(ok.url);
      expect(await page.getByRole('radio', { name: 'REST' }).isChecked()).toBe(true);
      await page.getByRole('checkbox', { name: 'Include complete data' }).check();
      await page.getByLabel('Custom headers').fill('X-Tenant: acme');
      await screenshot('add-subscription');
    });

    expect(secret).toMatch(/^whsec_/);
    expect(await page.getByText('will not be shown again').isVisible()).toBe(true);
    await expectAccessible();
    await screenshot('secret-shown-once');
    // The copy button puts exactly the secret on the clipboard, and says so.
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], {
      origin: new URL(local.stack.url).origin,
    });
    await button('Copy signing secret').click();
    await page.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(secret);

    await button('I have stored it').click();
    const link = page.getByRole('link', { name: JSON_NAME });
    await link.waitFor();
    const row = page.getByRole('row').filter({ has: link });
    expect(await row.textContent()).toContain('OnNewActivity');
    expect(await row.textContent()).toContain('REST');
    expect(await row.textContent()).toContain(ok.url);

    // Once: not on the page any more, nor after a reload.
    expect(await page.content()).not.toContain(secret);
    await page.reload();
    await link.waitFor();
    expect(await page.content()).not.toContain(secret);

    // What the API stored is what the form said.
    const stored = await local.acme.request('GET', '/subscriptions');
    const created = (
      stored.body as { items: { name: string; events: unknown; includeCompleteData: boolean }[] }
    ).items.find((item) => item.name === JSON_NAME);
    expect(created?.events).toEqual([{ name: 'OnNewActivity', activityTypes: [2, 6], channels: ['71'] }]);
    expect(created?.includeCompleteData).toBe(true);
  }, 30_000);

  it('renders the emoji and the right-to-left name as written, isolated from the text around it', async () => {
    const link = page.getByRole('link', { name: JSON_NAME });
    expect(await link.textContent()).toBe(JSON_NAME);
    expect(await link.getAttribute('dir')).toBe('auto');
    // The browser resolves dir=auto from the first strong character (Latin here): laid out, not mangled.
    expect(
      await link.evaluate(
        (element) => element.ownerDocument.defaultView?.getComputedStyle(element).direction,
      ),
    ).toBe('ltr');
    const box = await link.boundingBox();
    expect(box?.width ?? 0).toBeGreaterThan(50);
    // The emoji is drawn in colour with the page's own fonts, not as a monochrome "missing glyph" box.
    expect(await page.evaluate(EMOJI_IS_COLOURED)).toBe(true);
  });

  it('creates a SOAP subscription with its action and parameters', async () => {
    const secret = await createSubscription(async () => {
      await page.getByLabel('Name').fill(SOAP_NAME);
      await page.getByLabel('Entity').selectOption('User');
      await page.getByRole('checkbox', { name: 'OnNew', exact: true }).check();
      await page.getByLabel('Listener URL').fill(failing.url);
      await page.getByRole('radio', { name: 'SOAP' }).check();
      await page.getByLabel('SOAP action').fill('urn:crm#UserCreated');
      await page.getByLabel('SOAP parameters').fill('Token = s3cret-value');
    });

    expect(secret).toMatch(/^whsec_/);
    await button('I have stored it').click();
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: SOAP_NAME }) });
    await row.waitFor();
    expect(await row.textContent()).toContain('SOAP');
    // Hebrew first: the name runs right to left, the Latin word and the emoji inside it.
    expect(
      await page
        .getByRole('link', { name: SOAP_NAME })
        .evaluate((element) => element.ownerDocument.defaultView?.getComputedStyle(element).direction),
    ).toBe('rtl');
    expect(await page.getByRole('link', { name: SOAP_NAME }).textContent()).toBe(SOAP_NAME);
    await expectAccessible();
    await screenshot('subscriptions');
  }, 30_000);

  it('sends a test event that arrives at the listener and shows its delivery with the attempt', async () => {
    await page.getByRole('link', { name: JSON_NAME }).click();
    await page.getByRole('heading', { name: JSON_NAME, level: 1 }).waitFor();
    await expectAccessible();

    await button('Send test event').click();
    await waitUntil(() => ok.requests.length === 1, { timeoutMs: 15_000, what: 'the test event' });
    expect(ok.request(0).body).toContain('OnNewActivity');
    expect(ok.request(0).headers['x-tenant']).toBe('acme');

    const deliveries = region('Deliveries');
    await refreshUntil(
      async () => (await deliveries.getByText('succeeded').count()) === 1,
      'a succeeded delivery',
    );
    await deliveries.getByText('1 attempt').click();
    const attempts = deliveries.getByRole('table');
    expect(await attempts.getByRole('cell', { name: '200', exact: true }).count()).toBe(1);

    // The viewer's time zone (Asia/Jerusalem, en-US), as Intl formats it.
    const at = await attempts.locator('time').first().getAttribute('datetime');
    const expected = new Intl.DateTimeFormat(VIEWER.locale, {
      ...TIME_FORMAT,
      timeZone: VIEWER.timezoneId,
    }).format(new Date(at ?? ''));
    expect(await attempts.locator('time').first().textContent()).toBe(expected);
  }, 40_000);

  it('edits the subscription', async () => {
    await button('Edit').click();
    await page.getByLabel('Name').fill(`${JSON_NAME} ✓`);
    await button('Save changes').click();
    await page.getByRole('heading', { name: `${JSON_NAME} ✓`, level: 1 }).waitFor();
    expect(await page.getByRole('status').first().textContent()).toContain('Changes saved');
    // The redacted header value was not sent back over the real one.
    await button('Send test event').click();
    await waitUntil(() => ok.requests.length === 2, { timeoutMs: 15_000, what: 'the second test event' });
    expect(ok.request(1).headers['x-tenant']).toBe('acme');
  }, 30_000);

  it('rotates the secret, showing the new one once', async () => {
    await button('Rotate secret').click();
    const secret = page.getByRole('textbox', { name: 'Signing secret' });
    await secret.waitFor();
    expect(await secret.inputValue()).toMatch(/^whsec_/);
    expect(await page.getByText('will not be shown again').isVisible()).toBe(true);
    await button('I have stored it').click();
    expect(await secret.count()).toBe(0);
  });

  it('pauses and resumes, from the keyboard alone', async () => {
    // From the page's heading, Tab walks the actions in reading order; Enter presses the focused one.
    await page.getByRole('heading', { level: 1 }).focus();
    const reached: string[] = [];
    for (let step = 0; step < 8 && !reached.includes('Pause'); step += 1) {
      await page.keyboard.press('Tab');
      reached.push(String(await page.evaluate('document.activeElement?.textContent?.trim()')));
    }
    expect(reached).toEqual(expect.arrayContaining(['Edit', 'Pause']));
    expect(reached.indexOf('Edit')).toBeLessThan(reached.indexOf('Pause'));
    await page.keyboard.press('Enter');
    await button('Resume').waitFor();
    expect(
      await page
        .getByRole('definition')
        .filter({ hasText: /^paused$/ })
        .count(),
    ).toBe(1);
    await button('Resume').click();
    await button('Pause').waitFor();
    expect(
      await page
        .getByRole('definition')
        .filter({ hasText: /^active$/ })
        .count(),
    ).toBe(1);
  });

  it("shows a failing listener's delivery under Failed events with its HTTP code, and resends it", async () => {
    await page.getByRole('link', { name: 'Subscriptions' }).click();
    await page.getByRole('link', { name: SOAP_NAME }).click();
    await page.getByRole('heading', { name: SOAP_NAME, level: 1 }).waitFor();

    await button('Send test event').click();
    // Three attempts (the test schedule 0, 1, 1 s), each answered 503.
    await waitUntil(() => failing.requests.length === 3, { timeoutMs: 20_000, what: 'three attempts' });
    expect(failing.request(0).headers.soapaction).toBe('"urn:crm#UserCreated"');
    const failed = region('Failed events');
    const row = failed.getByRole('row').filter({ hasText: 'User.OnNew' });
    await refreshUntil(async () => (await row.count()) === 1, 'the failed delivery');
    expect(await row.getByRole('cell', { name: '503', exact: true }).count()).toBe(1);
    await expectAccessible();

    await button('Show payload', row).click();
    await expect.poll(() => row.locator('pre').textContent()).toContain('Envelope');
    await screenshot('subscription-failed-events');

    await button('Resend', row).click();
    await expect.poll(() => failed.getByRole('status').textContent()).toContain('queued again');
    await waitUntil(() => failing.requests.length >= 4, { timeoutMs: 15_000, what: 'the resend' });

    // Replay of a time range (the last day, the form's default): the one delivery again.
    const before = failing.requests.length;
    await button('Replay').click();
    await expect.poll(() => failed.getByRole('status').textContent()).toMatch(/1 delivery queued again/);
    await waitUntil(() => failing.requests.length > before, { timeoutMs: 15_000, what: 'the replay' });
  }, 60_000);

  it('asks for the secret SOAP parameters again when a SOAP change would replace them', async () => {
    await button('Edit').click();
    expect(await page.getByLabel('SOAP parameters').inputValue()).toBe('Token= [redacted]');
    await page.getByLabel('SOAP action').fill('urn:crm#UserAdded');
    await button('Save changes').click();

    const parameters = page.getByLabel('SOAP parameters');
    await expect.poll(() => parameters.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#soapParameters-error').textContent()).toContain('Type every value again');

    await parameters.fill('Token = n3w-value');
    await button('Save changes').click();
    await page.getByRole('heading', { name: SOAP_NAME, level: 1 }).waitFor();
    await page.getByText('urn:crm#UserAdded').waitFor();
    const stored = await local.acme.request('GET', '/subscriptions');
    const soap = (stored.body as { items: { name: string; soap?: unknown }[] }).items.find(
      (item) => item.name === SOAP_NAME,
    )?.soap;
    expect(soap).toEqual({ action: 'urn:crm#UserAdded', parameters: { Token: '[redacted]' } });
  }, 30_000);

  it('shows the public key of an Ed25519 subscription, saying it is no secret', async () => {
    await page.getByRole('link', { name: 'Subscriptions' }).click();
    await button('Add subscription').click();
    await page.getByLabel('Name').fill('Signed with Ed25519');
    await page.getByLabel('Entity').selectOption('Tag');
    await page.getByRole('checkbox', { name: 'OnAdd', exact: true }).check();
    await page.getByLabel('Listener URL').fill(ok.url);
    await page.getByLabel('Signature').selectOption('ed25519');
    await button('Create subscription').click();

    const key = page.getByRole('textbox', { name: 'Public key' });
    await key.waitFor();
    const publicKey = await key.inputValue();
    expect(publicKey).toMatch(/^whpk_/);
    const panel = page.getByRole('region', { name: 'Public key' });
    expect(await panel.textContent()).toContain('It is not a secret');
    expect(await panel.textContent()).not.toContain('will not be shown again');
    await button('I have stored it').click();
    await page.getByRole('link', { name: 'Signed with Ed25519' }).click();
    await page.getByRole('definition').filter({ hasText: publicKey }).waitFor();
    await page.getByRole('link', { name: 'Subscriptions' }).click();
    await page.getByRole('link', { name: SOAP_NAME }).click();
    await page.getByRole('heading', { name: SOAP_NAME, level: 1 }).waitFor();
  }, 30_000);

  it('is usable 375 px wide, without sideways scrolling of the page', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    await page.reload();
    await page.getByRole('heading', { name: SOAP_NAME, level: 1 }).waitFor();
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    await expectAccessible();
    await page.getByRole('link', { name: 'Subscriptions' }).click();
    await page.getByRole('heading', { name: 'Subscriptions', level: 1 }).waitFor();
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    await screenshot('subscriptions-375px');
    await page.setViewportSize({ width: 1280, height: 900 });
  }, 30_000);

  it("shows an error, not a blank page, for a subscription that is not the brand's", async () => {
    await page.goto(`${local.stack.url}/console#/subscriptions/sub_AAAAAAAAAAAAAAAA`);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/sub_AAAAAAAAAAAAAAAA|not found|no subscription/i);
    await expectAccessible();
    await page.getByRole('link', { name: 'Back to the subscriptions' }).click();
    await page.getByRole('heading', { name: 'Subscriptions', level: 1 }).waitFor();
  }, 30_000);

  it('deletes a subscription only after the confirmation', async () => {
    await page.getByRole('link', { name: SOAP_NAME }).click();
    await button('Delete').click();
    const dialog = page.getByRole('dialog', { name: 'Delete this subscription?' });
    await dialog.waitFor();
    await expectAccessible();
    await button('Cancel', dialog).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByRole('heading', { name: SOAP_NAME, level: 1 }).waitFor();

    await button('Delete').click();
    await button('Delete subscription', dialog).click();
    await page.getByRole('heading', { name: 'Subscriptions', level: 1 }).waitFor();
    await page.getByRole('link', { name: JSON_NAME, exact: false }).waitFor();
    expect(await page.getByRole('link', { name: SOAP_NAME }).count()).toBe(0);
    const list = await local.acme.request('GET', '/subscriptions');
    assertStatus(list, 200);
    expect(JSON.stringify(list.body)).not.toContain(SOAP_NAME);
  }, 30_000);

  it("opens a console link made by the brand's backend already signed in, then clears the address", async () => {
    // What CommBox's backend does with globex's key: POST /console/sessions, then hand the link to a person.
    const made = await local.globex.post('/console/sessions', {});
    assertStatus(made, 201);
    const { url, token } = made.body as { url: string; token: string };
    expect(url).toBe(`/console#session=${token}`);
    await page.evaluate('sessionStorage.clear()');
    await page.goto(`${local.stack.url}${url}`);
    await page.getByRole('heading', { name: 'Subscriptions', level: 1 }).waitFor();
    // The token left the address (history, bookmarks, a shared screen) and lives in sessionStorage only.
    expect(new URL(page.url()).hash).toBe('');
    expect(await page.evaluate('Object.values(sessionStorage)')).toEqual([token]);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    // Scoped to globex: none of acme's subscriptions is shown.
    await page.getByText('No subscription yet').waitFor();
    expect(await page.getByText(JSON_NAME).count()).toBe(0);
  }, 30_000);

  it('signs out, and made no request to any other origin, with no CSP violation', async () => {
    await button('Sign out').click();
    await page.getByLabel('API key').waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    const origin = new URL(local.stack.url).origin;
    expect(requested.filter((url) => new URL(url).origin !== origin)).toEqual([]);
    expect(consoleErrors.filter((text) => /Content Security Policy/i.test(text))).toEqual([]);
  });
});
