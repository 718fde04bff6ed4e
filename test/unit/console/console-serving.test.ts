import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole } from '../../../console/build.js';
import { CONSOLE_CSP } from '../../../lambdas/api/console.js';
import type { ApiResult } from '../../../lambdas/api/http.js';
import { matchRoute } from '../../../lambdas/api/routes.js';
import { handler, useConsoleAssets } from '../../../lambdas/api.js';
import { apiEvent, lambdaContext } from '../../support/api-events.js';

/** The budget the console's JavaScript must stay under, gzipped (issue: "JavaScript ≤ 100 KB gzipped"). */
const MAX_JS_GZIPPED_BYTES = 100 * 1024;

let assets: Awaited<ReturnType<typeof buildConsole>>;

beforeAll(async () => {
  assets = await buildConsole();
  useConsoleAssets(assets);
});
afterAll(() => useConsoleAssets(undefined));

async function get(path: string): Promise<ApiResult> {
  // No brand: the console's routes carry no authorizer context, as API Gateway sends them.
  return handler(apiEvent('GET', path), lambdaContext) as Promise<ApiResult>;
}

describe('the console build', () => {
  it('makes one page, one script and one style sheet, the script within the size budget', () => {
    expect([...assets.keys()].sort()).toEqual(['console.css', 'console.js', 'icon.svg', 'index.html']);
    const script = assets.get('console.js')?.body ?? '';
    const gzipped = gzipSync(script).length;
    expect(gzipped).toBeGreaterThan(1000);
    expect(gzipped).toBeLessThanOrEqual(MAX_JS_GZIPPED_BYTES);
  });

  it('loads nothing from another origin and has no inline script or style', () => {
    const page = assets.get('index.html')?.body ?? '';
    expect(page).toMatch(/<script type="module" src="\/console\/console\.js"><\/script>/);
    expect(page).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page).not.toMatch(/<style|style=/);
    // Every file the page loads is this origin's (the browser test also watches every request it makes).
    expect(page).not.toMatch(/(?:src|href)="(?!\/console\/)/);
    expect(assets.get('console.css')?.body).not.toMatch(/@import|url\(/);
  });
});

describe('GET /console', () => {
  it('is a public route: /console, /console/ and the files match without a key', () => {
    for (const path of ['/console', '/console/', '/console/console.js']) {
      expect(matchRoute('GET', path)?.route.authorized, path).toBe(false);
    }
    expect(matchRoute('GET', '/console/console.js')?.pathParameters).toEqual({ proxy: 'console.js' });
  });

  it('serves the page with a strict Content-Security-Policy and the security headers', async () => {
    const response = await get('/console');

    expect(response.statusCode).toBe(200);
    expect(response.headers?.['content-type']).toBe('text/html; charset=utf-8');
    expect(response.body).toContain('<div id="app">');
    const csp = String(response.headers?.['content-security-policy']);
    expect(csp).toBe(CONSOLE_CSP);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(csp).toMatch(/frame-ancestors 'self' https:\/\/\*\.commbox\.io/);
    expect(response.headers).toMatchObject({
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
  });

  it('serves the script and the style sheet with their types', async () => {
    const script = await get('/console/console.js');
    const style = await get('/console/console.css');

    expect(script.statusCode).toBe(200);
    expect(script.headers?.['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.body).toBe(assets.get('console.js')?.body);
    expect(style.headers?.['content-type']).toBe('text/css; charset=utf-8');
  });

  it('answers 404 to any other file, a path that climbs out included', async () => {
    for (const path of ['/console/nope.js', '/console/../lambdas/api.ts', '/console/a/console.js']) {
      const response = await get(path);
      expect(response.statusCode, path).toBe(404);
      expect(response.headers?.['content-security-policy']).toBe(CONSOLE_CSP);
    }
  });
});
