import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { loadSettings, SettingsError } from '../../src/config/settings.js';
import { emptyDockerConfigJson } from '../../src/domain/registry-credentials.js';
import { createLogger } from '../../src/logging.js';
import { ensureDevelopmentPki } from '../../src/pki/development-pki.js';
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

describe('startService refusing what a setting points at', () => {
  let dataDir: string;
  const logger = createLogger('silent');
  const localAddresses = { MEF_LISTEN: '127.0.0.1:0', MEF_OPS_LISTEN: '127.0.0.1:0' };
  /** The message of the SettingsError that start-up fails with. */
  const refusal = async (env: Record<string, string>): Promise<string> => {
    const settings = loadSettings({ MEF_DATA_DIR: dataDir, MEF_VERIFY_REGISTRY: 'off', ...env });
    const error = await startService(settings, { logger }).then(
      async (service) => {
        await service.stop();
        return assert.fail('the service started');
      },
      (reason: unknown) => reason,
    );
    assert.ok(error instanceof SettingsError, String(error));
    return error.message;
  };

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'mef-service-refusal-'));
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  for (const variable of ['MEF_LISTEN', 'MEF_OPS_LISTEN'] as const) {
    it(`names ${variable} and the address when the address is in use`, async () => {
      const holder = createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const taken = `127.0.0.1:${(holder.address() as AddressInfo).port}`;
      try {
        const message = await refusal({ ...localAddresses, [variable]: taken });
        assert.equal(
          message,
          `${variable}: cannot listen on ${taken}: the address is already in use (EADDRINUSE)`,
        );
      } finally {
        await new Promise((resolve) => holder.close(resolve));
      }
    });
  }

  it('names MEF_LISTEN when the host has no such address', async () => {
    const message = await refusal({ ...localAddresses, MEF_LISTEN: '192.0.2.1:0' });
    assert.match(message, /^MEF_LISTEN: cannot listen on 192\.0\.2\.1:0: .*\(EADDRNOTAVAIL\)$/);
  });

  it('names the TLS setting whose file cannot be read', async () => {
    const { paths } = await ensureDevelopmentPki(dataDir);
    const missing = path.join(dataDir, 'missing.pem');
    const configured = {
      ...localAddresses,
      MEF_TLS_CERT: paths.serverCert,
      MEF_TLS_KEY: paths.serverKey,
      MEF_TLS_CLIENT_CA: paths.caCert,
    };
    for (const variable of ['MEF_TLS_CERT', 'MEF_TLS_KEY', 'MEF_TLS_CLIENT_CA', 'MEF_TLS_CRL']) {
      const message = await refusal({ ...configured, [variable]: missing });
      assert.equal(message, `${variable}: ${missing}: cannot be read (ENOENT)`);
    }
  });

  it('names MEF_DATA_DIR when the directory cannot be created under /proc', async () => {
    const underProc = `/proc/mef-${process.pid}/data`;
    const message = await refusal({ ...localAddresses, MEF_DATA_DIR: underProc });
    assert.match(message, /^MEF_DATA_DIR: \/proc\/mef-\d+ cannot be created \(ENOENT\)$/);
  });

  it('names MEF_DATA_DIR when a file stands where the directory should be', async () => {
    const file = path.join(dataDir, 'a-file');
    await writeFile(file, 'not a directory');
    const message = await refusal({ ...localAddresses, MEF_DATA_DIR: path.join(file, 'data') });
    assert.equal(
      message,
      `MEF_DATA_DIR: ${path.join(file, 'data')} cannot be created: ${file} is not a directory`,
    );
  });
});
