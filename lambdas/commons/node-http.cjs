/*
 * The deployed bundles import `node:http` through this module (lib/bundle-aliases.ts). An ES module import
 * of `node:http` builds the module's namespace, which reads every export, and three of them (WebSocket,
 * CloseEvent, MessageEvent) are getters that load Node's bundled undici: about 70 modules and tens of
 * milliseconds of cold start for classes no handler uses. The CommonJS object is the same `node:http`,
 * and the bundle reads its properties only when they are used.
 */
module.exports = process.getBuiltinModule('node:http');
