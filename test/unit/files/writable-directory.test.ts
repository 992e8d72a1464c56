// Creating the data directory: missing parents are made, and a path that cannot hold a
// directory is refused at once with the path and the cause, under /proc as elsewhere.

import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createWritableDirectory,
  WritableDirectoryError,
} from '../../../src/files/writable-directory.js';

describe('createWritableDirectory', () => {
  let scratch: string;

  before(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'mef-directory-'));
  });
  after(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('makes the directory and its missing parents with the mode, twice over', async () => {
    const target = path.join(scratch, 'a', 'b', 'data');
    await createWritableDirectory(target, 0o700);
    for (const directory of [path.join(scratch, 'a'), target]) {
      const info = await stat(directory);
      assert.ok(info.isDirectory());
      assert.equal(info.mode & 0o777, 0o700);
    }
    await createWritableDirectory(target, 0o700);
  });

  it('refuses a path under /proc instead of hanging', async () => {
    await assert.rejects(
      createWritableDirectory(`/proc/mef-${process.pid}/x/data`, 0o700),
      (error: unknown) =>
        error instanceof WritableDirectoryError &&
        error.message === `/proc/mef-${process.pid} cannot be created (ENOENT)`,
    );
  });
});
