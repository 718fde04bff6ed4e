import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

/*
 * Debian's Chromium (`apt-get install chromium`; .ci/run installs it), driven by playwright-core: no
 * browser is downloaded. Each launch gets a fresh profile folder and every network feature that would
 * reach beyond this machine turned off; the page only ever talks to the loopback stack.
 */

export const CHROMIUM = '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  readonly context: BrowserContext;
  readonly page: Page;
  close(): Promise<void>;
}

export async function launchChromium(options: { timezoneId: string; locale: string }): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
  }
  const profile = await mkdtemp(join(tmpdir(), 'console-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
    timezoneId: options.timezoneId,
    locale: options.locale,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

const require = createRequire(import.meta.url);
let axeSource: string | undefined;

export interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: { target: unknown[] }[];
}

/**
 * axe-core run inside the page (evaluated through the DevTools protocol, which the page's CSP does not
 * govern); the serious and critical violations it reports.
 */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  axeSource ??= await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(`${axeSource}\n;undefined`);
  // A string: the test project has no DOM types, and this runs in the page.
  const result = (await page.evaluate(`axe.run(document).then((result) => ({
    rulesPassed: result.passes.length,
    violations: result.violations.map(({ id, impact, help, nodes }) =>
      ({ id, impact, help, nodes: nodes.map((node) => ({ target: node.target })) })),
  }))`)) as { rulesPassed: number; violations: AxeViolation[] };
  // A run that checked nothing would report no violation too.
  if (result.rulesPassed < 10) throw new Error(`axe passed only ${result.rulesPassed} rules: did it run?`);
  const { violations } = result;
  return violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
}
