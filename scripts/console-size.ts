/**
 * `npm run console:size`: the console's files as the API serves them, raw and gzipped (zlib's default
 * level), from the same in-memory build `npm start` makes. The script's budget is 100 KB gzipped
 * (test/unit/console/console-serving.test.ts).
 */
import { gzipSync } from 'node:zlib';
import { buildConsole } from '../console/build.js';

for (const [name, asset] of await buildConsole()) {
  const raw = Buffer.byteLength(asset.body);
  console.log(
    `${name.padEnd(12)} ${String(raw).padStart(7)} bytes  ${String(gzipSync(asset.body).length).padStart(7)} gzipped`,
  );
}
