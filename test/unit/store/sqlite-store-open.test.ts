// Opening the SQLite store over a data directory that a crash, a lost key or a wrong file left
// behind: leftovers are removed, and a state that cannot be used is refused with its files named.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { RegistryCredentials } from '../../../src/domain/registry-credentials.js';
import { createLogger } from '../../../src/logging.js';
import { dataFiles, SqliteStore } from '../../../src/store/sqlite-store.js';
import { StoreError } from '../../../src/store/store.js';

const logger = createLogger('silent');

describe('SqliteStore.open', () => {
  let dataDir: string;
  let store: SqliteStore | undefined;
  const file = (name: string) => path.join(dataDir, name);
  const open = async () => {
    store = new SqliteStore({ dataDir, logger });
    await store.open();
    return store;
  };
  /** A data directory whose database holds an encrypted password, with the store closed. */
  const configured = async () => {
    const opened = await open();
    await opened.save({
      fields: { domain: 'reg.example.com', port: 5000, account: 'robot' },
      credentials: new RegistryCredentials(
        'reg.example.com',
        5000,
        'robot',
        Buffer.from('Secret#2024'),
      ),
      updatedBy: 'CN=tester',
      clientIp: '192.0.2.7',
      updatedAt: new Date('2026-01-02T03:04:05Z'),
    });
    await opened.close();
    store = undefined;
  };
  const refusal = async (): Promise<string> => {
    const refused = new SqliteStore({ dataDir, logger });
    const error = await refused.open().then(
      () => assert.fail('the store opened'),
      (reason: unknown) => reason,
    );
    assert.ok(error instanceof StoreError, String(error));
    return error.message;
  };

  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'mef-store-open-'));
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await rm(dataDir, { recursive: true, force: true });
  });

  it('removes Docker configs staged by a save a crash interrupted, and nothing else', async () => {
    await configured();
    const staged = `.${dataFiles.dockerConfig}.0a1b2c3d4e5f.tmp`;
    const unrelated = [
      '.secret.key.0a1b2c3d4e5f.tmp',
      'notes.tmp',
      `${dataFiles.dockerConfig}.bak`,
    ];
    await writeFile(file(staged), '{"auths":{"never.acknowledged":{"password":"x"}}}');
    for (const name of unrelated) await writeFile(file(name), 'kept');

    await open();

    const names = await readdir(dataDir);
    assert.equal(names.includes(staged), false);
    for (const name of unrelated) assert.ok(names.includes(name), name);
    assert.equal((await store!.read())?.fields.account, 'robot');
  });

  it('refuses to make a new key while the database holds an encrypted password', async () => {
    await configured();
    const dockerConfig = await readFile(file(dataFiles.dockerConfig));
    await unlink(file(dataFiles.key));

    const message = await refusal();

    assert.match(
      message,
      new RegExp(
        '^secret\\.key is missing but mef\\.db holds an encrypted password; ' +
          'restore secret\\.key from the backup of the data directory ',
      ),
    );
    assert.ok(message.includes(dataDir));
    await assert.rejects(stat(file(dataFiles.key)), { code: 'ENOENT' });
    assert.deepEqual(await readFile(file(dataFiles.dockerConfig)), dockerConfig);
  });

  it('refuses a key that does not decrypt the stored password, naming both files', async () => {
    await configured();
    const dockerConfig = await readFile(file(dataFiles.dockerConfig));
    const otherKey = randomBytes(32);
    await writeFile(file(dataFiles.key), otherKey);

    const message = await refusal();

    assert.match(message, /^secret\.key does not decrypt the password stored in mef\.db/);
    assert.equal(message.includes('Unsupported state'), false);
    assert.deepEqual(await readFile(file(dataFiles.key)), otherKey);
    assert.deepEqual(await readFile(file(dataFiles.dockerConfig)), dockerConfig);
  });

  it('still makes a key on first start, when the database holds no password', async () => {
    await open();
    assert.equal((await readFile(file(dataFiles.key))).length, 32);
  });

  it('names the database file when it is not an SQLite database', async () => {
    await writeFile(file(dataFiles.database), 'this is a text file, not a database\n'.repeat(200));

    const message = await refusal();

    const expected = `${file(dataFiles.database)} is not an SQLite database`;
    assert.ok(message.startsWith(expected), message);
    assert.match(message, /SQLITE_NOTADB/);
  });
});
