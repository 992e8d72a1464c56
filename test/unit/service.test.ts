import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { loadSettings } from '../../src/config/settings.js';
import { emptyDockerConfigJson } from '../../src/domain/registry-credentials.js';
import { createLogger } from '../../src/logging.js';
import { startService } from '../../src/service.js';
import { dataFiles } from '../../src/store/sqlite-store.js';

describe('startService after a crash between the database and dockerconfig.json', () => {
  let dataDir: string;
  const logs: string[] = [];
  const start = () =>
    startService(
      loadSettings({
        MEF_DATA_DIR: dataDir,
        MEF_LISTEN: '127.0.0.1:0',
        MEF_OPS_LISTEN: '127.0.0.1:0',
        MEF_VERIFY_REGISTRY: 'off',
      }),
      {
        logger: createLogger(
          'info',
          new Writable({
            write(chunk, _encoding, done) {
              logs.push(String(chunk));
              done();
            },
          }),
        ),
      },
    );

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'mef-service-'));
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('has rewritten the file from the database once the API listens', async () => {
    const first = await start();
    const dockerConfigPath = path.join(dataDir, dataFiles.dockerConfig);
    const pki = first.developmentPki!;
    const [ca, cert, key] = await Promise.all(
      [pki.caCert, pki.clientCert, pki.clientKey].map((file) => readFile(file)),
    );
    const body = JSON.stringify({
      domain: 'registry.example.com',
      port: 443,
      account: 'committed',
      password: [...Buffer.from('Huawei12#$')],
    });
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpsRequest(
        `${first.apiUrl}/edgemanager/v1/image/config`,
        { method: 'POST', ca, cert, key, agent: false, servername: 'localhost' },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
        },
      );
      request.on('error', reject);
      request.setHeader('content-type', 'application/json');
      request.end(body);
    });
    assert.equal(status, 200);
    const applied = await readFile(dockerConfigPath);
    await first.stop();

    // What a crash after the database commit and before the rename leaves: the old file.
    await writeFile(dockerConfigPath, emptyDockerConfigJson(), { mode: 0o600 });

    // By the time the service listens, the file is the database's again.
    const second = await start();
    try {
      assert.deepEqual(await readFile(dockerConfigPath), applied);
      assert.ok(logs.some((line) => line.includes('"event":"store.repaired"')));
      assert.equal((await second.store.read())?.fields.account, 'committed');
    } finally {
      await second.stop();
    }
  });
});
