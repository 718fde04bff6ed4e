import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoSubscriptionStore } from '../../../lambdas/adapters/dynamo-subscriptions.js';
import { EncryptingSubscriptionStore } from '../../../lambdas/adapters/encrypting-subscription-store.js';
import { KeyFileDataKeyProvider } from '../../../lambdas/adapters/key-file-data-keys.js';
import type { Subscription } from '../../../lambdas/core/model.js';
import { SecretBox } from '../../../lambdas/core/secret-box.js';
import { SecretDecryptionError } from '../../../lambdas/core/secret-envelope.js';
import { stubAwsEnvironment } from '../../support/aws-env.js';
import { FakeTable } from '../../support/dynamo-fake.js';
import { aStoredSubscription, subscriptionItem } from '../../support/stored-items.js';

// The decorator over the real DynamoDB adapter, whose requests land in an in-memory table: what a Scan,
// an export or a PITR restore of that table would show is exactly `table`'s items.

const TABLE = 'webhooks';
const ddb = mockClient(DynamoDBDocumentClient);
let table: FakeTable;
let dataDir: string;
let store: EncryptingSubscriptionStore;
let plainStore: DynamoSubscriptionStore;

beforeEach(() => {
  stubAwsEnvironment();
  table = new FakeTable().install(ddb);
  // The transactions of create and replace, as far as this file needs them: their puts are stored.
  ddb.on(TransactWriteCommand).callsFake(async (input) => {
    for (const item of input.TransactItems ?? []) if (item.Put?.Item) table.seed(item.Put.Item);
    return {};
  });
  dataDir = mkdtempSync(join(tmpdir(), 'encrypting-store-'));
  plainStore = new DynamoSubscriptionStore(DynamoDBDocumentClient.from(new DynamoDBClient({})), TABLE);
  store = new EncryptingSubscriptionStore(plainStore, aBox());
});

afterEach(() => {
  ddb.reset();
  rmSync(dataDir, { recursive: true, force: true });
});

function aBox(): SecretBox {
  return new SecretBox(KeyFileDataKeyProvider.open(join(dataDir, 'secret.key')));
}

/** Everything the table holds, as a Scan would return it. */
function scan(): string {
  return JSON.stringify(table.itemsUnder(''));
}

function storedSecretsOf(subscription: Subscription): unknown[] {
  const item = table.item(`BRAND#${subscription.brand}`, `SUB#${subscription.id}`);
  return ((item?.secrets ?? []) as { secret: unknown }[]).map((entry) => entry.secret);
}

describe('EncryptingSubscriptionStore', () => {
  it('writes no signing secret in clear, and reads it back in clear', async () => {
    const subscription = aStoredSubscription();

    await store.create(subscription, 100);

    expect(scan()).not.toContain('whsec_');
    expect(storedSecretsOf(subscription)).toEqual([expect.stringMatching(/^enc:v1:file\./)]);
    expect(await store.get(subscription.brand, subscription.id)).toEqual(subscription);
  });

  it("keeps a rotation's previous secret encrypted too, and decrypts every read path", async () => {
    const created = aStoredSubscription();
    await store.create(created, 100);
    const rotated: Subscription = {
      ...created,
      secrets: [
        { secret: 'whsec_bmV3bmV3bmV3bmV3bmV3bmV3bmV3bmV3bmV3', createdAt: '2026-01-02T00:00:00.000Z' },
        { ...(created.secrets[0] as Subscription['secrets'][number]), expiresAt: '2026-01-03T00:00:00.000Z' },
      ],
      version: 2,
    };

    await store.replace(rotated, rotated.name);

    expect(scan()).not.toContain('whsec_');
    expect(storedSecretsOf(rotated)).toHaveLength(2);
    expect((await store.list('acme', { limit: 10 })).items).toEqual([rotated]);
    expect(await store.listActive('acme', 'Object')).toEqual([rotated]);
  });

  it('reads a record written in clear by an older build, and encrypts it when it is next written', async () => {
    const legacy = aStoredSubscription();
    table.seed(subscriptionItem(legacy));

    const read = await store.get(legacy.brand, legacy.id);
    expect(read).toEqual(legacy);
    await store.replace({ ...legacy, description: 'renamed', version: 2 }, legacy.name);

    expect(scan()).not.toContain('whsec_');
    expect((await store.get(legacy.brand, legacy.id))?.secrets).toEqual(legacy.secrets);
  });

  it("refuses a ciphertext copied into another subscription's record", async () => {
    const victim = aStoredSubscription();
    const attacker = aStoredSubscription();
    await store.create(victim, 100);
    await store.create(attacker, 100);
    const stolen = table.item(`BRAND#acme`, `SUB#${victim.id}`)?.secrets;
    table.seed({ ...table.item(`BRAND#acme`, `SUB#${attacker.id}`), secrets: stolen });

    await expect(store.get('acme', attacker.id)).rejects.toThrow(SecretDecryptionError);
  });

  it('leaves the stored secrets as they are through the health marks and disable', async () => {
    const subscription = aStoredSubscription();
    await store.create(subscription, 100);
    const before = storedSecretsOf(subscription);

    await store.markFailing('acme', subscription.id, '2026-01-02T00:00:00.000Z');
    await store.disable('acme', subscription.id, 'listener gone', '2026-01-03T00:00:00.000Z');

    expect(storedSecretsOf(subscription)).toEqual(before);
    expect((await store.get('acme', subscription.id))?.status).toBe('disabled');
  });

  it('encrypts the client key fields of the list when a record has them', async () => {
    const tls = {
      clientCertificate: '-----BEGIN CERTIFICATE-----',
      clientKey: '-----BEGIN PRIVATE KEY-----',
    };
    const subscription = { ...aStoredSubscription(), tls } as Subscription;

    await store.create(subscription, 100);

    const item = table.item('BRAND#acme', `SUB#${subscription.id}`);
    expect(item?.tls).toEqual({
      clientCertificate: tls.clientCertificate,
      clientKey: expect.stringMatching(/^enc:v1:/),
    });
    expect(await store.get('acme', subscription.id)).toEqual(subscription);
  });

  it('encrypts the value of every SOAP header parameter, keeping the names', async () => {
    const soap = { action: 'urn:crm:Notify', parameters: { Username: 'crm-bot', Password: 'hunter2-soap' } };
    const subscription = { ...aStoredSubscription(), format: 'soap', soap } as Subscription;

    await store.create(subscription, 100);

    const item = table.item('BRAND#acme', `SUB#${subscription.id}`);
    expect(JSON.stringify(item)).not.toContain('hunter2-soap');
    expect(JSON.stringify(item?.soap)).toMatch(/"Password":"enc:v1:/);
    expect(await store.get('acme', subscription.id)).toEqual(subscription);
  });

  it('reads across restarts of the process, with the same key file', async () => {
    const subscription = aStoredSubscription();
    await store.create(subscription, 100);

    const restarted = new EncryptingSubscriptionStore(plainStore, aBox());

    expect(await restarted.get('acme', subscription.id)).toEqual(subscription);
  });

  it('refuses to encrypt twice when wrapped twice, instead of storing a ciphertext of a ciphertext', async () => {
    const twice = new EncryptingSubscriptionStore(store, aBox());
    const subscription = aStoredSubscription();
    await store.create(subscription, 100);
    const read = await store.get('acme', subscription.id);
    if (!read) throw new Error('not stored');

    await expect(twice.replace({ ...read, version: 2 }, read.name)).rejects.toThrow(/already encrypted/);
  });
});
