import { readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiResult } from './http.js';

/*
 * The console (console/ in the repository): a few static files the API serves without a key at /console
 * and /console/<file>. Every data call the page makes goes back to this API with the brand's key. The
 * files are built by esbuild: in memory by `npm start` (handed over with useConsoleAssets), and into a
 * `console/` folder beside the deployed bundle by the CDK bundling of the API function (read at cold start).
 */

export interface ConsoleAsset {
  readonly contentType: string;
  readonly body: string;
}

/** File name (`index.html`, `console.js`, `console.css`, `icon.svg`) to its content. */
export type ConsoleAssets = ReadonlyMap<string, ConsoleAsset>;

export const CONSOLE_CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml; charset=utf-8',
};

/**
 * Who may show the console in a frame. CommBox embeds the screen in its own web app (served from
 * https://*.commbox.io), so `'none'` would break the one embedding the console exists for; any other
 * origin is refused, which keeps the page out of another site's frame (clickjacking). A deployment for
 * another embedder changes this one constant.
 */
export const CONSOLE_FRAME_ANCESTORS = "'self' https://*.commbox.io";

/**
 * Only this origin's files and API: no inline script or style, no other origin, no plugin, no `<base>`,
 * forms post nowhere else.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  `frame-ancestors ${CONSOLE_FRAME_ANCESTORS}`,
].join('; ');

export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  // The console link's token travels in the fragment, which is never sent; no referrer is sent either.
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'cross-origin-opener-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
  // File names carry no hash: always revalidate, so a deployment is seen at the next load.
  'cache-control': 'no-cache',
};

let assets: ConsoleAssets | undefined;

/** The local runtime and tests: serve these files (built in memory) instead of the deployed folder. */
export function useConsoleAssets(replacement: ConsoleAssets | undefined): void {
  assets = replacement;
}

/** The folder the CDK bundling writes beside the bundle; empty when there is none (sources run by tsx). */
function readDeployedAssets(): ConsoleAssets {
  const folder = process.env.WEBHOOKS_CONSOLE_DIR ?? join(dirname(fileURLToPath(import.meta.url)), 'console');
  const found = new Map<string, ConsoleAsset>();
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return found;
  }
  for (const name of names) {
    const contentType = CONSOLE_CONTENT_TYPES[extname(name)];
    if (contentType) found.set(name, { contentType, body: readFileSync(join(folder, name), 'utf8') });
  }
  return found;
}

/** `GET /console` (file undefined or empty: the page) and `GET /console/<file>`. */
export function consoleResponse(file: string | undefined): ApiResult {
  assets ??= readDeployedAssets();
  const asset = assets.get(file === undefined || file === '' ? 'index.html' : file);
  if (!asset) {
    return {
      statusCode: 404,
      headers: { ...CONSOLE_HEADERS, 'content-type': 'text/plain; charset=utf-8' },
      body: 'Not Found',
    };
  }
  return {
    statusCode: 200,
    headers: { ...CONSOLE_HEADERS, 'content-type': asset.contentType },
    body: asset.body,
  };
}
