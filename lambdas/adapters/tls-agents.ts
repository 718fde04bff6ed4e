import { createHash } from 'node:crypto';
import type { RequestFilteringHttpsAgent } from 'request-filtering-agent';
import type { SubscriptionTls } from '../core/listener-auth.js';
import { createListenerAgent, type ListenerAgentOptions } from './ssrf-network.js';

/*
 * https agents for subscriptions with mutual TLS: one per distinct set of TLS settings (client
 * certificate, key, passphrase, CA), keyed by their SHA-256, so connections presenting one certificate are
 * never reused for another, and keep-alive still works per subscription. `serverCa` replaces the public
 * roots (Node's `ca` option). The cache is bounded: the least recently used agent is dropped, not
 * destroyed (its requests in flight finish; its idle sockets close after the agent's socket timeout).
 */

export const MAX_TLS_AGENTS = 256;

export class TlsAgentCache {
  private readonly agents = new Map<string, RequestFilteringHttpsAgent>();

  constructor(
    private readonly options: ListenerAgentOptions,
    private readonly maxAgents = MAX_TLS_AGENTS,
  ) {}

  agentFor(tls: SubscriptionTls): RequestFilteringHttpsAgent {
    const key = fingerprintOf(tls);
    const cached = this.agents.get(key);
    if (cached) {
      // Most recently used last: Map keeps insertion order.
      this.agents.delete(key);
      this.agents.set(key, cached);
      return cached;
    }
    const agent = createListenerAgent({
      ...this.options,
      ...(tls.clientCertificate !== undefined ? { cert: tls.clientCertificate } : {}),
      ...(tls.clientKey !== undefined ? { key: tls.clientKey } : {}),
      ...(tls.clientKeyPassphrase !== undefined ? { passphrase: tls.clientKeyPassphrase } : {}),
      ...(tls.serverCa !== undefined ? { ca: tls.serverCa } : {}),
    }).https;
    this.agents.set(key, agent);
    if (this.agents.size > this.maxAgents) {
      const oldest = this.agents.keys().next().value;
      if (oldest !== undefined) this.agents.delete(oldest);
    }
    return agent;
  }

  get size(): number {
    return this.agents.size;
  }

  destroy(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}

/** SHA-256 over every member, each with its length, so no two settings share a key. */
function fingerprintOf(tls: SubscriptionTls): string {
  const hash = createHash('sha256');
  for (const member of [tls.clientCertificate, tls.clientKey, tls.clientKeyPassphrase, tls.serverCa]) {
    const bytes = Buffer.from(member ?? '', 'utf8');
    hash.update(`${member === undefined ? -1 : bytes.length}:`).update(bytes);
  }
  return hash.digest('hex');
}
