import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { RegistryCredentials } from '../../../src/domain/registry-credentials.js';
import { createLogger } from '../../../src/logging.js';
import { SqliteStore, type StoreFaults } from '../../../src/store/sqlite-store.js';
import { StoreError, type ConfigurationChange } from '../../../src/store/store.js';

const logger = createLogger('silent');

function change(
  account: string,
  password: string,
  domain = 'reg.example.com',
): ConfigurationChange {
  return {
    fields: { domain, port: 5000, account },
    credentials: new RegistryCredentials(domain, 5000, account, Buffer.from(password)),
    updatedBy: 'CN=tester',
    clientIp: '192.0.2.7',
    updatedAt: new Date('2026-01-02T03:04:05Z'),
  };
}

describe('SqliteStore', () => {
  let dataDir: string;
  let store: SqliteStore;
  const open = async (faults?: StoreFaults) => {
    store = new SqliteStore({ dataDir, logger, faults });
    await store.open();
    return store;
  };
  const dockerConfig = async () =>
    JSON.parse(await readFile(path.join(dataDir, 'dockerconfig.json'), 'utf8'));

  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'mef-store-'));
  });
  afterEach(async () => {
    await store?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('starts with an empty Docker config and reads back nothing', async () => {
    await open();
    assert.equal(await store.read(), null);
    assert.deepEqual(await dockerConfig(), { auths: {} });
  });

  it('saves, reads back without the password, and writes the Docker config', async () => {
    await open();
    await store.save(change('robot', 'Secret#2024'));
    const stored = await store.read();
    assert.deepEqual(stored, {
      fields: { domain: 'reg.example.com', port: 5000, account: 'robot' },
      registryAddress: 'reg.example.com:5000',
      updatedAt: '2026-01-02T03:04:05.000Z',
      updatedBy: 'CN=tester',
      verified: null,
    });
    const entry = (await dockerConfig()).auths['reg.example.com:5000'];
    assert.equal(entry.password, 'Secret#2024');
  });

  it('keeps the password only encrypted in the database, and every secret file 0600', async () => {
    await open();
    await store.save(change('robot', 'Secret#2024'));
    await store.close();
    const database = await readFile(store.databasePath);
    const wal = await readFile(`${store.databasePath}-wal`).catch(() => Buffer.alloc(0));
    for (const content of [database, wal]) {
      assert.equal(content.includes(Buffer.from('Secret#2024')), false);
      assert.equal(content.includes(Buffer.from('robot:Secret#2024').toString('base64')), false);
    }
    for (const file of ['mef.db', 'secret.key', 'dockerconfig.json']) {
      assert.equal((await stat(path.join(dataDir, file))).mode & 0o777, 0o600, file);
    }
  });

  it('records every change in the history, never the password', async () => {
    await open();
    await store.save(change('first', 'Secret#2024'));
    await store.save(change('second', 'Secret#2025', 'other.example.com'));
    const history = store.history();
    assert.deepEqual(
      history.map((entry) => [
        entry.account,
        entry.registryAddress,
        entry.clientIdentity,
        entry.clientIp,
      ]),
      [
        ['second', 'other.example.com:5000', 'CN=tester', '192.0.2.7'],
        ['first', 'reg.example.com:5000', 'CN=tester', '192.0.2.7'],
      ],
    );
    assert.equal(JSON.stringify(history).includes('Secret'), false);
  });

  it('reopens with the same key and re-derives the same file', async () => {
    await open();
    await store.save(change('robot', 'Secret#2024'));
    const before = await readFile(path.join(dataDir, 'dockerconfig.json'));
    await store.close();
    await open();
    assert.deepEqual(await readFile(path.join(dataDir, 'dockerconfig.json')), before);
    assert.equal((await store.read())?.fields.account, 'robot');
  });

  it('repairs a Docker config that disagrees with the database at open', async () => {
    await open();
    await store.save(change('robot', 'Secret#2024'));
    await store.close();
    await writeFile(path.join(dataDir, 'dockerconfig.json'), '{"auths": {"stale": {}}}');
    await open();
    assert.equal((await dockerConfig()).auths['reg.example.com:5000'].username, 'robot');
  });

  for (const point of ['beforeCommit', 'afterCommit'] as const) {
    it(`leaves the previous state in both places when a save fails ${point}`, async () => {
      let failNext = false;
      const fault = () => {
        if (failNext) throw new Error('injected fault');
      };
      await open({ [point]: fault });
      await store.save(change('kept', 'Secret#2024'));
      const fileBefore = await readFile(path.join(dataDir, 'dockerconfig.json'));
      const historyBefore = store.history().length;

      failNext = true;
      await assert.rejects(
        store.save(change('lost', 'Other#2025', 'lost.example.com')),
        StoreError,
      );
      assert.equal((await store.read())?.fields.account, 'kept');
      assert.deepEqual(await readFile(path.join(dataDir, 'dockerconfig.json')), fileBefore);
      assert.equal(store.history().length, historyBefore);

      failNext = false;
      await store.save(change('next', 'Secret#2026'));
      assert.equal((await store.read())?.fields.account, 'next');
    });
  }

  it('undoes a failed first save back to nothing configured', async () => {
    await open({
      afterCommit: () => {
        throw new Error('injected fault');
      },
    });
    await assert.rejects(store.save(change('lost', 'Secret#2024')), StoreError);
    assert.equal(await store.read(), null);
    assert.deepEqual(await dockerConfig(), { auths: {} });
  });
});
