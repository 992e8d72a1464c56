// The data-directory certificate store: files, backups, modes, and failures named as store errors.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FileCertificateStore } from '../../../src/store/file-certificate-store.js';
import { StoreError } from '../../../src/store/store.js';

const first = '-----BEGIN CERTIFICATE-----\nfirst\n-----END CERTIFICATE-----\n';
const second = '-----BEGIN CERTIFICATE-----\nsecond\n-----END CERTIFICATE-----\n';
const third = '-----BEGIN CERTIFICATE-----\nthird\n-----END CERTIFICATE-----\n';

describe('FileCertificateStore', () => {
  let dataDir: string;
  let store: FileCertificateStore;

  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'mef-certs-'));
    store = new FileCertificateStore({ dataDir });
  });

  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  it('reads null before any import', async () => {
    assert.equal(await store.read('image'), null);
    assert.deepEqual(await store.remove('image'), { removed: false });
  });

  it('writes certs/<name>.crt with mode 0644 in a 0755 directory', async () => {
    assert.deepEqual(await store.save('image', first), { replaced: false });

    const file = path.join(dataDir, 'certs', 'image.crt');
    assert.equal(await readFile(file, 'utf8'), first);
    assert.equal((await stat(file)).mode & 0o777, 0o644);
    assert.equal((await stat(path.join(dataDir, 'certs'))).mode & 0o777, 0o755);
    assert.equal(await store.read('image'), first);
    assert.equal(await store.read('software'), null);
  });

  it('keeps exactly one backup: the certificate the last change replaced', async () => {
    await store.save('software', first);
    assert.deepEqual(await store.save('software', second), { replaced: true });
    await store.save('software', third);

    assert.equal(await store.read('software'), third);
    const backup = path.join(dataDir, 'certs', 'software.crt.bak');
    assert.equal(await readFile(backup, 'utf8'), second);
    assert.equal((await stat(backup)).mode & 0o777, 0o644);
    // No temporary file is left behind by the atomic writes.
    assert.deepEqual((await readdir(path.join(dataDir, 'certs'))).sort(), [
      'software.crt',
      'software.crt.bak',
    ]);
  });

  it('removes a certificate, keeping it as the backup', async () => {
    await store.save('image', first);

    assert.deepEqual(await store.remove('image'), { removed: true });

    assert.equal(await store.read('image'), null);
    assert.equal(await readFile(path.join(dataDir, 'certs', 'image.crt.bak'), 'utf8'), first);
  });

  it('runs concurrent changes one at a time, so no backup is lost', async () => {
    await store.save('image', first);

    await Promise.all([store.save('image', second), store.save('image', third)]);

    assert.equal(await store.read('image'), third);
    assert.equal(await readFile(path.join(dataDir, 'certs', 'image.crt.bak'), 'utf8'), second);
  });

  it('fails with a StoreError naming the directory, not the operator layout', async () => {
    // A file where the directory belongs fails for every user, root included.
    await writeFile(path.join(dataDir, 'certs'), 'not a directory');

    await assert.rejects(store.save('image', first), (error: unknown) => {
      assert.ok(error instanceof StoreError);
      assert.match(error.message, /^cannot create the directory certs\/ \(EEXIST\)$/);
      return true;
    });
  });
});
