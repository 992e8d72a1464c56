// Tests of all-or-nothing file changes on real files in a temporary directory.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backupSuffix, FileTransaction } from '../../../src/files/file-transaction.js';

let directory: string;

before(async () => {
  directory = await mkdtemp(path.join(tmpdir(), 'mef-file-transaction-'));
});

after(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function caseDirectory(): Promise<string> {
  return mkdtemp(path.join(directory, 'case-'));
}

describe('FileTransaction', () => {
  it('writes new files with the exact mode and keeps the old bytes as a backup', async () => {
    const folder = await caseDirectory();
    const existing = path.join(folder, 'existing');
    await writeFile(existing, 'old\n', { mode: 0o600 });
    const created = path.join(folder, 'nested', 'created');

    await new FileTransaction()
      .createDirectory(path.dirname(created), 0o750)
      .write(existing, 'new\n', { newFileMode: 0o644 })
      .write(created, 'fresh\n', { newFileMode: 0o640 })
      .commit();

    assert.equal(await readFile(existing, 'utf8'), 'new\n');
    assert.equal((await stat(existing)).mode & 0o7777, 0o600, 'an existing file keeps its mode');
    assert.equal(await readFile(existing + backupSuffix, 'utf8'), 'old\n');
    assert.equal((await stat(created)).mode & 0o7777, 0o640);
    assert.equal((await stat(path.dirname(created))).mode & 0o7777, 0o750);
    assert.deepEqual((await readdir(folder)).sort(), ['existing', 'existing.bak', 'nested']);
  });

  it('changes nothing when one of the writes cannot be staged', async () => {
    const folder = await caseDirectory();
    const first = path.join(folder, 'first');
    await writeFile(first, 'first\n');
    // A file where a directory should be: the second write fails with ENOTDIR.
    await writeFile(path.join(folder, 'blocker'), '');
    const second = path.join(folder, 'blocker', 'second');

    await assert.rejects(
      new FileTransaction()
        .createDirectory(path.join(folder, 'made', 'deeper'), 0o755)
        .write(first, 'changed\n', { newFileMode: 0o644 })
        .write(second, 'second\n', { newFileMode: 0o644 })
        .commit(),
      /ENOTDIR/,
    );

    assert.equal(await readFile(first, 'utf8'), 'first\n');
    assert.deepEqual((await readdir(folder)).sort(), ['blocker', 'first'], 'no temp file, no dir');
  });

  it('skips a write that would not change the bytes', async () => {
    const folder = await caseDirectory();
    const file = path.join(folder, 'same');
    await writeFile(file, 'same\n');
    const before = await stat(file);

    await new FileTransaction().write(file, 'same\n', { newFileMode: 0o644 }).commit();

    assert.equal((await stat(file)).ino, before.ino);
    assert.deepEqual(await readdir(folder), ['same']);
  });

  it('deletes files with their backups and prunes directories left empty', async () => {
    const folder = await caseDirectory();
    const kept = path.join(folder, 'kept');
    const emptied = path.join(folder, 'emptied');
    await mkdir(kept);
    await mkdir(emptied);
    await writeFile(path.join(kept, 'ca.crt'), 'x');
    await writeFile(path.join(kept, 'other'), 'x');
    await writeFile(path.join(emptied, 'ca.crt'), 'x');
    await writeFile(path.join(emptied, `ca.crt${backupSuffix}`), 'x');

    await new FileTransaction()
      .delete(path.join(kept, 'ca.crt'))
      .delete(path.join(emptied, 'ca.crt'))
      .delete(path.join(folder, 'never-there'))
      .removeDirectoryIfEmpty(kept)
      .removeDirectoryIfEmpty(emptied)
      .commit();

    assert.deepEqual(await readdir(folder), ['kept']);
    assert.deepEqual(await readdir(kept), ['other']);
  });
});
