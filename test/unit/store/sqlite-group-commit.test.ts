import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { RegistryCredentials } from '../../../src/domain/registry-credentials.js';
import { createLogger } from '../../../src/logging.js';
import { SqliteStore, type StoreFaults } from '../../../src/store/sqlite-store.js';
import { StoreError, type ConfigurationChange } from '../../../src/store/store.js';

const logger = createLogger('silent');
const registry = 'reg.example.com:5000';

function change(index: number): ConfigurationChange {
  const account = `robot-${index}`;
  return {
    fields: { domain: 'reg.example.com', port: 5000, account },
    credentials: new RegistryCredentials(
      'reg.example.com',
      5000,
      account,
      Buffer.from(`Secret#${index}`),
    ),
    updatedBy: `CN=client-${index}`,
    clientIp: '192.0.2.7',
    updatedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, index)),
  };
}

/** A promise with its resolve function, to hold a write open while more saves arrive. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

describe('SqliteStore group commit', () => {
  let dataDir: string;
  let store: SqliteStore;
  /** How many writes (one commit and one file replacement each) the store has begun. */
  let writes: number;

  const open = async (faults: StoreFaults = {}) => {
    store = new SqliteStore({
      dataDir,
      logger,
      faults: {
        beforeCommit: async () => {
          writes += 1;
          await faults.beforeCommit?.();
        },
        afterCommit: faults.afterCommit,
      },
    });
    await store.open();
    return store;
  };
  /** The account that dockerconfig.json holds now, read without yielding to the store. */
  const accountInFile = (): string | undefined => {
    const config = JSON.parse(readFileSync(store.dockerConfigPath, 'utf8'));
    return config.auths[registry]?.username;
  };

  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'mef-group-commit-'));
    writes = 0;
  });
  afterEach(async () => {
    await store?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('applies many concurrent saves with fewer writes, every history row, the last one winning', async () => {
    await open();
    const saves = Array.from({ length: 50 }, (_, index) => change(index));

    await Promise.all(saves.map((each) => store.save(each)));

    // The first save writes at once; the 49 that arrive meanwhile share the next write.
    assert.equal(writes, 2);
    const history = store.history();
    assert.equal(history.length, 50);
    assert.deepEqual(
      history.map((entry) => entry.clientIdentity),
      saves.map((each) => each.updatedBy).reverse(),
    );
    assert.equal(history[49]!.changedAt, '2026-01-01T00:00:00.000Z');
    assert.equal((await store.read())?.fields.account, 'robot-49');
    assert.equal((await store.read())?.updatedBy, 'CN=client-49');
    const config = JSON.parse(readFileSync(store.dockerConfigPath, 'utf8'));
    assert.equal(config.auths[registry].password, 'Secret#49');
  });

  it('acknowledges each save only once a write holding it, or a later save, is durable', async () => {
    const holdFirstWrite = gate();
    await open({ beforeCommit: () => (writes === 1 ? holdFirstWrite.opened : undefined) });

    const seenAtAcknowledgement = new Map<number, string | undefined>();
    const acknowledge = (index: number) => () => {
      seenAtAcknowledgement.set(index, accountInFile());
    };
    const first = store.save(change(0)).then(acknowledge(0));
    // These arrive one by one while the first write is held open.
    const later: Promise<void>[] = [];
    for (let index = 1; index <= 5; index += 1) {
      await new Promise((resolve) => setImmediate(resolve));
      later.push(store.save(change(index)).then(acknowledge(index)));
    }
    assert.equal(seenAtAcknowledgement.size, 0, 'nothing is acknowledged before its write');
    holdFirstWrite.open();
    await Promise.all([first, ...later]);

    assert.equal(writes, 2);
    assert.equal(seenAtAcknowledgement.get(0), 'robot-0');
    for (let index = 1; index <= 5; index += 1) {
      assert.equal(seenAtAcknowledgement.get(index), 'robot-5', `save ${index}`);
    }
    assert.equal(store.history().length, 6);
  });

  for (const point of ['beforeCommit', 'afterCommit'] as const) {
    it(`fails the whole batch when ${point} fails, and keeps the previous state`, async () => {
      const holdFirstWrite = gate();
      // The second write, the one the batch shares, is the one that fails.
      const fault = () => {
        if (writes === 2) throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
      };
      await open({
        beforeCommit: async () => {
          if (writes === 1) await holdFirstWrite.opened;
          if (point === 'beforeCommit') fault();
        },
        afterCommit: point === 'afterCommit' ? fault : undefined,
      });

      const first = store.save(change(0));
      const settled = Promise.allSettled([1, 2, 3, 4].map((index) => store.save(change(index))));
      holdFirstWrite.open();
      await first;
      const outcomes = await settled;

      assert.equal(writes, 2);
      for (const outcome of outcomes) {
        assert.equal(outcome.status, 'rejected');
        const reason = (outcome as PromiseRejectedResult).reason as Error;
        assert.ok(reason instanceof StoreError);
        assert.match(reason.message, /\(ENOSPC\)/);
      }
      assert.equal((await store.read())?.fields.account, 'robot-0');
      assert.deepEqual(
        store.history().map((entry) => entry.clientIdentity),
        ['CN=client-0'],
      );
      assert.equal(accountInFile(), 'robot-0');
      assert.deepEqual(
        (await readdir(dataDir)).filter((name) => name.endsWith('.tmp')),
        [],
      );

      // The queue is not stuck: the next save is written.
      await store.save(change(9));
      assert.equal(accountInFile(), 'robot-9');
      assert.equal(store.history().length, 2);
    });
  }
});
