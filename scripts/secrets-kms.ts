/**
 * `npx tsx scripts/secrets-kms.ts`: what encrypting secrets at rest costs a delivery, with the SecretBox
 * cache of lambdas/core/secret-box.ts as deployed (docs/PERFORMANCE.md "Secrets at rest").
 * 1. CPU per secret opened (data key cached) and per secret sealed, over many operations.
 * 2. KMS requests per million deliveries: a day of deliveries (uniform in time, each to a random one of
 *    the subscriptions) handled by deliver containers that each live a few hours, over subscriptions whose
 *    secrets were sealed under `keys` distinct data keys (one per API container that wrote them). The
 *    provider counts what KMS would bill; its wrapping is real AES-GCM, the clock simulated. No network.
 *
 * Settings: SECRETS_DELIVERIES (default 1,000,000), SECRETS_SUBSCRIPTIONS (1,000), SECRETS_CONTAINERS
 * (deliver containers alive at once, 4), SECRETS_CONTAINER_HOURS (life of one, 2).
 */
import { randomBytes, randomInt } from 'node:crypto';
import { SecretBox } from '../lambdas/core/secret-box.js';
import { type DataKey, type DataKeyProvider, secretAad } from '../lambdas/core/secret-envelope.js';

const DELIVERIES = Number(process.env.SECRETS_DELIVERIES ?? 1_000_000);
const SUBSCRIPTIONS = Number(process.env.SECRETS_SUBSCRIPTIONS ?? 1_000);
const CONTAINERS = Number(process.env.SECRETS_CONTAINERS ?? 4);
const CONTAINER_HOURS = Number(process.env.SECRETS_CONTAINER_HOURS ?? 2);
const DAY_MS = 24 * 60 * 60 * 1000;
/** us-east-1 list price, symmetric requests (aws.amazon.com/kms/pricing), as docs/PERFORMANCE.md states it. */
const KMS_PRICE_PER_10K = 0.03;

class CountingProvider implements DataKeyProvider {
  generated = 0;
  decrypted = 0;
  private readonly keys = new Map<string, Uint8Array>();

  async generate(): Promise<DataKey> {
    this.generated++;
    const key = { plaintext: randomBytes(32), wrapped: `mem.${this.generated}` };
    this.keys.set(key.wrapped, key.plaintext);
    return key;
  }

  async decrypt(wrapped: string): Promise<Uint8Array> {
    this.decrypted++;
    const key = this.keys.get(wrapped);
    if (!key) throw new Error(`unknown data key ${wrapped}`);
    return key;
  }
}

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

async function cpuPerOperation(): Promise<{ openUs: number; sealUs: number }> {
  const box = new SecretBox(new CountingProvider());
  const aad = secretAad('acme', 'sub_AAAAAAAAAAAAAAAA', 'secrets.*.secret');
  const sealed = await box.seal(SECRET, aad);
  const runs = 100_000;
  const time = async (operation: () => Promise<unknown>) => {
    for (let i = 0; i < 1000; i++) await operation();
    const start = process.cpuUsage();
    for (let i = 0; i < runs; i++) await operation();
    const used = process.cpuUsage(start);
    return (used.user + used.system) / runs;
  };
  return { openUs: await time(() => box.open(sealed, aad)), sealUs: await time(() => box.seal(SECRET, aad)) };
}

async function kmsRequestsPerDay(keys: number): Promise<{ decrypts: number; containers: number }> {
  const provider = new CountingProvider();
  const clock = { at: 0 };
  // Each writer box is one API container: its subscriptions share its data key.
  const writers = Array.from({ length: keys }, () => new SecretBox(provider));
  const stored = await Promise.all(
    Array.from({ length: SUBSCRIPTIONS }, async (_, i) => {
      const aad = secretAad('acme', `sub_${i}`, 'secrets.*.secret');
      return { aad, value: await (writers[i % keys] as SecretBox).seal(SECRET, aad) };
    }),
  );
  provider.decrypted = 0;
  const lifeMs = CONTAINER_HOURS * 60 * 60 * 1000;
  const fresh = () => new SecretBox(provider, { now: () => clock.at });
  // Containers start staggered, so replacements do not all happen at once.
  const slots = Array.from({ length: CONTAINERS }, (_, i) => ({
    box: fresh(),
    endsAt: ((i + 1) * lifeMs) / CONTAINERS,
  }));
  let containers = CONTAINERS;
  for (let i = 0; i < DELIVERIES; i++) {
    clock.at = (i * DAY_MS) / DELIVERIES;
    const slot = slots[i % CONTAINERS] as (typeof slots)[number];
    if (clock.at >= slot.endsAt) {
      slot.box = fresh();
      slot.endsAt += lifeMs;
      containers++;
    }
    const subscription = stored[randomInt(SUBSCRIPTIONS)] as (typeof stored)[number];
    await slot.box.open(subscription.value, subscription.aad);
  }
  return { decrypts: provider.decrypted, containers };
}

const cpu = await cpuPerOperation();
console.log(
  `CPU per secret: open ${cpu.openUs.toFixed(1)} µs (data key cached), seal ${cpu.sealUs.toFixed(1)} µs`,
);
console.log(
  `${DELIVERIES} deliveries in 24 h over ${SUBSCRIPTIONS} subscriptions, ${CONTAINERS} deliver containers ` +
    `at once, each living ${CONTAINER_HOURS} h:`,
);
for (const keys of [1, 10, 100, SUBSCRIPTIONS]) {
  const { decrypts, containers } = await kmsRequestsPerDay(keys);
  const perMillion = (decrypts * 1_000_000) / DELIVERIES;
  console.log(
    `  ${String(keys).padStart(5)} distinct data keys: ${decrypts} Decrypt (${containers} containers) = ` +
      `${perMillion.toFixed(0)} per million deliveries = $${((perMillion / 10_000) * KMS_PRICE_PER_10K).toFixed(4)}`,
  );
}
