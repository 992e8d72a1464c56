import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { StatusCode } from '../../../src/domain/status.js';
import { createLogger } from '../../../src/logging.js';
import { operationLogFiles } from '../../../src/operation-log.js';
import {
  createCertificateAuthority,
  issueCertificate,
} from '../../../src/pki/certificate-authority.js';
import { SqliteStore } from '../../../src/store/sqlite-store.js';
import { startTestService, type TestService } from '../../support/test-service.js';

const route = '/edgemanager/v1/image/config';
const passwordText = 'Huawei12#$';
const password = [...Buffer.from(passwordText)];
const body = (overrides: Record<string, unknown> = {}) => ({
  domain: 'registry.example.com',
  ip: '10.10.10.10',
  port: 443,
  account: 'ImageRepository',
  password: [...password],
  ...overrides,
});

async function readDockerConfig(dataDir: string) {
  return JSON.parse(await readFile(path.join(dataDir, 'dockerconfig.json'), 'utf8'));
}

describe('POST /edgemanager/v1/image/config over mutual TLS', () => {
  let test: TestService;
  before(async () => {
    test = await startTestService();
  });
  after(async () => {
    await test.stop();
  });

  it('saves and applies a valid configuration', async () => {
    const response = await test.call('POST', route, body());
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json, { status: StatusCode.success, msg: 'success' });
    const config = await readDockerConfig(test.dataDir);
    assert.deepEqual(Object.keys(config.auths).sort(), [
      'registry.example.com',
      'registry.example.com:443',
    ]);
    assert.equal(config.auths['registry.example.com:443'].password, passwordText);
    const mode = (await stat(path.join(test.dataDir, 'dockerconfig.json'))).mode & 0o777;
    assert.equal(mode, 0o600);
  });

  const table: {
    name: string;
    send: () => Promise<Awaited<ReturnType<TestService['call']>>>;
    httpStatus: number;
    status: string;
    msg?: RegExp;
  }[] = [
    {
      name: 'an empty body',
      send: () => test.call('POST', route, Buffer.alloc(0)),
      httpStatus: 400,
      status: StatusCode.badBody,
      msg: /body: must not be empty/,
    },
    {
      name: 'a body that is not JSON',
      send: () => test.call('POST', route, Buffer.from('{"domain": ')),
      httpStatus: 400,
      status: StatusCode.badBody,
      msg: /body: must be valid JSON/,
    },
    {
      name: 'a Content-Type that is not JSON',
      send: () =>
        test.call('POST', route, Buffer.from(JSON.stringify(body())), {
          contentType: 'text/plain',
        }),
      httpStatus: 415,
      status: StatusCode.badBody,
      msg: /Content-Type/,
    },
    {
      name: 'JSON that is not an object',
      send: () => test.call('POST', route, [1, 2, 3]),
      httpStatus: 400,
      status: StatusCode.wrongShape,
      msg: /body: must be a JSON object/,
    },
    {
      name: 'a field of the wrong JSON type',
      send: () => test.call('POST', route, body({ account: 42 })),
      httpStatus: 400,
      status: StatusCode.wrongShape,
      msg: /account: must be a string/,
    },
    {
      name: 'a port that is not an integer',
      send: () => test.call('POST', route, body({ port: 44.3 })),
      httpStatus: 400,
      status: StatusCode.wrongShape,
      msg: /port: must be an integer/,
    },
    {
      name: 'a password element that is not a byte',
      send: () => test.call('POST', route, body({ password: [...password, 300] })),
      httpStatus: 400,
      status: StatusCode.wrongShape,
      msg: /password: every element/,
    },
    {
      name: 'a password string that is not base64',
      send: () => test.call('POST', route, body({ password: '%%%notbase64' })),
      httpStatus: 400,
      status: StatusCode.wrongShape,
      msg: /password: a string must be valid base64/,
    },
    {
      name: 'a broken rule',
      send: () => test.call('POST', route, body({ port: 65536 })),
      httpStatus: 400,
      status: StatusCode.ruleBroken,
      msg: /^port: must be an integer from 1 to 65535$/,
    },
    {
      name: 'a body over 1 MiB',
      send: () => test.call('POST', route, body({ padding: 'x'.repeat(1024 * 1024) })),
      httpStatus: 413,
      status: StatusCode.badBody,
      msg: /1 MiB/,
    },
    {
      name: 'an unknown path',
      send: () => test.call('POST', '/edgemanager/v1/image/nothing', body()),
      httpStatus: 404,
      status: StatusCode.notFound,
    },
  ];

  for (const row of table) {
    it(`answers ${row.httpStatus} ${row.status} to ${row.name}`, async () => {
      const response = await row.send();
      assert.equal(response.statusCode, row.httpStatus, response.text);
      assert.equal(response.json?.status, row.status);
      assert.equal(typeof response.json?.msg, 'string');
      if (row.msg) assert.match(response.json!.msg as string, row.msg);
    });
  }

  it('answers 405 with Allow to a wrong method on a known path', async () => {
    const response = await test.call('DELETE', route);
    assert.equal(response.statusCode, 405);
    assert.equal(response.json?.status, StatusCode.notFound);
    assert.match(String(response.headers.allow), /POST/);
  });

  it('accepts a base64 password and differently-cased keys', async () => {
    const response = await test.call('POST', route, {
      Domain: 'cased.example.com',
      PORT: 5000,
      Account: 'robot',
      Password: Buffer.from('B64pass#word').toString('base64'),
    });
    assert.equal(response.statusCode, 200, response.text);
    const config = await readDockerConfig(test.dataDir);
    assert.equal(config.auths['cased.example.com:5000'].password, 'B64pass#word');
  });

  it('replaces the whole configuration: a later ip-only call clears the domain', async () => {
    assert.equal((await test.call('POST', route, body())).statusCode, 200);
    const response = await test.call('POST', route, {
      ip: '10.20.30.40',
      port: 5000,
      account: 'other',
      password: [...password],
    });
    assert.equal(response.statusCode, 200, response.text);
    const stored = await test.service.store.read();
    assert.equal(stored?.fields.domain, undefined);
    assert.equal(stored?.registryAddress, '10.20.30.40:5000');
    const config = await readDockerConfig(test.dataDir);
    assert.deepEqual(Object.keys(config.auths), ['10.20.30.40:5000']);
  });

  it('leaves the previous configuration untouched after a rejected call', async () => {
    assert.equal((await test.call('POST', route, body({ account: 'keeper' }))).statusCode, 200);
    const before = await readFile(path.join(test.dataDir, 'dockerconfig.json'));
    const response = await test.call('POST', route, body({ account: 'x', domain: 'localhost' }));
    assert.equal(response.statusCode, 400);
    assert.deepEqual(await readFile(path.join(test.dataDir, 'dockerconfig.json')), before);
    assert.equal((await test.service.store.read())?.fields.account, 'keeper');
  });

  it('leaves the database and the file agreeing on exactly one of 50 concurrent calls', async () => {
    const accounts = Array.from({ length: 50 }, (_, index) => `concurrent-${index}`);
    const responses = await Promise.all(
      accounts.map((account) => test.call('POST', route, body({ account }))),
    );
    assert.ok(responses.every((response) => response.statusCode === 200));
    const stored = await test.service.store.read();
    assert.ok(accounts.includes(stored!.fields.account));
    const config = await readDockerConfig(test.dataDir);
    assert.equal(config.auths['registry.example.com:443'].username, stored!.fields.account);
  });

  it('never writes a password into a log line or a response', async () => {
    const secret = 'Unique#Pw9z';
    const responses = [
      await test.call('POST', route, body({ password: [...Buffer.from(secret)] })),
      await test.call('POST', route, body({ password: [...Buffer.from(`${secret}:x`)] })),
      await test.call('POST', route, body({ password: [...Buffer.from(secret)], port: 0 })),
    ];
    const logs = test.logs.join('');
    for (const text of [logs, ...responses.map((response) => response.text)]) {
      assert.equal(text.includes(secret), false);
      assert.equal(text.includes(Buffer.from(secret).toString('base64')), false);
      assert.equal(text.includes([...Buffer.from(secret)].join(',')), false);
    }
    assert.match(logs, /CN=mef-admin@127\.0\.0\.1 configure image registry/);
  });

  it('keeps a password equal to the account out of the logs and the operation log', async () => {
    const secret = 'Robot12345';
    const response = await test.call(
      'POST',
      route,
      body({ account: secret, password: [...Buffer.from(secret)], ip: undefined }),
    );
    assert.equal(response.statusCode, 200);
    const warnings = (response.json?.warnings ?? []) as string[];
    assert.ok(warnings.some((warning) => /should differ from the account/.test(warning)));

    const line = /configure image registry registry\.example\.com:443 success; password:/;
    const operationsFile = path.join(
      test.dataDir,
      operationLogFiles.directory,
      operationLogFiles.file,
    );
    let operations = '';
    // The operation log is written through a stream; wait until this call's line is there.
    for (let attempt = 0; attempt < 50 && !line.test(operations); attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      operations = await readFile(operationsFile, 'utf8').catch(() => '');
    }
    assert.match(operations, line);
    assert.match(test.logs.join(''), line);
    for (const text of [...test.logs, operations]) {
      assert.equal(text.includes(secret), false, text);
    }
  });
});

describe('the TLS handshake', () => {
  let test: TestService;
  before(async () => {
    test = await startTestService();
  });
  after(async () => {
    await test.stop();
  });

  it('refuses a client without a certificate', async () => {
    await assert.rejects(test.call('POST', route, body(), { client: {} }), (error: Error) =>
      /certificate|handshake|socket hang up|ECONNRESET/i.test(
        `${(error as NodeJS.ErrnoException).code} ${error.message}`,
      ),
    );
  });

  it('refuses a client whose certificate another CA signed', async () => {
    const stranger = await createCertificateAuthority('Some other CA');
    const client = await issueCertificate(stranger, { commonName: 'mef-admin', usage: 'client' });
    await assert.rejects(
      test.call('POST', route, body(), {
        client: { cert: client.certificatePem, key: client.privateKeyPem },
      }),
      (error: Error) =>
        /unknown ca|certificate|ECONNRESET|socket hang up/i.test(
          `${(error as NodeJS.ErrnoException).code} ${error.message}`,
        ),
    );
  });
});

describe('a configuration that cannot be saved or applied', () => {
  for (const point of ['beforeCommit', 'afterCommit'] as const) {
    it(`answers 503 60001008 and keeps the previous state when the save fails ${point}`, async () => {
      let fail = false;
      const test = await startTestService({
        store: (dataDir) =>
          new SqliteStore({
            dataDir,
            logger: createLogger('silent'),
            faults: {
              [point]: () => {
                if (fail) throw new Error('disk on fire');
              },
            },
          }),
      });
      try {
        assert.equal((await test.call('POST', route, body({ account: 'kept' }))).statusCode, 200);
        const fileBefore = await readFile(path.join(test.dataDir, 'dockerconfig.json'));
        fail = true;
        const response = await test.call('POST', route, body({ account: 'lost' }));
        assert.equal(response.statusCode, 503);
        assert.equal(response.json?.status, StatusCode.applyFailed);
        assert.doesNotMatch(String(response.json?.msg), /disk on fire/);
        assert.equal((await test.service.store.read())?.fields.account, 'kept');
        assert.deepEqual(await readFile(path.join(test.dataDir, 'dockerconfig.json')), fileBefore);
      } finally {
        await test.stop();
      }
    });
  }
});
