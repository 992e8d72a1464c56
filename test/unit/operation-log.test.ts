import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { StatusCode } from '../../src/domain/status.js';
import { imageConfigPath } from '../../src/http/routes/image-config.js';
import { createLogger } from '../../src/logging.js';
import { openOperationLog, operationLogFiles } from '../../src/operation-log.js';
import { startTestService, type TestService } from '../support/test-service.js';

const modeOf = async (file: string) => (await stat(file)).mode & 0o777;

describe('openOperationLog', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'mef-oplog-'));
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('writes lines to logs/operations.log, mode 0600, and rotates it by size', async () => {
    const log = await openOperationLog(dataDir, createLogger('silent'), { rotateAtSize: '2K' });
    assert.equal(log.path, path.join(dataDir, 'logs', 'operations.log'));
    for (let i = 0; i < 100; i += 1) log.logger.info({ event: 'operation' }, `line ${i}`);
    await log.close();

    const directory = path.join(dataDir, operationLogFiles.directory);
    assert.equal(await modeOf(directory), 0o700);
    const names = (await readdir(directory)).sort();
    assert.ok(names.includes('operations.log.1'), names.join(' '));
    for (const name of names) assert.equal(await modeOf(path.join(directory, name)), 0o600, name);

    const everything = await Promise.all(
      names.map((name) => readFile(path.join(directory, name), 'utf8')),
    );
    const lines = everything.join('').split('\n').filter(Boolean);
    assert.equal(lines.length, 100, 'rotation loses no line');
    assert.ok(lines.every((line) => JSON.parse(line).event === 'operation'));
  });

  it('makes an existing file private again', async () => {
    const other = await mkdtemp(path.join(os.tmpdir(), 'mef-oplog-'));
    await mkdir(path.join(other, 'logs'));
    await writeFile(path.join(other, 'logs', 'operations.log'), '', { mode: 0o644 });
    const log = await openOperationLog(other, createLogger('silent'));
    assert.equal(await modeOf(log.path), 0o600);
    await log.close();
    await rm(other, { recursive: true, force: true });
  });
});

describe('the operation log of the service', () => {
  const weak = {
    domain: 'registry.example.com',
    port: 443,
    account: 'puller',
    // Lowercase letters only: one kind of character where two are advised.
    password: [...Buffer.from('onlylowercase')],
  };
  let lenient: TestService;
  let strict: TestService;
  before(async () => {
    lenient = await startTestService();
    strict = await startTestService({ env: { MEF_REQUIRE_STRONG_PASSWORD: 'true' } });
  });
  after(async () => {
    await lenient.stop();
    await strict.stop();
  });

  /** The lines of the file once it holds `count`: a line is written after its answer is sent. */
  async function operationLines(test: TestService, count: number): Promise<string[]> {
    const file = path.join(test.dataDir, 'logs', 'operations.log');
    const deadline = Date.now() + 5000;
    for (;;) {
      const lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
      if (lines.length >= count || Date.now() > deadline) return lines;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('saves with a weak password, warns the caller and records the warning', async () => {
    const response = await lenient.call('POST', imageConfigPath, weak);
    assert.equal(response.statusCode, 200, response.text);
    assert.equal(response.json?.status, StatusCode.success);
    assert.deepEqual(response.json?.warnings, [
      'password: should mix at least 2 of lowercase letters, uppercase letters, digits and ' +
        'special characters',
    ]);

    const lines = await operationLines(lenient, 1);
    assert.equal(lines.length, 1);
    const line = JSON.parse(lines[0]!).msg as string;
    assert.ok(
      line.startsWith(
        'CN=mef-admin@127.0.0.1 configure image registry registry.example.com:443 ' +
          'success; password: should mix',
      ),
      line,
    );
    assert.ok(!lines[0]!.includes('onlylowercase'));
    assert.ok(!line.includes('puller'), 'the operation line names no account');
  });

  it('refuses a weak password with 00001005 when strong passwords are required', async () => {
    const response = await strict.call('POST', imageConfigPath, weak);
    assert.equal(response.statusCode, 400);
    assert.equal(response.json?.status, StatusCode.ruleBroken);
    assert.match(String(response.json?.msg), /^password: should mix at least 2 of/);

    const strong = { ...weak, password: [...Buffer.from('Huawei12#$')] };
    assert.equal((await strict.call('POST', imageConfigPath, strong)).statusCode, 200);
    const lines = (await operationLines(strict, 2)).map((line) => JSON.parse(line).msg as string);
    assert.deepEqual(
      lines.map((line) => line.replace(/ failed.*$/, ' failed')),
      [
        'CN=mef-admin@127.0.0.1 configure image registry failed',
        'CN=mef-admin@127.0.0.1 configure image registry registry.example.com:443 success',
      ],
    );
  });

  it('records no read-only call', async () => {
    const before = (await operationLines(lenient, 1)).length;
    assert.equal((await lenient.call('GET', imageConfigPath)).statusCode, 200);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal((await operationLines(lenient, before)).length, before);
  });
});
