// The serve command's exit status and message when start-up refuses a setting.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

/** Runs `serve` with `env` added to a clean environment; resolves with its status and stderr. */
function serve(env: Record<string, string>): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/serve.ts'],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 },
      (error, _stdout, stderr) =>
        resolve({ status: error === null ? 0 : (error.code as number), stderr }),
    );
  });
}

describe('serve', () => {
  let scratch: string;

  before(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'mef-serve-'));
  });
  after(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('exits 2 naming MEF_DATA_DIR when the data directory cannot be created', async () => {
    const file = path.join(scratch, 'a-file');
    await writeFile(file, 'not a directory');
    const { status, stderr } = await serve({
      MEF_DATA_DIR: path.join(file, 'data'),
      MEF_LISTEN: '127.0.0.1:0',
      MEF_OPS_LISTEN: '127.0.0.1:0',
      MEF_STORE: 'sqlite',
    });
    assert.equal(status, 2);
    assert.match(stderr, /^mef-image-config: bad setting MEF_DATA_DIR: .* is not a directory\n$/);
  });

  it('exits 2 naming MEF_OPS_LISTEN when both listeners are given one address', async () => {
    const { status, stderr } = await serve({
      MEF_DATA_DIR: path.join(scratch, 'data'),
      MEF_LISTEN: '127.0.0.1:30035',
      MEF_OPS_LISTEN: '127.0.0.1:30035',
    });
    assert.equal(status, 2);
    assert.match(stderr, /bad setting MEF_OPS_LISTEN: must differ from MEF_LISTEN/);
  });
});
